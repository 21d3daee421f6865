// How a loop idles between two looks for work that another thread or process will bring
// (the next record, a command, a reply): the WaitKind a user chose (evring/wait_kind.hpp),
// until a deadline. One IdleStrategy serves every wait loop; what a block-waiter sleeps on
// is the caller's Doorbell (doorbell.hpp). Aeron's IdleStrategy and the Disruptor's
// WaitStrategy are the models.
//
//   spin   a pause instruction between looks.
//   yield  sched_yield between looks.
//   block  spins for spin_before_sleep_ns, then tells the caller to sleep (on its doorbell,
//          at most remaining_ns()) at every later idle.
#pragma once

#include <cstdint>
#include <limits>

#include <sched.h>

#include "evring/clock.hpp"
#include "evring/wait_kind.hpp"

namespace evring {

// Tells the CPU this is a spin-wait loop (frees resources for the sibling hyperthread and
// avoids a memory-order mis-speculation penalty on exit).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// One pause of `kind` between two looks (sched_yield for yield, a pause instruction
// otherwise). Returns true instead, pausing not, when it is time for a block-waiter to sleep.
inline bool idle_pause(WaitKind kind, bool spun_long_enough) noexcept {
  switch (kind) {
    case WaitKind::yield:
      sched_yield();
      return false;
    case WaitKind::block:
      if (spun_long_enough) return true;
      break;
    case WaitKind::spin:
      break;
  }
  cpu_relax();
  return false;
}

enum class IdleStep {
  again,       // paused: look again
  checkpoint,  // paused, and the clock was read: a moment for the caller's slower checks
  sleep,       // block: sleep on the doorbell now, at most remaining_ns()
  timed_out,   // the deadline has passed
};

class IdleStrategy {
 public:
  static constexpr std::int64_t kNoTimeout = std::numeric_limits<std::int64_t>::max();

  // Starts the wait now: it ends timeout_ns from now (kNoTimeout: never).
  IdleStrategy(WaitKind kind, std::int64_t timeout_ns, std::int64_t spin_before_sleep_ns) noexcept
      : kind_(kind), spin_before_sleep_ns_(spin_before_sleep_ns) {
    now_ns_ = monotonic_ns();
    spin_start_ns_ = now_ns_;
    deadline_ns_ = timeout_ns >= kNoTimeout - now_ns_ ? kNoTimeout : now_ns_ + timeout_ns;
  }

  // After a look that found nothing. A yield can last a whole time slice, so yield looks
  // at the clock every round; spin and block every 256 rounds, which keeps the clock off
  // their fast loop, and block at every round once it sleeps.
  IdleStep idle() noexcept {
    ++rounds_;
    const bool look_at_clock = kind_ == WaitKind::yield || sleeping_ || (rounds_ & 255) == 0;
    if (!look_at_clock) {
      cpu_relax();
      return IdleStep::again;
    }
    now_ns_ = monotonic_ns();
    if (now_ns_ >= deadline_ns_) return IdleStep::timed_out;
    sleeping_ = idle_pause(kind_, now_ns_ - spin_start_ns_ >= spin_before_sleep_ns_);
    return sleeping_ ? IdleStep::sleep : IdleStep::checkpoint;
  }
  // The caller found work and waits on: spin afresh before sleeping again.
  void reset() noexcept {
    sleeping_ = false;
    spin_start_ns_ = now_ns_ = monotonic_ns();
  }

  // As of the last look at the clock.
  std::int64_t now_ns() const noexcept { return now_ns_; }
  std::int64_t remaining_ns() const noexcept { return deadline_ns_ - now_ns_; }
  bool past_deadline() noexcept { return (now_ns_ = monotonic_ns()) >= deadline_ns_; }

 private:
  WaitKind kind_;
  bool sleeping_ = false;
  std::uint32_t rounds_ = 0;
  std::int64_t spin_before_sleep_ns_;
  std::int64_t now_ns_ = 0;
  std::int64_t spin_start_ns_ = 0;
  std::int64_t deadline_ns_ = 0;
};

}  // namespace evring
