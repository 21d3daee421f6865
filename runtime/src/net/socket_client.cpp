#include "evring/socket_client.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evring/client.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "net/command_frame.hpp"
#include "net/unix_socket.hpp"
#include "sys/paths.hpp"

namespace evring {
std::filesystem::path default_socket_path(const std::string& instance) {
  return default_runtime_folder() / (instance + ".sock");
}

SocketClient SocketClient::connect(const std::filesystem::path& path) {
  const std::string text = path.string();
  const sockaddr_un address = net::unix_address(path, "socket");
  int err = 0;
  net::Fd socket = net::connect_unix(address, err);
  if (!socket.valid()) {
    // The stem of a default path is the instance name, the likeliest thing to fix.
    const std::string instance = path.stem().string();
    if (err == ENOENT || err == ECONNREFUSED) {
      throw Error(ErrorCode::no_instance,
                  "no evring-writer listens on " + text +
                      ": the instance has no socket intake: start evring-writer --name " +
                      instance + " --socket" +
                      (err == ECONNREFUSED ? " (the socket file is a dead writer's)" : ""));
    }
    if (err == EACCES || err == EPERM) {
      throw Error(ErrorCode::permission_denied,
                  "cannot connect to " + text + ": " + errno_text(err) +
                      " (run as the writer's user, or start the writer with a --socket-mode "
                      "that lets you in, in a folder you may enter)");
    }
    throw Error(ErrorCode::io, "cannot connect to " + text + ": " + errno_text(err));
  }
  return SocketClient(socket.release(), path);
}

SocketClient::SocketClient(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}

void SocketClient::set_reply_timeout(std::chrono::milliseconds timeout) {
  const timeval limit{static_cast<time_t>(timeout.count() / 1000),
                      static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) != 0) {
    throw Error(ErrorCode::io,
                "setsockopt(SO_RCVTIMEO) on " + path_.string() + ": " + errno_text(errno));
  }
  reply_timeout_ = timeout;
}

SocketClient::SocketClient(SocketClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      reply_timeout_(other.reply_timeout_),
      frame_(std::move(other.frame_)),
      input_(std::move(other.input_)),
      taken_(std::move(other.taken_)),
      sent_(other.sent_),
      received_(other.received_),
      read_(other.read_) {}

SocketClient& SocketClient::operator=(SocketClient&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    reply_timeout_ = other.reply_timeout_;
    frame_ = std::move(other.frame_);
    input_ = std::move(other.input_);
    taken_ = std::move(other.taken_);
    sent_ = other.sent_;
    received_ = other.received_;
    read_ = other.read_;
  }
  return *this;
}

SocketClient::~SocketClient() {
  if (fd_ >= 0) ::close(fd_);
}

void SocketClient::throw_gone(const std::string& what) const {
  const std::uint64_t unknown = sent_ - read_;
  throw Error(ErrorCode::writer_gone,
              "the writer behind " + path_.string() + " " + what +
                  (unknown > 0 ? " with " + std::to_string(unknown) +
                                     " command(s) in flight whose outcome is unknown: "
                                     "reconnect and resubmit them with the same command id"
                               : std::string()) +
                  "; restart it with evring-writer --name " + path_.stem().string() + " --socket");
}

void SocketClient::send(std::span<const std::byte> command, std::string_view command_id) {
  send_encoded(CommandFormat::bytes, command, command_id);
}

void SocketClient::send_text(std::span<const std::string_view> words, std::string_view command_id) {
  const std::vector<std::byte> payload = encode_text_command(words);
  send_encoded(CommandFormat::text, payload, command_id);
}

void SocketClient::send_encoded(CommandFormat format, std::span<const std::byte> payload,
                                std::string_view command_id) {
  if (fd_ < 0) throw std::logic_error("evring::SocketClient used after being moved from");
  if (payload.size() > kMaxCommandBytes) {
    throw Error(ErrorCode::invalid_argument, "command of " + std::to_string(payload.size()) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(kMaxCommandBytes));
  }
  if (command_id.size() > kMaxCommandIdBytes) {
    throw Error(ErrorCode::invalid_argument, "command id of " + std::to_string(command_id.size()) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(kMaxCommandIdBytes));
  }
  while (sent_ - read_ >= kWindow) take_one_reply();
  frame_.clear();
  socket_frame::append_request(frame_, format, std::as_bytes(std::span(command_id)), payload);
  std::size_t done = 0;
  while (done < frame_.size()) {
    const ssize_t wrote = ::send(fd_, frame_.data() + done, frame_.size() - done, MSG_NOSIGNAL);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) throw_gone("closed the connection");
      const int err = errno;
      throw Error(ErrorCode::io, "send to " + path_.string() + ": " + errno_text(err));
    }
    done += static_cast<std::size_t>(wrote);
  }
  ++sent_;
}

void SocketClient::take_one_reply() {
  using namespace socket_frame;
  for (;;) {
    if (input_.size() >= kLengthBytes) {
      std::uint32_t body_bytes = 0;
      std::memcpy(&body_bytes, input_.data(), sizeof body_bytes);
      if (body_bytes < kReplyHeaderBytes || body_bytes > kMaxReplyBody) {
        throw Error(ErrorCode::incompatible,
                    "the writer behind " + path_.string() + " sent a reply frame of " +
                        std::to_string(body_bytes) +
                        " bytes: it speaks another protocol; use the evring of its build");
      }
      if (input_.size() >= kLengthBytes + body_bytes) {
        CommandReply reply;
        try {
          reply = decode_reply(std::span(input_).subspan(kLengthBytes, body_bytes));
        } catch (const MalformedInput& e) {
          throw Error(ErrorCode::incompatible, "the writer behind " + path_.string() +
                                                   " sent a reply that does not parse: " +
                                                   e.what() + "; use the evring of its build");
        }
        input_.erase(input_.begin(),
                     input_.begin() + static_cast<std::ptrdiff_t>(kLengthBytes + body_bytes));
        taken_.push_back(std::move(reply));
        ++read_;
        return;
      }
    }
    const std::size_t at = input_.size();
    input_.resize(at + 4096);
    const ssize_t got = ::recv(fd_, input_.data() + at, 4096, 0);
    const int err = got < 0 ? errno : 0;
    input_.resize(at + static_cast<std::size_t>(got > 0 ? got : 0));
    if (got > 0) continue;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {  // SO_RCVTIMEO ran out
      throw Error(ErrorCode::timed_out,
                  "the writer on " + path_.string() + " did not answer within " +
                      std::to_string(reply_timeout_.count()) +
                      " ms (is it stopped, or overloaded?); a command sent may still be "
                      "applied: resubmit it with the same command id to be safe");
    }
    if (got == 0 || err == ECONNRESET) throw_gone("closed the connection");
    throw Error(ErrorCode::io, "recv from " + path_.string() + ": " + errno_text(err));
  }
}

CommandReply SocketClient::receive() {
  if (in_flight() == 0) {
    throw std::logic_error("evring::SocketClient::receive with no command in flight");
  }
  if (taken_.empty()) take_one_reply();
  CommandReply reply = std::move(taken_.front());
  taken_.pop_front();
  ++received_;
  return reply;
}

CommandReply SocketClient::submit(std::span<const std::byte> command, std::string_view command_id) {
  if (in_flight() != 0) {
    throw std::logic_error(
        "evring::SocketClient::submit with commands in flight: receive them first");
  }
  send(command, command_id);
  return receive();
}

CommandReply SocketClient::submit_text(std::span<const std::string_view> words,
                                       std::string_view command_id) {
  if (in_flight() != 0) {
    throw std::logic_error(
        "evring::SocketClient::submit with commands in flight: receive them first");
  }
  send_text(words, command_id);
  return receive();
}

CommandReply SocketClient::submit_text(std::initializer_list<std::string_view> words,
                                       std::string_view command_id) {
  return submit_text(std::span<const std::string_view>(words.begin(), words.size()), command_id);
}

}  // namespace evring
