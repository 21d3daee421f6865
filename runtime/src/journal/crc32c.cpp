#include "journal/crc32c.hpp"

#include <array>
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

bool cpu_has_sse42() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

}  // namespace

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
