// The query socket: a reader's QueryServer, the QueryClient that asks it, and Session.
//
// THREADS (QueryServer)
//
//   socket thread  epoll on the listener, an eventfd and the connections. Reads lines,
//                  answers malformed ones itself, enqueues the others into `requests` (its
//                  only producer) and calls `wake`; dequeues `replies` (its only consumer),
//                  puts each back in its request's place and writes them in request order.
//   view thread    next() dequeues `requests`, reply() enqueues `replies`.
//
// Every request the view sees carries a ticket (QueryRequest::connection) that names its
// connection and its place there; the view may answer in any order (a query parked until
// its `after` is applied answers later than one behind it), and the socket thread still
// writes the replies of a connection in the order of its requests. A ticket is never
// reused, so a reply for a connection that has closed finds no ticket and is dropped.
//
// Handoffs between the threads, and why they are ordered:
//   requests, replies  moodycamel::ConcurrentQueue: an enqueue is a release, the dequeue
//                      that takes the element an acquire, so the element's strings are
//                      complete when the other thread sees them. Nothing else is shared.
//   view -> socket     reply() enqueues, then takes `reply_signalled` from false to true
//                      (acq_rel exchange) and writes the eventfd only if it was false. The
//                      socket thread sets the flag back to false (acq_rel exchange) before
//                      each look at `replies`. Exchanges are read-modify-writes: they see
//                      the latest value, so a reply() that finds `true` comes before the
//                      socket thread's next clear, and the look after that clear finds the
//                      reply; a reply() that finds `false` rings the eventfd itself.
//   stop               the destructor stores `stopping` (release) and writes the eventfd;
//                      the socket thread loads it (acquire) at the top of each round.
#include "query/query_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <exception>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <concurrentqueue/concurrentqueue.h>
#include <nlohmann/json.hpp>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "sys/paths.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace evring {
namespace {

constexpr std::size_t kMaxLineBytes = 64u << 10;  // a request line, without its newline
constexpr std::size_t kMaxWords = 64;
constexpr std::uint64_t kDefaultTimeoutMs = 5000;
// Bounds deadline_ns well inside int64 whatever the client asks for.
constexpr std::uint64_t kMaxTimeoutMs = 24ull * 3600 * 1000;
// The client waits this much longer than the timeout it asked for: the reader answers
// stale at the timeout, and the reply still has to come back.
constexpr std::int64_t kClientGraceMs = 5000;
constexpr int kBacklog = 64;
constexpr std::size_t kReadChunk = 16u << 10;
// Per connection: stop reading while this many requests await their replies, or this much
// output waits for the client to read it. Bounds what a client that sends without reading
// can make the reader hold.
constexpr std::size_t kMaxInFlight = 1024;
constexpr std::size_t kMaxPendingOutput = 1u << 20;
constexpr int kPausedListenerMs = 100;  // out of descriptors: retry accept() after this

constexpr std::uint64_t kListenerKey = 0;  // epoll data of the listener
constexpr std::uint64_t kEventKey = 1;     // and of the eventfd; connections count from 2

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int value) : fd(value) {}
  Fd(Fd&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd, -1));
    return *this;
  }
  ~Fd() { reset(); }
  void reset(int value = -1) noexcept {
    if (fd >= 0) ::close(fd);
    fd = value;
  }
};

// query_socket_path() already checked the length of paths it makes; a path from elsewhere
// (the reader's --socket) is checked here.
sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.empty() || text.size() >= sizeof address.sun_path) {
    throw Error(ErrorCode::invalid_argument,
                "query socket path \"" + text + "\" must be 1 to " +
                    std::to_string(sizeof address.sun_path - 1) +
                    " bytes long: choose a shorter --id, or set XDG_RUNTIME_DIR to a shorter "
                    "folder");
  }
  std::memcpy(address.sun_path, text.data(), text.size());
  return address;
}

// The socket's folder: created 0700 when missing (nobody else needs to list it).
void prepare_folder(const fs::path& folder) {
  if (folder.empty()) return;
  std::error_code ec;
  if (fs::is_directory(folder, ec)) return;
  fs::create_directories(folder, ec);
  if (ec) {
    const int err = ec.value();
    throw Error(err == EACCES || err == EPERM || err == EROFS ? ErrorCode::permission_denied
                                                              : ErrorCode::io,
                "cannot create the query socket folder " + folder.string() + ": " + ec.message() +
                    " (set XDG_RUNTIME_DIR to a folder you may write)");
  }
  fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
}

// A socket file at `path`: refused if a reader listens on it, removed if its listener is
// gone (kill -9 leaves the file behind), refused if it is not a socket at all.
void clear_stale_socket(const fs::path& path, const sockaddr_un& address) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return;  // nothing there
  if (!S_ISSOCK(info.st_mode)) {
    throw Error(ErrorCode::invalid_argument,
                path.string() + " exists and is not a socket: remove it, or choose another --id");
  }
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.fd < 0) throw Error(ErrorCode::resource, "socket(AF_UNIX): " + errno_text(errno));
  if (::connect(probe.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    throw Error(ErrorCode::writer_running,
                "another evring-reader listens on " + path.string() + ": choose another --id");
  }
  const int err = errno;
  if (err != ECONNREFUSED) {
    throw Error(err == EACCES || err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot probe the socket file " + path.string() + ": " + errno_text(err) +
                    " (remove it, or choose another --id)");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw Error(ErrorCode::io,
                "cannot remove the stale socket file " + path.string() + ": " + errno_text(errno));
  }
}

void add_to_epoll(int epoll_fd, int fd, std::uint32_t events, std::uint64_t key) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw Error(ErrorCode::resource, "epoll_ctl: " + errno_text(errno));
  }
}

// Text from a client or a view may hold bytes that are not UTF-8: dumped as U+FFFD rather
// than throwing.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string malformed_reply(const std::string& problem) {
  return dump(json{{"as_of_seq", 0}, {"error", "malformed request: " + problem}});
}

// nlohmann's messages start with "[json.exception.parse_error.101] ": noise to a user.
std::string json_problem(const std::exception& e) {
  std::string text = e.what();
  if (const std::size_t end = text.find("] "); text.starts_with("[json.") && end != text.npos) {
    text.erase(0, end + 2);
  }
  return text;
}

// One request line into `out` (all but its ticket), or false and what is wrong with it.
bool parse_request(std::string_view line, QueryRequest& out, std::string& problem) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::exception& e) {
    problem = "not JSON: " + json_problem(e);
    return false;
  }
  constexpr const char* kShape =
      R"(; send {"words": ["get", "alice"], "after": 42, "timeout_ms": 1000})";
  if (!request.is_object()) {
    problem = std::string("expected a JSON object") + kShape;
    return false;
  }
  const auto words = request.find("words");
  if (words == request.end() || !words->is_array() || words->empty() || words->size() > kMaxWords) {
    problem =
        "\"words\" must be an array of 1 to " + std::to_string(kMaxWords) + " strings" + kShape;
    return false;
  }
  out.words.clear();
  out.words.reserve(words->size());
  for (const json& word : *words) {
    if (!word.is_string()) {
      problem = "\"words\" must hold only strings, not " + dump(word);
      return false;
    }
    out.words.push_back(word.get<std::string>());
  }
  out.after_seq = 0;
  if (const auto after = request.find("after"); after != request.end()) {
    if (!after->is_number_unsigned()) {
      problem = "\"after\" must be a sequence number (an integer >= 0), not " + dump(*after);
      return false;
    }
    out.after_seq = after->get<std::uint64_t>();
  }
  std::uint64_t timeout_ms = kDefaultTimeoutMs;
  if (const auto timeout = request.find("timeout_ms"); timeout != request.end()) {
    if (!timeout->is_number_unsigned() || timeout->get<std::uint64_t>() > kMaxTimeoutMs) {
      problem = "\"timeout_ms\" must be an integer from 0 to " + std::to_string(kMaxTimeoutMs) +
                ", not " + dump(*timeout);
      return false;
    }
    timeout_ms = timeout->get<std::uint64_t>();
  }
  out.deadline_ns = monotonic_ns() + static_cast<std::int64_t>(timeout_ms) * 1'000'000;
  return true;
}

// A request of a connection, in its place: answered (ready) or still with the view.
struct Pending {
  std::uint64_t ticket = 0;
  std::string reply;
  bool ready = false;
};

// One client connection, owned by the socket thread.
struct Connection {
  int fd = -1;
  std::uint64_t id = 0;
  std::string input;            // read, not yet a whole line
  std::size_t scanned = 0;      // input[0, scanned) holds no newline
  std::deque<Pending> pending;  // in request order; tickets grow along it
  std::string output;           // replies not yet written, from output_start on
  std::size_t output_start = 0;
  std::uint32_t interest = 0;  // what epoll watches now
  bool eof = false;            // the client sends no more
  bool too_long = false;       // answered a line over the limit: read no more, then close

  std::size_t pending_output() const noexcept { return output.size() - output_start; }
};

}  // namespace

fs::path query_socket_path(const std::string& instance, const std::string& reader_id) {
  validate_instance_name(instance);
  if (reader_id.empty() || reader_id.find('/') != std::string::npos) {
    throw Error(ErrorCode::invalid_argument,
                "reader id \"" + reader_id + "\" must be non-empty and hold no '/'");
  }
  fs::path path = default_runtime_folder() / (instance + "." + reader_id + ".sock");
  constexpr std::size_t kMaxPathBytes = sizeof(sockaddr_un::sun_path) - 1;  // 107
  if (path.native().size() > kMaxPathBytes) {
    throw Error(ErrorCode::invalid_argument,
                "the query socket path " + path.string() + " is " +
                    std::to_string(path.native().size()) + " bytes, over the " +
                    std::to_string(kMaxPathBytes) +
                    " a Unix socket allows: choose a shorter --id, or set XDG_RUNTIME_DIR to a "
                    "shorter folder");
  }
  return path;
}

// ---- QueryServer ---------------------------------------------------------------------

struct QueryServer::State {
  struct Reply {
    std::uint64_t ticket = 0;
    std::string json;
  };

  fs::path path;
  std::function<void()> wake;
  Fd listener;
  Fd event;
  Fd epoll;
  dev_t socket_dev = 0;  // the socket file we bound, to remove only ours at the end
  ino_t socket_ino = 0;

  moodycamel::ConcurrentQueue<QueryRequest> requests;
  moodycamel::ProducerToken request_producer{requests};  // the socket thread's
  moodycamel::ConcurrentQueue<Reply> replies;

  // See the top of this file: true while the eventfd has been (or is being) rung for
  // replies the socket thread has not looked for yet.
  std::atomic<bool> reply_signalled{false};
  std::atomic<bool> stopping{false};
  std::thread thread;

  // Socket thread only.
  std::unordered_map<std::uint64_t, Connection> connections;
  std::unordered_map<std::uint64_t, std::uint64_t> ticket_owner;  // ticket -> connection
  std::uint64_t next_connection = kEventKey + 1;
  std::uint64_t next_ticket = 1;
  bool enqueued = false;  // since the last wake()
  bool listener_paused = false;

  void ring() noexcept {
    const std::uint64_t one = 1;
    // A full counter (never, at 2^64 - 2) would only mean the thread is already awake.
    [[maybe_unused]] const ssize_t wrote = ::write(event.fd, &one, sizeof one);
  }

  void run() noexcept;
  void take_replies(std::vector<std::uint64_t>& touched);
  void accept_all();
  bool read_from(Connection& c);
  bool parse(Connection& c);
  void take_line(Connection& c, std::string_view line);
  bool write_to(Connection& c);
  void settle(Connection& c);
  void set_interest(Connection& c);
  void close_connection(Connection& c);
  void watch_listener(bool on);
};

std::unique_ptr<QueryServer> QueryServer::start(const fs::path& path, mode_t mode,
                                                std::function<void()> wake, gid_t group) {
  auto state = std::make_unique<State>();
  State& s = *state;
  s.path = path;
  s.wake = std::move(wake);
  const sockaddr_un address = socket_address(path);
  prepare_folder(path.parent_path());
  clear_stale_socket(path, address);

  s.listener = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.listener.fd < 0) throw Error(ErrorCode::resource, "socket(AF_UNIX): " + errno_text(errno));
  if (::bind(s.listener.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    if (err == EADDRINUSE) {
      throw Error(ErrorCode::writer_running, "another evring-reader listens on " + path.string() +
                                                 " (it just started): choose another --id");
    }
    throw Error(err == EACCES || err == EPERM || err == EROFS ? ErrorCode::permission_denied
                                                              : ErrorCode::io,
                "cannot bind the query socket " + path.string() + ": " + errno_text(err) +
                    " (set XDG_RUNTIME_DIR to a folder you may write)");
  }
  // Before listen(): nobody can connect yet, so the umask's mode is never in force.
  struct stat info {};
  if (::chmod(path.c_str(), mode & 07777) != 0 ||
      (group != kCreatorGroup && ::chown(path.c_str(), static_cast<uid_t>(-1), group) != 0) ||
      ::stat(path.c_str(), &info) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw Error(err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot set the mode and group of " + path.string() + ": " + errno_text(err) +
                    (err == EPERM ? " (the reader's user must be a member of --group)" : ""));
  }
  s.socket_dev = info.st_dev;
  s.socket_ino = info.st_ino;
  s.event = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  s.epoll = Fd(::epoll_create1(EPOLL_CLOEXEC));
  try {
    if (::listen(s.listener.fd, kBacklog) != 0) {
      throw Error(ErrorCode::io, "cannot listen on " + path.string() + ": " + errno_text(errno));
    }
    if (s.event.fd < 0 || s.epoll.fd < 0) {
      throw Error(ErrorCode::resource, "eventfd/epoll_create1: " + errno_text(errno) +
                                           " (raise the descriptor limit, ulimit -n)");
    }
    add_to_epoll(s.epoll.fd, s.listener.fd, EPOLLIN, kListenerKey);
    add_to_epoll(s.epoll.fd, s.event.fd, EPOLLIN, kEventKey);
    std::unique_ptr<QueryServer> server(new QueryServer(std::move(state)));
    // The State stays where it is (behind the unique_ptr), so the thread may hold on to it.
    s.thread = std::thread([&s] { s.run(); });
    return server;
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
}

QueryServer::QueryServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

QueryServer::~QueryServer() {
  State& s = *state_;
  // release: pairs with the socket thread's acquire load; it stops at its next round.
  s.stopping.store(true, std::memory_order_release);
  s.ring();
  if (s.thread.joinable()) s.thread.join();
  for (auto& [id, c] : s.connections) ::close(c.fd);
  s.connections.clear();
  // Only our own file: a reader started later with the same id may have replaced it.
  struct stat info {};
  if (::lstat(s.path.c_str(), &info) == 0 && info.st_dev == s.socket_dev &&
      info.st_ino == s.socket_ino) {
    ::unlink(s.path.c_str());
  }
}

bool QueryServer::next(QueryRequest& out) {
  // acquire (inside the queue): the request's words are as the socket thread wrote them.
  return state_->requests.try_dequeue(out);
}

void QueryServer::reply(const QueryRequest& to, std::string json) {
  State& s = *state_;
  // release (inside the queue): the reply text is complete before the socket thread sees it.
  s.replies.enqueue(State::Reply{to.connection, std::move(json)});
  // acq_rel: see the top of this file; false means nobody has rung for this reply yet.
  if (!s.reply_signalled.exchange(true, std::memory_order_acq_rel)) s.ring();
}

const fs::path& QueryServer::path() const noexcept {
  return state_->path;
}

void QueryServer::State::watch_listener(bool on) {
  epoll_event e{};
  e.events = on ? EPOLLIN : 0u;
  e.data.u64 = kListenerKey;
  ::epoll_ctl(epoll.fd, EPOLL_CTL_MOD, listener.fd, &e);
  listener_paused = !on;
}

void QueryServer::State::set_interest(Connection& c) {
  const bool want_in = !c.eof && !c.too_long && c.pending.size() < kMaxInFlight &&
                       c.pending_output() < kMaxPendingOutput;
  const std::uint32_t events = (want_in ? EPOLLIN : 0u) | (c.pending_output() ? EPOLLOUT : 0u);
  if (events == c.interest) return;
  epoll_event e{};
  e.events = events;
  e.data.u64 = c.id;
  ::epoll_ctl(epoll.fd, EPOLL_CTL_MOD, c.fd, &e);
  c.interest = events;
}

void QueryServer::State::close_connection(Connection& c) {
  ::epoll_ctl(epoll.fd, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  // Its requests still with the view: their replies will find no owner and be dropped.
  for (const Pending& p : c.pending) {
    if (!p.ready) ticket_owner.erase(p.ticket);
  }
  if (listener_paused) watch_listener(true);  // a descriptor is free: accept() may work now
  connections.erase(c.id);                    // c is gone after this
}

void QueryServer::State::accept_all() {
  for (;;) {
    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      const std::uint64_t id = next_connection++;
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.u64 = id;
      if (::epoll_ctl(epoll.fd, EPOLL_CTL_ADD, fd, &e) != 0) {
        ::close(fd);
        continue;
      }
      Connection& c = connections[id];
      c.fd = fd;
      c.id = id;
      c.interest = EPOLLIN;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Level-triggered: the listener would report the waiting client at once again. Stop
      // watching it until a connection closes or a moment passes.
      watch_listener(false);
    }
    return;
  }
}

// Reads one chunk; false: the connection died.
bool QueryServer::State::read_from(Connection& c) {
  for (;;) {
    const std::size_t at = c.input.size();
    c.input.resize(at + kReadChunk);
    const ssize_t got = ::recv(c.fd, c.input.data() + at, kReadChunk, MSG_DONTWAIT);
    const int err = errno;
    c.input.resize(at + static_cast<std::size_t>(got > 0 ? got : 0));
    if (got > 0) return true;
    if (got == 0) {
      c.eof = true;
      return true;
    }
    if (err == EINTR) continue;
    return err == EAGAIN || err == EWOULDBLOCK;
  }
}

void QueryServer::State::take_line(Connection& c, std::string_view line) {
  // A blank line is no request (someone typing into nc); it gets no reply.
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  Pending& p = c.pending.emplace_back();
  p.ticket = next_ticket++;
  QueryRequest request;
  std::string problem;
  if (!parse_request(line, request, problem)) {
    p.reply = malformed_reply(problem);
    p.ready = true;
    return;
  }
  request.connection = p.ticket;
  ticket_owner.emplace(p.ticket, c.id);
  requests.enqueue(request_producer, std::move(request));
  enqueued = true;
}

// Takes the whole lines read so far while the connection may have more in flight; true if
// it stopped for want of room (lines may wait in `input`).
bool QueryServer::State::parse(Connection& c) {
  if (c.too_long) return false;
  std::size_t start = 0;
  bool full = false;
  bool all_taken = false;  // input[start, end) holds no newline
  for (;;) {
    if (c.pending.size() >= kMaxInFlight) {
      full = true;
      break;
    }
    const std::size_t end = c.input.find('\n', std::max(start, c.scanned));
    if (end == std::string::npos) {
      all_taken = true;
      break;
    }
    if (end - start > kMaxLineBytes) {
      c.too_long = true;
      break;
    }
    take_line(c, std::string_view(c.input).substr(start, end - start));
    start = end + 1;
  }
  c.input.erase(0, start);
  c.scanned = all_taken ? c.input.size() : 0;
  if (all_taken && c.input.size() > kMaxLineBytes) c.too_long = true;
  if (c.too_long) {
    Pending& p = c.pending.emplace_back();
    p.ticket = next_ticket++;
    p.reply = dump(json{{"as_of_seq", 0},
                        {"error", "request too long: a request line may hold at most " +
                                      std::to_string(kMaxLineBytes) + " bytes"}});
    p.ready = true;
    // A stream is not read past a line it could not take.
    std::string().swap(c.input);
    c.scanned = 0;
  } else if (all_taken && c.eof && !c.input.empty()) {
    // The last line of a client that hung up without a newline: still a request.
    take_line(c, c.input);
    c.input.clear();
    c.scanned = 0;
  }
  return full;
}

// Writes what it can; false: the connection died (its replies are dropped).
bool QueryServer::State::write_to(Connection& c) {
  while (c.pending_output() != 0) {
    const ssize_t wrote = ::send(c.fd, c.output.data() + c.output_start, c.pending_output(),
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

// After anything happened on a connection: take lines, move the answered replies at the
// front to the output, write, and close when nothing more can come or go.
void QueryServer::State::settle(Connection& c) {
  for (;;) {
    const bool full = parse(c);
    while (!c.pending.empty() && c.pending.front().ready) {
      std::string& reply = c.pending.front().reply;
      // One reply per line: a view's pretty-printed JSON keeps its meaning with spaces for
      // newlines (a newline inside a JSON string would be invalid JSON anyway).
      std::replace(reply.begin(), reply.end(), '\n', ' ');
      c.output += reply;
      c.output += '\n';
      c.pending.pop_front();
    }
    // Lines that waited for room (malformed ones answered here make room at once).
    if (!full || c.pending.size() >= kMaxInFlight) break;
  }
  if (!write_to(c)) return close_connection(c);
  if ((c.eof || c.too_long) && c.pending.empty() && c.pending_output() == 0) {
    if (c.too_long) {
      // Take what the client still sends, so the close does not reset the connection
      // before it read our reply.
      std::array<char, 4096> sink;
      while (::recv(c.fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
      }
    }
    return close_connection(c);
  }
  set_interest(c);
}

void QueryServer::State::take_replies(std::vector<std::uint64_t>& touched) {
  std::array<Reply, 64> batch;
  for (;;) {
    const std::size_t got = replies.try_dequeue_bulk(batch.begin(), batch.size());
    for (std::size_t i = 0; i < got; ++i) {
      const auto owner = ticket_owner.find(batch[i].ticket);
      if (owner == ticket_owner.end()) continue;  // its connection closed (or answered twice)
      const std::uint64_t id = owner->second;
      ticket_owner.erase(owner);
      const auto found = connections.find(id);
      if (found == connections.end()) continue;
      Connection& c = found->second;
      const auto place = std::lower_bound(
          c.pending.begin(), c.pending.end(), batch[i].ticket,
          [](const Pending& p, std::uint64_t ticket) { return p.ticket < ticket; });
      if (place == c.pending.end() || place->ticket != batch[i].ticket) continue;
      place->reply = std::move(batch[i].json);
      place->ready = true;
      if (touched.empty() || touched.back() != id) touched.push_back(id);
    }
    if (got < batch.size()) break;
  }
}

void QueryServer::State::run() noexcept {
  // Signals (SIGINT, SIGTERM) are for the reader's main thread; this one never handles them.
  sigset_t signals;
  sigfillset(&signals);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<std::uint64_t> touched;
  std::array<epoll_event, 64> events;
  try {
    for (;;) {
      // acquire: pairs with the destructor's release store.
      if (stopping.load(std::memory_order_acquire)) break;
      // acq_rel: see the top of this file; cleared before every look at `replies`.
      reply_signalled.exchange(false, std::memory_order_acq_rel);
      touched.clear();
      take_replies(touched);
      for (const std::uint64_t id : touched) {
        if (const auto found = connections.find(id); found != connections.end()) {
          settle(found->second);  // may also take lines that waited for room
        }
      }
      if (enqueued) {
        enqueued = false;
        wake();
      }

      const int ready = ::epoll_wait(epoll.fd, events.data(), static_cast<int>(events.size()),
                                     listener_paused ? kPausedListenerMs : -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::io, "epoll_wait: " + errno_text(errno));
      }
      if (listener_paused && ready == 0) watch_listener(true);
      for (int i = 0; i < ready; ++i) {
        const std::uint64_t key = events[i].data.u64;
        if (key == kListenerKey) {
          accept_all();
          continue;
        }
        if (key == kEventKey) {
          std::uint64_t count = 0;
          [[maybe_unused]] const ssize_t got = ::read(event.fd, &count, sizeof count);
          continue;
        }
        const auto found = connections.find(key);
        if (found == connections.end()) continue;  // closed earlier in this round
        Connection& c = found->second;
        const std::uint32_t what = events[i].events;
        if ((what & (EPOLLHUP | EPOLLERR)) != 0) {
          // Gone both ways: no reply can reach it, so what it sent is not asked either.
          close_connection(c);
          continue;
        }
        if ((what & EPOLLIN) != 0 && !read_from(c)) {
          close_connection(c);
          continue;
        }
        settle(c);
      }
      if (enqueued) {
        enqueued = false;
        wake();
      }
    }
  } catch (const std::exception&) {
    // Out of memory, or epoll broke: stop serving. Clients see their connection close and
    // say so; the view thread goes on (its replies are never read).
  }
  for (auto& [id, c] : connections) ::close(c.fd);
  connections.clear();
  ticket_owner.clear();
}

// ---- QueryClient ---------------------------------------------------------------------

struct QueryClient::State {
  Fd socket;
  std::string instance;
  std::string reader_id;
  fs::path path;
  std::string input;  // read, not yet a whole reply line

  [[noreturn]] void throw_closed() const {
    throw Error(ErrorCode::io, "reader \"" + reader_id + "\" of instance \"" + instance +
                                   "\" closed the connection: it stopped or crashed; check it "
                                   "with evring stat --name " +
                                   instance + " and restart it");
  }
};

namespace {

// "its readers are: kv-1, bank-1", or how to start one.
std::string what_readers_there_are(const std::string& instance, const std::string& reader_id) {
  std::string start_one = "start one with evring-reader --name " + instance +
                          " --view kv|bank|stats|tail|PATH.so --id " + reader_id;
  try {
    std::string ids;
    for (const ReaderInfo& reader : Registry::open(instance, Access::read_only).readers()) {
      if (!reader.alive || reader.id.empty()) continue;
      ids += (ids.empty() ? "" : ", ") + reader.id;
    }
    if (ids.empty()) return "it has no live reader: " + start_one;
    return "its readers are: " + ids + " (or " + start_one + ")";
  } catch (const std::exception&) {
    return start_one;  // no registry: no writer either, or not ours to read
  }
}

}  // namespace

QueryClient QueryClient::connect(const std::string& instance, const std::string& reader_id) {
  auto state = std::make_unique<State>();
  state->instance = instance;
  state->reader_id = reader_id;
  state->path = query_socket_path(instance, reader_id);
  const sockaddr_un address = socket_address(state->path);
  state->socket = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (state->socket.fd < 0) {
    throw Error(ErrorCode::resource, "socket(AF_UNIX): " + errno_text(errno));
  }
  if (::connect(state->socket.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
      0) {
    const int err = errno;
    const std::string path = state->path.string();
    if (err == ENOENT || err == ECONNREFUSED) {
      throw Error(ErrorCode::no_reader,
                  "instance \"" + instance + "\" has no reader with id \"" + reader_id +
                      "\": nothing listens on " + path +
                      (err == ECONNREFUSED ? " (the socket file is a dead reader's)" : "") + "; " +
                      what_readers_there_are(instance, reader_id));
    }
    if (err == EACCES || err == EPERM) {
      throw Error(ErrorCode::permission_denied,
                  "cannot connect to " + path + ": " + errno_text(err) +
                      " (run as the reader's user, or start the reader with a socket mode "
                      "that lets you in)");
    }
    throw Error(ErrorCode::io, "cannot connect to " + path + ": " + errno_text(err));
  }
  return QueryClient(std::move(state));
}

QueryClient::QueryClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
QueryClient::QueryClient(QueryClient&&) noexcept = default;
QueryClient& QueryClient::operator=(QueryClient&&) noexcept = default;
QueryClient::~QueryClient() = default;

QueryReply QueryClient::query(std::initializer_list<std::string_view> words,
                              std::uint64_t after_seq, std::chrono::milliseconds timeout) {
  return query(std::span<const std::string_view>(words.begin(), words.size()), after_seq, timeout);
}

QueryReply QueryClient::query(std::span<const std::string_view> words, std::uint64_t after_seq,
                              std::chrono::milliseconds timeout) {
  State& s = *state_;
  try {
    check_utf8_words(words);
  } catch (const MalformedInput& refused) {
    // Sent as JSON it would turn into U+FFFD and ask about another key.
    throw Error(ErrorCode::invalid_argument, std::string("query refused: ") + refused.what());
  }
  const std::uint64_t timeout_ms =
      std::clamp<std::int64_t>(timeout.count(), 0, static_cast<std::int64_t>(kMaxTimeoutMs));
  json request = json::object();
  json& array = request["words"] = json::array();
  for (const std::string_view word : words) array.push_back(std::string(word));
  request["after"] = after_seq;
  request["timeout_ms"] = timeout_ms;
  const std::string line = dump(request) + '\n';

  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t wrote = ::send(s.socket.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (wrote > 0) {
      sent += static_cast<std::size_t>(wrote);
    } else if (wrote < 0 && errno == EINTR) {
      continue;
    } else if (wrote < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      s.throw_closed();
    } else {
      throw Error(ErrorCode::io,
                  "cannot send a query to " + s.path.string() + ": " + errno_text(errno));
    }
  }

  const std::int64_t wait_ms = static_cast<std::int64_t>(timeout_ms) + kClientGraceMs;
  const std::int64_t deadline = monotonic_ns() + wait_ms * 1'000'000;
  std::size_t end = std::string::npos;
  for (std::size_t scanned = 0; (end = s.input.find('\n', scanned)) == std::string::npos;) {
    scanned = s.input.size();
    const std::int64_t left_ns = deadline - monotonic_ns();
    if (left_ns <= 0) {
      throw Error(ErrorCode::io, "reader \"" + s.reader_id + "\" of instance \"" + s.instance +
                                     "\" did not answer within " + std::to_string(wait_ms) +
                                     " ms: it may be stuck; check it with evring stat --name " +
                                     s.instance);
    }
    pollfd ready{s.socket.fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left_ns / 1'000'000 + 1));
    if (polled < 0 && errno != EINTR) {
      throw Error(ErrorCode::io, "poll on " + s.path.string() + ": " + errno_text(errno));
    }
    if (polled <= 0) continue;
    std::array<char, 4096> chunk;
    const ssize_t got = ::recv(s.socket.fd, chunk.data(), chunk.size(), 0);
    if (got > 0) {
      s.input.append(chunk.data(), static_cast<std::size_t>(got));
    } else if (got == 0 || errno == ECONNRESET) {
      s.throw_closed();
    } else if (errno != EINTR && errno != EAGAIN) {
      throw Error(ErrorCode::io,
                  "cannot read a reply from " + s.path.string() + ": " + errno_text(errno));
    }
  }

  QueryReply reply;
  reply.raw = s.input.substr(0, end);
  s.input.erase(0, end + 1);
  json parsed;
  try {
    parsed = json::parse(reply.raw);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::io, "reader \"" + s.reader_id + "\" sent a reply that is not JSON (" +
                                   json_problem(e) + "): " + reply.raw.substr(0, 200));
  }
  if (!parsed.is_object()) {
    throw Error(ErrorCode::io,
                "reader \"" + s.reader_id +
                    "\" sent a reply that is not a JSON object: " + reply.raw.substr(0, 200));
  }
  if (const auto stale = parsed.find("stale"); stale != parsed.end() && stale->is_boolean()) {
    reply.stale = stale->get<bool>();
  }
  if (const auto seq = parsed.find("as_of_seq"); seq != parsed.end() && seq->is_number_unsigned()) {
    reply.as_of_seq = seq->get<std::uint64_t>();
  }
  if (const auto result = parsed.find("result"); result != parsed.end()) {
    reply.result = dump(*result);
  }
  if (const auto error = parsed.find("error"); error != parsed.end()) {
    reply.error = error->is_string() ? error->get<std::string>() : dump(*error);
  }
  return reply;
}

// ---- Session -------------------------------------------------------------------------

Session::Session(Client commands, QueryClient queries) noexcept
    : commands_(std::move(commands)), queries_(std::move(queries)) {}

CommandReply Session::submit_text(std::initializer_list<std::string_view> words,
                                  std::string_view command_id) {
  return submit_text(std::span<const std::string_view>(words.begin(), words.size()), command_id);
}

CommandReply Session::submit_text(std::span<const std::string_view> words,
                                  std::string_view command_id) {
  CommandReply reply = commands_.submit_text(words, command_id);
  // A duplicate's seq is its original's, maybe older than the last: keep the larger, so a
  // query waits for everything this session wrote.
  if (reply.accepted() || reply.duplicate()) last_seq_ = std::max(last_seq_, reply.seq);
  return reply;
}

QueryReply Session::query(std::initializer_list<std::string_view> words,
                          std::chrono::milliseconds timeout) {
  return queries_.query(words, last_seq_, timeout);
}

QueryReply Session::query(std::span<const std::string_view> words,
                          std::chrono::milliseconds timeout) {
  return queries_.query(words, last_seq_, timeout);
}

}  // namespace evring
