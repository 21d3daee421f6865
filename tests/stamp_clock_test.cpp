// The writer's stamp clock (sys/stamp_clock.hpp): CLOCK_MONOTONIC nanoseconds, whatever it
// reads them from, so readers in other processes can subtract their own monotonic_ns().
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

#include "evring/clock.hpp"
#include "sys/stamp_clock.hpp"

namespace evring {
namespace {

// On a shared VM a read can be preempted between the two clocks: judge the typical case,
// and let a few outliers pass.
constexpr std::int64_t kTolerableNs = 2'000;

TEST(StampClock, StaysWithCLOCK_MONOTONICOverManyAnchors) {
  StampClock clock;
  std::printf("stamps from %s\n", clock.uses_tsc() ? "the TSC" : "clock_gettime");
  const std::int64_t end = monotonic_ns() + 200'000'000;  // 0.2 s: past many re-anchors
  int reads = 0;
  int far = 0;
  std::int64_t worst = 0;
  while (monotonic_ns() < end) {
    const std::int64_t before = monotonic_ns();
    const std::int64_t stamp = clock.now_ns();
    const std::int64_t after = monotonic_ns();
    // A stamp lies between the monotonic reads around it, give or take the rate's error.
    const std::int64_t off = stamp < before ? before - stamp : stamp > after ? stamp - after : 0;
    worst = std::max(worst, off);
    if (off > kTolerableNs) ++far;
    ++reads;
  }
  ASSERT_GT(reads, 1000);
  EXPECT_LT(far, reads / 1000 + 5) << "worst " << worst << " ns off CLOCK_MONOTONIC";
}

TEST(StampClock, KeepsTimeAcrossAnIdleGap) {
  StampClock clock;
  clock.now_ns();
  timespec pause{0, 30'000'000};  // longer than any anchor interval
  nanosleep(&pause, nullptr);
  const std::int64_t before = monotonic_ns();
  const std::int64_t stamp = clock.now_ns();
  const std::int64_t after = monotonic_ns();
  EXPECT_GE(stamp, before - kTolerableNs);
  EXPECT_LE(stamp, after + kTolerableNs);
}

}  // namespace
}  // namespace evring
