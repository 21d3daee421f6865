#include "demo_roles.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <vector>

#include "demo_payload.hpp"
#include "evring/broadcast_ring.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"

namespace evring::tools {
namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::int64_t kHeartbeatIntervalNs = 100'000'000;  // as RingWriter::heartbeat asks
constexpr std::int64_t kGoDeadlineNs = 10 * kSecondNs;
constexpr std::int64_t kPollTimeoutNs = 100'000'000;
// Ahead of schedule by more than this, the writer sleeps instead of yielding: on a
// 2-core machine the readers need the core more than the writer needs its precision.
constexpr std::int64_t kSleepThresholdNs = 200'000;
// Rate 0 has no schedule to size the recorder by; this bounds its memory (32 MB).
constexpr std::size_t kMaxLatencySamples = 4u << 20;

RingOptions demo_ring_options(const DemoConfig& config) {
  RingOptions options;
  options.instance = config.instance;
  options.capacity = config.ring_bytes;
  options.max_payload = kDemoMaxPayload;
  return options;
}

// Spins politely (the parent and the readers share the cores) until the parent says go.
void wait_for_go(const DemoBoard& board) {
  const std::int64_t deadline = monotonic_ns() + kGoDeadlineNs;
  // acquire: pairs with the parent's release store after every reader attached.
  while (!board.parent.go.load(std::memory_order_acquire)) {
    if (monotonic_ns() > deadline) {
      throw Error(ErrorCode::io,
                  "the readers did not attach within 10 s: is the machine "
                  "overloaded?");
    }
    sched_yield();
  }
}

// Sleeps when well ahead of the schedule, otherwise gives the core away once.
void idle_until(std::int64_t due_ns) {
  if (due_ns - monotonic_ns() > kSleepThresholdNs) {
    const timespec due{static_cast<time_t>(due_ns / kSecondNs),
                       static_cast<long>(due_ns % kSecondNs)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr);
  } else {
    sched_yield();
  }
}

// When record number `index` (0-based) is due at `rate` per second after `start_ns`.
std::int64_t due_time(std::int64_t start_ns, std::uint64_t rate, std::uint64_t index) {
  return start_ns +
         static_cast<std::int64_t>(static_cast<double>(index) * 1e9 / static_cast<double>(rate));
}

std::size_t latency_capacity(const DemoConfig& config) {
  if (config.rate == 0) return kMaxLatencySamples;
  const double expected = static_cast<double>(config.rate) * config.seconds * 1.1 + 1000;
  return std::min(kMaxLatencySamples, static_cast<std::size_t>(expected));
}

}  // namespace

int run_demo_writer(const DemoConfig& config, DemoBoard& board) {
  {
    RingWriter writer = RingWriter::create(demo_ring_options(config));
    // release: the parent, seeing ready, may tell the readers to attach.
    board.writer.phase.store(Phase::ready, std::memory_order_release);
    wait_for_go(board);

    std::array<std::byte, kDemoMaxPayload> payload{};
    const std::int64_t start = monotonic_ns();
    const std::int64_t end = start + static_cast<std::int64_t>(config.seconds * 1e9);
    std::int64_t next_heartbeat = start;
    std::uint64_t published = 0;
    for (std::int64_t now = start; now < end; now = monotonic_ns()) {
      if (now >= next_heartbeat) {
        writer.heartbeat();
        next_heartbeat = now + kHeartbeatIntervalNs;
      }
      if (config.rate != 0 && now < due_time(start, config.rate, published)) {
        idle_until(std::min(end, due_time(start, config.rate, published)));
        continue;
      }
      const std::uint64_t seq = writer.next_seq();
      const std::span<std::byte> record = std::span(payload).first(demo_payload_size(seq));
      fill_demo_payload(seq, record);
      writer.publish(kDemoEventType, record);
      board.writer.published.store(++published, std::memory_order_relaxed);
    }
    writer.heartbeat();
  }  // ~RingWriter: the ring is closed; readers see writer_gone once they have drained it
  // release: the parent may now count on `published` being final.
  board.writer.phase.store(Phase::finished, std::memory_order_release);
  return 0;
}

int run_demo_reader(const DemoConfig& config, std::size_t index, DemoBoard& board) {
  ReaderBoard& mine = board.readers[index];
  ReaderOptions options;
  options.instance = config.instance;
  // earliest: attach order does not matter, nothing published before go is missed.
  options.start = StartAt::earliest;
  options.identity = ReaderIdentity{demo_reader_id(index), "demo", config.wait};
  RingReader reader = RingReader::attach(options);
  RecordBuffer record(reader.max_payload());
  std::vector<std::byte> scratch(kDemoMaxPayload);
  LatencyRecorder latency(latency_capacity(config));
  // release: the parent, seeing every reader ready, lets the writer start.
  mine.phase.store(Phase::ready, std::memory_order_release);

  std::uint64_t records = 0, bytes = 0, checksum_errors = 0;
  for (;;) {
    const PollResult result = reader.wait_next(record, config.wait, kPollTimeoutNs);
    if (result.status == PollStatus::record) {
      // Measured first, before the checks below add their own time.
      latency.record(monotonic_ns() - record.publish_ns());
      if (!is_demo_payload(record.seq(), record.payload(), scratch)) ++checksum_errors;
      ++records;
      bytes += record.payload().size();
      // relaxed, all: display counters (see ReaderBoard).
      mine.position_seq.store(record.seq(), std::memory_order_relaxed);
      mine.records.store(records, std::memory_order_relaxed);
      mine.bytes.store(bytes, std::memory_order_relaxed);
      mine.checksum_errors.store(checksum_errors, std::memory_order_relaxed);
    } else if (result.status == PollStatus::lapped) {
      // A real reader would now replay result.missed records from the journal.
      mine.lapped.store(reader.lapped_count(), std::memory_order_relaxed);
    } else if (result.status == PollStatus::writer_gone) {
      break;  // the writer closed the ring after its last record, and we have read it
    } else if (result.status == PollStatus::writer_replaced) {
      throw Error(ErrorCode::writer_running,
                  "another writer took over instance \"" + config.instance +
                      "\" during the demo: run the demo with a --name nothing else uses");
    }
  }
  mine.latency = latency.summarize();
  mine.latency_dropped = latency.dropped();
  // release: the latency summary above is complete for the parent that sees finished.
  mine.phase.store(Phase::finished, std::memory_order_release);
  return 0;
}

}  // namespace evring::tools
