// The journal's CRC32C: the hardware path (with its 8/4/2/1-byte steps) against a bitwise
// reference, at every length and alignment a short record can have.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "journal/crc32c.hpp"

namespace evring {
namespace {

std::uint32_t bitwise_crc32c(const unsigned char* p, std::size_t n) {
  std::uint32_t crc = ~0u;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32c, KnownAnswer) {
  constexpr std::string_view kCheck = "123456789";  // the catalogue's check input
  EXPECT_EQ(detail::crc32c(0, kCheck.data(), kCheck.size()), 0xE3069283u);
  EXPECT_EQ(detail::crc32c(0, nullptr, 0), 0u);
}

TEST(Crc32c, EveryLengthAndAlignmentMatchesTheBitwiseReference) {
  std::array<unsigned char, 200> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + 11);
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t length = 0; start + length <= 150; ++length) {
      EXPECT_EQ(detail::crc32c(0, bytes.data() + start, length),
                bitwise_crc32c(bytes.data() + start, length))
          << "start " << start << ", length " << length;
    }
  }
}

TEST(Crc32c, ContinuingOverTwoPiecesEqualsOnePass) {
  std::array<unsigned char, 77> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i ^ 0x5a);
  const std::uint32_t whole = detail::crc32c(0, bytes.data(), bytes.size());
  for (std::size_t split = 0; split <= bytes.size(); ++split) {
    const std::uint32_t first = detail::crc32c(0, bytes.data(), split);
    EXPECT_EQ(detail::crc32c(first, bytes.data() + split, bytes.size() - split), whole) << split;
  }
}

// Four at a time, in step while all four have 8 bytes, then each on its own: buffers of
// every length near those steps, in runs of every count around four, against one at a time.
TEST(Crc32c, EachOfARunEqualsItsOwnCrc) {
  std::array<unsigned char, 300> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 91 + 7);
  for (std::size_t count = 0; count <= 11; ++count) {
    for (std::size_t shift = 0; shift < 40; ++shift) {
      std::vector<detail::CrcInput> inputs;
      for (std::size_t i = 0; i < count; ++i) {
        // Lengths that differ within a run, so one buffer ends before the others.
        inputs.push_back({bytes.data() + i * 3 + shift % 8, (shift * 7 + i * 13) % 90});
      }
      std::vector<std::uint32_t> out(count);
      detail::crc32c_each(inputs, out.data());
      for (std::size_t i = 0; i < count; ++i) {
        EXPECT_EQ(out[i], bitwise_crc32c(static_cast<const unsigned char*>(inputs[i].data),
                                         inputs[i].bytes))
            << "count " << count << ", shift " << shift << ", input " << i;
      }
    }
  }
}

}  // namespace
}  // namespace evring
