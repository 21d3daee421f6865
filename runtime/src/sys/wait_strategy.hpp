// How an idle reader waits for the next record.
//
//   spin   busy-polls with a pause instruction: lowest latency, burns a whole core.
//   yield  polls and gives the core away between polls (sched_yield): for shared cores.
//   block  polls briefly, then sleeps on a futex on the ring's tail word; the writer makes
//          a wake syscall only while some reader sleeps (it reads a counter of sleepers,
//          one atomic load per publish, otherwise).
#pragma once

#include <cstdint>

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

// futex(2) on a 32-bit word of a MAP_SHARED mapping (the key is the page, not the
// address, so processes mapping the same object at different addresses meet). Waiting only
// reads the word, so it works on a read-only mapping.
// Sleeps while *word == expected, at most timeout_ns; returns early on a wake or signal.
void futex_wait_shared(const std::uint32_t* word, std::uint32_t expected,
                       std::int64_t timeout_ns) noexcept;
// Wakes every sleeper on the word.
void futex_wake_shared(std::uint32_t* word) noexcept;

}  // namespace evring
