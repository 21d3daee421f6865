// What the fuzz targets share: the entry point's signature, a check that stops the run on a
// broken promise (libFuzzer then saves the input as a crash), and input splitting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace evring::fuzz {

// A promise of the code under test that the input broke: abort, so libFuzzer keeps the
// input and the gcc replay fails. Not assert(): it must hold in Release builds too. (A
// macro for the place: clang 14 has no std::source_location.)
#define EVRING_FUZZ_REQUIRE(holds, promise) \
  ((holds) ? void() : ::evring::fuzz::broken_promise(promise, __FILE__, __LINE__))

[[noreturn]] inline void broken_promise(const char* promise, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: broken promise: %s\n", file, line, promise);
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The parts of `input` between occurrences of `separator` (at most max_parts; the last part
// keeps the rest). Lets one input carry several files or several commands.
inline std::vector<std::string_view> split(std::string_view input, std::string_view separator,
                                           std::size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t at = input.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + separator.size());
  }
  parts.push_back(input);
  return parts;
}

// Space-separated words of one line (no empty words).
inline std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  while (!line.empty()) {
    const std::size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const std::size_t end = std::min(line.find(' '), line.size());
    words.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  return words;
}

// The words of the input's first line (a target's choice: which domain, which view); leaves
// the rest of the input in `input`.
inline std::vector<std::string_view> take_header_words(std::string_view& input) {
  const std::size_t header_end = std::min(input.find('\n'), input.size());
  std::vector<std::string_view> header = words_of(input.substr(0, header_end));
  input.remove_prefix(std::min(header_end + 1, input.size()));
  return header;
}

}  // namespace evring::fuzz
