// A view plugin for the tests: the kv view's state and its answers to `get KEY`,
// `scan PREFIX [LIMIT]` and `count`, kept its own simple way (an ordered std::map), so that
// a reader hosting it must end with the same answers as one hosting the built-in kv view.
// A put whose value is "poison" is refused (a poison event).
//
// Built twice (tests/CMakeLists.txt): as a version 2 plugin that takes runs of events
// (on_events), and with KV_MIRROR_ABI_V1 as a plugin of the first view ABI, one event a
// call, whose table says version 1 and ends where version 1's did.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "evring/builtin/kv_events.hpp"
#include "evring/view.hpp"

namespace {

struct KvMirror {
  static constexpr const char* name = "kv-mirror";
  struct Entry {
    std::string value;
    std::uint64_t version = 0;
  };
  std::map<std::string, Entry, std::less<>> entries;

  explicit KvMirror(std::string_view) {}

  void on_event(const evring::Event& event) {
    using evring::kv::EventType;
    if (event.type == static_cast<std::uint32_t>(EventType::put)) {
      const auto put = evring::kv::decode_put_event(event.payload);
      if (put.value == "poison") throw std::runtime_error("refusing the value \"poison\"");
      entries[std::string(put.key)] = Entry{std::string(put.value), put.version};
    } else if (event.type == static_cast<std::uint32_t>(EventType::deleted)) {
      const auto deleted = evring::kv::decode_deleted_event(event.payload);
      if (const auto found = entries.find(deleted.key); found != entries.end()) {
        entries.erase(found);
      }
    } else {
      throw std::runtime_error("not a kv event: type " + std::to_string(event.type));
    }
  }

#ifndef KV_MIRROR_ABI_V1
  void on_events(std::span<const evring::Event> events, std::size_t& applied) {
    for (const evring::Event& event : events) {
      on_event(event);
      ++applied;
    }
  }
#endif

  std::string query(std::span<const std::string_view> words) const {
    if (words.size() == 2 && words[0] == "get") {
      const auto found = entries.find(words[1]);
      return found == entries.end() ? "null" : entry_json(found->first, found->second);
    }
    if ((words.size() == 2 || words.size() == 3) && words[0] == "scan") {
      const std::size_t limit = words.size() == 3 ? std::stoul(std::string(words[2])) : 100;
      std::string out = "[";
      std::size_t listed = 0;
      for (auto it = entries.lower_bound(words[1]);
           it != entries.end() && listed < limit && it->first.starts_with(words[1]); ++it) {
        if (listed++ != 0) out += ',';
        out += entry_json(it->first, it->second);
      }
      return out + "]";
    }
    if (words.size() == 1 && words[0] == "count") return std::to_string(entries.size());
    throw evring::MalformedInput("queries: get KEY, scan PREFIX [LIMIT], count");
  }

  static std::string entry_json(std::string_view key, const Entry& entry) {
    return R"({"key":)" + evring::json_string(key) + R"(,"value":)" +
           evring::json_string(entry.value) + R"(,"version":)" + std::to_string(entry.version) +
           "}";
  }

  std::vector<std::byte> snapshot() const {
    evring::ByteWriter out;
    out.put(static_cast<std::uint64_t>(entries.size()));
    for (const auto& [key, entry] : entries)
      out.put_text(key).put_text(entry.value).put(entry.version);
    return out.take();
  }
  void restore(std::span<const std::byte> bytes) {
    evring::ByteReader in(bytes, "kv-mirror snapshot");
    std::map<std::string, Entry, std::less<>> restored;
    const auto count = in.get<std::uint64_t>();
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string key(in.get_text());
      std::string value(in.get_text());
      restored[std::move(key)] = Entry{std::move(value), in.get<std::uint64_t>()};
    }
    in.expect_end();
    entries = std::move(restored);
  }
};

}  // namespace

#ifdef KV_MIRROR_ABI_V1
namespace {
// What a plugin built against the version 1 header exports: its table ends after
// set_domain. The on_events past it is a trap: a host that read it would abort.
[[noreturn]] int trap_on_events(void*, const evring_event*, std::size_t, std::size_t*,
                                evring_sink*) {
  std::abort();
}
const evring_view_v1 kVersionOneTable = [] {
  evring_view_v1 table = *evring::view_table<KvMirror>();
  table.abi_version = 1;
  table.table_bytes = offsetof(evring_view_v1, on_events);
  table.on_events = &trap_on_events;
  return table;
}();
}  // namespace

extern "C" __attribute__((visibility("default"))) const evring_view_v1* evring_view_entry(void) {
  return &kVersionOneTable;
}
#else
EVRING_EXPORT_VIEW(KvMirror)
#endif
