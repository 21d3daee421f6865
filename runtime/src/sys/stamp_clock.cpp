#include "sys/stamp_clock.hpp"

#include <algorithm>
#include <fstream>
#include <string>

#ifdef EVRING_STAMP_TSC
#include <cpuid.h>
#endif

namespace evring {
namespace {

#ifdef EVRING_STAMP_TSC
// An anchor is taken again at least this often, and at most every kMinAnchorNs while the
// rate is still young: a stamp's error is the rate's error over one interval.
constexpr std::int64_t kMaxAnchorNs = 1'000'000;
constexpr std::int64_t kMinAnchorNs = 20'000;
// Calibration at start: long enough for a first rate within ~0.1%, short enough for a
// writer's start (and the tests' many).
constexpr std::int64_t kCalibrationNs = 50'000;

// Invariant TSC (CPUID 0x80000007, EDX bit 8): same rate in every power state and on every
// core. The kernel checked it against other clocks at boot; if it then chose another
// clocksource, it found the TSC wanting, and so do we.
bool tsc_trusted() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) == 0 || eax < 0x80000007) return false;
  __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx);
  if ((edx & (1u << 8)) == 0) return false;
  std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return static_cast<bool>(source >> name) && name == "tsc";
}

// A TSC reading and the monotonic time at it: the TSC on both sides of clock_gettime.
struct ClockPair {
  std::uint64_t ticks;
  std::int64_t ns;
};

ClockPair read_pair() noexcept {
  const std::uint64_t before = __rdtsc();
  const std::int64_t ns = monotonic_ns();
  const std::uint64_t after = __rdtsc();
  return {before + (after - before) / 2, ns};
}

std::uint64_t rate_q32(const ClockPair& from, const ClockPair& to) noexcept {
  // A double's 53 bits hold the rate far finer than the two clocks measure it.
  const double ns = static_cast<double>(to.ns - from.ns);
  const double ticks = static_cast<double>(std::max<std::uint64_t>(to.ticks - from.ticks, 1));
  return static_cast<std::uint64_t>(ns / ticks * 4294967296.0);
}
#endif

}  // namespace

StampClock::StampClock() noexcept {
#ifdef EVRING_STAMP_TSC
  if (!tsc_trusted()) return;
  const ClockPair first = read_pair();
  ClockPair now = first;
  while (now.ns - first.ns < kCalibrationNs) now = read_pair();
  ns_per_tick_q32_ = rate_q32(first, now);
  if (ns_per_tick_q32_ == 0) return;
  first_ticks_ = first.ticks;
  first_ns_ = first.ns;
  anchor_ticks_ = now.ticks;
  anchor_ns_ = now.ns;
  anchor_interval_ticks_ = (static_cast<std::uint64_t>(kMinAnchorNs) << 32) / ns_per_tick_q32_;
  tsc_ = true;
#endif
}

std::int64_t StampClock::reanchor() noexcept {
#ifdef EVRING_STAMP_TSC
  const ClockPair now = read_pair();
  // The anchor is the clock itself: a stamp may step back by the old rate's error (a few
  // ns), but never drifts from CLOCK_MONOTONIC.
  ns_per_tick_q32_ = rate_q32({first_ticks_, first_ns_}, now);
  anchor_ticks_ = now.ticks;
  anchor_ns_ = now.ns;
  // The rate's error shrinks as its span grows: anchors can be further apart.
  const std::int64_t interval = std::clamp((now.ns - first_ns_) / 64, kMinAnchorNs, kMaxAnchorNs);
  anchor_interval_ticks_ = (static_cast<std::uint64_t>(interval) << 32) / ns_per_tick_q32_;
  return anchor_ns_;
#else
  return monotonic_ns();
#endif
}

}  // namespace evring
