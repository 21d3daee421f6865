#include "latency_trial.hpp"

#include <algorithm>
#include <optional>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "pacer.hpp"
#include "payload_pattern.hpp"
#include "ring_processes.hpp"

namespace evring::bench {
namespace {

using harness::ChildProcess;
using harness::pin_to_cpu;
using harness::SharedArray;
using harness::throw_if_interrupted;
using harness::wait_until;

constexpr std::int64_t kPollSliceNs = 50'000'000;      // reader re-checks its deadline
constexpr std::uint64_t kHealthCheckEvery = 1u << 14;  // writer messages between checks

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
        if (payload.size() == trial.payload_bytes && matches_pattern(newest_seq, payload)) {
          ++outcome.verified;
        } else {
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
    if (pacer.flat_out()) wait_for_ack(channel, seq - 1, &reader, deadline);
    const std::int64_t stamp = pacer.wait_until_due(index);
    if (index == trial.warmup) measured_from = stamp;
    writer.publish(kBenchRecordType, payload, stamp);
    check_writer_health(index, &reader, deadline);
  }
  writer.flush();
  const double elapsed_s = static_cast<double>(monotonic_ns() - measured_from) / 1e9;
  return static_cast<double>(trial.samples) / elapsed_s;
}

// ---- floor ---------------------------------------------------------------------------

int run_floor_reader(LatencyChannel& channel, const Trial& trial) {
  LatencyRecorder recorder(trial.samples);
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  for (std::uint64_t seq = 1; seq <= trial.total(); ++seq) {
    // acquire: pairs with the writer's release store of ping_seq; the stamp is the one it
    // wrote.
    for (std::uint64_t spins = 1; channel.ping_seq.load(std::memory_order_acquire) != seq;
         ++spins) {
      if ((spins & 0xFFFFF) == 0 && monotonic_ns() > deadline) {
        throw Error(ErrorCode::io, "floor: no message " + std::to_string(seq) +
                                       " before the deadline; is the writer stuck?");
      }
      cpu_relax();
    }
    const std::int64_t now = monotonic_ns();
    // relaxed: ordered by the acquire load of ping_seq above.
    const std::int64_t stamp = channel.ping_stamp_ns.load(std::memory_order_relaxed);
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
    wait_for_ack(channel, seq - 1, &reader, deadline);
    const std::int64_t stamp = pacer.wait_until_due(index);
    if (index == trial.warmup) measured_from = stamp;
    // relaxed: published by the release store of ping_seq just below.
    channel.ping_stamp_ns.store(stamp, std::memory_order_relaxed);
    // release: pairs with the floor reader's acquire load of ping_seq.
    channel.ping_seq.store(seq, std::memory_order_release);
    check_writer_health(index, &reader, deadline);
  }
  const double elapsed_s = static_cast<double>(monotonic_ns() - measured_from) / 1e9;
  return static_cast<double>(trial.samples) / elapsed_s;
}

}  // namespace

std::int64_t Trial::run_deadline_ns(std::int64_t start_ns) const {
  const double seconds = rate == 0 ? static_cast<double>(total()) * 50e-6
                                   : 2.0 * static_cast<double>(total()) / static_cast<double>(rate);
  return start_ns + static_cast<std::int64_t>(seconds * 1e9) + 10'000'000'000;
}

std::uint64_t default_warmup(std::uint64_t warmup, std::uint64_t samples,
                             std::uint64_t floor_count) {
  return warmup != 0 ? warmup : std::max<std::uint64_t>(floor_count, samples / 20);
}

void wait_for_ack(const LatencyChannel& channel, std::uint64_t seq, ChildProcess* reader,
                  std::int64_t deadline_ns) {
  // acquire: pairs with the reader's release store of acked_seq; for the floor, the reader
  // has finished reading the line before we overwrite it.
  for (std::uint64_t spins = 1; channel.acked_seq.load(std::memory_order_acquire) < seq; ++spins) {
    if ((spins & 0xFFFFF) == 0) {
      if (reader != nullptr) reader->check_running();
      throw_if_interrupted();
      if (monotonic_ns() > deadline_ns) {
        throw Error(ErrorCode::io, "the reader stopped acknowledging at seq " +
                                       std::to_string(seq) + "; is its core busy?");
      }
    }
    cpu_relax();
  }
}

void check_writer_health(std::uint64_t index, ChildProcess* reader, std::int64_t deadline_ns) {
  if (index % kHealthCheckEvery != 0) return;
  if (reader != nullptr) reader->check_running();
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
  // The floor's line carries no payload to check.
  if (trial.system != "floor") row.verified = channel.outcome.verified;
  row.lapped = channel.outcome.lapped;
  row.missed = channel.outcome.missed;
  return row;
}

ResultRow run_ring_or_floor_trial(const Trial& trial, unsigned reader_cpu,
                                  std::uint64_t ring_bytes) {
  SharedArray<LatencyChannel> channel;
  const bool floor = trial.system == "floor";
  // The ring exists before the fork so the reader can attach; the floor needs none.
  std::optional<RingWriter> writer;
  if (!floor) writer.emplace(create_bench_ring("latency", ring_bytes, trial.payload_bytes));

  ChildProcess reader =
      floor ? ChildProcess::spawn("floor reader",
                                  [&] {
                                    pin_to_cpu(reader_cpu);
                                    channel->reader_ready.announce();
                                    return run_floor_reader(*channel, trial);
                                  })
            : spawn_ring_reader("evring reader", *writer, reader_cpu, trial.wait,
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

ResultRow run_ring_fanout_trial(const Trial& trial, const std::vector<unsigned>& reader_cpus,
                                std::uint64_t ring_bytes) {
  const std::size_t count = reader_cpus.size();
  SharedArray<LatencyChannel> channels(count);
  RingWriter writer = create_bench_ring("fanout", ring_bytes, trial.payload_bytes);
  std::vector<ChildProcess> readers;
  for (std::size_t i = 0; i < count; ++i) {
    readers.push_back(spawn_ring_reader(
        "evring reader " + std::to_string(i + 1), writer, reader_cpus[i], trial.wait,
        channels[i].reader_ready, [&, i](RingReader& ring_reader) {
          return run_ring_reader(ring_reader, channels[i], trial, writer.instance());
        }));
  }
  std::vector<ChildProcess*> watched;
  for (ChildProcess& reader : readers) watched.push_back(&reader);
  wait_until(
      [&] {
        for (std::size_t i = 0; i < count; ++i) {
          if (!channels[i].reader_ready.is_set()) return false;
        }
        return true;
      },
      watched, monotonic_ns() + kAttachTimeoutNs, "the evring readers to start");
  const double msgs_per_s = run_ring_writer(writer, channels[0], trial, readers[0]);
  for (ChildProcess& reader : readers) reader.join(trial.run_deadline_ns(monotonic_ns()));

  ResultRow merged = collect(trial, channels[0], msgs_per_s);
  merged.readers = static_cast<unsigned>(count);
  for (std::size_t i = 1; i < count; ++i) {
    const ResultRow row = collect(trial, channels[i], msgs_per_s);
    LatencySummary& worst = *merged.latency;
    const LatencySummary& other = *row.latency;
    for (auto field :
         {&LatencySummary::p50_ns, &LatencySummary::p90_ns, &LatencySummary::p99_ns,
          &LatencySummary::p999_ns, &LatencySummary::p9999_ns, &LatencySummary::max_ns}) {
      worst.*field = std::max(worst.*field, other.*field);
    }
    merged.samples = std::min(merged.samples, row.samples);
    merged.errors += row.errors;
    *merged.verified += *row.verified;
    merged.lapped += row.lapped;
    merged.missed += row.missed;
  }
  return merged;
}

std::vector<std::int64_t> percentiles(const LatencySummary& s) {
  return {s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.p9999_ns, s.max_ns};
}

}  // namespace evring::bench
