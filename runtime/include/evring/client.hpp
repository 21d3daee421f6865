// The client API: submit commands to an instance's writer from any process.
//
//   evring::Client client = evring::Client::connect("orders");
//   evring::CommandReply reply = client.submit_text({"deposit", "alice", "100"}, "req-42");
//   if (reply.accepted()) use(reply.seq);
//
// Synchronous (submit) or pipelined (send, then receive the replies in the order sent).
// Each reply is exactly one of accepted{seq}, rejected{code, reason, seq = head} or
// duplicate{seq = the original's}. A command id makes a retry safe: if the writer dies
// while commands are in flight, their outcome is unknown (receive() throws
// Error(writer_gone)); reconnect and resubmit them with the same ids, and those that were
// accepted answer `duplicate` with their seq.
//
// One Client per thread; a process may hold up to 64 across all its threads (one
// shared-memory slot each), fewer if other processes hold some.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/command.hpp"
#include "evring/wait_kind.hpp"

namespace evring {

struct ClientOptions {
  // How to wait for a reply: spin (lowest latency, burns a core), yield, or block (spin
  // for spin_ns, then sleep until the writer signals).
  WaitKind wait = WaitKind::block;
  std::int64_t spin_ns = 50'000;
  // How long a reply (or room to send) may take before Error(timed_out); 0: no limit. A
  // command that timed out may still be applied: resubmit it with the same command id.
  std::int64_t reply_timeout_ns = 0;
};

struct TicketedReply {
  std::uint64_t ticket = 0;  // what send() returned
  CommandReply reply;
};

class Client {
 public:
  // Throws Error(no_instance) when the instance has no writer, Error(writer_gone) when its
  // writer is dead, Error(resource) when all slots are taken, Error(incompatible) for a
  // writer of another build; each message says what to do.
  static Client connect(const std::string& instance, const ClientOptions& options = {});
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Sends one command and waits for its reply. Needs no other command in flight.
  CommandReply submit(std::span<const std::byte> command, std::string_view command_id = {});
  CommandReply submit_text(std::span<const std::string_view> words,
                           std::string_view command_id = {});
  CommandReply submit_text(std::initializer_list<std::string_view> words,
                           std::string_view command_id = {});

  // Pipelined: sends without waiting for the reply and returns its ticket. Waits only for
  // room; replies that must be taken to make room are kept for receive(). Throws
  // Error(invalid_argument) for a command or id over the limits (kMaxCommandBytes,
  // kMaxCommandIdBytes).
  std::uint64_t send(std::span<const std::byte> command, std::string_view command_id = {});
  std::uint64_t send_text(std::span<const std::string_view> words,
                          std::string_view command_id = {});
  // The oldest outstanding reply: waits for it, or (try_) returns nullopt if it has not
  // come. Throws Error(writer_gone) when the writer died with commands in flight.
  TicketedReply receive();
  std::optional<TicketedReply> try_receive();

  std::size_t in_flight() const noexcept;
  const std::string& instance() const noexcept;
  std::uint64_t writer_pid() const noexcept;

 private:
  struct State;
  explicit Client(std::unique_ptr<State> state);
  std::uint64_t send_encoded(CommandFormat format, std::span<const std::byte> payload,
                             std::string_view command_id);
  std::unique_ptr<State> state_;
};

// The words of a text command as the intake carries them, and back (throws MalformedInput).
std::vector<std::byte> encode_text_command(std::span<const std::string_view> words);
std::vector<std::string_view> decode_text_command(std::span<const std::byte> payload);

}  // namespace evring
