// The socket server's loop (socket_server.hpp tells the design). Over 500 lines for a reason: its
// rounds, whether on its own thread or polled by the consumer, flow control and the stop all
// work on the one connection state, which splitting would have to expose.
#include "net/socket_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <deque>
#include <exception>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <concurrentqueue/concurrentqueue.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "sync/doorbell.hpp"

namespace evring::net {
namespace {

constexpr std::uint64_t kListenerKey = 0;  // epoll data of the listener
constexpr std::uint64_t kEventKey = 1;     // and of the eventfd; connections count from 2
constexpr std::size_t kReadChunk = 64u << 10;
constexpr int kPausedListenerMs = 100;  // out of descriptors: retry accept() after this

enum class Phase : std::uint32_t { running = 0, no_more_requests = 1, finishing = 2 };

// A request of a connection, in its place: answered (ready) or still with the consumer.
struct Slot {
  std::uint64_t serial = 0;
  bool ready = false;
  std::string reply;
};

// One client connection, owned by the socket thread.
struct Connection {
  Fd fd;
  std::uint64_t id = 0;
  std::string input;  // read, not yet taken from input_start on
  std::size_t input_start = 0;
  std::deque<Slot> slots;  // in request order; serials grow along it
  std::string output;      // replies not yet written, from output_start on
  std::size_t output_start = 0;
  std::uint32_t interest = 0;  // what epoll watches now
  bool eof = false;            // the client sends no more
  bool broken = false;         // answered a bad request: read no more, close once written

  std::size_t pending_output() const noexcept { return output.size() - output_start; }
};

struct Reply {
  Ticket to;
  std::string bytes;
};

void add_to_epoll(int epoll_fd, int fd, std::uint32_t events, std::uint64_t key) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw Error(ErrorCode::resource, "epoll_ctl: " + errno_text(errno));
  }
}

}  // namespace

struct SocketServer::Loop {
  ServerOptions options;
  Framing& framing;
  UnixListener listener;
  Fd event;
  Fd epoll;

  moodycamel::ConcurrentQueue<Reply> replies;
  moodycamel::ProducerToken reply_producer{replies};  // the consumer thread's
  moodycamel::ConsumerToken reply_consumer{replies};  // the socket thread's

  // Raised by the socket thread just before it may block in epoll_wait (see WAKING).
  // Raised while the socket thread is about to block in epoll_wait (the doorbell's
  // hand-shake, sync/doorbell.hpp, with the eventfd as its bell).
  std::atomic<std::uint32_t> socket_idle_word{0};
  SleepFlag socket_idle{socket_idle_word};
  std::atomic<Phase> phase{Phase::running};
  // Set by the socket thread once it stopped reading (stop_taking waits on it).
  std::atomic<bool> taking_stopped{false};
  // Written by the consumer before its release store of Phase::finishing, read by the
  // socket thread after the acquire load that sees it.
  std::int64_t finish_ns = 0;
  std::thread thread;

  // Socket thread only.
  std::unordered_map<std::uint64_t, Connection> connections;
  std::uint64_t next_id = kEventKey + 1;
  std::uint64_t next_serial = 1;
  bool reading = true;
  bool listener_paused = false;
  bool queued = false;                // since the last wake_consumer()
  std::vector<std::uint64_t> polled;  // poll()'s connections with replies
  std::unique_ptr<char[]> read_buffer = std::make_unique<char[]>(kReadChunk);

  Loop(ServerOptions opts, Framing& f)
      : options(std::move(opts)), framing(f), listener(options.listener) {}

  void ring() noexcept {
    const std::uint64_t one = 1;
    // Only fails if the counter is about to overflow, which a pending wake-up makes moot.
    [[maybe_unused]] const ssize_t wrote = ::write(event.get(), &one, sizeof one);
  }
  void set_phase(Phase next) {
    // release: pairs with the socket thread's acquire load; the replies enqueued before
    // (stop()) are in the queue when it sees the new phase.
    phase.store(next, std::memory_order_release);
    ring();
  }
  void log(LogLevel level, const std::string& text) const {
    if (options.log) options.log(level, options.name + ": " + text);
  }
  void mark_taking_stopped() {
    // release: pairs with stop_taking()'s acquire wait; nothing is queued after this.
    taking_stopped.store(true, std::memory_order_release);
    taking_stopped.notify_all();
  }
  void wake_if_queued() {
    if (!queued) return;
    queued = false;
    options.wake_consumer();
  }

  void run() noexcept;
  // One round's work around the wait: the replies, then what epoll reported.
  void settle_replies(std::vector<std::uint64_t>& touched);
  void handle(const epoll_event* events, int ready);
  void take_replies(std::vector<std::uint64_t>& touched);
  void accept_all();
  bool read_from(Connection& c);
  bool take_requests(Connection& c, bool all);
  bool write_to(Connection& c);
  void settle(Connection& c);
  void set_interest(Connection& c);
  void close_connection(Connection& c);
  void watch_listener(bool on);
  void stop_reading();
};

void SocketServer::Loop::watch_listener(bool on) {
  if (listener.fd() < 0) return;
  epoll_event e{};
  e.events = on ? EPOLLIN : 0u;
  e.data.u64 = kListenerKey;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, listener.fd(), &e);
  listener_paused = !on;
}

void SocketServer::Loop::set_interest(Connection& c) {
  const bool want_in = reading && !c.eof && !c.broken && c.slots.size() < kMaxInFlight &&
                       c.pending_output() < kMaxPendingOutput;
  const std::uint32_t events = (want_in ? EPOLLIN : 0u) | (c.pending_output() ? EPOLLOUT : 0u);
  if (events == c.interest) return;
  epoll_event e{};
  e.events = events;
  e.data.u64 = c.id;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &e);
  c.interest = events;
}

void SocketServer::Loop::close_connection(Connection& c) {
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  // Its requests still with the consumer find no connection when answered: dropped.
  if (listener_paused && reading) watch_listener(true);  // a descriptor is free again
  connections.erase(c.id);                               // c is gone after this
}

void SocketServer::Loop::accept_all() {
  for (;;) {
    const int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      const std::uint64_t id = next_id++;
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.u64 = id;
      if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &e) != 0) {
        ::close(fd);
        continue;
      }
      Connection& c = connections[id];
      c.fd.reset(fd);
      c.id = id;
      c.interest = EPOLLIN;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Level-triggered: the listener would report the waiting client at once again. Stop
      // watching it until a connection closes or a moment passes.
      log(LogLevel::warn, "cannot accept a connection: " + errno_text(errno) +
                              " (raise the descriptor limit, ulimit -n)");
      watch_listener(false);
    }
    return;
  }
}

// Reads one chunk; false: the connection died.
bool SocketServer::Loop::read_from(Connection& c) {
  for (;;) {
    // Into a scratch buffer, then appended: growing the input to receive into it would
    // clear a whole chunk per read.
    const ssize_t got = ::recv(c.fd.get(), read_buffer.get(), kReadChunk, MSG_DONTWAIT);
    if (got > 0) {
      c.input.append(read_buffer.get(), static_cast<std::size_t>(got));
      return true;
    }
    if (got == 0) {
      c.eof = true;
      return true;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Lets the framing take the whole requests read so far, as long as the connection may have
// more in flight (or `all`: the client hung up, and nobody waits on flow control). True if
// it stopped for want of room.
bool SocketServer::Loop::take_requests(Connection& c, bool all) {
  bool full = false;
  std::string answer;
  while (reading && !c.broken) {
    if (!all && c.slots.size() >= kMaxInFlight) {
      full = true;
      break;
    }
    const std::string_view input = std::string_view(c.input).substr(c.input_start);
    if (input.empty()) break;
    const Ticket ticket{c.id, next_serial};
    answer.clear();
    const Framing::Taken taken = framing.take(input, c.eof, ticket, answer);
    c.input_start += taken.bytes;
    if (taken.outcome == Framing::Outcome::need_more) break;
    if (taken.outcome == Framing::Outcome::skipped) continue;
    Slot& slot = c.slots.emplace_back();
    slot.serial = next_serial++;
    if (taken.outcome == Framing::Outcome::queued) {
      queued = true;
      continue;
    }
    slot.ready = true;
    slot.reply = std::move(answer);
    if (taken.outcome == Framing::Outcome::broken) c.broken = true;
  }
  if (c.broken || c.input_start == c.input.size()) {
    std::string().swap(c.input);  // a broken stream is not read past its bad request
    c.input_start = 0;
  } else if (c.input_start > kReadChunk) {
    c.input.erase(0, c.input_start);
    c.input_start = 0;
  }
  return full;
}

// Writes what it can; false: the connection died (its replies are dropped).
bool SocketServer::Loop::write_to(Connection& c) {
  while (c.pending_output() != 0) {
    const ssize_t wrote = ::send(c.fd.get(), c.output.data() + c.output_start, c.pending_output(),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
    if (wrote > 0) {
      c.output_start += static_cast<std::size_t>(wrote);
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  if (c.output_start == c.output.size()) {
    c.output.clear();
    c.output_start = 0;
  } else if (c.output_start > kMaxPendingOutput / 2) {
    c.output.erase(0, c.output_start);
    c.output_start = 0;
  }
  return true;
}

// After anything happened on a connection: take requests, move the answered replies at the
// front to the output, write, and close when nothing more can come or go.
void SocketServer::Loop::settle(Connection& c) {
  for (;;) {
    const bool full = take_requests(c, false);
    const std::size_t before = c.slots.size();
    while (!c.slots.empty() && c.slots.front().ready) {
      framing.seal(c.slots.front().reply, c.output);
      c.slots.pop_front();
    }
    // Requests that waited for room (ones answered at once make room at once).
    if (!full || c.slots.size() == before) break;
  }
  if (!write_to(c)) return close_connection(c);
  const bool done_reading = c.eof || c.broken || !reading;
  if (done_reading && c.slots.empty() && c.pending_output() == 0) {
    if (c.broken) {
      // Take what the client still sent, so the close does not reset the connection
      // before it read our last reply.
      std::array<char, 4096> sink;
      while (::recv(c.fd.get(), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
      }
    }
    return close_connection(c);
  }
  set_interest(c);
}

void SocketServer::Loop::take_replies(std::vector<std::uint64_t>& touched) {
  std::array<Reply, 64> batch;
  for (;;) {
    const std::size_t got = replies.try_dequeue_bulk(reply_consumer, batch.begin(), batch.size());
    for (std::size_t i = 0; i < got; ++i) {
      const auto found = connections.find(batch[i].to.connection);
      if (found == connections.end()) continue;  // it closed: dropped
      Connection& c = found->second;
      const auto place = std::lower_bound(
          c.slots.begin(), c.slots.end(), batch[i].to.serial,
          [](const Slot& slot, std::uint64_t serial) { return slot.serial < serial; });
      if (place == c.slots.end() || place->serial != batch[i].to.serial || place->ready) continue;
      place->reply = std::move(batch[i].bytes);
      place->ready = true;
      if (touched.empty() || touched.back() != c.id) touched.push_back(c.id);
    }
    if (got < batch.size()) break;
  }
}

void SocketServer::Loop::stop_reading() {
  reading = false;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, listener.fd(), nullptr);
  listener.close();
  std::vector<std::uint64_t> ids;
  for (const auto& [id, c] : connections) ids.push_back(id);
  for (const std::uint64_t id : ids) settle(connections.at(id));
  mark_taking_stopped();
}

// Replies first in a round: they free flow control and complete what clients wait for.
void SocketServer::Loop::settle_replies(std::vector<std::uint64_t>& touched) {
  touched.clear();
  take_replies(touched);
  for (const std::uint64_t id : touched) {
    if (const auto found = connections.find(id); found != connections.end()) {
      settle(found->second);  // may also take requests that waited for room
    }
  }
}

void SocketServer::Loop::handle(const epoll_event* events, int ready) {
  if (listener_paused && ready == 0 && reading) watch_listener(true);
  for (int i = 0; i < ready; ++i) {
    const std::uint64_t key = events[i].data.u64;
    if (key == kListenerKey) {
      if (reading) accept_all();
      continue;
    }
    if (key == kEventKey) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t got = ::read(event.get(), &count, sizeof count);
      continue;
    }
    const auto found = connections.find(key);
    if (found == connections.end()) continue;  // closed earlier in this round
    Connection& c = found->second;
    const std::uint32_t what = events[i].events;
    if ((what & (EPOLLHUP | EPOLLERR)) != 0) {
      // Gone both ways: no reply can reach it. What it sent completely is still taken
      // if the protocol says so.
      if (options.take_all_on_hangup) {
        while (reading && !c.broken && !c.eof && read_from(c) && !c.eof) {
          take_requests(c, true);
        }
        take_requests(c, true);
      }
      close_connection(c);
      continue;
    }
    if ((what & EPOLLIN) != 0 && !read_from(c)) {
      close_connection(c);
      continue;
    }
    settle(c);
  }
}

void SocketServer::Loop::run() noexcept {
  // Signals (SIGINT, SIGTERM) are for the consumer's process; this thread never handles them.
  sigset_t signals;
  sigfillset(&signals);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::int64_t finish_deadline = 0;
  std::vector<std::uint64_t> touched;
  std::array<epoll_event, 64> events;
  try {
    for (;;) {
      // acquire: pairs with set_phase(); see it there.
      const Phase now_phase = phase.load(std::memory_order_acquire);
      if (now_phase != Phase::running && reading) stop_reading();

      settle_replies(touched);

      int timeout_ms = listener_paused ? kPausedListenerMs : -1;
      if (now_phase == Phase::finishing) {
        const std::int64_t now = monotonic_ns();
        if (finish_deadline == 0) finish_deadline = now + finish_ns;
        if (connections.empty() || now >= finish_deadline) break;
        timeout_ms = static_cast<int>(
            std::min<std::int64_t>((finish_deadline - now) / 1'000'000 + 1, kPausedListenerMs));
      }
      wake_if_queued();

      // S2 and S3: either we see a reply() enqueued now, or it rings the eventfd.
      socket_idle.raise();
      if (replies.size_approx() != 0 || phase.load(std::memory_order_relaxed) != now_phase) {
        timeout_ms = 0;
      }
      const int ready =
          ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
      socket_idle.lower();
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::io, "epoll_wait: " + errno_text(errno));
      }
      handle(events.data(), ready);
      wake_if_queued();
    }
  } catch (const std::exception& e) {
    // Out of memory, or epoll broke: stop serving. Clients see their connection close.
    log(LogLevel::error, std::string("stopped: ") + e.what());
  }
  connections.clear();
  // relaxed: only this thread stores it.
  if (!taking_stopped.load(std::memory_order_relaxed)) mark_taking_stopped();
}

SocketServer::SocketServer(ServerOptions options, Framing& framing)
    : loop_(std::make_unique<Loop>(std::move(options), framing)) {
  Loop& l = *loop_;
  l.event.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  l.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!l.event.valid() || !l.epoll.valid()) {
    throw Error(ErrorCode::resource, "eventfd/epoll_create1: " + errno_text(errno) +
                                         " (raise the descriptor limit, ulimit -n)");
  }
  add_to_epoll(l.epoll.get(), l.listener.fd(), EPOLLIN, kListenerKey);
  add_to_epoll(l.epoll.get(), l.event.get(), EPOLLIN, kEventKey);
}

SocketServer::~SocketServer() {
  stop(0);
}

void SocketServer::start() {
  if (loop_->options.consumer_polls) return;
  // The Loop stays where it is (behind the unique_ptr), so the thread may hold on to it.
  if (!loop_->thread.joinable()) loop_->thread = std::thread([l = loop_.get()] { l->run(); });
}

void SocketServer::poll() {
  Loop& l = *loop_;
  if (!l.reading) return;
  std::array<epoll_event, 64> events;
  l.settle_replies(l.polled);
  const int ready = ::epoll_wait(l.epoll.get(), events.data(), static_cast<int>(events.size()), 0);
  // A paused listener comes back when a connection closes (there is no timed round here).
  if (ready > 0) l.handle(events.data(), ready);
}

void SocketServer::reply(const Ticket& to, std::string reply) {
  Loop& l = *loop_;
  l.replies.enqueue(l.reply_producer, Reply{to, std::move(reply)});
  // G1 to G3 of the doorbell's hand-shake; the eventfd write is its G4.
  if (l.socket_idle.claim_wake()) l.ring();
}

void SocketServer::stop_taking() {
  Loop& l = *loop_;
  if (l.options.consumer_polls && l.reading) l.stop_reading();
  if (!l.thread.joinable()) return;
  // relaxed: only this thread (the consumer) writes the phase.
  if (l.phase.load(std::memory_order_relaxed) == Phase::running) {
    l.set_phase(Phase::no_more_requests);
  }
  // acquire: pairs with the socket thread's release store once it stopped reading; every
  // request it queued is in the consumer's queue by then.
  l.taking_stopped.wait(false, std::memory_order_acquire);
}

void SocketServer::stop(std::int64_t finish_ns) {
  Loop& l = *loop_;
  if (l.thread.joinable()) {
    l.finish_ns = finish_ns;
    l.set_phase(Phase::finishing);
    l.thread.join();
  } else if (l.options.consumer_polls && l.reading) {
    // What the socket thread would do at its end, bar waiting for slow clients.
    l.stop_reading();
    std::vector<std::uint64_t> touched;
    l.settle_replies(touched);
  }
  l.connections.clear();
  l.listener.close();
}

const std::filesystem::path& SocketServer::path() const noexcept {
  return loop_->listener.path();
}

bool SocketServer::replaced_stale() const noexcept {
  return loop_->listener.replaced_stale();
}

}  // namespace evring::net
