#include "journal/crc32c.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace evring::detail {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, reflected

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> kTable = make_table();

std::uint32_t crc32c_table(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc,
                                                             const unsigned char* p,
                                                             std::size_t n) noexcept {
  std::uint64_t c = crc;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  // Journal records are short (tens of bytes), so the tail is a large share of the work:
  // at most one 4-, one 2- and one 1-byte step instead of up to seven 1-byte ones.
  auto c32 = static_cast<std::uint32_t>(c);
  if (n >= 4) {
    std::uint32_t word;
    std::memcpy(&word, p, 4);
    c32 = __builtin_ia32_crc32si(c32, word);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    std::uint16_t half;
    std::memcpy(&half, p, 2);
    c32 = __builtin_ia32_crc32hi(c32, half);
    p += 2;
    n -= 2;
  }
  if (n > 0) c32 = __builtin_ia32_crc32qi(c32, *p);
  return c32;
}

// Four buffers side by side, 8 bytes of each per round while all four have 8; the rest of
// each alone.
__attribute__((target("sse4.2"))) void crc32c_each_sse42(const CrcInput* inputs, std::size_t count,
                                                         std::uint32_t* out) noexcept {
  constexpr std::size_t kWays = 4;
  std::size_t first = 0;
  for (; first + kWays <= count; first += kWays) {
    std::uint64_t crc[kWays];
    const unsigned char* at[kWays];
    std::size_t left[kWays];
    std::size_t common = SIZE_MAX;
    for (std::size_t i = 0; i < kWays; ++i) {
      crc[i] = 0xFFFFFFFFu;
      at[i] = static_cast<const unsigned char*>(inputs[first + i].data);
      left[i] = inputs[first + i].bytes;
      common = std::min(common, left[i]);
    }
    for (std::size_t done = 0; done + 8 <= common; done += 8) {
      for (std::size_t i = 0; i < kWays; ++i) {
        std::uint64_t word;
        std::memcpy(&word, at[i] + done, 8);
        crc[i] = __builtin_ia32_crc32di(crc[i], word);
      }
    }
    const std::size_t done = common / 8 * 8;
    for (std::size_t i = 0; i < kWays; ++i) {
      out[first + i] =
          ~crc32c_sse42(static_cast<std::uint32_t>(crc[i]), at[i] + done, left[i] - done);
    }
  }
  for (; first < count; ++first) {
    out[first] = ~crc32c_sse42(0xFFFFFFFFu, static_cast<const unsigned char*>(inputs[first].data),
                               inputs[first].bytes);
  }
}

bool cpu_has_sse42() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

void crc32c_each_table(const CrcInput* inputs, std::size_t count, std::uint32_t* out) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = ~crc32c_table(0xFFFFFFFFu, static_cast<const unsigned char*>(inputs[i].data),
                           inputs[i].bytes);
  }
}

}  // namespace

void crc32c_each(std::span<const CrcInput> inputs, std::uint32_t* out) noexcept {
  using Implementation = void (*)(const CrcInput*, std::size_t, std::uint32_t*);
#if defined(__x86_64__)
  static const Implementation implementation =
      cpu_has_sse42() ? crc32c_each_sse42 : crc32c_each_table;
#else
  static const Implementation implementation = crc32c_each_table;
#endif
  implementation(inputs.data(), inputs.size(), out);
}

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t bytes) noexcept {
  using Implementation = std::uint32_t (*)(std::uint32_t, const unsigned char*, std::size_t);
#if defined(__x86_64__)
  // Chosen once; a pointer rather than a branch, so the table loop is not inlined here
  // and this stays a few instructions in front of the hardware one.
  static const Implementation implementation = cpu_has_sse42() ? crc32c_sse42 : crc32c_table;
#else
  static const Implementation implementation = crc32c_table;
#endif
  return ~implementation(~crc, static_cast<const unsigned char*>(data), bytes);
}

}  // namespace evring::detail
