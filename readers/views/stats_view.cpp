// The built-in stats view: works on any domain, since it reads no payload. `summary` (or
// no words) answers
//
//   {"events":N, "by_type":{"put":N,"7":N,...}, "first_seq":S|null, "last_seq":S|null,
//    "events_per_s":N, "lag_ns":N|null}
//
// by_type names each type as the instance's domain does (its type_name()), by number when
// the domain gives no name or could not be loaded.
// events_per_s counts the events the writer published in the last whole second before the
// query: ten 100 ms buckets of publish_ns, the current (partial) bucket left out. It is
// the stream's rate, not this reader's apply rate, so replaying old history shows 0.
// lag_ns is now - publish_ns of the last event applied, on the CLOCK_MONOTONIC the writer
// and every reader share; it can be negative only if the history came from before a reboot.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "builtin_views.hpp"
#include "evring/clock.hpp"
#include "evring/view.hpp"
#include "plugin/domain_plugin.hpp"
#include "state_snapshot.hpp"
#include "view_support.hpp"

namespace evring {
namespace {

// "stV1": a snapshot of another layout is refused, not misread.
constexpr std::uint32_t kSnapshotMagic = 0x31567473;
constexpr std::string_view kQueries = "summary (or nothing)";
constexpr std::int64_t kBucketNs = 100'000'000;
// Ten whole buckets make the window; one more holds the bucket that is filling now.
constexpr std::int64_t kWindowBuckets = 10;
constexpr std::size_t kRingBuckets = kWindowBuckets + 1;
// Types below this are counted in an array, the rest in a map: the built-in domains use
// 1..4, and an array index costs an event nothing.
constexpr std::uint32_t kDirectTypes = 64;

class StatsView {
 public:
  static constexpr const char* name = "stats";

  explicit StatsView(std::string_view config) { views::refuse_config("stats", config); }

  void set_domain(std::string_view domain, const evring_domain_v1* table) {
    if (table != nullptr)
      domain_ = DomainDescriber::from_table(table, "domain " + std::string(domain));
  }

  void on_event(const Event& event) {
    if (events_ == 0) first_seq_ = event.seq;
    ++events_;
    last_seq_ = event.seq;
    last_publish_ns_ = event.publish_ns;
    if (event.type < kDirectTypes) {
      ++direct_counts_[event.type];
    } else {
      ++other_counts_[event.type];
    }
    count_in_window(event.publish_ns);
  }

  std::string query(std::span<const std::string_view> words) const {
    if (!words.empty() && words[0] != "summary") views::unknown_query("stats", words, kQueries);
    if (words.size() > 1) expect_words(words, 1, "summary");
    const std::int64_t now = monotonic_ns();
    std::string out = R"({"events":)" + std::to_string(events_) + R"(,"by_type":{)";
    bool first = true;
    const auto add_type = [&](std::uint32_t type, std::uint64_t count) {
      if (count == 0) return;
      if (!first) out += ',';
      first = false;
      const char* type_name = domain_ ? domain_->type_name(type) : nullptr;
      out += (type_name != nullptr ? json_string(type_name) : '"' + std::to_string(type) + '"') +
             ':' + std::to_string(count);
    };
    for (std::uint32_t type = 0; type < kDirectTypes; ++type) add_type(type, direct_counts_[type]);
    for (const auto& [type, count] : other_counts_) add_type(type, count);
    const bool any = events_ != 0;
    out += R"(},"first_seq":)" + (any ? std::to_string(first_seq_) : "null") + R"(,"last_seq":)" +
           (any ? std::to_string(last_seq_) : "null") + R"(,"events_per_s":)" +
           std::to_string(events_in_last_second(now)) + R"(,"lag_ns":)" +
           (any ? std::to_string(now - last_publish_ns_) : "null") + "}";
    return out;
  }

  std::vector<std::byte> snapshot() const {
    ByteWriter out;
    out.put(kSnapshotMagic)
        .put(events_)
        .put(first_seq_)
        .put(last_seq_)
        .put(last_publish_ns_)
        .put(newest_bucket_);
    for (const std::uint64_t count : bucket_counts_) out.put(count);
    std::uint32_t types = static_cast<std::uint32_t>(other_counts_.size());
    for (const std::uint64_t count : direct_counts_) types += count != 0 ? 1 : 0;
    out.put(types);
    for (std::uint32_t type = 0; type < kDirectTypes; ++type) {
      if (direct_counts_[type] != 0) out.put(type).put(direct_counts_[type]);
    }
    for (const auto& [type, count] : other_counts_) out.put(type).put(count);
    return out.take();
  }

  // Reads into a fresh view, so bytes that turn out malformed leave this one as it was.
  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "stats view snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "stats view snapshot");
    StatsView restored("");
    restored.domain_ = domain_;
    restored.events_ = in.get<std::uint64_t>();
    restored.first_seq_ = in.get<std::uint64_t>();
    restored.last_seq_ = in.get<std::uint64_t>();
    restored.last_publish_ns_ = in.get<std::int64_t>();
    restored.newest_bucket_ = in.get<std::int64_t>();
    if (restored.newest_bucket_ < 0) {
      throw MalformedInput("stats view snapshot has a negative rate bucket, " +
                           std::to_string(restored.newest_bucket_));
    }
    for (std::uint64_t& count : restored.bucket_counts_) count = in.get<std::uint64_t>();
    const auto types = in.get<std::uint32_t>();
    std::uint64_t counted = 0;
    std::int64_t previous = -1;  // types come in increasing order, each once
    for (std::uint32_t i = 0; i < types; ++i) {
      const auto type = in.get<std::uint32_t>();
      const auto count = in.get<std::uint64_t>();
      if (static_cast<std::int64_t>(type) <= previous || count == 0) {
        throw MalformedInput("stats view snapshot lists type " + std::to_string(type) +
                             " out of order, twice or with no events");
      }
      previous = type;
      counted += count;
      if (type < kDirectTypes) {
        restored.direct_counts_[type] = count;
      } else {
        restored.other_counts_.emplace(type, count);
      }
    }
    in.expect_end();
    if (counted != restored.events_) {
      throw MalformedInput("stats view snapshot counts " + std::to_string(restored.events_) +
                           " events but " + std::to_string(counted) + " by type");
    }
    *this = std::move(restored);
  }

 private:
  static std::int64_t bucket_of(std::int64_t ns) noexcept { return ns / kBucketNs; }

  void count_in_window(std::int64_t publish_ns) noexcept {
    if (publish_ns < 0) return;  // not a CLOCK_MONOTONIC reading: no place in the window
    const std::int64_t bucket = bucket_of(publish_ns);
    if (bucket > newest_bucket_) {
      // Empty the buckets the clock has moved past (all of them after a long pause).
      const std::int64_t stale = std::min<std::int64_t>(bucket - newest_bucket_, kRingBuckets);
      for (std::int64_t i = 1; i <= stale; ++i) bucket_counts_[slot(newest_bucket_ + i)] = 0;
      newest_bucket_ = bucket;
    } else if (bucket <= newest_bucket_ - static_cast<std::int64_t>(kRingBuckets)) {
      return;  // older than the ring holds
    }
    ++bucket_counts_[slot(bucket)];
  }

  // The events published in the ten whole buckets before the one `now` falls in.
  std::uint64_t events_in_last_second(std::int64_t now) const noexcept {
    const std::int64_t current = bucket_of(now);
    std::uint64_t sum = 0;
    for (std::int64_t bucket = current - kWindowBuckets; bucket < current; ++bucket) {
      const bool held = bucket >= 0 && bucket <= newest_bucket_ &&
                        bucket > newest_bucket_ - static_cast<std::int64_t>(kRingBuckets);
      if (held) sum += bucket_counts_[slot(bucket)];
    }
    return sum;
  }

  static std::size_t slot(std::int64_t bucket) noexcept {
    return static_cast<std::size_t>(bucket % static_cast<std::int64_t>(kRingBuckets));
  }

  std::uint64_t events_ = 0;
  std::uint64_t first_seq_ = 0;
  std::uint64_t last_seq_ = 0;
  std::int64_t last_publish_ns_ = 0;
  std::array<std::uint64_t, kDirectTypes> direct_counts_{};
  std::map<std::uint32_t, std::uint64_t> other_counts_;
  std::optional<DomainDescriber> domain_;  // names the types; none: by number
  // bucket_counts_[slot(b)] counts the events published in bucket b, for the buckets
  // newest_bucket_ - 10 .. newest_bucket_.
  std::int64_t newest_bucket_ = 0;
  std::array<std::uint64_t, kRingBuckets> bucket_counts_{};
};

}  // namespace

const evring_view_v1* stats_view() noexcept {
  return view_table<StatsView>();
}

}  // namespace evring
