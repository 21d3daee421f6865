// Where the apply thread's commands come from: the shared-memory intake (shm_source.hpp) and
// the Unix-socket intake (socket_intake.hpp), as the reader side has its EventSource. The
// apply loop (writer.cpp) takes from each in turn through this one interface, decides, and
// replies now or, in sync durability, after the group's fdatasync.
#pragma once

#include <cstddef>
#include <span>
#include <variant>

#include "evring/command.hpp"
#include "intake/command_intake.hpp"
#include "net/socket_server.hpp"

namespace evring::writer {

// Where a reply goes: a shared-memory client's slot, or a socket connection's place. Each
// source only ever sees its own kind.
using ReplyTo = std::variant<ReplyAddress, net::Ticket>;

// A command as the apply thread sees it; the spans are valid until the source's next next().
struct SourcedCommand {
  ReplyTo from;
  CommandFormat format = CommandFormat::bytes;
  std::span<const std::byte> id;  // empty: no command id
  std::span<const std::byte> payload;
};

class CommandSource {
 public:
  virtual ~CommandSource() = default;

  // Apply thread. The next waiting command, if any.
  virtual bool next(SourcedCommand& out) = 0;
  // Apply thread. Decided: the source may take back the command's space (its reply may
  // still wait for a group commit).
  virtual void done(const SourcedCommand& /*command*/) {}
  // Apply thread. The reply of a command taken with next(); dropped if its client is gone.
  virtual void reply(const ReplyTo& to, const CommandReply& reply) = 0;
  // Any thread. Whether a command seems to be waiting, for the apply thread's last look
  // before it sleeps on the shared-memory intake's doorbell (which looks at its own rings).
  virtual bool pending() const = 0;
  // Apply thread, once, when the writer stops: takes no more commands, answers what it
  // holds but was not taken with `refused`, and sends the replies given so far.
  virtual void finish(const CommandReply& /*refused*/) {}
};

}  // namespace evring::writer
