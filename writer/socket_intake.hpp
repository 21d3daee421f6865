// The Unix-socket intake: commands from clients that cannot map the instance's
// shared-memory segments (other users, containers). It is the command frames
// (net/command_frame.hpp: the format, pipelining, what a bad frame gets) on the one socket
// server (net/socket_server.hpp: its thread, flow control, replies in request order, how
// the threads wake each other), and a CommandSource of the apply thread. The socket thread
// hands the commands to the one apply thread through a moodycamel::ConcurrentQueue (it is
// the only producer, the apply thread the only consumer); the apply thread is the only one
// that touches the model, the socket thread only moves bytes.
//
// The socket thread wakes a sleeping apply thread through wake_apply (the intake's
// doorbell): its sleep asks pending() in its last look after raising its sleeping flag, so
// either it sees the command or it is rung.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/types.h>

#include "command_source.hpp"
#include "evring/command.hpp"
#include "net/socket_server.hpp"
#include "sys/log.hpp"

namespace evring::writer {

struct SocketIntakeOptions {
  std::filesystem::path path;            // the socket file; its folder is created 0700 if missing
  mode_t mode = 0600;                    // of the socket file: who may connect
  gid_t group = static_cast<gid_t>(-1);  // the socket file's group; -1: the writer's own
  std::string instance;                  // for messages
};

// Where a socket command's reply goes: its connection (never reused) and its place there.
using SocketReplyAddress = net::Ticket;

// A command as the apply thread sees it; owns its bytes (id, then payload).
struct SocketCommand {
  SocketReplyAddress from;
  CommandFormat format = CommandFormat::bytes;
  std::uint16_t id_bytes = 0;
  std::vector<std::byte> bytes;

  std::span<const std::byte> id() const noexcept { return std::span(bytes).first(id_bytes); }
  std::span<const std::byte> payload() const noexcept { return std::span(bytes).subspan(id_bytes); }
};

class SocketIntake final : public CommandSource {
 public:
  using Log = LogSink;

  // Binds and listens on options.path: clients may connect from then on, and wait in the
  // backlog until start(). A socket file whose listener is dead (a writer killed with -9)
  // is replaced; a live one is refused with Error(writer_running). wake_apply is called on
  // the socket thread after it enqueued commands; log, from any thread, for what the
  // operator should know.
  SocketIntake(const SocketIntakeOptions& options, std::function<void()> wake_apply, Log log);
  // stop(), if not done yet.
  ~SocketIntake() override;
  // Starts the socket thread (once what wake_apply calls is ready).
  void start();
  SocketIntake(const SocketIntake&) = delete;
  SocketIntake& operator=(const SocketIntake&) = delete;

  // Apply thread only. The next command, if one is waiting (one try_dequeue).
  bool next(SocketCommand& out);
  bool next(SourcedCommand& out) override;
  // Apply thread only. Sends the reply of a command taken with next(); dropped if its
  // connection has closed.
  void reply(const ReplyTo& to, const CommandReply& reply) override;
  void reply(const SocketCommand& command, const CommandReply& answer) {
    reply(ReplyTo{command.from}, answer);
  }
  // Any thread. Whether a command seems to be waiting (for the apply thread's last look
  // before it sleeps).
  bool pending() const override;
  // Apply thread only: stop_taking(), `refused` to each command read but not taken, stop().
  void finish(const CommandReply& refused) override;

  // Apply thread only. Closes the listener and stops reading; once it returns no command is
  // enqueued anymore, so next() drains what is left.
  void stop_taking();
  // Apply thread only. Sends the replies given so far (for at most ~2 s for connections
  // that do not read them), closes every connection and joins the socket thread; removes
  // the socket file if it is still ours.
  void stop();

  const std::filesystem::path& path() const noexcept { return server_->path(); }

 private:
  class Frames;
  // frames_ before server_: the server (its thread calls the frames) goes first.
  std::unique_ptr<Frames> frames_;
  std::optional<net::SocketServer> server_;
  SocketCommand current_;  // the one next(SourcedCommand&) took last
  std::string reply_;      // reused per reply
};

}  // namespace evring::writer
