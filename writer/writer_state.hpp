// The writer's state, shared by its start (recovery.cpp: the journal, snapshots, the ring and
// the command sources) and its apply loop (writer.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command_source.hpp"
#include "duplicate_window.hpp"
#include "evring/command.hpp"
#include "evring/domain.hpp"
#include "intake/command_intake.hpp"
#include "journal/journal.hpp"
#include "journal/journal_folder.hpp"
#include "plugin/domain_plugin.hpp"
#include "retention.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm_source.hpp"
#include "socket_intake.hpp"
#include "writer.hpp"

namespace evring::writer {

inline std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The largest event payload, in the ring and the journal alike.
std::uint32_t event_payload_limit(const WriterOptions& options);

struct Writer::State {
  WriterOptions options;
  WriterLog log;
  DomainPlugin domain;
  DuplicateWindow window;
  JournalLock lock;
  std::optional<JournalWriter> journal;
  std::filesystem::path journal_dir;
  std::optional<RingWriter> ring;
  // The shared-memory intake is also the doorbell the apply thread sleeps on; the socket
  // intake's thread rings it (see ~State).
  std::optional<CommandIntake> intake;
  std::optional<SharedMemorySource> shared_memory;
  std::unique_ptr<SocketIntake> socket;
  std::vector<CommandSource*> sources;         // shared memory first, then the socket, if on
  std::unique_ptr<RetentionThread> retention;  // with --retain or --retain-for
  std::uint64_t written_segment_first = 0;     // what the retention thread was last told
  std::uint64_t next_seq = 1;
  std::uint64_t last_snapshot_seq = 0;
  WriterCounters counters;

  // Reused per command: no allocation on the hot path once warm.
  EventBatch events;
  std::vector<std::byte> parsed;
  std::string reason;
  CommandReply reply;
  // A command's events (async) or a group's (sync), published with one commit.
  std::vector<OutgoingRecord> outgoing;

  // sync: events journaled but not yet published, and replies not yet sent.
  struct PendingEvent {
    std::uint64_t seq;
    std::uint32_t type;
    std::size_t offset;
    std::size_t size;
  };
  std::vector<std::byte> pending_bytes;
  std::vector<PendingEvent> pending_events;
  struct PendingReply {
    CommandSource* source;
    ReplyTo to;
    CommandReply reply;
  };
  std::vector<PendingReply> pending_replies;  // of every source, in the order decided
  std::int64_t pending_publish_ns = 0;

  State(const WriterOptions& opts, const WriterLog& logger, DomainPlugin plugin)
      : options(opts), log(logger), domain(std::move(plugin)), window(opts.duplicate_window) {}
  // The socket thread wakes the apply thread through `intake`: it is stopped first, so the
  // order of the members does not matter.
  ~State() { socket.reset(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  std::uint64_t head() const noexcept { return next_seq - 1; }

  void recover();
  // The holds folder, the archive's record and tidying, and the retention thread.
  void start_retention();
  // In the apply thread's maintenance: wakes the retention thread when a segment was sealed.
  void watch_segments();
  void replay_journal(std::uint64_t from_seq, std::uint64_t to_seq);
  std::uint64_t restore_snapshot(std::uint64_t journal_last_seq);
  void take_snapshot();

  // Decides one command, from any source; `reply` holds the answer, which the caller
  // sends now or, in sync durability, after the group's fdatasync.
  void decide(CommandFormat format, std::span<const std::byte> command_id,
              std::span<const std::byte> payload);
  void reject(RejectCode code, std::string_view why);
  // The journal had no room (a full disk): the command is refused with the reason.
  void reject_unjournaled(const Error& e);
  void commit_group();
  // At the heartbeat: the counters above and the journal's into the registry, for stat.
  void publish_counters();
  // Takes commands from `source` while `taken` is under `up_to`: decides each and replies,
  // or queues the reply for the group commit. A template, so the shared-memory source
  // (final) is called without virtual dispatch: at millions of commands a second the
  // calls show.
  template <class Source>
  void take_from(Source& source, std::size_t& taken, std::size_t up_to);
  // Source i of `sources`; the shared-memory one through its own type.
  void take_from_source(std::size_t i, std::size_t& taken, std::size_t up_to);
  // Nothing came: waits as options.idle_wait says, for at most until `next_maintain`.
  void idle(std::int64_t now, std::int64_t idle_since, std::int64_t next_maintain,
            const std::function<bool()>& others_pending);
};

}  // namespace evring::writer
