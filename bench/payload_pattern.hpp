// The bytes a benchmark writer puts in a record, derived from its sequence number, so a
// reader can tell a correct payload from a torn, stale or misplaced one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace evring::bench {

namespace detail {
// Odd constants (golden ratio, splitmix64): consecutive words and consecutive sequence
// numbers give unrelated-looking values, so a copy shifted by a word or a record shows.
inline constexpr std::uint64_t kSeqSpread = 0x9E37'79B9'7F4A'7C15ull;
inline constexpr std::uint64_t kWordStep = 0xBF58'476D'1CE4'E5B9ull;
}  // namespace detail

// Word i of the payload of record `seq`; the last word may be cut short.
inline std::uint64_t pattern_word(std::uint64_t seq, std::size_t i) noexcept {
  return seq * detail::kSeqSpread + (i + 1) * detail::kWordStep;
}

// Writer side: fills the whole payload.
inline void fill_pattern(std::uint64_t seq, std::span<std::byte> payload) noexcept {
  std::uint64_t word = pattern_word(seq, 0);
  std::size_t offset = 0;
  for (; offset + 8 <= payload.size(); offset += 8, word += detail::kWordStep) {
    std::memcpy(payload.data() + offset, &word, 8);
  }
  std::memcpy(payload.data() + offset, &word, payload.size() - offset);
}

// Reader side: true if every byte is what fill_pattern(seq) wrote.
inline bool matches_pattern(std::uint64_t seq, std::span<const std::byte> payload) noexcept {
  std::uint64_t expected = pattern_word(seq, 0);
  std::uint64_t difference = 0;  // OR of XORs: one branch for the whole payload
  std::size_t offset = 0;
  for (; offset + 8 <= payload.size(); offset += 8, expected += detail::kWordStep) {
    std::uint64_t word;
    std::memcpy(&word, payload.data() + offset, 8);
    difference |= word ^ expected;
  }
  std::uint64_t last = 0;
  std::uint64_t expected_last = 0;
  std::memcpy(&last, payload.data() + offset, payload.size() - offset);
  std::memcpy(&expected_last, &expected, payload.size() - offset);
  return (difference | (last ^ expected_last)) == 0;
}

// Throughput runs stamp only the first word (a full fill would measure memset, not the
// ring): the reader checks that word, which still catches a record handed out twice,
// torn at its start, or out of order.
inline void stamp_first_word(std::uint64_t seq, std::span<std::byte> payload) noexcept {
  const std::uint64_t word = pattern_word(seq, 0);
  std::memcpy(payload.data(), &word, payload.size() < 8 ? payload.size() : 8);
}

inline bool first_word_matches(std::uint64_t seq, std::span<const std::byte> payload) noexcept {
  const std::uint64_t expected = pattern_word(seq, 0);
  return std::memcmp(payload.data(), &expected, payload.size() < 8 ? payload.size() : 8) == 0;
}

}  // namespace evring::bench
