// When a benchmark writer sends each message.
//
// At a fixed rate the writer spins until each message's INTENDED send time and stamps that
// time, not the moment it got round to sending: if the writer is held up (preempted, a
// slow publish), the delay lands in the measured latency instead of silently shifting the
// schedule. Hiding it is "coordinated omission" (Gil Tene). Flat out (rate 0) each message
// is due at once and is stamped when it is sent.
#pragma once

#include <cstdint>

#include "evring/clock.hpp"
#include "sync/wait_strategy.hpp"

namespace evring::bench {

class Pacer {
 public:
  // msgs_per_s == 0: flat out. The first message is due at start_ns.
  Pacer(std::uint64_t msgs_per_s, std::int64_t start_ns)
      : interval_ns_(msgs_per_s == 0 ? 0.0 : 1e9 / static_cast<double>(msgs_per_s)),
        start_ns_(start_ns) {}

  bool flat_out() const noexcept { return interval_ns_ == 0.0; }

  // Spins until message `index` (0-based) is due; returns the time to stamp on it.
  std::int64_t wait_until_due(std::uint64_t index) const noexcept {
    if (flat_out()) return monotonic_ns();
    const std::int64_t due =
        start_ns_ + static_cast<std::int64_t>(interval_ns_ * static_cast<double>(index));
    while (monotonic_ns() < due) cpu_relax();
    return due;
  }

 private:
  double interval_ns_;
  std::int64_t start_ns_;
};

}  // namespace evring::bench
