// The reader's side of queries (the wire format is in evring/query_client.hpp): the JSON-lines
// framing on the one socket server (net/socket_server.hpp, which tells the threads and how
// they wake each other). The socket thread parses requests and hands them to the one thread
// that owns the view through a moodycamel::ConcurrentQueue; that thread answers each
// between events.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "evring/query_client.hpp"
#include "net/socket_server.hpp"
#include "shm/shared_segment.hpp"  // kCreatorGroup

namespace evring {

// One request as the view's thread sees it.
struct QueryRequest {
  net::Ticket ticket;            // which connection to answer, and where on it
  std::uint64_t after_seq = 0;   // 0: answer now
  std::int64_t deadline_ns = 0;  // monotonic_ns() past which a waiting query is stale
  std::vector<std::string> words;
};

class QueryServer {
 public:
  // Listens on `path` (its folder created 0700 if missing; the socket gets `mode` and, unless
  // kCreatorGroup, `group`), on a
  // thread of its own. A stale socket file whose listener is gone is replaced; a live one
  // is Error(writer_running) "another reader ... uses this id". `wake` is the server's
  // wake_consumer (net/socket_server.hpp, WAKING): called on the socket thread after
  // requests were queued, so a sleeping view thread can wake up.
  // With consumer_polls there is no socket thread: the view thread calls poll() between
  // events (a spinning reader), and `wake` is never called.
  static std::unique_ptr<QueryServer> start(const std::filesystem::path& path, mode_t mode,
                                            std::function<void()> wake, gid_t group = kCreatorGroup,
                                            bool consumer_polls = false);
  ~QueryServer();  // stops the thread, closes connections, removes the socket file

  // View thread: the next request, if any (a malformed line is answered by the socket
  // thread itself and never gets here).
  bool next(QueryRequest& out);
  // View thread: the reply line (without its newline) for `to`; dropped if it has gone.
  void reply(const QueryRequest& to, std::string json);
  // View thread, with consumer_polls: sends the replies given, takes the requests sent.
  void poll() { server().poll(); }

  const std::filesystem::path& path() const noexcept;

 private:
  struct State;
  explicit QueryServer(std::unique_ptr<State> state);
  net::SocketServer& server() noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace evring
