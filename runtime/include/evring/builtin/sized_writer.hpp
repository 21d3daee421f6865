// Writes the layout of codec.hpp's ByteWriter (native integers; text as a u32 length, then
// the bytes) into a buffer sized up front: the built-in encoders know their exact size, so
// each event or command costs one allocation and no regrowth, or none when the caller hands
// back the buffer of its last one. (It also keeps GCC 12 quiet:
// at -O3 it mistakes ByteWriter's growing inserts for overflows, -Wstringop-overflow.)
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace evring::builtin {

class SizedWriter {
 public:
  // The bytes put_text(text) takes.
  static constexpr std::size_t text_size(std::string_view text) noexcept {
    return sizeof(std::uint32_t) + text.size();
  }

  explicit SizedWriter(std::size_t size) : bytes_(size) {}
  // Into `reuse`'s storage: no allocation when its capacity holds `size` (a domain encoding
  // one event per command into the same buffer allocates once).
  SizedWriter(std::size_t size, std::vector<std::byte>&& reuse) : bytes_(std::move(reuse)) {
    bytes_.resize(size);
  }

  template <class Integer>
  requires std::is_integral_v<Integer> SizedWriter& put(Integer value) noexcept {
    copy(&value, sizeof value);
    return *this;
  }
  // Callers keep texts far below 4 GiB (the built-ins cap them at a few KiB).
  SizedWriter& put_text(std::string_view text) noexcept {
    put(static_cast<std::uint32_t>(text.size()));
    copy(text.data(), text.size());
    return *this;
  }
  // The buffer, which the puts have filled exactly.
  std::vector<std::byte> take() noexcept {
    assert(offset_ == bytes_.size() && "the size given up front was too large");
    return std::move(bytes_);
  }

 private:
  void copy(const void* data, std::size_t size) noexcept {
    assert(size <= bytes_.size() - offset_ && "the size given up front was too small");
    if (size != 0) std::memcpy(bytes_.data() + offset_, data, size);
    offset_ += size;
  }

  std::vector<std::byte> bytes_;
  std::size_t offset_ = 0;
};

}  // namespace evring::builtin
