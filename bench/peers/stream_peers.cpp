// The pipe and the Unix domain socket (SOCK_STREAM, a socketpair): byte streams, so the
// reader reads exactly one message's bytes, in as many read() calls as the kernel needs.
// Blocking: read() sleeps until data is there. Spinning: the fd is O_NONBLOCK and the
// reader calls read() again at once on EAGAIN.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <vector>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "peer_trial.hpp"

namespace evring::bench {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const noexcept { return fd_; }
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

class StreamSender : public PeerSender {
 public:
  StreamSender(int fd, std::size_t max_bytes) : fd_(fd), buffer_(max_bytes) {}
  std::span<std::byte> prepare(std::size_t bytes) override {
    bytes_ = bytes;
    return {buffer_.data(), bytes};
  }
  void send() override {
    for (std::size_t done = 0; done < bytes_;) {
      const ssize_t n = ::write(fd_, buffer_.data() + done, bytes_ - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::io, "write to the reader: " + errno_text(errno));
      }
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_;
  std::vector<std::byte> buffer_;
  std::size_t bytes_ = 0;
};

class StreamReceiver : public PeerReceiver {
 public:
  StreamReceiver(int fd, std::size_t bytes, bool spin) : fd_(fd), buffer_(bytes) {
    if (spin && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
      throw Error(ErrorCode::io, "fcntl O_NONBLOCK: " + errno_text(errno));
    }
  }
  std::span<const std::byte> receive(std::int64_t deadline_ns) override {
    std::uint64_t empty_reads = 0;
    for (std::size_t done = 0; done < buffer_.size();) {
      const ssize_t n = ::read(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (n == 0) {
        throw Error(ErrorCode::io, "the writer closed its end mid-run");
      } else if (errno == EAGAIN) {
        if ((++empty_reads & 0xFFFF) == 0 && monotonic_ns() > deadline_ns) {
          throw Error(ErrorCode::io, "no message before the deadline; is the writer stuck?");
        }
        cpu_relax();
      } else if (errno != EINTR) {
        throw Error(ErrorCode::io, "read from the writer: " + errno_text(errno));
      }
    }
    return buffer_;
  }

 private:
  int fd_;
  std::vector<std::byte> buffer_;
};

// Both ends made before the fork; each side closes the end it does not use, so the other
// sees EOF (reader) or EPIPE (writer) if it dies.
class StreamLink : public PeerLink {
 public:
  StreamLink(std::array<int, 2> read_write, std::size_t bytes, bool spin)
      : read_end_(read_write[0]), write_end_(read_write[1]), bytes_(bytes), spin_(spin) {}
  std::unique_ptr<PeerSender> open_sender() override {
    read_end_.close();
    // A dead reader is an EPIPE error with a message, not a signal that kills the bench.
    std::signal(SIGPIPE, SIG_IGN);
    return std::make_unique<StreamSender>(write_end_.get(), bytes_);
  }
  std::unique_ptr<PeerReceiver> open_receiver() override {
    write_end_.close();
    return std::make_unique<StreamReceiver>(read_end_.get(), bytes_, spin_);
  }

 private:
  Fd read_end_;
  Fd write_end_;
  std::size_t bytes_;
  bool spin_;
};

std::unique_ptr<PeerLink> make_pipe(std::size_t bytes, bool spin) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw Error(ErrorCode::resource, "pipe2: " + errno_text(errno));
  }
  return std::make_unique<StreamLink>(fds, bytes, spin);
}

std::unique_ptr<PeerLink> make_socket(std::size_t bytes, bool spin) {
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
    throw Error(ErrorCode::resource, "socketpair: " + errno_text(errno));
  }
  return std::make_unique<StreamLink>(fds, bytes, spin);
}

}  // namespace

std::vector<PeerVariant> pipe_and_socket_variants() {
  const auto parent = PeerPlacement::parent_writes;
  return {
      {"unix-socket", WaitKind::block, "blocking read()", parent,
       [](std::size_t bytes) { return make_socket(bytes, false); }},
      {"unix-socket", WaitKind::spin, "read() on O_NONBLOCK, again on EAGAIN", parent,
       [](std::size_t bytes) { return make_socket(bytes, true); }},
      {"pipe", WaitKind::block, "blocking read()", parent,
       [](std::size_t bytes) { return make_pipe(bytes, false); }},
      {"pipe", WaitKind::spin, "read() on O_NONBLOCK, again on EAGAIN", parent,
       [](std::size_t bytes) { return make_pipe(bytes, true); }},
  };
}

}  // namespace evring::bench
