// The built-in kv view: the kv domain's keys with their values and versions, for `get KEY`,
// `scan PREFIX [LIMIT]` and `count`. Event layouts: the public
// runtime/include/evring/builtin/kv_events.hpp; the state and its snapshot codec, shared
// with the kv domain: kv_state.hpp.
//
// Catch-up speed sets the layout. Most events change a key that exists, so the entries sit
// in a flat hash map (flat_string_map.hpp: one hash and about two cache misses per event,
// a third for the value's bytes); on_events looks ahead along a run of events and asks
// for those lines before it needs them. An ordered index of pointers to the nodes, which
// never move, serves scan. It is built at the first scan and kept from then on, so a view
// that is never scanned (a catch-up, most readers) never pays for it: keeping it cost a
// quarter of a catch-up where keys come and go (a tree insert is a dozen key compares).
#include <algorithm>
#include <array>
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
#include "look_ahead.hpp"
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
  void on_event(const Event& event) { apply(event, look_ahead::Looked{}); }

  // As on_event for each, looking ahead (look_ahead.hpp): at the slot of the key 8 events
  // on, the node of the one 4 on, the value bytes of the one 2 on (a put rewrites them).
  void on_events(std::span<const Event> events, std::size_t& applied) {
    look_ahead::apply_run(
        entries_, events, applied, kv::peek_key,
        [this](const Event& event, const look_ahead::Looked& looked) { apply(event, looked); },
        [](const Node& node) noexcept { __builtin_prefetch(node.value.value.data(), 1); });
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
    if (indexed_) {
      kv::put_entries(out, index_);
    } else {
      kv::put_entries(out, state_snapshot::sorted_nodes(entries_));
    }
    return out.take();
  }

  // Builds the new state aside, so bytes that turn out malformed leave the view as it was.
  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "kv view snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "kv view snapshot");
    Entries entries = kv::get_entries(in, bytes.size(), "kv view snapshot");
    in.expect_end();
    entries_ = std::move(entries);
    index_.clear();  // its nodes were the old map's
    indexed_ = false;
  }

 private:
  Node* find(std::string_view key, const look_ahead::Looked& looked) const noexcept {
    return look_ahead::find(entries_, key, looked);
  }

  void apply(const Event& event, const look_ahead::Looked& looked) {
    switch (static_cast<kv::EventType>(event.type)) {
      case kv::EventType::put: {
        const kv::PutEvent put = kv::decode_put_event(event.payload);
        if (Node* found = find(put.key, looked)) {
          // assign() reuses the old value's buffer: no allocation unless the value grows.
          found->value.value.assign(put.value);
          found->value.version = put.version;
          return;
        }
        const Node* added =
            entries_.try_emplace(put.key, Entry{std::string(put.value), put.version}).first;
        // Should the index refuse (out of memory), the entry must go too, or the index
        // would no longer list every key.
        if (indexed_) {
          try {
            index_.insert(added);
          } catch (...) {
            entries_.erase(added);
            throw;
          }
        }
        return;
      }
      case kv::EventType::deleted: {
        const kv::DeletedEvent deleted = kv::decode_deleted_event(event.payload);
        const Node* found = find(deleted.key, looked);
        if (found == nullptr) return;
        // find, then erase the position: erase(key) would search twice (an equal_range).
        if (indexed_) index_.erase(index_.find(found));
        entries_.erase(found);
        return;
      }
    }
    throw MalformedInput("kv event type " + std::to_string(event.type) +
                         " is unknown (known: 1 put, 2 deleted): is this reader's instance "
                         "running the kv domain?");
  }

  // The index, built now if this is the first scan since the view was made or restored.
  const OrderedIndex& ordered() const {
    if (!indexed_) {
      OrderedIndex index;
      // Sorted first, so each insert goes at the end (amortised constant, no compares).
      for (const Node* node : state_snapshot::sorted_nodes(entries_)) {
        index.insert(index.end(), node);
      }
      index_ = std::move(index);
      indexed_ = true;
    }
    return index_;
  }

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
    const OrderedIndex& index = ordered();
    for (auto node = index.lower_bound(prefix);
         node != index.end() && listed < limit && (*node)->key.starts_with(prefix); ++node) {
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
  // Built by the first scan, a query (so const): mutable, and safe, as the view has one
  // thread (view_abi.h).
  mutable OrderedIndex index_;
  mutable bool indexed_ = false;
};

}  // namespace

const evring_view_v1* kv_view() noexcept {
  return view_table<KvView>();
}

}  // namespace evring
