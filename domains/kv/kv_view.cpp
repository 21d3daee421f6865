// The built-in kv view: the kv domain's keys with their values and versions, for `get KEY`,
// `scan PREFIX [LIMIT]` and `count`. Event layouts: the public
// runtime/include/evring/builtin/kv_events.hpp; the state and its snapshot codec, shared
// with the kv domain: kv_state.hpp.
//
// Catch-up speed sets the layout. Most events change a key that exists, so the entries sit
// in a flat hash map (flat_string_map.hpp: one hash and about two cache misses per event);
// an ordered index of pointers to its nodes, which never move, serves scan and is touched
// only when a key appears or goes.
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evring/builtin/kv_events.hpp"
#include "evring/view.hpp"
#include "kv_state.hpp"
#include "kv_tables.hpp"
#include "state_snapshot.hpp"
#include "view_support.hpp"

namespace evring {
namespace {

// "kvV1": a snapshot of another layout is refused, not misread.
constexpr std::uint32_t kSnapshotMagic = 0x3156766b;
constexpr std::uint64_t kDefaultScanLimit = 100;
constexpr std::uint64_t kMaxScanLimit = 10000;
constexpr std::string_view kQueries = "get KEY, scan PREFIX [LIMIT] or count";

using kv::Entries;
using kv::Entry;
using Node = kv::EntryNode;

// Orders node pointers by key; transparent, so scan can look a prefix up directly.
struct NodeLess {
  using is_transparent = void;
  bool operator()(const Node* a, const Node* b) const noexcept { return a->key < b->key; }
  bool operator()(const Node* a, std::string_view b) const noexcept { return a->key < b; }
  bool operator()(std::string_view a, const Node* b) const noexcept { return a < b->key; }
};

using OrderedIndex = std::set<const Node*, NodeLess>;

class KvView {
 public:
  static constexpr const char* name = "kv";
  static constexpr const char* domain = "kv";  // its events only: others refused at start

  explicit KvView(std::string_view config) { views::refuse_config("kv", config); }
  // The index points into entries_.
  KvView(const KvView&) = delete;
  KvView& operator=(const KvView&) = delete;

  // Applies what the writer decided without second-guessing it: a view checks the bytes,
  // not the history (the writer's model did that before publishing).
  void on_event(const Event& event) {
    switch (static_cast<kv::EventType>(event.type)) {
      case kv::EventType::put: {
        const kv::PutEvent put = kv::decode_put_event(event.payload);
        if (Node* found = entries_.find(put.key)) {
          // assign() reuses the old value's buffer: no allocation unless the value grows.
          found->value.value.assign(put.value);
          found->value.version = put.version;
          return;
        }
        const Node* added =
            entries_.try_emplace(put.key, Entry{std::string(put.value), put.version}).first;
        // Should the index refuse (out of memory), the entry must go too, or the index
        // would no longer list every key.
        try {
          index_.insert(added);
        } catch (...) {
          entries_.erase(added);
          throw;
        }
        return;
      }
      case kv::EventType::deleted: {
        const kv::DeletedEvent deleted = kv::decode_deleted_event(event.payload);
        const Node* found = entries_.find(deleted.key);
        if (found == nullptr) return;
        // find, then erase the position: erase(key) would search twice (an equal_range).
        index_.erase(index_.find(found));
        entries_.erase(found);
        return;
      }
    }
    throw MalformedInput("kv event type " + std::to_string(event.type) +
                         " is unknown (known: 1 put, 2 deleted): is this reader's instance "
                         "running the kv domain?");
  }

  std::string query(std::span<const std::string_view> words) const {
    if (!words.empty()) {
      const std::string_view verb = words[0];
      if (verb == "get") {
        expect_words(words, 2, "get KEY");
        const Node* found = entries_.find(words[1]);
        if (found == nullptr) return "null";
        std::string out;
        append_entry(out, *found);
        return out;
      }
      if (verb == "scan") return scan(words);
      if (verb == "count") {
        expect_words(words, 1, "count");
        return std::to_string(entries_.size());
      }
    }
    views::unknown_query("kv", words, kQueries);
  }

  // In key order (the index's), so that equal states give equal bytes.
  std::vector<std::byte> snapshot() const {
    ByteWriter out;
    out.put(kSnapshotMagic);
    kv::put_entries(out, index_);
    return out.take();
  }

  // Builds the new state aside, so bytes that turn out malformed leave the view as it was.
  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "kv view snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "kv view snapshot");
    OrderedIndex index;
    Entries entries = kv::get_entries(in, bytes.size(), "kv view snapshot",
                                      [&](const Node& node) { index.insert(&node); });
    in.expect_end();
    entries_ = std::move(entries);
    index_ = std::move(index);
  }

 private:
  std::string scan(std::span<const std::string_view> words) const {
    if (words.size() != 2 && words.size() != 3) {
      throw MalformedInput("expected 2 or 3 words (scan PREFIX [LIMIT]), got " +
                           std::to_string(words.size()));
    }
    const std::string_view prefix = words[1];
    std::uint64_t limit = kDefaultScanLimit;
    if (words.size() == 3) {
      limit = parse_integer<std::uint64_t>(words[2], "scan limit");
      if (limit < 1 || limit > kMaxScanLimit) {
        throw MalformedInput("scan limit " + std::to_string(limit) + " is out of range (1 to " +
                             std::to_string(kMaxScanLimit) + ")");
      }
    }
    std::string out = "[";
    std::uint64_t listed = 0;
    for (auto node = index_.lower_bound(prefix);
         node != index_.end() && listed < limit && (*node)->key.starts_with(prefix); ++node) {
      if (listed++ != 0) out += ',';
      append_entry(out, **node);
    }
    out += ']';
    return out;
  }

  static void append_entry(std::string& out, const Node& node) {
    out += R"({"key":)";
    out += json_string(node.key);
    out += R"(,"value":)";
    out += json_string(node.value.value);
    out += R"(,"version":)";
    out += std::to_string(node.value.version);
    out += '}';
  }

  Entries entries_;
  OrderedIndex index_;
};

}  // namespace

const evring_view_v1* kv_view() noexcept {
  return view_table<KvView>();
}

}  // namespace evring
