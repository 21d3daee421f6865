// evring bridge: an instance's events, in seq order, into a JetStream stream, exactly once;
// the stream's seq is the evring seq.
//
// How exactly once holds across crashes of the bridge, the writer and the server:
//   - At start and after any failure, the bridge reads the stream's last seq L and follows
//     the instance (EventStream: journal, then ring) from L + 1. The journal is the source
//     of truth; nothing in flight is kept, what was not acked is read from it again.
//   - Event S goes out with Nats-Msg-Id "HISTORY:S" and Nats-Expected-Last-Sequence S - 1:
//     the server stores it only right after S - 1 (a gap or a reordering is refused), and
//     a resend of an S already stored, within the duplicate window, is acked as a
//     duplicate at S. The server checks the id first (bridge_test proves it), so a resend
//     is answered "duplicate", not refused; beyond the window the expected seq refuses it.
//   - At most `window` publishes are unacked; an ack that is refused, names another seq, or
//     is not back within `ack_timeout`, makes the bridge drop everything in flight (late
//     acks of it are ignored: each try has its own reply subjects) and resume from the
//     stream's last seq.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "stream_identity.hpp"
#include "sys/log.hpp"

namespace evring::remote {

struct BridgeOptions {
  std::string instance = "default";
  std::string server;             // nats://HOST:PORT
  StreamSettings stream;          // empty name and subject: the instance's defaults
  std::filesystem::path journal;  // empty: where the writer says
  std::size_t window = 512;       // publishes in flight, unacked
  std::chrono::milliseconds ack_timeout = std::chrono::seconds(2);
  std::string id = "bridge";      // its row in evring stat
  std::uint64_t stop_at_seq = 0;  // run() returns once the stream confirmed it (0: never)
};

struct BridgeCounters {
  std::uint64_t published = 0;   // messages sent, resends included
  std::uint64_t acked = 0;       // the last seq the stream confirmed
  std::uint64_t duplicates = 0;  // acks that said "already stored"
  std::uint64_t resumes = 0;     // failures resumed from the stream's last seq
  std::uint64_t flushes = 0;     // times the instance had nothing more and cnats was flushed
};

class Bridge {
 public:
  // Connects, checks or creates the stream and opens the instance. Throws evring::Error
  // saying what to do: no writer and no journal yet, an unreachable server, one without
  // JetStream, a stream of other settings or another history.
  static std::unique_ptr<Bridge> start(const BridgeOptions& options, const LogSink& log);
  ~Bridge();

  // Publishes until `stop`, then waits (at most the ack timeout) for what is in flight.
  // Throws evring::Error when it cannot go on (the instance's history changed).
  void run(const std::atomic<bool>& stop);
  const BridgeCounters& counters() const noexcept;

 private:
  struct State;
  explicit Bridge(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace evring::remote
