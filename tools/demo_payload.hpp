// The demo's records: both the size and the bytes of record `seq` follow from `seq`, so a
// reader can check every record on its own and a torn, stale or misplaced copy shows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace evring::tools {

inline constexpr std::uint32_t kDemoEventType = 1;
inline constexpr std::array<std::uint32_t, 4> kDemoPayloadSizes{24, 120, 600, 3000};
inline constexpr std::uint32_t kDemoMaxPayload = 3000;

inline std::size_t demo_payload_size(std::uint64_t seq) noexcept {
  return kDemoPayloadSizes[seq % kDemoPayloadSizes.size()];
}

// Fills `payload` (demo_payload_size(seq) bytes) with record seq's bytes: 8-byte words
// mixed from seq and the word's index with odd constants, so neighbours differ everywhere.
inline void fill_demo_payload(std::uint64_t seq, std::span<std::byte> payload) noexcept {
  for (std::size_t offset = 0; offset < payload.size(); offset += 8) {
    const std::uint64_t word =
        (seq * 0x9E37'79B9'7F4A'7C15ull) ^ ((offset + 1) * 0xC2B2'AE3D'27D4'EB4Full);
    const std::size_t bytes = payload.size() - offset < 8 ? payload.size() - offset : 8;
    std::memcpy(payload.data() + offset, &word, bytes);
  }
}

// True if `payload` is exactly record seq's bytes. `scratch` holds kDemoMaxPayload bytes.
inline bool is_demo_payload(std::uint64_t seq, std::span<const std::byte> payload,
                            std::span<std::byte> scratch) noexcept {
  if (payload.size() != demo_payload_size(seq)) return false;
  fill_demo_payload(seq, scratch.first(payload.size()));
  return std::memcmp(payload.data(), scratch.data(), payload.size()) == 0;
}

}  // namespace evring::tools
