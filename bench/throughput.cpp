// evring-bench throughput: records/s and bytes/s from one writer to 1..N reader processes,
// and the writer's publish rate with no reader, a live reader and a stopped (SIGSTOP)
// reader, which shows that no reader can slow the writer down; beside the naive slot ring
// (slot_ring.hpp), the toy that shows what a one-line record can cost here at best.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "payload_pattern.hpp"
#include "ring_processes.hpp"
#include "slot_ring.hpp"
#include "subcommands.hpp"

namespace evring::bench {
namespace {

using harness::ChildProcess;
using harness::flush_stdio;
using harness::online_cpus;
using harness::SharedArray;

constexpr std::int64_t kDrainTimeoutNs = 10'000'000'000;  // readers finish after the writer
constexpr std::int64_t kIdleSliceNs = 1'000'000;
constexpr std::uint64_t kClockCheckEvery = 1024;  // publishes between looks at the clock
constexpr std::uint64_t kFloorSamples = 200'000;  // ~50 ms flat out

// Writer -> readers: 0 while publishing, then the last sequence number published.
struct alignas(kFalseSharingRange) WriterFinish {
  std::atomic<std::uint64_t> final_seq;
};

struct ReaderCounts {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t lapped = 0;
  std::uint64_t missed = 0;
  std::uint64_t gaps = 0;         // a sequence jump no lap explains: a ring bug
  std::uint64_t bad_payload = 0;  // first word not what the writer stamped
  std::int64_t first_ns = 0;      // first record received
  std::int64_t drained_ns = 0;    // writer's last record received
};

// One reader's report, written by that reader only: counts before `finished`.
struct alignas(kFalseSharingRange) ReaderTally {
  ReadyFlag ready;
  ReaderCounts counts;
  std::atomic<std::uint32_t> finished;
};

enum class ReaderRole { live, stopped };

struct Setup {
  std::uint32_t payload_bytes = 64;
  unsigned readers = 1;
  ReaderRole role = ReaderRole::live;
  WaitKind wait = WaitKind::spin;
  double duration_s = 1.0;
};

struct Measurement {
  double writer_msgs_per_s = 0;
  std::vector<ReaderCounts> counts;  // live readers only
};

int run_counting_reader(RingReader& reader, const WriterFinish& finish, ReaderTally& tally,
                        WaitKind wait, const std::string& instance) {
  RecordBuffer buffer(reader.max_payload());
  // Counted in a local, published once at the end: the hot loop touches no shared line
  // but the ring's.
  ReaderCounts counts;
  std::uint64_t last_seq = 0;
  std::int64_t done_deadline = 0;
  for (;;) {
    PollResult result = reader.poll(buffer);
    if (result.status == PollStatus::empty) {
      // acquire: pairs with the writer's release store; final_seq is its true last record.
      const std::uint64_t final_seq = finish.final_seq.load(std::memory_order_acquire);
      if (final_seq != 0) {
        if (last_seq >= final_seq) break;
        if (done_deadline == 0) done_deadline = monotonic_ns() + kDrainTimeoutNs;
        if (monotonic_ns() > done_deadline) {
          throw Error(ErrorCode::io, "stuck at seq " + std::to_string(last_seq) + " of " +
                                         std::to_string(final_seq));
        }
      }
      result = reader.wait_next(buffer, wait, kIdleSliceNs);
    }
    switch (result.status) {
      case PollStatus::record: {
        const std::uint64_t seq = buffer.seq();
        if (counts.records == 0) counts.first_ns = monotonic_ns();
        if (last_seq != 0 && seq != last_seq + 1) ++counts.gaps;
        last_seq = seq;
        const auto payload = buffer.payload();
        ++counts.records;
        counts.bytes += payload.size();
        if (!first_word_matches(seq, payload)) ++counts.bad_payload;
        break;
      }
      case PollStatus::lapped:
        ++counts.lapped;
        counts.missed += result.missed;
        last_seq = result.resume_seq - 1;  // the ring continues there: not a gap
        break;
      case PollStatus::empty:
        break;
      default:
        throw_if_writer_lost(result, instance);
    }
  }
  counts.drained_ns = monotonic_ns();
  tally.counts = counts;
  // release: pairs with the parent's acquire load; the counts above are complete.
  tally.finished.store(1, std::memory_order_release);
  return 0;
}

// Publishes flat out for duration_s, one record at a time or in batches of `batch` (one
// commit and one stamp each); returns the publish rate.
double publish_flat_out(RingWriter& writer, std::uint32_t payload_bytes, unsigned batch,
                        double duration_s, std::vector<ChildProcess>& readers) {
  std::vector<std::vector<std::byte>> payloads(batch, std::vector<std::byte>(payload_bytes));
  std::vector<OutgoingRecord> records;
  for (auto& payload : payloads) {
    fill_pattern(0, payload);  // touch it once; each record then stamps its first word
    records.push_back({kBenchRecordType, payload});
  }
  const std::int64_t start = monotonic_ns();
  const std::int64_t end = start + static_cast<std::int64_t>(duration_s * 1e9);
  std::uint64_t published = 0;
  if (batch == 1) {
    for (;;) {
      stamp_first_word(writer.next_seq(), payloads.front());
      writer.publish(kBenchRecordType, payloads.front());
      if (++published % kClockCheckEvery == 0 && monotonic_ns() >= end) break;
    }
  } else {
    for (;;) {
      for (unsigned i = 0; i < batch; ++i) stamp_first_word(writer.next_seq() + i, payloads[i]);
      writer.publish_batch(records, writer.now_ns());
      published += batch;
      if (published % (kClockCheckEvery * batch) < batch && monotonic_ns() >= end) break;
    }
  }
  writer.flush();  // going idle: a reader lapped at the very end sees it (W6)
  const std::int64_t elapsed = monotonic_ns() - start;
  // A reader that died mid-run would make its row meaningless: say so now.
  for (ChildProcess& reader : readers) reader.check_running();
  harness::throw_if_interrupted();
  return static_cast<double>(published) * 1e9 / static_cast<double>(elapsed);
}

Measurement measure(const Setup& setup, const ThroughputOptions& options) {
  RingWriter writer = create_bench_ring("throughput", options.ring_bytes, setup.payload_bytes);
  SharedArray<WriterFinish> finish;
  SharedArray<ReaderTally> tallies(std::max(setup.readers, 1u));
  const std::vector<unsigned> cpus =
      reader_cpus(setup.readers, options.writer_cpu, options.reader_cpu);

  std::vector<ChildProcess> readers;
  std::vector<ChildProcess*> watched;
  readers.reserve(setup.readers);
  for (unsigned i = 0; i < setup.readers; ++i) {
    readers.push_back(spawn_ring_reader(fmt::format("reader {}", i), writer, cpus[i], setup.wait,
                                        tallies[i].ready, [&, i](RingReader& reader) {
                                          return run_counting_reader(reader, *finish, tallies[i],
                                                                     setup.wait, writer.instance());
                                        }));
    watched.push_back(&readers.back());
  }
  wait_until_all_ready(tallies, setup.readers, watched, monotonic_ns() + kAttachTimeoutNs,
                       "the readers to attach");
  if (setup.role == ReaderRole::stopped) {
    for (ChildProcess& reader : readers) reader.stop();
  }

  Measurement result;
  result.writer_msgs_per_s =
      publish_flat_out(writer, setup.payload_bytes, options.batch, setup.duration_s, readers);
  // release: pairs with the readers' acquire load; every record is published before it.
  finish->final_seq.store(writer.next_seq() - 1, std::memory_order_release);

  if (setup.role == ReaderRole::stopped) {
    for (ChildProcess& reader : readers) reader.kill_and_reap();  // lapped many times over
    return result;
  }
  const std::int64_t deadline = monotonic_ns() + kDrainTimeoutNs;
  for (ChildProcess& reader : readers) reader.join(deadline);
  for (unsigned i = 0; i < setup.readers; ++i) {
    // acquire: pairs with the reader's release store of `finished`.
    if (tallies[i].finished.load(std::memory_order_acquire) == 0) {
      throw Error(ErrorCode::io, fmt::format("reader {} exited without its counts", i));
    }
    result.counts.push_back(tallies[i].counts);
  }
  return result;
}

// What the naive slot ring's payload is: a slot of one cache line, {seq, 56 B}.
constexpr std::uint32_t kSlotRingPayload = 56;

// The slot ring's reader: spins on the seq of the slot it wants, copies the message out.
int run_slot_ring_reader(const SlotRing& ring, std::uint32_t payload_bytes,
                         const WriterFinish& finish, ReaderTally& tally) {
  std::vector<std::byte> copy(payload_bytes);
  ReaderCounts counts;
  tally.ready.announce();
  for (std::uint64_t want = 1;;) {
    const std::uint64_t seq = ring.seq_at(want);
    if (seq < want) {
      // acquire: pairs with the writer's release store; a final seq means it stopped.
      const std::uint64_t last = finish.final_seq.load(std::memory_order_acquire);
      if (last != 0 && want > last) break;
      continue;
    }
    if (seq > want) {  // lapped: the toy just jumps to what the slot holds
      ++counts.lapped;
      counts.missed += seq - want;
      want = seq;
      continue;
    }
    std::memcpy(copy.data(), ring.message(want), payload_bytes);
    if (counts.records == 0) counts.first_ns = monotonic_ns();
    if (!first_word_matches(want, copy)) ++counts.bad_payload;
    ++counts.records;
    counts.bytes += payload_bytes;
    ++want;
  }
  counts.drained_ns = monotonic_ns();
  tally.counts = counts;
  // release: pairs with the parent's acquire load; the counts above are complete.
  tally.finished.store(1, std::memory_order_release);
  return 0;
}

// The slot ring with one spinning reader on reader_cpu, the writer (this thread) flat out.
Measurement measure_slot_ring(const ThroughputOptions& options) {
  const SlotRing ring(kSlotRingPayload);
  SharedArray<WriterFinish> finish;
  SharedArray<ReaderTally> tally(1);
  ChildProcess reader = ChildProcess::spawn("slot-ring reader", [&] {
    harness::pin_to_cpu(options.reader_cpu);
    return run_slot_ring_reader(ring, kSlotRingPayload, *finish, tally[0]);
  });
  wait_until_all_ready(tally, 1, {&reader}, monotonic_ns() + kAttachTimeoutNs,
                       "the slot-ring reader to start");
  std::vector<std::byte> payload(kSlotRingPayload);
  fill_pattern(0, payload);
  const std::int64_t start = monotonic_ns();
  const std::int64_t end = start + static_cast<std::int64_t>(options.duration_s * 1e9);
  std::uint64_t seq = 1;
  for (;; ++seq) {
    stamp_first_word(seq, payload);
    std::memcpy(ring.message(seq), payload.data(), payload.size());
    ring.commit(seq);
    if (seq % kClockCheckEvery == 0 && monotonic_ns() >= end) break;
  }
  Measurement result;
  result.writer_msgs_per_s =
      static_cast<double>(seq) * 1e9 / static_cast<double>(monotonic_ns() - start);
  // release: pairs with the reader's acquire load.
  finish->final_seq.store(seq, std::memory_order_release);
  reader.join(monotonic_ns() + kDrainTimeoutNs);
  // acquire: pairs with the reader's release store of `finished`.
  if (tally[0].finished.load(std::memory_order_acquire) == 0) {
    throw Error(ErrorCode::io, "the slot-ring reader exited without its counts");
  }
  result.counts.push_back(tally[0].counts);
  return result;
}

ResultRow to_row(const Setup& setup, const Measurement& measurement, const std::string& mode) {
  ResultRow row;
  row.system = "evring";
  row.payload_bytes = setup.payload_bytes;
  row.wait = setup.readers == 0 ? "-" : std::string(to_string(setup.wait));
  row.mode = mode;
  row.readers = setup.readers;
  row.writer_msgs_per_s = measurement.writer_msgs_per_s;
  row.msgs_per_s = measurement.writer_msgs_per_s;
  row.bytes_per_s = measurement.writer_msgs_per_s * setup.payload_bytes;
  bool first = true;
  for (const ReaderCounts& counts : measurement.counts) {
    // The slowest reader sets the row's delivered rate.
    const double seconds = static_cast<double>(counts.drained_ns - counts.first_ns) / 1e9;
    const double rate = seconds > 0 ? static_cast<double>(counts.records) / seconds : 0;
    if (first || rate < row.msgs_per_s) {
      row.msgs_per_s = rate;
      row.bytes_per_s = seconds > 0 ? static_cast<double>(counts.bytes) / seconds : 0;
      row.samples = counts.records;
    }
    first = false;
    row.lapped += counts.lapped;
    row.missed += counts.missed;
    row.errors += counts.gaps + counts.bad_payload;
  }
  return row;
}

void print_throughput_table(const std::vector<ResultRow>& rows) {
  TextTable table({"mode", "readers", "payload", "wait", "writer rec/s", "per-reader rec/s",
                   "per-reader bytes/s", "lapped", "missed", "errors"});
  for (const ResultRow& row : rows) {
    if (row.system == "floor") continue;  // printed on its own line: a latency, not a rate
    const bool has_readers = row.mode == "throughput" || row.mode == "slot-ring";
    table.add_row({row.mode, std::to_string(row.readers), fmt::format("{} B", row.payload_bytes),
                   row.wait, format_count(row.writer_msgs_per_s.value_or(0)),
                   has_readers ? format_count(row.msgs_per_s) : "-",
                   has_readers ? format_bytes(row.bytes_per_s) : "-", std::to_string(row.lapped),
                   std::to_string(row.missed), std::to_string(row.errors)});
  }
  table.print(stdout);
}

// One reader's rate for records of one cache line (40 B payloads: 64-byte records), against
// the slot ring's for its one-line slots, in this run.
void print_against_slot_ring(const std::vector<ResultRow>& rows) {
  const ResultRow* toy = nullptr;
  const ResultRow* ours = nullptr;
  for (const ResultRow& row : rows) {
    if (row.mode == "slot-ring") toy = &row;
    const bool one_line = aligned_record_length(row.payload_bytes) <= kCacheLine;
    if (row.mode == "throughput" && row.readers == 1 && one_line && ours == nullptr) ours = &row;
  }
  if (toy == nullptr || ours == nullptr || toy->msgs_per_s <= 0) return;
  fmt::print(
      "one reader, one-line records: evring ({} B payloads) {} rec/s = {:.2f}x the slot ring's "
      "{} rec/s ({} B in 64-byte slots)\n",
      ours->payload_bytes, format_count(ours->msgs_per_s), ours->msgs_per_s / toy->msgs_per_s,
      format_count(toy->msgs_per_s), toy->payload_bytes);
}

WaitKind choose_wait(const ThroughputOptions& options, unsigned readers) {
  if (!options.wait_auto) return options.wait;
  return readers + 1 <= online_cpus() ? WaitKind::spin : WaitKind::yield;
}

// Writer rate with no reader, one live reader and one stopped reader, interleaved over
// rounds so drift on a shared machine hits all three alike; the median of each is kept.
void compare_stopped_reader(const ThroughputOptions& options, std::vector<ResultRow>& rows) {
  const std::uint32_t payload = options.payloads.front();
  const WaitKind wait = choose_wait(options, 1);
  const double slice_s = options.duration_s / 2;
  struct Variant {
    std::string mode;
    unsigned readers;
    ReaderRole role;
    std::vector<double> rates;
  };
  std::vector<Variant> variants{{"no-reader", 0, ReaderRole::live, {}},
                                {"live-reader", 1, ReaderRole::live, {}},
                                {"stopped-reader", 1, ReaderRole::stopped, {}}};
  for (unsigned round = 0; round < options.stopped_rounds; ++round) {
    for (Variant& variant : variants) {
      const Setup setup{payload, variant.readers, variant.role, wait, slice_s};
      variant.rates.push_back(measure(setup, options).writer_msgs_per_s);
    }
  }
  for (const Variant& variant : variants) {
    Measurement summary;
    summary.writer_msgs_per_s = median(variant.rates);
    const Setup setup{payload, variant.readers, variant.role, wait, slice_s};
    rows.push_back(to_row(setup, summary, variant.mode));
  }
}

}  // namespace

std::vector<ResultRow> run_throughput(const ThroughputOptions& options) {
  harness::pin_to_cpu(options.writer_cpu);
  const unsigned cores = online_cpus();
  fmt::print("throughput: writer on CPU {}, flat out for {:.1f} s per row, {}\n",
             options.writer_cpu, options.duration_s,
             options.batch == 1 ? std::string("one record per publish")
                                : fmt::format("batches of {} records per publish", options.batch));
  for (unsigned readers : options.readers) {
    if (options.wait_auto && readers + 1 > cores) {
      fmt::print(
          "note: {} readers + 1 writer > {} cores: those readers wait with yield, and "
          "the one sharing the writer's core can only run when the writer is preempted "
          "(expect laps; pass --wait spin to force spinning)\n",
          readers, cores);
    }
  }
  flush_stdio();

  std::vector<ResultRow> rows;
  rows.push_back(measure_floor(options.reader_cpu, kFloorSamples));
  const LatencySummary& floor = *rows.back().latency;
  fmt::print(
      "floor: one cache line CPU {} -> CPU {}, flat out: p50 {}, p99 {} (the transfer "
      "every record pays at least once; it moves when the host moves the vCPUs)\n",
      options.writer_cpu, options.reader_cpu, format_ns(floor.p50_ns), format_ns(floor.p99_ns));
  flush_stdio();
  for (unsigned readers : options.readers) {
    for (std::uint32_t payload : options.payloads) {
      const Setup setup{payload, readers, ReaderRole::live, choose_wait(options, readers),
                        options.duration_s};
      rows.push_back(to_row(setup, measure(setup, options), "throughput"));
    }
  }
  {
    const Setup toy{kSlotRingPayload, 1, ReaderRole::live, WaitKind::spin, options.duration_s};
    ResultRow row = to_row(toy, measure_slot_ring(options), "slot-ring");
    row.system = "slot-ring";
    rows.push_back(row);
  }
  if (options.stopped_rounds > 0) compare_stopped_reader(options, rows);
  print_throughput_table(rows);
  print_against_slot_ring(rows);

  if (options.stopped_rounds > 0) {
    const double none = rows[rows.size() - 3].writer_msgs_per_s.value_or(0);
    const double live = rows[rows.size() - 2].writer_msgs_per_s.value_or(0);
    const double stopped = rows[rows.size() - 1].writer_msgs_per_s.value_or(0);
    fmt::print(
        "writer rate, {} B records, median of {} rounds: live reader {:.3f}x and stopped "
        "reader {:.3f}x of no reader\n",
        options.payloads.front(), options.stopped_rounds, live / none, stopped / none);
  }
  return rows;
}

}  // namespace evring::bench
