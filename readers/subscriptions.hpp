// Live subscriptions to a view's queries (evring watch), for any view, plugins included,
// without their help: after the view has applied events, the host re-runs each subscribed
// query and pushes the lines of those whose result changed into the subscriber's record
// ring in the query segment (query/query_segment.hpp). View thread only.
//
// What a subscriber reads, one JSON line each (docs/views.md):
//   {"as_of_seq": S, "result": R}                 the snapshot: R is the result as of S
//   {"seq": s, "prev_seq": p, "result": R}        R as of s differs from the result as of p;
//                                                 p is the seq of the line before
//   {"progress_seq": s, "prev_seq": p}            no change in (p, s]; at least every second
//   {"reset": "why", "prev_seq": p}               the chain breaks here: a snapshot follows
// Results are compared after each run of events the view applied, so changes that a run
// made and undid within it are not seen, and a change line's seq is the run's last.
//
// Resume: a subscription asked with `from` F continues the chain after F (its first line
// has prev_seq F) when the host has tracked that query since F or before and kept every
// change after F; otherwise it gets a reset line and a fresh snapshot. A query stays
// tracked for kRetainNs after its last subscriber went, so a subscriber that reconnects
// within that resumes exactly.
//
// Bounded buffer: a line that does not fit in the subscriber's ring is not written; the
// subscription is then "overflowed", and once the ring has room it gets one reset line
// and a fresh snapshot (however many lines it missed), counted in the segment's
// subscriber_resets (evring stat).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugin/view_plugin.hpp"
#include "query/query_segment.hpp"

namespace evring::reader {

class Subscriptions {
 public:
  explicit Subscriptions(query_shm::QuerySegment& segment) noexcept : segment_(segment) {}

  // A watch request: the snapshot, or the resumed chain after request.after_seq. A slot
  // may carry many subscriptions (a SubscriptionSet): each is its watch request's serial,
  // which tags its lines.
  void subscribe(const ViewPlugin& view, const query_shm::SlotRequest& request,
                 std::uint64_t applied_seq, std::int64_t now);
  // The subscriptions of a slot end (unwatch, or its client went).
  void unsubscribe(unsigned slot);
  // After the view applied events up to applied_seq: re-runs the tracked queries and
  // pushes the changes. False when it did not, to keep their cost under a fifth of the
  // view's time: call again (with a later seq, or the same) after the next events.
  bool after_events(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now);
  // At the heartbeat: progress lines, resets of overflowed subscriptions, retention.
  void heartbeat(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now);
  // The view started over (another history): every subscription resets.
  void reset_all(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now);
  bool empty() const noexcept { return tracked_.empty(); }
  // When after_events() will run the queries again, once it declined.
  std::int64_t next_evaluation_ns() const noexcept { return next_evaluation_ns_; }

 private:
  struct Change {
    std::uint64_t seq;
    std::string result;
  };
  // One query (its words), however many subscribe to it.
  struct Tracked {
    std::vector<std::string> words;
    std::string result;  // as of evaluated_seq
    std::uint64_t evaluated_seq = 0;
    std::uint64_t complete_after = 0;  // every change after this seq is in `changes`
    std::deque<Change> changes;
    unsigned subscribers = 0;
    std::int64_t unused_since_ns = 0;
  };
  struct Subscriber {
    Tracked* query = nullptr;
    std::uint64_t serial = 0;    // of the watch request
    std::uint64_t told_seq = 0;  // the seq of the last line written
    std::int64_t next_progress_ns = 0;
    bool overflowed = false;
  };

  // A slot, and the serial of the watch request within it.
  using SubscriberKey = std::pair<unsigned, std::uint64_t>;

  Tracked& track(const ViewPlugin& view, const std::vector<std::string>& words,
                 std::uint64_t applied_seq, std::int64_t now);
  bool evaluate(const ViewPlugin& view, Tracked& query, std::uint64_t applied_seq);
  // The lines of the changes evaluate() found, to each subscriber that has not seen them.
  void tell_changes(std::int64_t now);
  // Writes one line; false (and overflowed) when it does not fit.
  bool write(unsigned slot, Subscriber& who, const std::string& line);
  // With a reason: a reset line first (both or neither).
  void write_snapshot(unsigned slot, Subscriber& who, const std::string& reset_reason);
  // An overflowed subscriber's one reset and fresh snapshot, once its ring has room.
  void recover(unsigned slot, Subscriber& who);
  void count_reset() const;
  void count_live() const;

  query_shm::QuerySegment& segment_;
  std::map<std::string, std::unique_ptr<Tracked>> tracked_;  // by the words, joined
  std::map<SubscriberKey, Subscriber> subscribers_;
  std::int64_t next_evaluation_ns_ = 0;
  bool joined_ = false;  // a subscribe() found a change the others have not heard of
  std::string scratch_;
};

}  // namespace evring::reader
