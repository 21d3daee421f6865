// The reader's WaitInterrupt: a trigger that lands between the reader's last look at its
// flag and its futex wait must not let that wait sleep its timeout out (the bell it sleeps
// on is bumped), and a trigger through shared words wakes a sleep() on them.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include <gtest/gtest.h>

#include "evring/clock.hpp"
#include "sync/futex.hpp"
#include "sync/wait_interrupt.hpp"

namespace evring {
namespace {

constexpr std::int64_t kLongSleepNs = 2'000'000'000;
constexpr std::int64_t kQuickNs = 500'000'000;  // far below kLongSleepNs, far above a wake

TEST(WaitInterrupt, ATriggerJustBeforeTheReaderSleepsOnItsBellIsNotSleptThrough) {
  std::atomic<std::uint32_t> bell{7};
  WaitInterrupt interrupt;
  interrupt.watch(reinterpret_cast<const std::uint32_t*>(&bell));
  // The reader's side, as in RingReader::wait_next: the bell's value, a last look...
  const std::uint32_t seen = bell.load();
  ASSERT_FALSE(interrupt.take());
  // ...the query comes now...
  interrupt.trigger();
  // ...and the reader falls asleep on the value it saw: it must return at once.
  const std::int64_t start = monotonic_ns();
  futex_wait_shared(reinterpret_cast<const std::uint32_t*>(&bell), seen, kLongSleepNs);
  EXPECT_LT(monotonic_ns() - start, kQuickNs) << "slept through the trigger";
  EXPECT_NE(bell.load(), seen);
  EXPECT_TRUE(interrupt.take());
  EXPECT_FALSE(interrupt.take());
}

TEST(WaitInterrupt, AnotherProcessTriggersThroughTheSharedWordsAndWakesASleep) {
  std::atomic<std::uint32_t> pending{0};
  std::atomic<std::uint32_t> sleeping{0};
  WaitInterrupt interrupt;
  interrupt.share(pending, sleeping);
  std::atomic<std::int64_t> slept_ns{0};
  std::thread reader([&] {
    const std::int64_t start = monotonic_ns();
    interrupt.sleep(kLongSleepNs);
    slept_ns = monotonic_ns() - start;
  });
  // Once the reader has raised its flag, it sleeps (or is about to).
  while (sleeping.load() == 0) std::this_thread::yield();
  WaitInterrupt::trigger_shared(pending, sleeping);
  reader.join();
  EXPECT_LT(slept_ns.load(), kQuickNs) << "the sleep was not woken";
  EXPECT_TRUE(interrupt.take());
  // No sleeper: a trigger is seen at the next look, with no wake needed.
  WaitInterrupt::trigger_shared(pending, sleeping);
  EXPECT_EQ(sleeping.load(), 0u);
  EXPECT_TRUE(interrupt.take());
}

}  // namespace
}  // namespace evring
