// Lets another thread or process cut a reader's wait short: a reader process's query
// socket thread, or a client that posted a query in the reader's query segment
// (query/query_segment.hpp). Shared by the reader (its RingReader, or its EventStream while
// it has no ring) and those.
#pragma once

#include <atomic>
#include <cstdint>

#include "sync/doorbell.hpp"

namespace evring {

// Safe to trigger from any thread at any time (also while the reader reattaches).
class WaitInterrupt {
 public:
  WaitInterrupt() noexcept : pending_(&own_pending_), sleeping_(&own_sleeping_) {}

  // Before any other thread or process triggers: from here on the pending flag and the
  // flag of a sleep() are these words of a shared mapping that outlives this object, so
  // another process can trigger too (trigger_shared()).
  void share(std::atomic<std::uint32_t>& pending, std::atomic<std::uint32_t>& sleeping) noexcept {
    pending_ = &pending;
    sleeping_ = &sleeping;
  }
  // Back to its own words, before the shared mapping goes (no one triggers through it any
  // more).
  void unshare() noexcept { share(own_pending_, own_sleeping_); }

  void trigger() noexcept;
  // Another process, through the words share() was given: sets the flag and wakes a
  // sleep() (no system call unless the reader sleeps there). A reader asleep on its ring's
  // bell is not woken: whoever triggers so must wake it some other way (the reader's query
  // bell thread, readers/query_host.hpp).
  static void trigger_shared(std::atomic<std::uint32_t>& pending,
                             std::atomic<std::uint32_t>& sleeping) noexcept;

  // Reader thread: whether it was triggered since the last look (and forget it).
  bool take() noexcept {
    // relaxed load first: the common case (not triggered) costs no read-modify-write.
    return pending_->load(std::memory_order_relaxed) != 0 &&
           pending_->exchange(0, std::memory_order_acquire) != 0;
  }
  // Reader thread, at (re)attach: the futex word its waits sleep on (its doorbell's bell);
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
  std::atomic<std::uint32_t> own_pending_{0};
  std::atomic<std::uint32_t> own_sleeping_{0};
  std::atomic<std::uint32_t>* pending_;
  std::atomic<std::uint32_t>* sleeping_;  // the SleepFlag of sleep()
  std::atomic<const std::uint32_t*> word_{nullptr};
};

}  // namespace evring
