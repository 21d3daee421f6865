// The kv state as the kv domain and the kv view both keep it, each key's value and
// version, and its codec in their snapshots (state_snapshot.hpp): one definition, so the
// domain and the view cannot come to disagree on what a state is. Entry layout: text key,
// u64 version, text value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "evring/codec.hpp"
#include "evring/event.hpp"
#include "flat_string_map.hpp"
#include "look_ahead.hpp"
#include "state_snapshot.hpp"

namespace evring::kv {

struct Entry {
  std::string value;
  std::uint64_t version = 0;
};

using Entries = containers::FlatStringMap<Entry>;
using EntryNode = Entries::Node;

// Writes the entries `in_key_order` points to (state_snapshot::sorted_nodes, or an index
// kept in key order).
template <class Nodes>
void put_entries(ByteWriter& out, const Nodes& in_key_order) {
  state_snapshot::put_entries(out, in_key_order, [](ByteWriter& to, const Entry& entry) {
    to.put(entry.version).put_text(entry.value);
  });
}

// Reads what put_entries wrote, checking each key, value and version; `what` names the
// snapshot in errors ("kv snapshot", "kv view snapshot"), `snapshot_bytes` is its size.
// `added`, if given, sees each new entry as it is read, in key order (the kv view indexes
// them).
Entries get_entries(ByteReader& in, std::size_t snapshot_bytes, std::string_view what,
                    const std::function<void(const EntryNode&)>& added = {});

// The key a kv event names, for looking ahead along a run (look_ahead.hpp): both kv events
// start with it.
inline std::size_t peek_key(const Event& event, look_ahead::Looked::Keys& keys) noexcept {
  std::size_t offset = 0;
  keys[0].bytes = look_ahead::peek_text(event, offset);
  return keys[0].bytes.empty() ? 0 : 1;
}

}  // namespace evring::kv
