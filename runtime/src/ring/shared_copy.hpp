// Copies to and from memory that another process may be writing at the same moment.
//
// The ring's readers copy bytes the writer may be overwriting and only afterwards decide,
// by the protocol, whether the copy is good (ring_protocol.hpp). On x86-64 and ARMv8 a
// plain memcpy of such bytes is exactly what the hardware does either way, so release
// builds use it. Under ThreadSanitizer the copy goes word by word through relaxed atomics
// instead, so TSan checks the protocol's fences rather than reporting the designed race.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_THREAD__)
#define EVRING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVRING_TSAN 1
#endif
#endif

namespace evring::detail {

// dst, src and bytes are multiples of 8 (records are 8-byte aligned).
inline void copy_to_shared(std::byte* dst, const void* src, std::size_t bytes) noexcept {
#ifdef EVRING_TSAN
  auto* d = reinterpret_cast<std::uint64_t*>(dst);
  auto* s = static_cast<const std::byte*>(src);
  for (std::size_t i = 0; i < bytes / 8; ++i) {
    std::uint64_t word;
    std::memcpy(&word, s + i * 8, 8);
    // relaxed: ordering comes from the protocol's fences, not from these stores.
    std::atomic_ref<std::uint64_t>(d[i]).store(word, std::memory_order_relaxed);
  }
#else
  std::memcpy(dst, src, bytes);
#endif
}

inline void copy_from_shared(void* dst, const std::byte* src, std::size_t bytes) noexcept {
#ifdef EVRING_TSAN
  auto* d = static_cast<std::byte*>(dst);
  auto* s = reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(src));
  for (std::size_t i = 0; i < bytes / 8; ++i) {
    // relaxed: the reader validates the copy afterwards (acquire fence + tail_intent).
    const std::uint64_t word = std::atomic_ref<std::uint64_t>(s[i]).load(std::memory_order_relaxed);
    std::memcpy(d + i * 8, &word, 8);
  }
#else
  std::memcpy(dst, src, bytes);
#endif
}

// A commit word (ring_protocol.hpp): 8-aligned, in memory the other side maps too. Loads
// work on a read-only mapping (a plain load, as every atomic load of 8 bytes here).
inline std::uint64_t load_word(const std::byte* at, std::memory_order order) noexcept {
  auto* word = reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(at));
  return std::atomic_ref<std::uint64_t>(*word).load(order);
}

inline void store_word(std::byte* at, std::uint64_t value, std::memory_order order) noexcept {
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(at)).store(value, order);
}

}  // namespace evring::detail
