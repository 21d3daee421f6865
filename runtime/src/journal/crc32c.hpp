// CRC32C (Castagnoli), as used by the journal: hardware (SSE4.2) where the CPU has it,
// a table otherwise. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace evring::detail {

// Continues `crc` (start with 0) over `bytes`.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t bytes) noexcept;

}  // namespace evring::detail
