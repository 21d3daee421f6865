// An example view built outside the evring tree: which keys of a kv instance change most.
//
//   evring-reader --name N --view ./build/libhot_keys_view.so --id hot
//   evring query --name N --reader hot top 3      -> {"as_of_seq":..,"result":[{"key":..}]}
//   evring query --name N --reader hot writes KEY -> {"as_of_seq":..,"result":7}
//
// The reader calls every method from its one view thread, so the view needs no locks.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "evring/builtin/kv_events.hpp"
#include "evring/view.hpp"

namespace {

class HotKeys {
 public:
  static constexpr const char* name = "hot_keys";
  // Reads kv events only: the reader refuses to start it on an instance of another domain.
  static constexpr const char* domain = "kv";

  // --view-config: "min=N" hides keys written fewer than N times from `top`.
  explicit HotKeys(std::string_view config) {
    if (config.empty()) return;
    if (!config.starts_with("min=")) {
      throw evring::MalformedInput("hot_keys takes min=N, not \"" + std::string(config) + "\"");
    }
    min_writes_ = evring::parse_integer<std::uint64_t>(config.substr(4), "min");
  }

  // Puts and deletes both count as writes. An event that does not decode stops the reader
  // with the seq (a poison event) instead of building a wrong view.
  void on_event(const evring::Event& event) {
    switch (static_cast<evring::kv::EventType>(event.type)) {
      case evring::kv::EventType::put:
        ++writes_[std::string(evring::kv::decode_put_event(event.payload).key)];
        return;
      case evring::kv::EventType::deleted:
        ++writes_[std::string(evring::kv::decode_deleted_event(event.payload).key)];
        return;
    }
    throw evring::MalformedInput("not a kv event: type " + std::to_string(event.type));
  }

  // Returns one JSON value; MalformedInput becomes {"error": ...} for the caller.
  std::string query(std::span<const std::string_view> words) const {
    if (words.size() == 2 && words[0] == "top") return top(parse_limit(words[1]));
    if (words.size() == 2 && words[0] == "writes") {
      const auto found = writes_.find(std::string(words[1]));
      return std::to_string(found == writes_.end() ? 0 : found->second);
    }
    throw evring::MalformedInput("hot_keys answers: top N, writes KEY");
  }

  // A key count, then (key, writes) pairs; restore() checks every length it reads.
  std::vector<std::byte> snapshot() const {
    evring::ByteWriter out;
    out.put(static_cast<std::uint64_t>(writes_.size()));
    for (const auto& [key, count] : writes_) out.put_text(key).put(count);
    return out.take();
  }
  void restore(std::span<const std::byte> bytes) {
    evring::ByteReader in(bytes, "hot_keys snapshot");
    std::unordered_map<std::string, std::uint64_t> restored;
    for (auto left = in.get<std::uint64_t>(); left > 0; --left) {
      const std::string key(in.get_text());
      restored[key] = in.get<std::uint64_t>();
    }
    in.expect_end();
    writes_ = std::move(restored);
  }

 private:
  static std::size_t parse_limit(std::string_view word) {
    const auto limit = evring::parse_integer<std::size_t>(word, "N");
    if (limit == 0 || limit > 1000) throw evring::MalformedInput("N must be 1 to 1000");
    return limit;
  }

  std::string top(std::size_t limit) const {
    std::vector<std::pair<std::string_view, std::uint64_t>> rows;
    for (const auto& [key, count] : writes_) {
      if (count >= min_writes_) rows.emplace_back(key, count);
    }
    // Most writes first; equal counts by key, so every reader answers the same.
    const auto hotter = [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    const std::size_t shown = std::min(limit, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(shown), rows.end(),
                      hotter);
    std::string json = "[";
    for (std::size_t i = 0; i < shown; ++i) {
      if (i != 0) json += ',';
      json += "{\"key\":" + evring::json_string(rows[i].first) +
              ",\"writes\":" + std::to_string(rows[i].second) + "}";
    }
    return json + "]";
  }

  std::unordered_map<std::string, std::uint64_t> writes_;
  std::uint64_t min_writes_ = 1;
};

}  // namespace

EVRING_EXPORT_VIEW(HotKeys)
