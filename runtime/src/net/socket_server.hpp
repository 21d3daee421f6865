// One Unix-socket server for evring's two request/reply sockets: a reader's query socket
// (JSON lines, query/) and the writer's command socket (length-prefixed frames, writer/).
// They differ only in their Framing; the listener, the connection loop, flow control, the
// order of replies and the hand-shakes between the threads are this one piece.
//
// THREADS
//
//   socket thread    epoll on the listener, an eventfd and the connections. Reads, lets the
//                    Framing take the requests (it hands each to the consumer under a
//                    Ticket), puts each reply back in its request's place and writes the
//                    replies of a connection in the order of its requests.
//   consumer thread  the one thread that answers (a reader's view thread, the writer's
//                    apply thread): reply(), stop_taking(), stop(). With consumer_polls
//                    there is no socket thread: the consumer runs its rounds in poll().
//
// Every request carries a Ticket that names its connection and its place there. The
// consumer may answer in any order (a query parked until its `after` is applied answers
// later than one behind it); the replies of a connection still go out in request order. A
// ticket is never reused, so a reply for a connection that has closed is dropped.
//
// FLOW CONTROL: per connection, reading stops while kMaxInFlight requests await their
// replies, or kMaxPendingOutput bytes wait for the client to read them. A client that sends
// without reading holds at most that much of the server.
//
// WAKING: one hand-shake each way.
//   socket -> consumer  after a round in which requests were queued, the socket thread
//                       calls ServerOptions::wake_consumer once. The consumer's sleep must
//                       make its last look at its queue after it announced that it sleeps
//                       (the reader's event-stream interrupt, the writer's intake doorbell
//                       both do), so a request queued before the call is never slept past.
//   consumer -> socket  the doorbell's hand-shake (sync/doorbell.hpp: a SleepFlag, with the
//                       eventfd as the bell): the socket thread raises `socket_idle` and
//                       looks at the replies once more before it blocks in epoll_wait;
//                       reply() enqueues, then writes the eventfd only if it claims the
//                       raised flag.
//   stop                stop_taking() and stop() store the phase (release) and ring the
//                       eventfd; the socket thread loads it (acquire) at each round.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/unix_socket.hpp"
#include "sys/log.hpp"

namespace evring::net {

// One request's place: its connection (never reused) and its serial there (grows along
// the connection).
struct Ticket {
  std::uint64_t connection = 0;
  std::uint64_t serial = 0;
};

inline constexpr std::size_t kMaxInFlight = 1024;
inline constexpr std::size_t kMaxPendingOutput = 1u << 20;

// What a server's protocol does with the bytes. Socket thread only.
class Framing {
 public:
  enum class Outcome {
    need_more,  // no whole request at the front yet
    queued,     // handed to the consumer under the ticket; its reply comes with reply()
    answered,   // not for the consumer: `answer` is its reply, sent in its place
    skipped,    // no request (a blank line): consumed, no reply
    broken,     // the stream cannot be trusted from here: `answer` is its last reply, then
                // the connection is read no further and closed once the replies are out
  };
  struct Taken {
    Outcome outcome = Outcome::need_more;
    std::size_t bytes = 0;  // consumed from the front of the input
  };

  virtual ~Framing() = default;
  // The request at the front of `input`; `eof`: the client sends nothing after it.
  virtual Taken take(std::string_view input, bool eof, const Ticket& ticket,
                     std::string& answer) = 0;
  // Appends one reply (from reply() or an `answer`) to `output` in its wire form; may
  // change `reply`.
  virtual void seal(std::string& reply, std::string& output) { output += reply; }
};

struct ServerOptions {
  ListenerOptions listener;
  // Socket thread, after a round that queued requests: see WAKING above.
  std::function<void()> wake_consumer;
  // On a hang-up: take every whole request the client sent (commands: they were submitted
  // and are decided) rather than drop them (queries: nobody is there to read the answers).
  bool take_all_on_hangup = false;
  // No socket thread: the consumer calls poll() between its own work (a spinning reader's
  // view thread, whose core a socket thread would have to share), so a request crosses no
  // thread and no wake-up. wake_consumer is then never called.
  bool consumer_polls = false;
  LogSink log;       // may be empty
  std::string name;  // "socket intake": what log lines start with
};

class SocketServer {
 public:
  // Binds and listens: clients may connect from here on and wait in the backlog until
  // start(). `framing` must outlive the server (the socket thread calls it).
  SocketServer(ServerOptions options, Framing& framing);
  ~SocketServer();  // stop(0), if not done yet
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  // Starts the socket thread (once what wake_consumer calls is ready); with
  // consumer_polls, nothing.
  void start();
  // Consumer thread, with consumer_polls: one round without waiting. Sends the replies
  // given so far, accepts, reads and lets the framing take what came.
  void poll();

  // Consumer thread. The reply to the request under `to`, in wire form up to seal();
  // dropped if its connection has closed.
  void reply(const Ticket& to, std::string reply);
  // Consumer thread. Closes the listener and stops reading; once it returns, nothing more
  // is queued.
  void stop_taking();
  // Consumer thread. Sends the replies given so far (waiting at most finish_ns for clients
  // that do not read them), closes every connection, joins the socket thread and removes
  // the socket file if it is still ours.
  void stop(std::int64_t finish_ns);

  const std::filesystem::path& path() const noexcept;
  bool replaced_stale() const noexcept;

 private:
  struct Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace evring::net
