// Small, header-only tools for plugins: encoding commands and events as bytes, reading
// them back with bounds checks, parsing the words of a text command, and writing JSON
// strings. Fixed little-endian layout (the machine's own: one machine, one byte order).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace evring {

// Input that does not parse: a malformed command, query or event. The message says what
// was expected.
class MalformedInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ByteWriter {
 public:
  template <class Integer>
  requires std::is_integral_v<Integer> ByteWriter& put(Integer value) {
    const auto* raw = reinterpret_cast<const std::byte*>(&value);
    bytes_.insert(bytes_.end(), raw, raw + sizeof value);
    return *this;
  }
  // A u32 length, then the bytes.
  ByteWriter& put_text(std::string_view text) {
    put(static_cast<std::uint32_t>(text.size()));
    const auto* raw = reinterpret_cast<const std::byte*>(text.data());
    bytes_.insert(bytes_.end(), raw, raw + text.size());
    return *this;
  }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  std::vector<std::byte> take() noexcept { return std::move(bytes_); }

 private:
  // resize + memcpy rather than insert: GCC 12 at -O3 mistakes growing inserts of a few
  // bytes for overflows (-Wstringop-overflow).
  void append(const void* data, std::size_t size) {
    if (size == 0) return;
    const std::size_t at = bytes_.size();
    bytes_.resize(at + size);
    std::memcpy(bytes_.data() + at, data, size);
  }

  std::vector<std::byte> bytes_;
};

class ByteReader {
 public:
  // `what` names the thing read ("bank command", "kv event") in error messages.
  ByteReader(std::span<const std::byte> bytes, std::string_view what) noexcept
      : bytes_(bytes), what_(what) {}

  template <class Integer>
  requires std::is_integral_v<Integer> Integer get() {
    need(sizeof(Integer));
    Integer value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof value);
    offset_ += sizeof value;
    return value;
  }
  // Reads what put_text wrote; the view points into the bytes being read.
  std::string_view get_text() {
    const auto size = get<std::uint32_t>();
    need(size);
    std::string_view text(reinterpret_cast<const char*>(bytes_.data() + offset_), size);
    offset_ += size;
    return text;
  }
  bool at_end() const noexcept { return offset_ == bytes_.size(); }
  void expect_end() const {
    if (!at_end()) [[unlikely]] {
      throw_unexpected_end();
    }
  }

 private:
  // The checks stay inline on the hot decode paths (a replay decodes millions of events
  // a second); building a message is cold and out of line.
  void need(std::size_t size) const {
    if (bytes_.size() - offset_ < size) [[unlikely]] {
      throw_truncated(size);
    }
  }
  [[noreturn, gnu::cold, gnu::noinline]] void throw_unexpected_end() const {
    throw MalformedInput(std::string(what_) + " has " + std::to_string(bytes_.size() - offset_) +
                         " unexpected bytes at its end");
  }
  [[noreturn, gnu::cold, gnu::noinline]] void throw_truncated(std::size_t size) const {
    throw MalformedInput(std::string(what_) + " is truncated: needs " +
                         std::to_string(offset_ + size) + " bytes, has " +
                         std::to_string(bytes_.size()));
  }

  std::span<const std::byte> bytes_;
  std::string_view what_;
  std::size_t offset_ = 0;
};

// A whole decimal integer of type Integer, or MalformedInput naming `what` and the word.
template <class Integer>
requires std::is_integral_v<Integer> Integer parse_integer(std::string_view word,
                                                           std::string_view what) {
  Integer value{};
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error == std::errc::result_out_of_range) {
    throw MalformedInput(std::string(what) + " \"" + std::string(word) + "\" is out of range (" +
                         std::to_string(std::numeric_limits<Integer>::min()) + " to " +
                         std::to_string(std::numeric_limits<Integer>::max()) + ")");
  }
  if (error != std::errc{} || end != word.data() + word.size() || word.empty()) {
    throw MalformedInput(std::string(what) + " \"" + std::string(word) +
                         "\" is not a whole number");
  }
  return value;
}

// Checks the word count of a text command: `usage` is shown when it is wrong.
inline void expect_words(std::span<const std::string_view> words, std::size_t count,
                         std::string_view usage) {
  if (words.size() != count) {
    throw MalformedInput("expected " + std::to_string(count) + " words (" + std::string(usage) +
                         "), got " + std::to_string(words.size()));
  }
}

// The length of the well-formed UTF-8 sequence that starts text[at] (1 to 4), or 0 if none
// does (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
inline std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) {
    return at + i < text.size() ? static_cast<unsigned char>(text[at + i]) : 0u;
  };
  const unsigned lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // not overlong
    if (lead == 0xED) high = 0x9F;  // not a surrogate
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // not overlong
    if (lead == 0xF4) high = 0x8F;  // not past U+10FFFF
  } else {
    return 0;
  }
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// The offset of the first byte of `text` that is not part of well-formed UTF-8, or npos.
inline std::size_t first_invalid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

// Throws MalformedInput when a word is not UTF-8 text: "word 2 is not UTF-8 (byte 0xff at
// offset 0)". Commands and queries are text: a key that could not be printed or queried
// back faithfully is refused where it comes in.
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_not_utf8(const std::string& what,
                                                                  unsigned byte,
                                                                  std::size_t offset) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const std::string hex{'0', 'x', kDigits[byte >> 4], kDigits[byte & 0xf]};
  throw MalformedInput(what + " is not UTF-8 text (byte " + hex + " at offset " +
                       std::to_string(offset) + "): commands and queries take UTF-8 text only");
}
// Throws MalformedInput naming `what` ("key") when `text` is not UTF-8.
inline void check_utf8(std::string_view what, std::string_view text) {
  if (const std::size_t bad = first_invalid_utf8(text); bad != std::string_view::npos) {
    throw_not_utf8(std::string(what), static_cast<unsigned char>(text[bad]), bad);
  }
}
inline void check_utf8_words(std::span<const std::string_view> words) {
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (const std::size_t bad = first_invalid_utf8(words[w]); bad != std::string_view::npos) {
      throw_not_utf8("word " + std::to_string(w + 1), static_cast<unsigned char>(words[w][bad]),
                     bad);
    }
  }
}

// `text` as a JSON string literal, quotes included. JSON is UTF-8: a byte that is not part
// of a well-formed sequence (keys and values are any bytes) becomes U+FFFD, so every
// reply and event line parses.
inline std::string json_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out += "\\ufffd";
      } else {
        out.append(text.substr(i, length));
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace evring
