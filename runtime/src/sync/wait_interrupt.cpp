#include "sync/wait_interrupt.hpp"

#include "sync/futex.hpp"

namespace evring {

void WaitInterrupt::trigger() noexcept {
  // seq_cst (a release would do for take()'s acquire: whatever the caller queued before is
  // visible to the reader once it sees the flag): with watch() and the load below it makes
  // sure a reader that just stopped watching a ring is woken from sleep().
  pending_->store(1, std::memory_order_seq_cst);
  // seq_cst: pairs with watch(); the word belongs to a mapping the reader set up.
  if (const std::uint32_t* word = word_.load(std::memory_order_seq_cst)) {
    // The reader may be between its last look at pending_ and its futex wait on the bell:
    // a wake alone would find nobody asleep and the wait would then sleep its backstop
    // out. Bumping the bell in the same call makes that wait's compare fail. The kernel
    // does the add, so a mapping the reader has since dropped (it moved to a new ring)
    // fails with EFAULT, harmlessly, where a store of ours would fault; the reader then
    // sees pending_ within a futex backstop.
    futex_bump_and_wake_shared(const_cast<std::uint32_t*>(word));
  }
  // A sleep() sleeps on pending_ itself, which the store above changed; wake it.
  if (SleepFlag(*sleeping_).claim_wake()) {
    futex_wake_shared(reinterpret_cast<std::uint32_t*>(pending_));
  }
}

void WaitInterrupt::trigger_shared(std::atomic<std::uint32_t>& pending,
                                   std::atomic<std::uint32_t>& sleeping) noexcept {
  // relaxed: claim_wake()'s fence orders it before the flag load [SYNC D]; the request it
  // announces was published with release before the call.
  pending.store(1, std::memory_order_relaxed);
  if (SleepFlag(sleeping).claim_wake()) {
    futex_wake_shared(reinterpret_cast<std::uint32_t*>(&pending));
  }
}

void WaitInterrupt::sleep(std::int64_t timeout_ns) noexcept {
  if (take()) return;  // triggered already: the caller has something to do
  // The doorbell's hand-shake (sync/doorbell.hpp) with pending_ as both the condition and
  // the bell: the kernel compares it with 0 before sleeping, so a trigger that stored 1
  // first is not slept through, and one after it sees the raised flag and wakes the sleep.
  SleepFlag flag(*sleeping_);
  flag.raise();
  if (pending_->load(std::memory_order_relaxed) == 0) {
    futex_wait_shared(reinterpret_cast<const std::uint32_t*>(pending_), 0, timeout_ns);
  }
  flag.lower();
}

}  // namespace evring
