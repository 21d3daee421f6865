// The one codec of a built-in domain's or view's state in a snapshot: after its magic
// (expect_magic), a FlatStringMap as a
// u64 count, then each entry as its key (codec.hpp text) and its value, in key order so
// that equal states give equal bytes. What a value is, and how it is checked, is the
// domain's (kv_state.hpp, bank_state.hpp); a domain and its view write the same state
// behind a header of their own (a magic, the bank view's sums).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evring/codec.hpp"
#include "flat_string_map.hpp"

namespace evring::state_snapshot {

// Reads the u32 magic each built-in's snapshot starts with: a snapshot of another layout
// (another built-in's, an older one) is refused, not misread. `what` names the snapshot
// ("kv view snapshot").
inline void expect_magic(ByteReader& in, std::uint32_t magic, std::string_view what) {
  if (in.get<std::uint32_t>() != magic) {
    throw MalformedInput(std::string(what) + " does not start with the " + std::string(what) +
                         " magic");
  }
}

// The map's nodes sorted by key (the map itself keeps no order).
template <class Value>
std::vector<const typename containers::FlatStringMap<Value>::Node*> sorted_nodes(
    const containers::FlatStringMap<Value>& map) {
  using Node = typename containers::FlatStringMap<Value>::Node;
  std::vector<const Node*> sorted;
  sorted.reserve(map.size());
  map.for_each([&](const Node& node) { sorted.push_back(&node); });
  std::sort(sorted.begin(), sorted.end(),
            [](const Node* a, const Node* b) { return a->key < b->key; });
  return sorted;
}

// Writes the count and the entries; `in_key_order` holds pointers to the nodes, already in
// key order (sorted_nodes, or an ordered index the caller keeps); put_value(out, value)
// writes one value.
template <class Nodes, class PutValue>
void put_entries(ByteWriter& out, const Nodes& in_key_order, PutValue&& put_value) {
  out.put(static_cast<std::uint64_t>(std::size(in_key_order)));
  for (const auto* node : in_key_order) {
    out.put_text(node->key);
    put_value(out, node->value);
  }
}

// Reads what put_entries wrote into a new map, so bytes that turn out malformed leave the
// caller's state as it was. get_value(in, key) reads one entry's value and checks the
// entry, throwing MalformedInput; a key that comes twice is refused here, worded as
// "<what> has <key_noun> "k" twice". added(node) sees each new node as it is read, in the
// snapshot's (key) order, which keeps an ordered index cheap to build. The count is trusted
// only as far as `snapshot_bytes` (the whole snapshot's size) could hold entries of
// `smallest_entry` bytes, so a corrupt count cannot reserve wildly.
template <class Value, class GetValue, class Added>
containers::FlatStringMap<Value> get_entries(ByteReader& in, std::size_t snapshot_bytes,
                                             std::size_t smallest_entry, std::string_view what,
                                             std::string_view key_noun, GetValue&& get_value,
                                             Added&& added) {
  const auto count = in.get<std::uint64_t>();
  containers::FlatStringMap<Value> map;
  map.reserve(
      static_cast<std::size_t>(std::min<std::uint64_t>(count, snapshot_bytes / smallest_entry)));
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string_view key = in.get_text();
    Value value = get_value(in, key);
    const auto [node, inserted] = map.try_emplace(key, std::move(value));
    if (!inserted) {
      throw MalformedInput(std::string(what) + " has " + std::string(key_noun) + " " +
                           json_string(key) + " twice");
    }
    added(std::as_const(*node));
  }
  return map;
}

}  // namespace evring::state_snapshot
