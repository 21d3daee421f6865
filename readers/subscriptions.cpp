#include "subscriptions.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "evring/clock.hpp"
#include "evring/codec.hpp"

namespace evring::reader {
namespace {

constexpr std::int64_t kProgressNs = 1'000'000'000;  // a progress line at least this often
constexpr std::int64_t kRetainNs = 30'000'000'000;   // a query tracked with no subscriber
constexpr std::size_t kMaxChanges = 1024;            // kept per query, for resumes
// Re-running the queries may take at most a fifth of the view's time: after a run that
// took T, the next comes no sooner than kCostFactor * T later.
constexpr std::int64_t kCostFactor = 5;

std::string key_of(const std::vector<std::string>& words) {
  std::string key;
  for (const std::string& word : words) {
    key += word;
    key += '\0';
  }
  return key;
}

// The view's answer as a subscriber sees it: its JSON, or {"error": ...} for a refusal
// (which is a result too: it may change when the view does).
std::string run_query(const ViewPlugin& view, const std::vector<std::string>& words,
                      std::string& scratch) {
  const std::vector<std::string_view> views(words.begin(), words.end());
  std::string result;
  if (view.query(views, scratch) == QueryOutcome::answered) {
    result = scratch.empty() ? "null" : scratch;
  } else {
    result = R"({"error":)" + json_string(scratch) + "}";
  }
  // One line per record, as the socket's framing does.
  std::replace(result.begin(), result.end(), '\n', ' ');
  return result;
}

}  // namespace

Subscriptions::Tracked& Subscriptions::track(const ViewPlugin& view,
                                             const std::vector<std::string>& words,
                                             std::uint64_t applied_seq, std::int64_t now) {
  std::unique_ptr<Tracked>& slot = tracked_[key_of(words)];
  if (!slot) {
    slot = std::make_unique<Tracked>();
    slot->words = words;
    slot->result = run_query(view, words, scratch_);
    slot->evaluated_seq = slot->complete_after = applied_seq;
  }
  // Its other subscribers hear of a change found here at the next after_events().
  joined_ = evaluate(view, *slot, applied_seq) || joined_;
  slot->unused_since_ns = now;
  return *slot;
}

bool Subscriptions::evaluate(const ViewPlugin& view, Tracked& query, std::uint64_t applied_seq) {
  if (query.evaluated_seq == applied_seq) return false;
  std::string result = run_query(view, query.words, scratch_);
  query.evaluated_seq = applied_seq;
  if (result == query.result) return false;
  query.result = std::move(result);
  query.changes.push_back(Change{applied_seq, query.result});
  if (query.changes.size() > kMaxChanges) {
    // A resume from before the oldest kept change cannot be exact any more.
    query.changes.pop_front();
    query.complete_after = query.changes.front().seq - 1;
  }
  return true;
}

bool Subscriptions::write(unsigned slot, Subscriber& who, const std::string& line) {
  if (who.overflowed) return false;
  query_shm::RecordWriter records = segment_.records(slot);
  query_shm::RecordHeader header{};
  header.kind = query_shm::RecordKind::line;
  header.serial = who.serial;
  if (line.size() > query_shm::kMaxRecordBytes || !records.append(header, line)) {
    who.overflowed = true;
    return false;
  }
  records.publish();
  return true;
}

void Subscriptions::write_snapshot(unsigned slot, Subscriber& who,
                                   const std::string& reset_reason) {
  const Tracked& query = *who.query;
  const std::string snapshot =
      fmt::format(R"({{"as_of_seq":{},"result":{}}})", query.evaluated_seq, query.result);
  if (!reset_reason.empty()) {
    const std::string reset =
        fmt::format(R"({{"reset":{},"prev_seq":{}}})", json_string(reset_reason), who.told_seq);
    // Both or neither: a reset with no snapshot after it would leave the client nothing.
    const std::size_t both = reset.size() + snapshot.size() + sizeof(query_shm::RecordHeader) + 8;
    if (!segment_.records(slot).fits(both)) {
      who.overflowed = true;
      return;
    }
    write(slot, who, reset);
  }
  if (write(slot, who, snapshot)) who.told_seq = query.evaluated_seq;
}

void Subscriptions::subscribe(const ViewPlugin& view, const query_shm::SlotRequest& request,
                              std::uint64_t applied_seq, std::int64_t now) {
  Tracked& query = track(view, request.words, applied_seq, now);
  ++query.subscribers;
  Subscriber& who = subscribers_[{request.slot, request.serial}];
  who.query = &query;
  who.serial = request.serial;
  who.next_progress_ns = now + kProgressNs;
  const std::uint64_t from = request.after_seq;
  if (from == 0) {
    write_snapshot(request.slot, who, {});
  } else if (from >= query.complete_after && from <= query.evaluated_seq) {
    who.told_seq = from;
    for (const Change& change : query.changes) {
      if (change.seq <= from) continue;
      if (!write(request.slot, who,
                 fmt::format(R"({{"seq":{},"prev_seq":{},"result":{}}})", change.seq, who.told_seq,
                             change.result))) {
        break;
      }
      who.told_seq = change.seq;
    }
    if (write(request.slot, who,
              fmt::format(R"({{"progress_seq":{},"prev_seq":{}}})", query.evaluated_seq,
                          who.told_seq))) {
      who.told_seq = query.evaluated_seq;
    }
  } else {
    who.told_seq = from;
    write_snapshot(request.slot, who,
                   from > query.evaluated_seq
                       ? fmt::format("seq {} is past this reader's view (at seq {}): it restarted "
                                     "or follows another history",
                                     from, query.evaluated_seq)
                       : fmt::format("the changes after seq {} are not kept here (the reader "
                                     "restarted, or that is too far back)",
                                     from));
  }
  if (who.overflowed) count_reset();
  count_live();
}

void Subscriptions::unsubscribe(unsigned slot) {
  const auto first = subscribers_.lower_bound({slot, 0});
  auto last = first;
  for (; last != subscribers_.end() && last->first.first == slot; ++last) {
    if (--last->second.query->subscribers == 0)
      last->second.query->unused_since_ns = monotonic_ns();
  }
  if (first == last) return;
  subscribers_.erase(first, last);
  count_live();
}

bool Subscriptions::after_events(const ViewPlugin& view, std::uint64_t applied_seq,
                                 std::int64_t now) {
  if (tracked_.empty()) return true;
  if (now < next_evaluation_ns_) return false;
  bool changed = false;
  const std::int64_t start = monotonic_ns();
  for (auto& [key, query] : tracked_) changed = evaluate(view, *query, applied_seq) || changed;
  if (changed || joined_) tell_changes(now);
  // The lines' cost counts too: with many subscribers it is most of it.
  const std::int64_t done = monotonic_ns();
  next_evaluation_ns_ = done + (done - start) * (kCostFactor - 1);
  return true;
}

void Subscriptions::tell_changes(std::int64_t now) {
  joined_ = false;
  // A subscriber is told the latest change it has not seen (its result is the query's
  // now); more than one only when a new subscriber's evaluation came in between.
  for (auto& [key, who] : subscribers_) {
    const unsigned slot = key.first;
    if (who.overflowed) {
      recover(slot, who);
      continue;
    }
    const Tracked& query = *who.query;
    if (query.changes.empty() || query.changes.back().seq <= who.told_seq) continue;
    const std::uint64_t seq = query.changes.back().seq;
    if (write(slot, who,
              fmt::format(R"({{"seq":{},"prev_seq":{},"result":{}}})", seq, who.told_seq,
                          query.result))) {
      who.told_seq = seq;
      who.next_progress_ns = now + kProgressNs;
    }
  }
}

void Subscriptions::recover(unsigned slot, Subscriber& who) {
  who.overflowed = false;
  write_snapshot(slot, who, "overflow: this subscriber read too slowly");
  if (!who.overflowed) count_reset();
}

void Subscriptions::count_reset() const {
  auto& resets = segment_.header().subscriber_resets;
  // relaxed: a lone counter for stat.
  resets.store(resets.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void Subscriptions::heartbeat(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now) {
  // Changes an evaluation skipped for cost come out now at the latest.
  next_evaluation_ns_ = 0;
  after_events(view, applied_seq, now);
  for (auto& [key, who] : subscribers_) {
    const unsigned slot = key.first;
    if (who.overflowed) {
      recover(slot, who);
      continue;
    }
    if (now < who.next_progress_ns) continue;
    const std::uint64_t seq = who.query->evaluated_seq;
    if (write(slot, who,
              fmt::format(R"({{"progress_seq":{},"prev_seq":{}}})", seq, who.told_seq))) {
      who.told_seq = seq;
      who.next_progress_ns = now + kProgressNs;
    }
  }
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const Tracked& query = *it->second;
    if (query.subscribers == 0 && now - query.unused_since_ns > kRetainNs) {
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
}

void Subscriptions::reset_all(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now) {
  for (auto& [key, query] : tracked_) {
    query->result = run_query(view, query->words, scratch_);
    query->evaluated_seq = query->complete_after = applied_seq;
    query->changes.clear();
  }
  for (auto& [key, who] : subscribers_) {
    who.overflowed = false;
    write_snapshot(key.first, who, "the instance started a new history: the view was rebuilt");
    who.next_progress_ns = now + kProgressNs;
  }
}

void Subscriptions::count_live() const {
  // relaxed: a lone counter for stat.
  segment_.header().subscriptions.store(subscribers_.size(), std::memory_order_relaxed);
}

}  // namespace evring::reader
