// evring-bench latency: one-way writer -> reader latency between two pinned processes,
// for the evring ring and for the physical floor (one cache line bounced between the same
// two cores) in the same run, with the same clock and the same pacing.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/latency_recorder.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "machine_stalls.hpp"
#include "pacer.hpp"
#include "payload_pattern.hpp"
#include "ring_processes.hpp"
#include "subcommands.hpp"

namespace evring::bench {
namespace {

using harness::ChildProcess;
using harness::flush_stdio;
using harness::pin_to_cpu;
using harness::SharedArray;
using harness::throw_if_interrupted;
using harness::wait_until;

constexpr std::uint32_t kBenchRecordType = 1;
constexpr std::uint32_t kFloorMessageBytes = sizeof(std::uint64_t) + sizeof(std::int64_t);
constexpr std::int64_t kAttachTimeoutNs = 5'000'000'000;
constexpr std::int64_t kPollSliceNs = 50'000'000;      // reader re-checks its deadline
constexpr std::uint64_t kHealthCheckEvery = 1u << 14;  // writer messages between checks
constexpr std::int64_t kStallLookNs = 1'000'000'000;

// The floor's message: what the ring carries minus everything but one cache line.
struct alignas(kFalseSharingRange) FloorLine {
  std::atomic<std::uint64_t> seq;
  std::atomic<std::int64_t> stamp_ns;
};

// What the reader process hands back, written before `finished`.
struct alignas(kFalseSharingRange) ReaderOutcome {
  LatencySummary summary;
  std::uint64_t mismatches;
  std::uint64_t lapped;
  std::uint64_t missed;
  std::atomic<std::uint32_t> finished;
};

// Shared by the writer (parent) and the reader (child) of one measurement. Each hot field
// is written by one side only and sits on its own line.
struct LatencyChannel {
  // Reader -> writer: the newest sequence number the reader has received. The floor
  // writer (always) and the flat-out evring writer wait for it before the next message.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> acked_seq;
  // Writer -> floor reader: the bounced line.
  FloorLine ping;
  ReadyFlag reader_ready;
  ReaderOutcome outcome;
};
static_assert(offsetof(LatencyChannel, ping) % kFalseSharingRange == 0);
static_assert(offsetof(LatencyChannel, reader_ready) % kFalseSharingRange == 0);

// One measurement: who, what, how paced.
struct Trial {
  std::string system;  // "evring" or "floor"
  std::uint32_t payload_bytes = 0;
  WaitKind wait = WaitKind::spin;
  std::uint64_t rate = 0;
  std::uint64_t warmup = 0;
  std::uint64_t samples = 0;
  std::uint64_t total() const { return warmup + samples; }
  // Generous: twice the paced duration plus 10 s, or ~50 us per message flat out.
  std::int64_t run_deadline_ns(std::int64_t start_ns) const {
    const double seconds = rate == 0
                               ? static_cast<double>(total()) * 50e-6
                               : 2.0 * static_cast<double>(total()) / static_cast<double>(rate);
    return start_ns + static_cast<std::int64_t>(seconds * 1e9) + 10'000'000'000;
  }
};

// Spins until the reader has acknowledged `seq` (or any later one).
void wait_for_ack(const LatencyChannel& channel, std::uint64_t seq, ChildProcess& reader,
                  std::int64_t deadline_ns) {
  // acquire: pairs with the reader's release store of acked_seq; for the floor, the reader
  // has finished reading the line before we overwrite it.
  for (std::uint64_t spins = 1; channel.acked_seq.load(std::memory_order_acquire) < seq; ++spins) {
    if ((spins & 0xFFFFF) == 0) {
      reader.check_running();
      throw_if_interrupted();
      if (monotonic_ns() > deadline_ns) {
        throw Error(ErrorCode::io, "the reader stopped acknowledging at seq " +
                                       std::to_string(seq) + "; is its core busy?");
      }
    }
    cpu_relax();
  }
}

void check_writer_health(std::uint64_t index, ChildProcess& reader, std::int64_t deadline_ns) {
  if (index % kHealthCheckEvery != 0) return;
  reader.check_running();
  throw_if_interrupted();
  if (monotonic_ns() > deadline_ns) {
    throw Error(ErrorCode::io, "the latency run overran its deadline; try a lower --rate");
  }
}

void acknowledge(LatencyChannel& channel, std::uint64_t seq) {
  // release: pairs with wait_for_ack's acquire; our reads of the message come first.
  channel.acked_seq.store(seq, std::memory_order_release);
}

void publish_outcome(LatencyChannel& channel, LatencyRecorder& recorder) {
  channel.outcome.summary = recorder.summarize();
  // release: pairs with collect()'s acquire; the summary above is complete.
  channel.outcome.finished.store(1, std::memory_order_release);
}

// ---- evring --------------------------------------------------------------------------

int run_ring_reader(RingReader& reader, LatencyChannel& channel, const Trial& trial,
                    const std::string& instance) {
  RecordBuffer buffer(reader.max_payload());
  LatencyRecorder recorder(trial.samples);
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  std::uint64_t newest_seq = 0;
  ReaderOutcome& outcome = channel.outcome;
  while (newest_seq < trial.total()) {
    const PollResult result = next_record(reader, buffer, trial.wait, kPollSliceNs);
    const std::int64_t now = monotonic_ns();
    switch (result.status) {
      case PollStatus::record: {
        newest_seq = buffer.seq();
        if (newest_seq > trial.warmup) recorder.record(now - buffer.publish_ns());
        acknowledge(channel, newest_seq);
        const auto payload = buffer.payload();
        if (payload.size() != trial.payload_bytes || !matches_pattern(newest_seq, payload)) {
          ++outcome.mismatches;
        }
        break;
      }
      case PollStatus::lapped:
        ++outcome.lapped;
        outcome.missed += result.missed;
        break;
      case PollStatus::empty:
        if (now > deadline) {
          throw Error(ErrorCode::io, "no record after seq " + std::to_string(newest_seq) +
                                         " before the deadline; is the writer stuck?");
        }
        break;
      default:
        throw_if_writer_lost(result, instance);
    }
  }
  publish_outcome(channel, recorder);
  return 0;
}

// Returns the achieved send rate over the measured (post-warm-up) messages.
double run_ring_writer(RingWriter& writer, LatencyChannel& channel, const Trial& trial,
                       ChildProcess& reader) {
  std::vector<std::byte> payload(trial.payload_bytes);
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  const Pacer pacer(trial.rate, monotonic_ns() + 1'000'000);
  std::int64_t measured_from = 0;
  for (std::uint64_t index = 0; index < trial.total(); ++index) {
    const std::uint64_t seq = writer.next_seq();
    fill_pattern(seq, payload);  // before the due time: not part of the latency
    if (pacer.flat_out()) wait_for_ack(channel, seq - 1, reader, deadline);
    const std::int64_t stamp = pacer.wait_until_due(index);
    if (index == trial.warmup) measured_from = stamp;
    writer.publish(kBenchRecordType, payload, stamp);
    check_writer_health(index, reader, deadline);
  }
  const double elapsed_s = static_cast<double>(monotonic_ns() - measured_from) / 1e9;
  return static_cast<double>(trial.samples) / elapsed_s;
}

// ---- floor ---------------------------------------------------------------------------

int run_floor_reader(LatencyChannel& channel, const Trial& trial) {
  LatencyRecorder recorder(trial.samples);
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  for (std::uint64_t seq = 1; seq <= trial.total(); ++seq) {
    // acquire: pairs with the writer's release store of seq; the stamp is the one it wrote.
    for (std::uint64_t spins = 1; channel.ping.seq.load(std::memory_order_acquire) != seq;
         ++spins) {
      if ((spins & 0xFFFFF) == 0 && monotonic_ns() > deadline) {
        throw Error(ErrorCode::io, "floor: no message " + std::to_string(seq) +
                                       " before the deadline; is the writer stuck?");
      }
      cpu_relax();
    }
    const std::int64_t now = monotonic_ns();
    // relaxed: ordered by the acquire load of seq above.
    const std::int64_t stamp = channel.ping.stamp_ns.load(std::memory_order_relaxed);
    if (seq > trial.warmup) recorder.record(now - stamp);
    acknowledge(channel, seq);
  }
  publish_outcome(channel, recorder);
  return 0;
}

double run_floor_writer(LatencyChannel& channel, const Trial& trial, ChildProcess& reader) {
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  const Pacer pacer(trial.rate, monotonic_ns() + 1'000'000);
  std::int64_t measured_from = 0;
  for (std::uint64_t index = 0; index < trial.total(); ++index) {
    const std::uint64_t seq = index + 1;
    // A one-message mailbox: the reader must have read the last one before we overwrite it.
    wait_for_ack(channel, seq - 1, reader, deadline);
    const std::int64_t stamp = pacer.wait_until_due(index);
    if (index == trial.warmup) measured_from = stamp;
    // relaxed: published by the release store of seq just below.
    channel.ping.stamp_ns.store(stamp, std::memory_order_relaxed);
    // release: pairs with the floor reader's acquire load of seq.
    channel.ping.seq.store(seq, std::memory_order_release);
    check_writer_health(index, reader, deadline);
  }
  const double elapsed_s = static_cast<double>(monotonic_ns() - measured_from) / 1e9;
  return static_cast<double>(trial.samples) / elapsed_s;
}

// ---- one trial, either system ----------------------------------------------------------

ResultRow collect(const Trial& trial, const LatencyChannel& channel, double msgs_per_s) {
  // acquire: pairs with publish_outcome's release; the summary is complete.
  if (channel.outcome.finished.load(std::memory_order_acquire) == 0) {
    throw Error(ErrorCode::io, "the " + trial.system + " reader exited without its results");
  }
  ResultRow row;
  row.system = trial.system;
  row.payload_bytes = trial.payload_bytes;
  row.wait = std::string(to_string(trial.wait));
  row.mode = trial.rate == 0 ? "flat-out" : "rate";
  row.latency = channel.outcome.summary;
  row.samples = channel.outcome.summary.samples;
  row.msgs_per_s = msgs_per_s;
  row.bytes_per_s = msgs_per_s * trial.payload_bytes;
  row.errors = channel.outcome.mismatches;
  row.lapped = channel.outcome.lapped;
  row.missed = channel.outcome.missed;
  return row;
}

ResultRow run_trial(const Trial& trial, const LatencyOptions& options) {
  SharedArray<LatencyChannel> channel;
  const bool floor = trial.system == "floor";
  // The ring exists before the fork so the reader can attach; the floor needs none.
  std::optional<RingWriter> writer;
  if (!floor) writer.emplace(create_bench_ring("latency", options.ring_bytes, trial.payload_bytes));

  ChildProcess reader =
      floor ? ChildProcess::spawn("floor reader",
                                  [&] {
                                    pin_to_cpu(options.reader_cpu);
                                    channel->reader_ready.announce();
                                    return run_floor_reader(*channel, trial);
                                  })
            : spawn_ring_reader("evring reader", *writer, options.reader_cpu, trial.wait,
                                channel->reader_ready, [&](RingReader& ring_reader) {
                                  return run_ring_reader(ring_reader, *channel, trial,
                                                         writer->instance());
                                });
  wait_until([&] { return channel->reader_ready.is_set(); }, {&reader},
             monotonic_ns() + kAttachTimeoutNs, "the " + reader.role() + " to start");

  const double msgs_per_s = floor ? run_floor_writer(*channel, trial, reader)
                                  : run_ring_writer(*writer, *channel, trial, reader);
  reader.join(trial.run_deadline_ns(monotonic_ns()));
  return collect(trial, *channel, msgs_per_s);
}

// ---- report ----------------------------------------------------------------------------

std::vector<std::int64_t> percentiles(const LatencySummary& s) {
  return {s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.p9999_ns, s.max_ns};
}

void print_latency_table(const std::vector<ResultRow>& rows, const ResultRow& floor) {
  TextTable table({"system", "payload", "wait", "p50", "p90", "p99", "p99.9", "p99.99", "max",
                   "samples", "msgs/s", "errors", "lapped"});
  for (const ResultRow& row : rows) {
    std::vector<std::string> cells{row.system, fmt::format("{} B", row.payload_bytes), row.wait};
    for (std::int64_t ns : percentiles(*row.latency)) cells.push_back(format_ns(ns));
    cells.push_back(std::to_string(row.samples));
    cells.push_back(format_count(row.msgs_per_s));
    cells.push_back(std::to_string(row.errors));
    cells.push_back(std::to_string(row.lapped));
    table.add_row(std::move(cells));
  }
  const std::vector<std::int64_t> floor_ns = percentiles(*floor.latency);
  for (const ResultRow& row : rows) {
    if (row.system == "floor") continue;
    std::vector<std::string> cells{"ratio evring/floor", fmt::format("{} B", row.payload_bytes),
                                   row.wait};
    const std::vector<std::int64_t> ns = percentiles(*row.latency);
    for (std::size_t i = 0; i < ns.size(); ++i) {
      cells.push_back(floor_ns[i] > 0 ? fmt::format("{:.2f}x", static_cast<double>(ns[i]) /
                                                                   static_cast<double>(floor_ns[i]))
                                      : "-");
    }
    table.add_row(std::move(cells));
  }
  table.print(stdout);
}

}  // namespace

ResultRow measure_floor(unsigned reader_cpu, std::uint64_t samples) {
  LatencyOptions options;
  options.reader_cpu = reader_cpu;
  const Trial trial{"floor", kFloorMessageBytes, WaitKind::spin, 0, 10'000, samples};
  return run_trial(trial, options);
}

std::vector<ResultRow> run_latency(const LatencyOptions& options) {
  pin_to_cpu(options.writer_cpu);
  if (options.writer_cpu == options.reader_cpu) {
    fmt::print("note: writer and reader share CPU {}: latency includes scheduling\n",
               options.writer_cpu);
  }
  const std::uint64_t warmup =
      options.warmup != 0 ? options.warmup : std::max<std::uint64_t>(10'000, options.samples / 20);
  fmt::print(
      "one-way latency, writer on CPU {}, reader on CPU {}, {}, {} samples after {} "
      "warm-up\n",
      options.writer_cpu, options.reader_cpu,
      options.rate == 0 ? std::string("flat out (one message in flight)")
                        : fmt::format("{} msgs/s, stamped at the intended send time", options.rate),
      options.samples, warmup);
  flush_stdio();

  std::vector<ResultRow> rows;
  Trial floor_trial{"floor", kFloorMessageBytes, WaitKind::spin, options.rate,
                    warmup,  options.samples};
  rows.push_back(run_trial(floor_trial, options));
  const ResultRow floor_row = rows.back();
  for (std::uint32_t payload : options.payloads) {
    for (WaitKind wait : options.waits) {
      Trial trial{"evring", payload, wait, options.rate, warmup, options.samples};
      rows.push_back(run_trial(trial, options));
    }
  }
  print_latency_table(rows, floor_row);

  // Afterwards, so it cannot disturb the trials: what the machine itself took away.
  const MachineStalls stalls = measure_machine_stalls(options.reader_cpu, kStallLookNs);
  fmt::print(
      "machine stalls (a pinned thread spinning on the clock; gaps > {} ns):\n  {}\n  "
      "{}\nat a fixed rate each stall delays every message due during it, on any "
      "transport: the tail percentiles above cannot be lower than these allow\n",
      kStallThresholdNs, describe(options.writer_cpu, stalls.writer_cpu),
      describe(options.reader_cpu, stalls.reader_cpu));
  return rows;
}

}  // namespace evring::bench
