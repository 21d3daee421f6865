// evring-writer's core: recovers the model from the journal (recovery.cpp), then runs the
// one apply thread (writer.cpp) that takes commands from its command sources (the
// shared-memory intake, and the Unix-socket intake if on: command_source.hpp), decides them
// with the domain, journals and publishes their events, applies them to the model, and
// replies.
//
// Per accepted command, in this order (what each step guarantees):
//   1 journal append of each event (async: in the page cache, survives kill -9 of the
//     writer; the last event carries the command id, so duplicates are known at restart)
//   2 ring publish (async/none now; sync after the group's fdatasync, so no reader ever
//     sees an event that a power cut could take back)
//   3 apply to the model (the only way it changes, the same as replay)
//   4 reply accepted{seq of its last event} (sync: after the fdatasync of its group)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <sys/types.h>

#include "journal/journal.hpp"
#include "ring/broadcast_ring.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/log.hpp"

namespace evring::writer {

struct WriterOptions {
  std::string instance = "default";
  std::string domain = "kv";  // a built-in name, or the path of a plugin (.so)
  std::string domain_config;
  std::filesystem::path journal;  // empty: default_journal_folder(instance)
  Durability durability = Durability::async;
  std::uint64_t ring_bytes = kDefaultRingCapacity;
  std::uint64_t journal_segment_bytes = kDefaultJournalSegmentBytes;
  std::uint64_t max_payload = kDefaultMaxPayload;  // of an event, in the ring and the journal
  std::uint64_t snapshot_every = 1'000'000;        // events; 0: only at a clean stop
  std::size_t duplicate_window = 100'000;          // command ids remembered
  WaitKind idle_wait = WaitKind::block;            // how the apply thread waits for commands
  std::int64_t idle_spin_ns = 50'000;              // block: spin this long before sleeping
  std::size_t group_commit_max = 1024;             // sync: at most this many commands per fdatasync
  // Owner-only by default. A granted group (docs/writer.md, "Access") may read the ring and
  // the journal and claim reader slots; with group_submit it may also submit commands.
  mode_t mode = 0600;
  gid_t group = static_cast<gid_t>(-1);  // -1: no grant
  bool group_submit = false;
  // The Unix-socket intake (socket_intake.hpp), for clients that cannot map the segments:
  // off by default. An empty path: default_socket_path(instance).
  bool socket_intake = false;
  std::filesystem::path socket_path;
  mode_t socket_mode = 0600;  // of the socket file: who may connect
  // Retention of sealed journal segments (retention.hpp): off while both limits are 0.
  std::uint64_t retain_bytes = 0;
  std::chrono::milliseconds retain_for{0};
  std::filesystem::path archive;  // move them here compressed instead of removing them
  std::int64_t retention_interval_ns = 5'000'000'000;  // a pass at least this often
};

// What the writer tells its operator; the CLI prints these lines.
using WriterLog = LogSink;

struct WriterCounters {
  std::uint64_t commands = 0;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;  // `failed` included
  std::uint64_t failed = 0;    // rejected as failed or unavailable: not the client's fault
  std::uint64_t duplicates = 0;
  std::uint64_t events = 0;
  std::uint64_t syncs = 0;
};

class Writer {
 public:
  // Takes the instance, recovers the journal (cutting a torn tail, saying so), restores
  // the newest usable snapshot and replays the rest with progress, then creates the ring
  // and the intake. Throws evring::Error with what to do.
  static std::unique_ptr<Writer> start(const WriterOptions& options, const WriterLog& log);
  ~Writer();

  // Serves commands until `stop` is set, then finishes what it took, syncs, snapshots and
  // closes the instance (segments removed, readers told).
  void run(const std::atomic<bool>& stop);

  std::uint64_t next_seq() const noexcept;
  const WriterCounters& counters() const noexcept;

 private:
  struct State;
  explicit Writer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace evring::writer
