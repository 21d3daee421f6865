// futex(2) on a 32-bit word of a MAP_SHARED mapping: the system calls under every sleep of
// a waiting process (doorbell.hpp proves the hand-shake around them once).
#pragma once

#include <cstdint>

namespace evring {

// The key is the page, not the address, so processes mapping the same object at different
// addresses meet. Waiting only reads the word, so it works on a read-only mapping.
// Sleeps while *word == expected, at most timeout_ns; returns early on a wake or signal.
void futex_wait_shared(const std::uint32_t* word, std::uint32_t expected,
                       std::int64_t timeout_ns) noexcept;
// Wakes every sleeper on the word.
void futex_wake_shared(std::uint32_t* word) noexcept;
// Adds 1 to the word and wakes every sleeper on it, in one call (FUTEX_WAKE_OP): a sleeper
// about to wait with the old value returns at once. On a mapping that is gone or read-only
// the kernel fails the call instead of this process faulting; it then only wakes.
void futex_bump_and_wake_shared(std::uint32_t* word) noexcept;

}  // namespace evring
