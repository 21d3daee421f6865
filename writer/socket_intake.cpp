#include "socket_intake.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"

namespace fs = std::filesystem;

#if defined(__SANITIZE_THREAD__)
// moodycamel::ConcurrentQueue hands a block back to its producer with a relaxed load and a
// standalone acquire fence (Block::is_empty), which GCC's TSan does not model (see the
// top-level CMakeLists.txt): it reports the reuse of a slot the consumer has moved out of
// as a race. Only frames inside the queue are suppressed; our own code is still checked.
extern "C" const char* __tsan_default_suppressions() {
  return "race:moodycamel::ConcurrentQueue*::ExplicitProducer::enqueue*\n";
}
#endif

namespace evring::writer {
namespace {

namespace frame = socket_frame;

constexpr std::uint64_t kListenerKey = 0;  // epoll data of the listener
constexpr std::uint64_t kEventKey = 1;     // and of the eventfd; connections count from 2
constexpr std::size_t kReadChunk = 64u << 10;
// Per connection: stop reading while this many commands await their replies, or while
// this much output waits for the client to read it. Bounds what a client that sends
// without reading can make the writer hold.
constexpr std::uint32_t kMaxInFlight = 1024;
constexpr std::size_t kMaxPendingOutput = 1u << 20;
constexpr std::int64_t kFinishTimeoutNs = 2'000'000'000;  // stop(): per slow reader
constexpr int kPausedListenerMs = 100;  // out of descriptors: retry accept() after this

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int value) : fd(value) {}
  Fd(Fd&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
};

sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.empty() || text.size() >= sizeof address.sun_path) {
    throw Error(ErrorCode::invalid_argument, "socket path \"" + text + "\" must be 1 to " +
                                                 std::to_string(sizeof address.sun_path - 1) +
                                                 " bytes long: choose a shorter --socket-path");
  }
  std::memcpy(address.sun_path, text.data(), text.size());
  return address;
}

// The socket's folder: created 0700 when missing (it holds nothing anyone else needs).
void prepare_folder(const fs::path& folder) {
  if (folder.empty()) return;
  std::error_code ec;
  if (fs::is_directory(folder, ec)) return;
  fs::create_directories(folder, ec);
  if (ec) {
    const int err = ec.value();
    throw Error(err == EACCES || err == EPERM || err == EROFS ? ErrorCode::permission_denied
                                                              : ErrorCode::io,
                "cannot create the socket folder " + folder.string() + ": " + ec.message() +
                    " (choose another --socket-path)");
  }
  fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
}

// A socket file left at `path`: refused if a writer listens on it, removed if its listener
// is dead (kill -9 leaves the file behind), refused if it is not a socket at all.
void clear_stale_socket(const fs::path& path, const sockaddr_un& address,
                        const SocketIntake::Log& log) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return;  // nothing there
  if (!S_ISSOCK(info.st_mode)) {
    throw Error(ErrorCode::invalid_argument,
                path.string() + " exists and is not a socket: remove it, or choose another " +
                    "--socket-path");
  }
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.fd < 0) throw Error(ErrorCode::resource, "socket(AF_UNIX): " + errno_text(errno));
  if (::connect(probe.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    throw Error(ErrorCode::writer_running,
                "socket " + path.string() +
                    " is in use by another evring-writer: stop it first, or give this one "
                    "another --socket-path");
  }
  const int err = errno;
  if (err != ECONNREFUSED) {
    throw Error(err == EACCES || err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot probe the socket file " + path.string() + ": " + errno_text(err) +
                    " (remove it, or choose another --socket-path)");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    const int unlink_err = errno;
    throw Error(ErrorCode::io, "cannot remove the stale socket file " + path.string() + ": " +
                                   errno_text(unlink_err));
  }
  log(LogLevel::warn,
      "socket intake: replaced the stale socket file " + path.string() + " (its writer is gone)");
}

void add_to_epoll(int epoll_fd, int fd, std::uint32_t events, std::uint64_t key) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw Error(ErrorCode::resource, "epoll_ctl: " + errno_text(errno));
  }
}

// One client connection, owned by the socket thread.
struct Connection {
  int fd = -1;
  std::uint64_t id = 0;
  std::vector<std::byte> input;  // read, not yet parsed from input_start on
  std::size_t input_start = 0;
  std::vector<std::byte> output;  // replies not yet written, from output_start on
  std::size_t output_start = 0;
  std::uint32_t in_flight = 0;  // enqueued, reply not yet come back
  std::uint32_t interest = 0;   // what epoll watches now
  bool eof = false;             // the client sends no more
  bool broken = false;          // a bad frame: answer `error` after in_flight, then close
  bool error_sent = false;
  std::string error;

  std::size_t pending_output() const noexcept { return output.size() - output_start; }
};

}  // namespace

SocketIntake::SocketIntake(const SocketIntakeOptions& options, std::function<void()> wake_apply,
                           Log log)
    : path_(options.path),
      log_(std::move(log)),
      wake_apply_(std::move(wake_apply)),
      request_producer_(requests_),
      request_consumer_(requests_),
      reply_producer_(replies_),
      reply_consumer_(replies_) {
  const sockaddr_un address = socket_address(path_);
  prepare_folder(path_.parent_path());
  clear_stale_socket(path_, address, log_);

  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener.fd < 0) throw Error(ErrorCode::resource, "socket(AF_UNIX): " + errno_text(errno));
  if (::bind(listener.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    if (err == EADDRINUSE) {
      throw Error(ErrorCode::writer_running,
                  "socket " + path_.string() +
                      " was just taken by another process: stop it, or choose another "
                      "--socket-path");
    }
    throw Error(err == EACCES || err == EPERM || err == EROFS ? ErrorCode::permission_denied
                                                              : ErrorCode::io,
                "cannot bind the socket " + path_.string() + ": " + errno_text(err) +
                    " (choose another --socket-path)");
  }
  // From here on a failure removes the file it bound.
  try {
    // Before listen(): nobody can connect yet, so the umask's mode is never in force.
    struct stat info {};
    if (::chmod(path_.c_str(), options.mode & 07777) != 0 ||
        (options.group != static_cast<gid_t>(-1) &&
         ::chown(path_.c_str(), static_cast<uid_t>(-1), options.group) != 0) ||
        ::stat(path_.c_str(), &info) != 0) {
      const int err = errno;
      throw Error(err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                  "cannot set the mode and group of " + path_.string() + ": " + errno_text(err));
    }
    socket_dev_ = info.st_dev;
    socket_ino_ = info.st_ino;
    if (::listen(listener.fd, SOMAXCONN) != 0) {
      const int err = errno;
      throw Error(ErrorCode::io, "cannot listen on " + path_.string() + ": " + errno_text(err));
    }
    Fd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (event.fd < 0 || epoll.fd < 0) {
      throw Error(ErrorCode::resource, "eventfd or epoll: " + errno_text(errno));
    }
    add_to_epoll(epoll.fd, listener.fd, EPOLLIN, kListenerKey);
    add_to_epoll(epoll.fd, event.fd, EPOLLIN, kEventKey);
    event_fd_ = event.release();
    epoll_fd_ = epoll.release();
  } catch (...) {
    ::unlink(path_.c_str());
    throw;
  }
  listener_ = listener.release();
}

void SocketIntake::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { thread_main(); });
}

SocketIntake::~SocketIntake() {
  stop();
}

bool SocketIntake::next(SocketCommand& out) {
  return requests_.try_dequeue(request_consumer_, out);
}

bool SocketIntake::pending() const {
  return requests_.size_approx() != 0;
}

void SocketIntake::reply(const SocketReplyAddress& to, const CommandReply& answer) {
  replies_.enqueue(reply_producer_, Reply{to, answer});
  // seq_cst fence: pairs with the socket thread's fence between raising socket_idle_ and
  // its last look at `replies_` before epoll_wait: either it sees this reply, or we see
  // it idle here and write the eventfd.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // relaxed: ordered by the fence above; the exchange only elects one waker per sleep (a
  // wasted eventfd write is harmless, a missed one is not, and the fence rules it out).
  if (socket_idle_.load(std::memory_order_relaxed) &&
      socket_idle_.exchange(false, std::memory_order_relaxed)) {
    ring_socket_thread();
  }
}

void SocketIntake::ring_socket_thread() noexcept {
  const std::uint64_t one = 1;
  // Only fails if the counter is about to overflow, which a pending wake-up makes moot.
  [[maybe_unused]] const ssize_t wrote = ::write(event_fd_, &one, sizeof one);
}

void SocketIntake::set_phase(Phase phase) {
  // release: pairs with the socket thread's acquire load; the replies enqueued before
  // (stop()) are in the queue when it sees the new phase.
  phase_.store(phase, std::memory_order_release);
  ring_socket_thread();
}

void SocketIntake::stop_taking() {
  if (!thread_.joinable()) return;
  // relaxed: only this thread (the apply thread) writes phase_.
  if (phase_.load(std::memory_order_relaxed) == Phase::running) {
    set_phase(Phase::no_more_commands);
  }
  // acquire: pairs with the socket thread's release store once it stopped reading; every
  // command it enqueued is in the queue by then.
  taking_stopped_.wait(false, std::memory_order_acquire);
}

void SocketIntake::stop() {
  if (thread_.joinable()) {
    set_phase(Phase::finishing);
    thread_.join();
  }
  for (int* fd : {&listener_, &event_fd_, &epoll_fd_}) {
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
  }
  // Ours only: a successor may have replaced a file we left (it cannot while we listen).
  struct stat info {};
  if (socket_ino_ != 0 && ::lstat(path_.c_str(), &info) == 0 && info.st_dev == socket_dev_ &&
      info.st_ino == socket_ino_) {
    ::unlink(path_.c_str());
  }
  socket_ino_ = 0;
}

void SocketIntake::thread_main() {
  // Signals (SIGINT, SIGTERM) are for the apply thread: its sleep is interrupted by them,
  // this thread's epoll_wait need not be.
  sigset_t signals;
  sigfillset(&signals);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unordered_map<std::uint64_t, Connection> connections;
  std::uint64_t next_id = kEventKey + 1;
  bool reading = true;
  bool listener_paused = false;
  std::int64_t finish_deadline = 0;
  bool enqueued = false;

  const auto set_interest = [&](Connection& c) {
    const bool want_in = reading && !c.eof && !c.broken && c.in_flight < kMaxInFlight &&
                         c.pending_output() < kMaxPendingOutput;
    const std::uint32_t events = (want_in ? EPOLLIN : 0u) | (c.pending_output() ? EPOLLOUT : 0u);
    if (events == c.interest) return;
    epoll_event event{};
    event.events = events;
    event.data.u64 = c.id;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
    c.interest = events;
  };
  const auto close_connection = [&](Connection& c) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    // A descriptor is free again: accept() may work now.
    if (listener_paused && listener_ >= 0) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = kListenerKey;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listener_, &event);
      listener_paused = false;
    }
    connections.erase(c.id);  // c is gone after this
  };
  // Parses whole frames and enqueues them, as long as the connection may have more in
  // flight (or `all`: the client has hung up and nobody is waiting for flow control).
  const auto parse = [&](Connection& c, bool all) {
    while (!c.broken && reading && (all || c.in_flight < kMaxInFlight)) {
      const std::size_t have = c.input.size() - c.input_start;
      if (have < frame::kLengthBytes) break;
      const std::byte* at = c.input.data() + c.input_start;
      std::uint32_t body_bytes = 0;
      std::memcpy(&body_bytes, at, sizeof body_bytes);
      if (body_bytes < frame::kRequestHeaderBytes || body_bytes > frame::kMaxRequestBody) {
        c.broken = true;
        c.error = "malformed frame: a body of " + std::to_string(body_bytes) +
                  " bytes, expected 8 to " + std::to_string(frame::kMaxRequestBody) +
                  " (u16 format, u16 id_bytes, u32 payload_bytes, id, payload)";
        break;
      }
      if (have < frame::kLengthBytes + body_bytes) break;
      const std::byte* body = at + frame::kLengthBytes;
      std::uint16_t format = 0;
      std::uint16_t id_bytes = 0;
      std::uint32_t payload_bytes = 0;
      std::memcpy(&format, body, 2);
      std::memcpy(&id_bytes, body + 2, 2);
      std::memcpy(&payload_bytes, body + 4, 4);
      const bool known_format = format == static_cast<std::uint16_t>(CommandFormat::bytes) ||
                                format == static_cast<std::uint16_t>(CommandFormat::text);
      if (!known_format || id_bytes > kMaxCommandIdBytes || payload_bytes > kMaxCommandBytes ||
          frame::kRequestHeaderBytes + id_bytes + payload_bytes != body_bytes) {
        c.broken = true;
        c.error = "malformed frame: format " + std::to_string(format) + " (1 bytes, 2 text), " +
                  std::to_string(id_bytes) + " id bytes (at most " +
                  std::to_string(kMaxCommandIdBytes) + "), " + std::to_string(payload_bytes) +
                  " payload bytes (at most " + std::to_string(kMaxCommandBytes) +
                  ") in a body of " + std::to_string(body_bytes);
        break;
      }
      SocketCommand command;
      command.from = SocketReplyAddress{c.id};
      command.format = static_cast<CommandFormat>(format);
      command.id_bytes = id_bytes;
      command.bytes.assign(body + frame::kRequestHeaderBytes, body + body_bytes);
      requests_.enqueue(request_producer_, std::move(command));
      ++c.in_flight;
      enqueued = true;
      c.input_start += frame::kLengthBytes + body_bytes;
    }
    if (c.broken || c.input_start == c.input.size()) {
      c.input.clear();  // a broken stream is not read past its bad frame
      c.input_start = 0;
    } else if (c.input_start > kReadChunk) {
      c.input.erase(c.input.begin(), c.input.begin() + static_cast<std::ptrdiff_t>(c.input_start));
      c.input_start = 0;
    }
  };
  // Reads what is there (one chunk, or everything when `all`); false: the connection died.
  const auto read_from = [&](Connection& c, bool all) {
    for (;;) {
      const std::size_t at = c.input.size();
      c.input.resize(at + kReadChunk);
      const ssize_t got = ::recv(c.fd, c.input.data() + at, kReadChunk, MSG_DONTWAIT);
      const int err = errno;
      c.input.resize(at + static_cast<std::size_t>(got > 0 ? got : 0));
      if (got > 0) {
        if (!all) return true;
        parse(c, true);
        continue;
      }
      if (got == 0) {
        c.eof = true;
        return true;
      }
      if (err == EINTR) continue;
      return err == EAGAIN || err == EWOULDBLOCK;
    }
  };
  // Writes what it can; false: the connection died (its replies are dropped).
  const auto write_to = [&](Connection& c) {
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
      c.output.erase(c.output.begin(),
                     c.output.begin() + static_cast<std::ptrdiff_t>(c.output_start));
      c.output_start = 0;
    }
    return true;
  };
  // After anything happened on a connection: parse, answer a bad frame once the replies
  // before it are out, write, and close when nothing more can come or go.
  const auto settle = [&](Connection& c) {
    parse(c, false);
    if (c.broken && c.in_flight == 0 && !c.error_sent) {
      CommandReply malformed;
      malformed.status = ReplyStatus::rejected;
      malformed.code = RejectCode::malformed;
      malformed.reason = c.error;
      frame::append_reply(c.output, malformed);
      c.error_sent = true;
    }
    if (!write_to(c)) return close_connection(c);
    const bool done_reading = c.eof || c.broken || !reading;
    if (done_reading && c.in_flight == 0 && c.pending_output() == 0) {
      if (c.broken) {
        // Take what the client sent after its bad frame, so the close does not reset the
        // connection before it read our reply.
        std::array<std::byte, 4096> sink;
        while (::recv(c.fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
        }
      }
      return close_connection(c);
    }
    set_interest(c);
  };
  const auto accept_all = [&] {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        const std::uint64_t id = next_id++;
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = id;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
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
        // Level-triggered: the listener would report the waiting client at once again.
        // Stop watching it until a connection closes or a moment passes.
        log_(LogLevel::warn, "socket intake: cannot accept a connection: " + errno_text(errno) +
                                 " (raise the descriptor limit, ulimit -n)");
        epoll_event event{};
        event.data.u64 = kListenerKey;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listener_, &event);
        listener_paused = true;
      }
      return;
    }
  };
  const auto stop_reading = [&] {
    reading = false;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listener_, nullptr);
    ::close(std::exchange(listener_, -1));
    std::vector<std::uint64_t> ids;
    for (auto& [id, c] : connections) ids.push_back(id);
    for (const std::uint64_t id : ids) settle(connections.at(id));
    // release: pairs with stop_taking()'s acquire wait; nothing is enqueued after this.
    taking_stopped_.store(true, std::memory_order_release);
    taking_stopped_.notify_all();
  };

  std::vector<Reply> batch(64);
  std::vector<std::uint64_t> touched;
  std::array<epoll_event, 64> events;
  try {
    for (;;) {
      // acquire: pairs with set_phase(); see it there.
      const Phase phase = phase_.load(std::memory_order_acquire);
      if (phase != Phase::running && reading) stop_reading();

      // Replies first: they free flow control and complete what clients wait for.
      touched.clear();
      for (;;) {
        const std::size_t got = replies_.try_dequeue_bulk(reply_consumer_, batch.begin(), 64);
        for (std::size_t i = 0; i < got; ++i) {
          const auto found = connections.find(batch[i].to.connection);
          if (found == connections.end()) continue;  // it closed: dropped
          Connection& c = found->second;
          --c.in_flight;
          frame::append_reply(c.output, batch[i].reply);
          if (touched.empty() || touched.back() != c.id) touched.push_back(c.id);
        }
        if (got < 64) break;
      }
      for (const std::uint64_t id : touched) {
        if (const auto found = connections.find(id); found != connections.end()) {
          settle(found->second);
        }
      }

      int timeout_ms = listener_paused ? kPausedListenerMs : -1;
      if (phase == Phase::finishing) {
        const std::int64_t now = monotonic_ns();
        if (finish_deadline == 0) finish_deadline = now + kFinishTimeoutNs;
        if (connections.empty() || now >= finish_deadline) break;
        timeout_ms = static_cast<int>(
            std::min<std::int64_t>((finish_deadline - now) / 1'000'000 + 1, kPausedListenerMs));
      }
      if (enqueued) {
        enqueued = false;
        wake_apply_();
      }

      // relaxed store: ordered by the fence. seq_cst fence: pairs with reply()'s fence
      // after its enqueue (see there): either we see its reply now or it rings us.
      socket_idle_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (replies_.size_approx() != 0 || phase_.load(std::memory_order_relaxed) != phase) {
        timeout_ms = 0;
      }
      const int ready =
          ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      // relaxed: a waker that still sees true only writes the eventfd once more.
      socket_idle_.store(false, std::memory_order_relaxed);
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::io, "epoll_wait: " + errno_text(errno));
      }
      if (listener_paused && ready == 0 && listener_ >= 0) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = kListenerKey;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listener_, &event);
        listener_paused = false;
      }
      for (int i = 0; i < ready; ++i) {
        const std::uint64_t key = events[i].data.u64;
        if (key == kListenerKey) {
          if (reading) accept_all();
          continue;
        }
        if (key == kEventKey) {
          std::uint64_t count = 0;
          [[maybe_unused]] const ssize_t got = ::read(event_fd_, &count, sizeof count);
          continue;
        }
        const auto found = connections.find(key);
        if (found == connections.end()) continue;  // closed earlier in this round
        Connection& c = found->second;
        const std::uint32_t what = events[i].events;
        if ((what & (EPOLLHUP | EPOLLERR)) != 0) {
          // The client is gone both ways: decide what it sent completely (it was
          // submitted), then close, since no reply can reach it.
          if (reading && !c.broken && !c.eof) read_from(c, true);
          close_connection(c);
          continue;
        }
        if ((what & EPOLLIN) != 0 && !read_from(c, false)) {
          close_connection(c);
          continue;
        }
        settle(c);
      }
      if (enqueued) {
        enqueued = false;
        wake_apply_();
      }
    }
  } catch (const std::exception& e) {
    log_(LogLevel::error, std::string("socket intake stopped: ") + e.what());
  }
  for (auto& [id, c] : connections) ::close(c.fd);
  connections.clear();
  // relaxed: only this thread stores it.
  if (!taking_stopped_.load(std::memory_order_relaxed)) {
    // release: as in stop_reading(); stop_taking() must not wait for a thread that is gone.
    taking_stopped_.store(true, std::memory_order_release);
    taking_stopped_.notify_all();
  }
}

}  // namespace evring::writer
