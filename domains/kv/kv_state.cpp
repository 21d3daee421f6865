#include "kv_state.hpp"

#include "evring/builtin/kv_events.hpp"

namespace evring::kv {

Entries get_entries(ByteReader& in, std::size_t snapshot_bytes, std::string_view what,
                    const std::function<void(const EntryNode&)>& added) {
  // The smallest entry: two u32 lengths, a one-byte key and a u64 version.
  constexpr std::size_t kSmallestEntry = 4 + 1 + 8 + 4;
  return state_snapshot::get_entries<Entry>(
      in, snapshot_bytes, kSmallestEntry, what, "key",
      [&](ByteReader& from, std::string_view key) {
        const auto version = from.get<std::uint64_t>();
        const std::string_view value = from.get_text();
        check_key(key);
        check_value(value);
        if (version == 0) {
          throw MalformedInput(std::string(what) + " has key " + json_string(key) +
                               " at version 0; versions start at 1");
        }
        return Entry{std::string(value), version};
      },
      [&](const EntryNode& node) {
        if (added) added(node);
      });
}

}  // namespace evring::kv
