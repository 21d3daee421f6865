// Applying a run of events while looking ahead at the ones to come (view_abi.h's
// on_events), for the built-in views over a FlatStringMap: a lookup's cache misses are
// dependent (the slot, then the node the slot names, then what the node points to), so
// one event alone waits for each in turn; asked for some events early, they overlap.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "evring/event.hpp"
#include "flat_string_map.hpp"

namespace evring::look_ahead {

// How far ahead of the event being applied each line is asked for: far enough that a miss
// to memory (~100 ns, a few events) has arrived when the next look needs it, near enough
// that the lines are still cached when the event is applied.
inline constexpr std::size_t kSlotAhead = 8;
inline constexpr std::size_t kNodeAhead = 4;
inline constexpr std::size_t kNearAhead = 2;
// Below this many keys a map stays in the cache (4096 kv keys: well under 1 MiB of slots,
// nodes and values), and looking ahead costs more than the misses it saves: on the 2-core
// VM a kv catch-up ran 4% slower with it at 4096 keys, 1.4x faster at a million.
inline constexpr std::size_t kLookAheadFromKeys = std::size_t{1} << 15;

// The keys an event names (the built-in events name one or two), each with its hash.
struct Looked {
  struct Key {
    std::string_view bytes;
    std::size_t hash = 0;
  };
  using Keys = std::array<Key, 2>;
  Keys keys;
  std::size_t count = 0;
};

// The text field (a u32 length, then the bytes: codec.hpp) at `offset` of an event's
// payload, read for looking ahead only; moves offset past it. Empty when the bytes do not
// hold one: the event's own decode then says what is wrong with it.
inline std::string_view peek_text(const Event& event, std::size_t& offset) noexcept {
  std::uint32_t size = 0;
  const std::size_t total = event.payload.size();
  if (offset > total || total - offset < sizeof size) return {};
  std::memcpy(&size, event.payload.data() + offset, sizeof size);
  if constexpr (std::endian::native != std::endian::little) size = __builtin_bswap32(size);
  if (size > total - offset - sizeof size) return {};
  const char* bytes = reinterpret_cast<const char*>(event.payload.data()) + offset + sizeof size;
  offset += sizeof size + size;
  return {bytes, size};
}

// The node of `key`, with the hash that looking ahead computed if it was of these very
// bytes (a decoded event's fields point into its payload, as the peeked ones do).
template <class Value>
typename containers::FlatStringMap<Value>::Node* find(const containers::FlatStringMap<Value>& map,
                                                      std::string_view key,
                                                      const Looked& looked) noexcept {
  for (std::size_t i = 0; i < looked.count; ++i) {
    const Looked::Key& seen = looked.keys[i];
    if (seen.bytes.data() == key.data() && seen.bytes.size() == key.size()) {
      return map.find(key, seen.hash);
    }
  }
  return map.find(key);
}

// Applies events in order with apply(event, looked) (looking ahead only in a map of at
// least kLookAheadFromKeys keys), setting `applied` to how many it has applied (what apply throws
// is about events[applied]). peek(event, looked.keys) sets up to two keys' bytes and returns how
// many (it must not throw); near(node) is called for the node in each key's home slot kNearAhead
// events before apply, to ask for what the node points to.
template <class Value, class Peek, class Apply, class Near>
void apply_run(const containers::FlatStringMap<Value>& map, std::span<const Event> events,
               std::size_t& applied, Peek&& peek, Apply&& apply, Near&& near) {
  // In place, field by field: a key copied whole right after its fields were stored
  // stalls, the wider load waiting for the narrower stores (store forwarding fails).
  const auto look = [&](const Event& event, Looked& looked) {
    looked.count = std::min<std::size_t>(peek(event, looked.keys), looked.keys.size());
    for (std::size_t k = 0; k < looked.count; ++k) {
      looked.keys[k].hash = containers::FlatStringMap<Value>::hash_of(looked.keys[k].bytes);
      map.prefetch_slot(looked.keys[k].hash);
    }
  };
  const std::size_t count = events.size();
  if (map.size() < kLookAheadFromKeys) {
    for (std::size_t i = 0; i < count; ++i) {
      apply(events[i], Looked{});
      applied = i + 1;
    }
    return;
  }
  std::array<Looked, kSlotAhead> ahead;  // the event i + k at (i + k) % kSlotAhead
  for (std::size_t i = 0; i < std::min(count, kSlotAhead); ++i) look(events[i], ahead[i]);
  for (std::size_t i = 0; i < count; ++i) {
    if (i + kNodeAhead < count) {
      const Looked& later = ahead[(i + kNodeAhead) % kSlotAhead];
      for (std::size_t k = 0; k < later.count; ++k) map.prefetch_node(later.keys[k].hash);
    }
    if (i + kNearAhead < count) {
      const Looked& later = ahead[(i + kNearAhead) % kSlotAhead];
      for (std::size_t k = 0; k < later.count; ++k) {
        if (const auto* node = map.home_node(later.keys[k].hash)) near(*node);
      }
    }
    apply(events[i], ahead[i % kSlotAhead]);
    applied = i + 1;
    if (i + kSlotAhead < count) look(events[i + kSlotAhead], ahead[i % kSlotAhead]);
  }
}

}  // namespace evring::look_ahead
