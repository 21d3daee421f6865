// The writer's side of the command intake (the protocol is described in
// runtime/src/intake_layout.hpp): the shared-memory slots through which client processes
// submit commands. Used by the writer's one apply thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <sys/types.h>

#include "evring/command.hpp"
#include "shm/shared_segment.hpp"

namespace evring {

struct IntakeOptions {
  std::string instance = "default";
  std::uint64_t incarnation = 1;  // the ring's: clients and readers meet the same writer start
  mode_t mode = 0600;
  gid_t group = kCreatorGroup;  // a group granted submission (mode with group read and write)
};

// Where a reply goes: the slot, the client that held it then, and its ticket.
struct ReplyAddress {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::uint64_t ticket = 0;
};

// A command as the writer sees it; the spans point into the client's slot and are valid
// until finish().
struct IncomingCommand {
  ReplyAddress from;
  CommandFormat format = CommandFormat::bytes;
  std::span<const std::byte> id;  // empty: no command id
  std::span<const std::byte> payload;
  std::uint32_t record_bytes = 0;  // its space in the slot, given back by finish()
};

class CommandIntake {
 public:
  // Creates evring.<instance>.intake. The caller must own the instance (hold its ring), so
  // a leftover intake segment is a dead writer's and is superseded.
  static CommandIntake create(const IntakeOptions& options);
  CommandIntake(CommandIntake&&) noexcept;
  CommandIntake& operator=(CommandIntake&&) noexcept;
  // Marks the segment closed (waiting clients learn it at once) and removes its name.
  ~CommandIntake();

  // The next waiting command, taking clients in turn so none can starve another.
  bool next(IncomingCommand& out);
  // Done with `command` (its bytes may be overwritten now).
  void finish(const IncomingCommand& command);
  // Sends a reply. Dropped when the client has gone (its slot was freed, or it stopped
  // taking replies), which only a dead or broken client can cause.
  void reply(const ReplyAddress& to, const CommandReply& reply);
  // Every ~100 ms: frees the slots of clients that closed or died, once their submitted
  // commands are decided, and refreshes the writer's heartbeat.
  void maintain();
  // Sleeps until a client submits something or timeout_ns passes. Call after next()
  // returned false. `also_pending`, if given, is the writer's other source of commands
  // (the socket intake): it is asked in the last look after the sleeping flag is up, so a
  // producer that calls wake() after publishing cannot be missed.
  void sleep(std::int64_t timeout_ns, const std::function<bool()>& also_pending = {});
  // Wakes the writer from sleep() as a client's request does: for a producer inside the
  // writer process (the socket intake thread), after it has published a command where
  // `also_pending` sees it. Any thread; costs a fence and a load when the writer is awake.
  void wake() noexcept;
  // Clients connected now.
  std::size_t clients() const noexcept;
  // Slots freed because their client died (for logs and tests).
  std::uint64_t dead_clients_reclaimed() const noexcept { return dead_reclaimed_; }

 private:
  explicit CommandIntake(SharedSegment segment);
  void free_slot(std::uint32_t index);
  void close() noexcept;

  SharedSegment segment_;
  bool open_ = true;
  std::uint32_t cursor_ = 0;
  std::uint64_t dead_reclaimed_ = 0;
};

}  // namespace evring
