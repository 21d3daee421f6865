// One one-way latency measurement between a writer and a pinned reader: what is sent, how it
// is paced, the memory the two sides share, and the loops of the floor and the evring ring.
// `evring-bench latency` runs these alone; `evring-bench compare` runs them beside the peers
// (peer_trial.hpp), with the same pacing, the same acknowledgement line and the same clock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/child_process.hpp"
#include "report.hpp"
#include "ring_processes.hpp"
#include "shm/layout.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/latency_recorder.hpp"

namespace evring::bench {

// The floor's message: a sequence number and a stamp, what fits in one cache line.
inline constexpr std::uint32_t kFloorMessageBytes = sizeof(std::uint64_t) + sizeof(std::int64_t);

// One measurement: who, what, how paced.
struct Trial {
  std::string system;  // "evring", "floor", or a peer's name
  std::uint32_t payload_bytes = 0;
  WaitKind wait = WaitKind::spin;
  std::uint64_t rate = 0;  // messages per second; 0 = flat out, one message in flight
  std::uint64_t warmup = 0;
  std::uint64_t samples = 0;
  std::uint64_t total() const { return warmup + samples; }
  // Generous: twice the paced duration plus 10 s, or ~50 us per message flat out.
  std::int64_t run_deadline_ns(std::int64_t start_ns) const;
};

// The warm-up when the flag leaves it 0: max(floor_count, samples / 20).
std::uint64_t default_warmup(std::uint64_t warmup, std::uint64_t samples,
                             std::uint64_t floor_count);

// What the reader hands back, written before `finished`.
struct alignas(kFalseSharingRange) ReaderOutcome {
  LatencySummary summary;
  std::uint64_t verified;    // payloads checked byte for byte and found right
  std::uint64_t mismatches;  // payloads that were not the bytes sent
  std::uint64_t lapped;      // evring: times lapped
  std::uint64_t missed;      // messages never received (lapped over, or lost by a peer)
  std::atomic<std::uint32_t> finished;
};

// What a writer that runs in a child process (iceoryx's) hands back, before `finished`.
struct alignas(kFalseSharingRange) WriterOutcome {
  double msgs_per_s;
  std::atomic<std::uint32_t> finished;
};

// Shared by the writer and the reader of one measurement (made before the fork). Each hot
// field is written by one side only and sits on its own line.
struct LatencyChannel {
  // Reader -> writer: the newest sequence number the reader has received. The floor
  // writer (always) and a flat-out writer wait for it before the next message.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> acked_seq;
  // Writer -> floor reader: the bounced line.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> ping_seq;
  std::atomic<std::int64_t> ping_stamp_ns;
  ReadyFlag reader_ready;
  ReadyFlag writer_ready;
  ReaderOutcome outcome;
  WriterOutcome writer;
};
static_assert(offsetof(LatencyChannel, ping_seq) % kFalseSharingRange == 0);
static_assert(offsetof(LatencyChannel, reader_ready) % kFalseSharingRange == 0);

// Writer side: spins until the reader has acknowledged `seq` (or any later one). `reader`:
// checked to still run now and then; nullptr when the writer is not the reader's parent.
void wait_for_ack(const LatencyChannel& channel, std::uint64_t seq, harness::ChildProcess* reader,
                  std::int64_t deadline_ns);
// Writer side, every message: now and then checks the reader, Ctrl-C and the deadline.
void check_writer_health(std::uint64_t index, harness::ChildProcess* reader,
                         std::int64_t deadline_ns);
// Reader side: tells the writer `seq` arrived.
void acknowledge(LatencyChannel& channel, std::uint64_t seq);
// Reader side, at the end: sorts the samples and hands the summary to the parent.
void publish_outcome(LatencyChannel& channel, LatencyRecorder& recorder);

// The parent, once the reader exited: the row of `trial`. Throws if the reader left no result.
ResultRow collect(const Trial& trial, const LatencyChannel& channel, double msgs_per_s);

// One floor or evring trial: the calling thread (pinned by the caller) writes, a reader
// process pinned to reader_cpu reads. trial.system is "floor" or "evring".
ResultRow run_ring_or_floor_trial(const Trial& trial, unsigned reader_cpu,
                                  std::uint64_t ring_bytes);

// One evring trial with one reader process per CPU in reader_cpus (a CPU may repeat). The
// row holds, for each percentile, the worst reader's; counts are summed over the readers.
// Flat out, the writer waits for the first reader only.
ResultRow run_ring_fanout_trial(const Trial& trial, const std::vector<unsigned>& reader_cpus,
                                std::uint64_t ring_bytes);

// p50, p90, p99, p99.9, p99.99, max: the latency columns every table prints.
std::vector<std::int64_t> percentiles(const LatencySummary& summary);
inline constexpr const char* kPercentileHeaders[] = {"p50", "p90", "p99", "p99.9", "p99.99", "max"};

}  // namespace evring::bench
