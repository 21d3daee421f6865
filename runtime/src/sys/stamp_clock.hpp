// The writer's clock for publish stamps: CLOCK_MONOTONIC nanoseconds, read from the TSC.
//
// clock_gettime costs ~20-25 ns through the vDSO here, more than copying a small record, and
// the writer stamps every publish. The TSC read (rdtsc) costs a few ns; a multiply and a shift
// turn ticks since an anchor into nanoseconds. The anchor (a TSC reading beside a
// clock_gettime) is taken again every interval, and the rate is measured over everything
// since the first one, so a stamp stays within a few ns of CLOCK_MONOTONIC: readers in other
// processes subtract their own monotonic_ns() from it (latency, stat's lag) and need no
// conversion. Without an invariant TSC that the kernel trusts as its clocksource, or in a
// sanitizer build, it is clock_gettime.
#pragma once

#include <cstdint>

#include "evring/clock.hpp"

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#include <x86intrin.h>
#define EVRING_STAMP_TSC 1
#endif

namespace evring {

// Used by one thread (the writer's).
class StampClock {
 public:
  StampClock() noexcept;

  std::int64_t now_ns() noexcept {
#ifdef EVRING_STAMP_TSC
    if (tsc_) [[likely]] {
      const std::uint64_t ticks = __rdtsc() - anchor_ticks_;
      if (ticks < anchor_interval_ticks_) [[likely]] {
        return anchor_ns_ + static_cast<std::int64_t>((ticks * ns_per_tick_q32_) >> 32);
      }
      return reanchor();
    }
#endif
    return monotonic_ns();
  }
  // Whether stamps come from the TSC (else from clock_gettime).
  bool uses_tsc() const noexcept {
    return tsc_;
  }

 private:
  std::int64_t reanchor() noexcept;

  bool tsc_ = false;
  std::uint64_t anchor_ticks_ = 0;
  std::int64_t anchor_ns_ = 0;
  std::uint64_t anchor_interval_ticks_ = 0;
  std::uint64_t ns_per_tick_q32_ = 0;  // nanoseconds per tick, 32.32 fixed point
  std::uint64_t first_ticks_ = 0;
  std::int64_t first_ns_ = 0;
};

}  // namespace evring
