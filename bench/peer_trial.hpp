// The peers `evring-bench compare` measures evring against (the naive slot ring, a pipe, a
// Unix socket, Boost's message_queue, moodycamel's queue, iceoryx), behind one small interface, and
// the loops that time them exactly as latency_trial.hpp times the ring: the same pacer (stamped at
// the intended send time), the same acknowledgement line for flat-out runs, the same clock, the
// same payload pattern, checked byte for byte.
//
// Every peer message is a PeerHeader followed by the payload, so a peer carries
// payload + 16 bytes, as the ring carries payload + its record header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "latency_trial.hpp"
#include "report.hpp"
#include "sync/wait_strategy.hpp"

namespace evring::bench {

struct PeerHeader {
  std::uint64_t seq;      // 1, 2, ... in send order
  std::int64_t stamp_ns;  // the intended send time (monotonic_ns)
};
static_assert(sizeof(PeerHeader) == 16);

// The sending end, in the writer's process or thread.
class PeerSender {
 public:
  virtual ~PeerSender() = default;
  // Room for a message of `bytes` (header and payload) to fill: a buffer of ours, or a
  // chunk the peer lends (iceoryx). Valid until send().
  virtual std::span<std::byte> prepare(std::size_t bytes) = 0;
  // Sends what prepare() returned. May block while the peer is full (backpressure).
  virtual void send() = 0;
};

// The receiving end, in the reader's process or thread.
class PeerReceiver {
 public:
  virtual ~PeerReceiver() = default;
  // The next message, whole; valid until release(). A spinning receiver throws past
  // deadline_ns; a blocking one may block past it (its parent kills it then).
  virtual std::span<const std::byte> receive(std::int64_t deadline_ns) = 0;
  virtual void release() {}
};

// One transport for one trial: made in the parent before any fork (a pipe's fds, a named
// queue), its ends opened in the processes or threads that use them.
class PeerLink {
 public:
  virtual ~PeerLink() = default;
  virtual std::unique_ptr<PeerSender> open_sender() = 0;
  virtual std::unique_ptr<PeerReceiver> open_receiver() = 0;
};

// Where the two ends run.
enum class PeerPlacement {
  parent_writes,  // the bench (pinned to the writer CPU) writes; a forked child reads
  two_children,   // both ends in forked children (iceoryx: one runtime per process)
  two_threads,    // two threads of the bench process (labelled in-process)
};

// A peer and one of its ways to wait, e.g. the pipe with a blocking read().
struct PeerVariant {
  std::string system;  // the JSON "system": "pipe", "unix-socket", ...
  WaitKind wait;       // spin: polls without sleeping; block: sleeps in the kernel
  std::string how;     // what the reader calls, for the table: "read() on O_NONBLOCK"
  PeerPlacement placement;
  // Makes the link for messages of at most max_message_bytes (header included).
  std::function<std::unique_ptr<PeerLink>(std::size_t max_message_bytes)> make_link;
};

// Measures `variant` with trial's payload, pacing and counts; the writer on writer_cpu
// (the calling thread is already pinned there), the reader on reader_cpu.
ResultRow run_peer_trial(const Trial& trial, const PeerVariant& variant, unsigned writer_cpu,
                         unsigned reader_cpu);

// Each peer's variants (peers/*.cpp); an empty list where the build lacks it.
std::vector<PeerVariant> slot_ring_variants();
std::vector<PeerVariant> pipe_and_socket_variants();
std::vector<PeerVariant> message_queue_variants();
std::vector<PeerVariant> moodycamel_variants();
std::vector<PeerVariant> iceoryx_variants();
// Empty when the iceoryx peer was built; else the line that says how to add it.
std::string iceoryx_missing_note();

// iceoryx's daemon (RouDi) for the iceoryx rows of one run. Dropping it stops RouDi
// (SIGTERM, then SIGKILL past a deadline), also while an error unwinds.
class IceoryxDaemon {
 public:
  virtual ~IceoryxDaemon() = default;
};
// Starts iox-roudi and waits until it takes clients. Throws Error(io) saying why when it
// cannot (not installed, another RouDi already runs on this machine).
std::unique_ptr<IceoryxDaemon> start_iceoryx_daemon();

}  // namespace evring::bench
