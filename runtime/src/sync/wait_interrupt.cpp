#include "sync/wait_interrupt.hpp"

#include "sync/futex.hpp"

namespace evring {

void WaitInterrupt::trigger() noexcept {
  // seq_cst (a release would do for take()'s acquire: whatever the caller queued before is
  // visible to the reader once it sees the flag): with watch() and the load below it makes
  // sure a reader that just stopped watching a ring is woken from sleep().
  pending_.store(1, std::memory_order_seq_cst);
  // seq_cst: pairs with watch(); the word belongs to a mapping the reader set up. If the
  // reader has since moved to a new ring and dropped the old mapping, the wake fails with
  // EFAULT, harmlessly; the reader then sees `pending_` within a futex backstop.
  if (const std::uint32_t* word = word_.load(std::memory_order_seq_cst)) {
    futex_wake_shared(const_cast<std::uint32_t*>(word));
  } else {
    futex_wake_shared(reinterpret_cast<std::uint32_t*>(&pending_));
  }
}

void WaitInterrupt::sleep(std::int64_t timeout_ns) noexcept {
  if (take()) return;  // triggered already: the caller has something to do
  // The kernel compares the word with 0 atomically before sleeping: a trigger() that
  // stored 1 first is not slept through, and one after it wakes the sleep.
  futex_wait_shared(reinterpret_cast<const std::uint32_t*>(&pending_), 0, timeout_ns);
}

}  // namespace evring
