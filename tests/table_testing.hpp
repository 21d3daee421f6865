// What the tests of the built-in domains and views share: sinks that collect what a C
// table writes, and the seed of their random runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/codec.hpp"

namespace evring::table_testing {

using Bytes = std::vector<std::byte>;
using Words = std::vector<std::string>;

// evring_sink writers: text to a std::string, bytes to Bytes.
inline int append_text(void* context, const void* data, std::size_t size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  return 0;
}

inline int append_bytes(void* context, const void* data, std::size_t size) {
  auto* out = static_cast<Bytes*>(context);
  const auto* first = static_cast<const std::byte*>(data);
  out->insert(out->end(), first, first + size);
  return 0;
}

inline std::uint32_t type_of(kv::EventType type) {
  return static_cast<std::uint32_t>(type);
}
inline std::uint32_t type_of(bank::EventType type) {
  return static_cast<std::uint32_t>(type);
}

// A snapshot for the restore tests: the first `header_bytes` of `good` (its magic, and
// whatever else comes before the entries), then `count` and what entries(out) writes.
template <class Entries>
Bytes snapshot_like(const Bytes& good, std::size_t header_bytes, std::uint64_t count,
                    Entries&& entries) {
  ByteWriter out;
  for (std::size_t i = 0; i < header_bytes && i < good.size(); ++i) {
    out.put(static_cast<std::uint8_t>(good[i]));
  }
  out.put(count);
  entries(out);
  return out.take();
}

// A random run's seed: the one in the environment variable `variable`, else a fixed one;
// printed with how to replay it.
inline std::uint64_t announce_seed(const char* variable) {
  std::uint64_t seed = 20261127;
  if (const char* env = std::getenv(variable)) seed = std::strtoull(env, nullptr, 10);
  std::printf("seed %llu (replay with %s=%llu)\n", static_cast<unsigned long long>(seed), variable,
              static_cast<unsigned long long>(seed));
  return seed;
}

}  // namespace evring::table_testing
