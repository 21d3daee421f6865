// CRC32C (Castagnoli), as used by the journal: hardware (SSE4.2) where the CPU has it,
// a table otherwise. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace evring::detail {

// Continues `crc` (start with 0) over `bytes`.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t bytes) noexcept;

// One buffer of crc32c_each().
struct CrcInput {  // no defaults: a run's array of them is filled before it is read
  const void* data;
  std::size_t bytes;
};

// out[i] = crc32c(0, inputs[i]) for each input, computed several at a time: the CPU's
// crc32 instruction takes 3 cycles but can start one every cycle, so one buffer leaves
// two thirds of it idle, and the journal's records are short enough that a call per record
// costs as much again. out has room for inputs.size().
void crc32c_each(std::span<const CrcInput> inputs, std::uint32_t* out) noexcept;

}  // namespace evring::detail
