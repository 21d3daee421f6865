// The socket client: submits commands through a writer's Unix-socket intake, for processes
// that cannot map the instance's shared-memory segments (another user, a container). The
// writer listens only when started with --socket. Slower than evring::Client (two system
// calls and a thread hop per command), with the same replies and the same command ids.
//
//   evring::SocketClient client =
//       evring::SocketClient::connect(evring::default_socket_path("orders"));
//   evring::CommandReply reply = client.submit_text({"deposit", "alice", "100"}, "req-42");
//
// Synchronous (submit) or pipelined (send, then receive the replies in the order sent).
// If the writer goes away with commands in flight, receive() throws Error(writer_gone):
// their outcome is unknown; resubmit them with the same command ids once it is back.
//
// The frames are length-prefixed binary; their one definition is the library's
// net/command_frame.hpp. One SocketClient per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/command.hpp"

namespace evring {

// <runtime folder>/<instance>.sock (paths.hpp): where `evring-writer --socket` listens
// unless --socket-path says otherwise.
std::filesystem::path default_socket_path(const std::string& instance);

class SocketClient {
 public:
  // Throws Error(no_instance) when nothing listens on `path` (the writer runs without
  // --socket, or not at all), Error(permission_denied) when its mode keeps us out,
  // Error(invalid_argument) for a path too long for a socket; each message says what to do.
  static SocketClient connect(const std::filesystem::path& path);
  SocketClient(SocketClient&&) noexcept;
  SocketClient& operator=(SocketClient&&) noexcept;
  ~SocketClient();

  // How long a reply may take before Error(timed_out) (0: no limit, the default). A
  // command that timed out may still be applied: resubmit it with the same command id.
  void set_reply_timeout(std::chrono::milliseconds timeout);

  // Sends one command and waits for its reply. Needs no other command in flight.
  CommandReply submit(std::span<const std::byte> command, std::string_view command_id = {});
  CommandReply submit_text(std::span<const std::string_view> words,
                           std::string_view command_id = {});
  CommandReply submit_text(std::initializer_list<std::string_view> words,
                           std::string_view command_id = {});

  // Pipelined: sends without waiting for the reply. Keeps at most kWindow commands in
  // flight (replies taken to make room are kept for receive()), so neither side's socket
  // buffer can fill up while both wait. Throws Error(invalid_argument) for a command or
  // id over the limits.
  static constexpr std::size_t kWindow = 256;
  void send(std::span<const std::byte> command, std::string_view command_id = {});
  void send_text(std::span<const std::string_view> words, std::string_view command_id = {});
  // The oldest outstanding reply; waits for it. Throws Error(writer_gone) when the writer
  // closed the connection with commands in flight.
  CommandReply receive();

  std::size_t in_flight() const noexcept { return sent_ - received_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  SocketClient(int fd, std::filesystem::path path);
  void send_encoded(CommandFormat format, std::span<const std::byte> payload,
                    std::string_view command_id);
  void take_one_reply();
  [[noreturn]] void throw_gone(const std::string& what) const;

  int fd_ = -1;
  std::filesystem::path path_;
  std::chrono::milliseconds reply_timeout_{0};
  std::vector<std::byte> frame_;    // reused per send
  std::vector<std::byte> input_;    // bytes read, not yet a whole reply
  std::deque<CommandReply> taken_;  // read to make room, not yet handed over
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;  // handed over by receive()
  std::uint64_t read_ = 0;      // read off the socket
};

}  // namespace evring
