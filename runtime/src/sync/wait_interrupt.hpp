// Lets another thread cut a reader's wait short: a reader process's query thread, with a
// query for the view to answer. Shared by the reader (its RingReader, or its EventStream
// while it has no ring) and that thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace evring {

// Safe to trigger from any thread at any time (also while the reader reattaches).
class WaitInterrupt {
 public:
  void trigger() noexcept;
  // Reader thread: whether it was triggered since the last look (and forget it).
  bool take() noexcept {
    // relaxed load first: the common case (not triggered) costs no read-modify-write.
    return pending_.load(std::memory_order_relaxed) != 0 &&
           pending_.exchange(0, std::memory_order_acquire) != 0;
  }
  // Reader thread, at (re)attach: the futex word its waits sleep on (its doorbell's);
  // nullptr while the reader has no ring (its writer not started yet), when it sleeps in
  // sleep() instead.
  void watch(const std::uint32_t* word) noexcept {
    // seq_cst: pairs with trigger()'s seq_cst store of pending_ and load of word_: either
    // trigger() sees the word the reader now sleeps on, or the reader's sleep sees pending_.
    word_.store(word, std::memory_order_seq_cst);
  }
  // Reader thread, with no ring to wait on: sleeps at most timeout_ns, less if triggered.
  void sleep(std::int64_t timeout_ns) noexcept;

 private:
  std::atomic<std::uint32_t> pending_{0};
  std::atomic<const std::uint32_t*> word_{nullptr};
};

}  // namespace evring
