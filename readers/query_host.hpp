// A reader's queries and subscriptions, served on the view's thread: requests from the
// query socket (query/query_server.hpp: its own thread reads and parses them) and from the
// query segment (query/query_segment.hpp: the view thread reads them itself, so a query
// through shared memory crosses no other thread), queries parked until the view reaches
// their `after`, and the subscriptions (subscriptions.hpp).
//
// A spinning reader polls its socket itself between events (no socket thread: it would
// share the spinning core). A blocking reader sleeps on its ring's bell, which a client cannot
// ring: for it the host runs the query bell thread, which sleeps on the segment's bell and triggers
// the reader's interrupt. A spinning or yielding reader sees the interrupt's flag, which lives in
// the segment, at its next look.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <sys/types.h>

#include "evring/wait_kind.hpp"
#include "plugin/view_plugin.hpp"
#include "query/query_segment.hpp"
#include "query/query_server.hpp"
#include "shm/registry.hpp"
#include "subscriptions.hpp"
#include "sync/wait_interrupt.hpp"

namespace evring::reader {

struct QueryHostOptions {
  std::string instance;
  std::string reader_id;
  std::filesystem::path socket;
  mode_t mode = 0600;  // the socket's and the segment's
  gid_t group = static_cast<gid_t>(-1);
  WaitKind wait = WaitKind::block;  // the reader's
};

class QueryHost {
 public:
  // Creates the segment and shares the interrupt's flag through it, then binds the
  // socket. Throws Error(writer_running) when a live reader has the id.
  QueryHost(const QueryHostOptions& options, std::shared_ptr<WaitInterrupt> interrupt);
  ~QueryHost();
  QueryHost(const QueryHost&) = delete;
  QueryHost& operator=(const QueryHost&) = delete;

  // View thread, after each look for events (applied_seq: the view's seq now): answers
  // what waits, and pushes subscription changes once the view moved.
  void serve(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now);
  // View thread, at the heartbeat: frees the slots of gone clients, progress lines.
  void heartbeat(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now);
  // The view was rebuilt from seq 1 of a new history.
  void view_rebuilt(const ViewPlugin& view, std::int64_t now);
  // When serve() must run next at the latest: the earliest deadline of a parked query, or
  // the subscriptions' deferred evaluation (INT64_MAX: none).
  std::int64_t next_deadline() const noexcept {
    return evaluated_seq_ == served_seq_
               ? next_deadline_
               : std::min(next_deadline_, subscriptions_->next_evaluation_ns());
  }
  const std::filesystem::path& socket_path() const noexcept { return queries_->path(); }
  // View thread, at the heartbeat: the replies so far and their latency into the reader's
  // registry slot, for stat.
  void publish_counts(ReaderSlot& slot) const {
    publish_query_counts(slot, answered_, answered_socket_, latency_);
  }

 private:
  using Origin = std::variant<net::Ticket, query_shm::SlotRequest>;
  struct Parked {
    Origin from;
    std::int64_t deadline_ns;
    std::vector<std::string> words;
  };

  void answer(const ViewPlugin& view, Origin from, std::uint64_t after_seq,
              std::int64_t deadline_ns, std::vector<std::string>& words, std::uint64_t applied_seq);
  void answer_parked(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now);
  void reply(const Origin& to, std::string text, query_shm::QueryStatus status,
             std::uint64_t as_of_seq, std::size_t result_offset, std::size_t result_bytes);
  void reply_stale(const Origin& to, std::uint64_t applied_seq);
  void run_bell() noexcept;
  // Frees the slots of clients that closed or died; their subscriptions and parked
  // queries end.
  void release_gone_slots();

  std::shared_ptr<WaitInterrupt> interrupt_;
  std::unique_ptr<query_shm::QuerySegment> segment_;
  std::unique_ptr<QueryServer> queries_;
  std::optional<Subscriptions> subscriptions_;
  std::multimap<std::uint64_t, Parked> parked_;  // by `after`
  std::int64_t next_deadline_ = INT64_MAX;
  std::uint64_t served_seq_ = 0;     // applied_seq at the last serve()
  std::uint64_t evaluated_seq_ = 0;  // the seq the subscriptions were last evaluated at
  std::uint64_t answered_ = 0;       // through the segment, for stat
  std::uint64_t answered_socket_ = 0;
  // Running the view's query and writing its reply (not the wait for `after`).
  LatencyCounts latency_;
  bool socket_polled_ = false;  // no socket thread: serve() polls it
  std::int64_t next_socket_poll_ns_ = 0;
  QueryRequest socket_request_;
  query_shm::SlotRequest slot_request_;
  std::string scratch_;

  std::atomic<bool> bell_stop_{false};
  std::thread bell_;
};

}  // namespace evring::reader
