// Queries to a reader's view, read-your-writes, and live subscriptions.
//
// Each evring-reader answers on two paths, between events on the view's own thread, so
// the view needs no locks and the writer never waits:
//   shared memory  its query segment /dev/shm/evring.<instance>.query.<reader id>, for a
//                  client that may map it (the reader's user, or its --group): a query
//                  crosses no thread but the view's. QueryClient uses it when it can.
//   socket         <runtime folder>/<instance>.<reader id>.sock (query_socket_path), for
//                  everyone the reader's socket mode lets in (another user, a container),
//                  and for a reply too large for the segment.
// Both give the same replies. On the socket the wire format is:
//
// Wire format: one JSON object per line each way.
//   request  {"words": ["get", "alice"], "after": 42, "timeout_ms": 1000}
//            after and timeout_ms are optional (after 0: answer now)
//   reply    {"as_of_seq": N, "result": <the view's JSON>}
//            {"as_of_seq": N, "error": "..."}           the view refused the words
//            {"stale": true, "as_of_seq": N}            after was not reached in time
// Replies come in the order of the requests on a connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/client.hpp"
#include "evring/command.hpp"

namespace evring {

// <runtime folder>/<instance>.<reader id>.sock
std::filesystem::path query_socket_path(const std::string& instance, const std::string& reader_id);

struct QueryReply {
  bool stale = false;
  std::uint64_t as_of_seq = 0;
  std::optional<std::string> result;  // the view's JSON, as text
  std::optional<std::string> error;
  std::string raw;  // the whole reply line
};

enum class QueryPath {
  fastest,  // the reader's query segment when this process may map it, else the socket
  socket,   // the socket only
};

class QueryClient {
 public:
  // Throws Error(no_reader) "instance N has no reader with id R" (listing the live
  // readers of the instance from its registry when there is one) when nothing listens.
  static QueryClient connect(const std::string& instance, const std::string& reader_id,
                             QueryPath path = QueryPath::fastest);
  QueryClient(QueryClient&&) noexcept;
  QueryClient& operator=(QueryClient&&) noexcept;
  ~QueryClient();

  // Waits for the reply; with after_seq, the reader answers once its view has applied
  // that seq, or {"stale": true} after `timeout`. Throws Error(io) if the reader goes away.
  // On the shared-memory path the client spins some microseconds, then sleeps.
  QueryReply query(std::span<const std::string_view> words, std::uint64_t after_seq = 0,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  QueryReply query(std::initializer_list<std::string_view> words, std::uint64_t after_seq = 0,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Whether queries go through the reader's query segment.
  bool shared_memory() const noexcept;

 private:
  struct State;
  explicit QueryClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One line of a subscription (docs/views.md has the semantics), as the reader sent it.
struct WatchLine {
  enum class Kind {
    snapshot,  // {"as_of_seq": S, "result": R}: the result as of S
    change,    // {"seq": S, "prev_seq": P, "result": R}: as of S, and unlike as of P
    progress,  // {"progress_seq": S, "prev_seq": P}: no change in (P, S]
    reset,     // {"reset": "why", "prev_seq": P}: the chain breaks; a snapshot follows
  };
  Kind kind = Kind::snapshot;
  std::uint64_t seq = 0;       // S (a reset: its P)
  std::uint64_t prev_seq = 0;  // P (a snapshot: 0)
  std::optional<std::string> result;
  std::string reason;  // a reset's
  std::string raw;     // the whole line
};

// Many live subscriptions through one client slot of the reader's query segment (it has
// 64 slots; a set takes one, however many queries it holds). Each query is a subscription
// of its own, with a Subscription's semantics (docs/views.md): its snapshot, its chain of
// changes and progress, its resets, its from_seq. Their lines share the slot's 64 KiB
// buffer: a subscription whose line does not fit is reset (alone) once there is room.
// One thread.
class SubscriptionSet {
 public:
  struct Query {
    std::vector<std::string> words;
    std::uint64_t from_seq = 0;  // as Subscription::open's
  };
  struct Line {
    std::size_t index = 0;  // of its query in open()'s list
    WatchLine line;
  };
  // Throws as Subscription::open; Error(invalid_argument) for an empty list.
  static SubscriptionSet open(const std::string& instance, const std::string& reader_id,
                              std::span<const Query> queries);
  SubscriptionSet(SubscriptionSet&&) noexcept;
  SubscriptionSet& operator=(SubscriptionSet&&) noexcept;
  ~SubscriptionSet();  // ends them all

  // The next line of any of them, waiting at most `timeout`; std::nullopt if none came.
  // Throws Error(io) when the reader goes away (open again with each last_seq() to go on).
  std::optional<Line> next(std::chrono::milliseconds timeout);
  // Where query `index` resumes: the seq its last line said.
  std::uint64_t last_seq(std::size_t index) const;
  std::size_t size() const noexcept;

 private:
  struct State;
  explicit SubscriptionSet(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A live subscription to one query of a reader's view: a snapshot, then a line for each
// change, with progress at least every second. Needs the reader's query segment (the
// reader's user, or its --group). One thread. (A SubscriptionSet of one query.)
class Subscription {
 public:
  // from_seq 0: a snapshot first; else the last seq seen, to resume exactly after it (or
  // get a reset and a fresh snapshot when the reader cannot). Throws Error(no_reader) when
  // the reader is not running, Error(permission_denied) when its segment cannot be
  // mapped, Error(resource) when all its slots are taken.
  static Subscription open(const std::string& instance, const std::string& reader_id,
                           std::span<const std::string_view> words, std::uint64_t from_seq = 0);
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  ~Subscription();  // ends it

  // The next line, waiting at most `timeout`; std::nullopt if none came. Throws
  // Error(io) when the reader goes away (open again with from_seq = last_seq() to go on).
  std::optional<WatchLine> next(std::chrono::milliseconds timeout);
  // The seq the last line said (a snapshot's, change's or progress's): where to resume.
  std::uint64_t last_seq() const noexcept;

 private:
  struct State;
  explicit Subscription(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Read-your-writes for a program that writes then reads: remembers the seq of its last
// accepted (or duplicate) command and asks queries with after = that seq.
class Session {
 public:
  Session(Client commands, QueryClient queries) noexcept;
  CommandReply submit_text(std::span<const std::string_view> words,
                           std::string_view command_id = {});
  CommandReply submit_text(std::initializer_list<std::string_view> words,
                           std::string_view command_id = {});
  QueryReply query(std::span<const std::string_view> words,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  QueryReply query(std::initializer_list<std::string_view> words,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::uint64_t last_seq() const noexcept { return last_seq_; }

 private:
  Client commands_;
  QueryClient queries_;
  std::uint64_t last_seq_ = 0;
};

}  // namespace evring
