// One clock for every process on the machine: CLOCK_MONOTONIC through the vDSO.
#pragma once

#include <cstdint>
#include <ctime>

namespace evring {

// Any thread. Nanoseconds since boot, comparable across processes.
inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace evring
