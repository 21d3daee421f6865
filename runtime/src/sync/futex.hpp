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

}  // namespace evring
