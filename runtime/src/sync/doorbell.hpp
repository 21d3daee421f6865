// A doorbell: how a process that found nothing to do sleeps, and how the one that gives it
// something wakes it, without a system call on the giver's side while nobody sleeps. Every
// sleep on another process in evring goes through it: a ring reader waiting for records
// (the registry's wake words), the writer waiting for commands and a client waiting for its
// reply (intake_layout.hpp). Modelled on the Disruptor's BlockingWaitStrategy, whose
// signalAllWhenBlocking() is ring() here.
//
// Two 32-bit words in shared memory, both of the caller's layout:
//   sleeping  raised by a sleeper before its last look, lowered by the ringer that wakes it
//   bell      bumped by that ringer; sleepers sleep on it (futex) while it is unchanged
//
// HAND-SHAKE
//
// Sleeper (any number at once):
//   S1 seen = bell.load(acquire)
//   S2 sleeping.store(1, relaxed); atomic_thread_fence(seq_cst)               [SYNC D]
//   S3 look at the condition once more (the caller's own acquire loads): something there?
//      Then do not sleep.
//   S4 futex_wait(bell, seen, timeout): the kernel sleeps only while bell == seen
// Ringer, after it made the condition true (a release store the sleeper's S3 reads):
//   G1 atomic_thread_fence(seq_cst)                                           [SYNC D]
//      (ring_unfenced(): no fence; see below)
//   G2 sleeping.load(relaxed) == 0: nobody sleeps, done (the cost while nobody sleeps)
//   G3 sleeping.exchange(0): one ringer wins and wakes everyone who slept so far
//   G4 bell.fetch_add(1, release); futex_wake(bell)
//
// Why no wake is lost: the two seq_cst fences are ordered one way or the other. If G1 comes
// first, the condition stored before it is seen by S3 (after S2's fence): no sleep. If S2's
// fence comes first, G2 sees the flag (or a later value: a G3 of another ringer, who then
// wakes this sleeper itself), so G4 changes the bell. The sleeper read `seen` in S1, before
// raising the flag, so the bump comes after it (S1's acquire would otherwise read a bump
// that follows a G2 that read S2's later store), and the kernel's compare in S4 fails, or
// the wake finds it asleep. A sleeper that raised the flag after a G3 is woken by the next
// ring; and one that wakes by its timeout leaves the flag up, which costs the next ringer
// one wake call, not one per ring.
//
// SleepFlag is the flag half alone, for a sleeper that sleeps elsewhere than on a futex
// (the socket server's thread, in epoll_wait on an eventfd): its S4 and G4 are the caller's
// (epoll_wait; an eventfd write), the proof the same with "the eventfd is readable" for
// "the bell changed".
//
// ring_unfenced() drops G1, for a ringer on a hot path (the ring's writer, once per
// publish): its G2 may then be ordered before the store that made the condition true, and
// miss a sleeper that raised its flag just then. That sleeper sleeps until its timeout, so
// whoever sleeps on an unfenced bell gives a short one (the backstop, a few ms).
#pragma once

#include <atomic>
#include <cstdint>

#include "sync/futex.hpp"

namespace evring {

// The sleeping flag's side of the hand-shake: S2, G1 to G3.
class SleepFlag {
 public:
  // The word lives in shared memory or in the caller's object, and outlives this view of it.
  explicit SleepFlag(std::atomic<std::uint32_t>& sleeping) noexcept : sleeping_(&sleeping) {}

  // Sleeper: S2. Look at the condition (S3) after it, then sleep (S4).
  void raise() noexcept {
    // relaxed store + seq_cst fence: the fence orders the flag before the caller's last
    // look at its condition [SYNC D].
    sleeping_->store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  // Sleeper, when it is the flag's only one: lowers it on waking, so the next ringer makes
  // no wake for a sleeper that woke by itself. relaxed: only saves a wake; a ringer that
  // still sees the flag wakes once too often.
  void lower() noexcept { sleeping_->store(0, std::memory_order_relaxed); }

  // Ringer, after the release store that gives the sleeper something: G1 to G3. True when
  // this ringer must wake the sleepers (G4, the caller's).
  bool claim_wake() noexcept {
    // G1 [SYNC D]: orders the caller's store before the flag load below.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return claim_wake_unfenced();
  }
  // G2 and G3 without G1: sleepers must sleep with a short timeout (see the hand-shake).
  bool claim_wake_unfenced() noexcept {
    // G2. relaxed: orders nothing; the fence before it (claim_wake()) or the sleepers'
    // timeout is the proof. The exchange is taken only when someone asked.
    if (sleeping_->load(std::memory_order_relaxed) == 0) [[likely]] {
      return false;
    }
    // G3. relaxed: the RMW alone makes one ringer the waker; G4 publishes.
    return sleeping_->exchange(0, std::memory_order_relaxed) != 0;
  }

 private:
  std::atomic<std::uint32_t>* sleeping_;
};

class Doorbell {
 public:
  // Both words live in shared memory (a layout's fields) and outlive this view of them.
  Doorbell(std::atomic<std::uint32_t>& sleeping, std::atomic<std::uint32_t>& bell) noexcept
      : sleeping_(sleeping), bell_(&bell) {}

  // Sleeper: S1 and S2. Returns what to give sleep(); look at the condition (S3) after it.
  std::uint32_t prepare() noexcept {
    // S1. acquire: pairs with G4's release bump (see the hand-shake).
    const std::uint32_t seen = bell_->load(std::memory_order_acquire);
    sleeping_.raise();
    return seen;
  }
  // Sleeper that nobody rings for, woken by wake_all() or a third party only: S1 alone.
  std::uint32_t listen() const noexcept {
    // acquire: as S1.
    return bell_->load(std::memory_order_acquire);
  }
  // Sleeper: S4, after the last look found nothing. At most timeout_ns; returns at once if
  // a ringer rang since prepare().
  void sleep(std::uint32_t seen, std::int64_t timeout_ns) const noexcept {
    futex_wait_shared(word(), seen, timeout_ns);
  }
  // S1 to S4 around the caller's last look: sleeps unless pending() finds something.
  // Returns what that last look said.
  template <class Pending>
  bool sleep_unless(Pending&& pending, std::int64_t timeout_ns) noexcept(noexcept(pending())) {
    const std::uint32_t seen = prepare();
    if (pending()) return true;
    sleep(seen, timeout_ns);
    return false;
  }
  // Sleeper, when it is the bell's only one: see SleepFlag::lower().
  void leave_single() noexcept { sleeping_.lower(); }

  // Ringer, after the release store that gives the sleepers something: G1 to G4.
  // Returns whether it made a wake call (a system call).
  bool ring() noexcept {
    if (!sleeping_.claim_wake()) return false;
    bump_and_wake();
    return true;
  }
  // G2 to G4 without G1: sleepers must sleep with a short timeout (see the hand-shake).
  bool ring_unfenced() noexcept {
    if (!sleeping_.claim_wake_unfenced()) [[likely]] {
      return false;
    }
    bump_and_wake();
    return true;
  }
  // Wakes every sleeper whether or not it raised the flag (a segment that closes, a query
  // for a reader): they look at what changed when they wake.
  void wake_all() noexcept {
    // relaxed: a wake with no news; the sleeper re-reads what it waits on after any wake.
    bell_->fetch_add(1, std::memory_order_relaxed);
    futex_wake_shared(const_cast<std::uint32_t*>(word()));
  }

  // The futex word sleepers sleep on (for a third party that wakes them: WaitInterrupt).
  const std::uint32_t* word() const noexcept {
    return reinterpret_cast<const std::uint32_t*>(bell_);
  }

 private:
  static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
                sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  // G4. release: pairs with S1's acquire load.
  void bump_and_wake() noexcept {
    bell_->fetch_add(1, std::memory_order_release);
    futex_wake_shared(const_cast<std::uint32_t*>(word()));
  }

  SleepFlag sleeping_;
  std::atomic<std::uint32_t>* bell_;
};

}  // namespace evring
