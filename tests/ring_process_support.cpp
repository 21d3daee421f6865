#include "ring_process_support.hpp"

#include <sched.h>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace evring::test {

using namespace std::chrono_literals;

namespace {

// Lowest position among the live registered readers (the test's own flow control: the
// ring itself never waits, so a test that wants zero loss paces its writer).
std::uint64_t slowest_reader(Registry& registry) {
  std::uint64_t slowest = UINT64_MAX;
  for (const ReaderSlot& slot : registry.layout().slots) {
    if (slot.owner_pid.load(std::memory_order_acquire) == 0) continue;
    slowest = std::min(slowest, slot.position_seq.load(std::memory_order_relaxed));
  }
  return slowest;
}

}  // namespace

RingOptions ring_options(const std::string& instance, std::uint64_t capacity) {
  RingOptions options;
  options.instance = instance;
  options.capacity = capacity;
  options.max_payload = kMaxPayload;
  return options;
}

// The body of a reader process: reads until it has seen (or been told it missed) every
// record up to final_seq, checking each sequence number and payload.
int run_reader(const std::string& instance, const std::string& id, Shared& shared,
               ReaderReport& report) {
  RingReaderOptions options;
  options.instance = instance;
  options.start = RingStart::earliest;
  options.identity = {id, "test", WaitKind::yield};
  RingReader reader = RingReader::attach(options);
  RecordBuffer buffer(reader.max_payload());
  std::uint64_t expected = reader.expected_seq();
  report.attached.store(1, std::memory_order_release);
  for (;;) {
    const std::uint64_t final_seq = shared.final_seq.load(std::memory_order_acquire);
    if (final_seq != 0 && expected > final_seq) return 0;
    const PollResult result = reader.wait_next(buffer, WaitKind::yield, 100'000'000);
    switch (result.status) {
      case PollStatus::record:
        if (buffer.seq() != expected) report.bad_seq.fetch_add(1, std::memory_order_relaxed);
        if (!payload_matches(buffer.seq(), buffer.payload(), kMaxPayload)) {
          report.bad_payload.fetch_add(1, std::memory_order_relaxed);
        }
        report.received.fetch_add(1, std::memory_order_relaxed);
        report.bytes.fetch_add(buffer.payload().size(), std::memory_order_relaxed);
        expected = buffer.seq() + 1;
        // release: the counters above are visible to a test that acquires last_seq.
        report.last_seq.store(buffer.seq(), std::memory_order_release);
        break;
      case PollStatus::lapped:
        if (result.resume_seq != expected + result.missed) {
          report.bad_seq.fetch_add(1, std::memory_order_relaxed);
        }
        report.lapped.fetch_add(1, std::memory_order_relaxed);
        report.missed.fetch_add(result.missed, std::memory_order_relaxed);
        expected = result.resume_seq;
        break;
      case PollStatus::empty:
        break;
      case PollStatus::writer_gone:
      case PollStatus::writer_replaced:
        return 3;
    }
  }
}

ChildProcess start_reader_process(const std::string& instance, const std::string& id,
                                  Shared& shared, ReaderReport& report) {
  ChildProcess reader =
      ChildProcess::spawn(id, [&] { return run_reader(instance, id, shared, report); });
  if (!wait_until([&] { return report.attached.load() == 1; }, 20s)) {
    throw std::runtime_error("reader " + id + " did not attach within 20 s");
  }
  return reader;
}

std::uint64_t publish_test_record(RingWriter& writer) {
  static thread_local std::vector<std::byte> bytes(kMaxPayload);
  const std::uint64_t seq = writer.next_seq();
  const std::span<std::byte> payload(bytes.data(), payload_length_for(seq, kMaxPayload));
  fill_payload(seq, payload);
  return writer.publish(5, payload);
}

void every_reader_sees_every_record(std::uint64_t records) {
  const std::string name = unique_instance("fanout");
  InstanceCleanup cleanup(name);
  SharedBlock<Shared> shared;
  RingWriter writer = RingWriter::create(ring_options(name, 8u << 20));
  std::vector<std::unique_ptr<ChildProcess>> readers;
  for (int i = 0; i < 3; ++i) {
    const std::string id = "reader-" + std::to_string(i);
    readers.push_back(std::make_unique<ChildProcess>(ChildProcess::spawn(
        id, [&, i, id] { return run_reader(name, id, *shared, shared->readers[i]); })));
  }
  ASSERT_TRUE(wait_until([&] { return writer.registry().readers().size() == 3; }, 20s));
  constexpr std::uint64_t kWindow = 8000;  // records: well under what 8 MiB holds
  for (std::uint64_t i = 0; i < records; ++i) {
    if ((i & 255) == 0) {
      while (writer.next_seq() > slowest_reader(writer.registry()) + kWindow) sched_yield();
    }
    publish_test_record(writer);
  }
  shared->final_seq.store(writer.next_seq() - 1, std::memory_order_release);
  std::uint64_t expected_bytes = 0;
  for (std::uint64_t seq = 1; seq <= records; ++seq) {
    expected_bytes += payload_length_for(seq, kMaxPayload);
  }
  for (int i = 0; i < 3; ++i) {
    const int status = readers[i]->wait_for_exit(120s);
    ASSERT_NE(status, -1) << "reader " << i << " did not finish";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "reader " << i << " " << status;
    const ReaderReport& report = shared->readers[i];
    EXPECT_EQ(report.received.load(), records) << "reader " << i;
    EXPECT_EQ(report.bytes.load(), expected_bytes) << "reader " << i;
    EXPECT_EQ(report.bad_seq.load(), 0u) << "reader " << i;
    EXPECT_EQ(report.bad_payload.load(), 0u) << "reader " << i;
    EXPECT_EQ(report.lapped.load(), 0u) << "reader " << i;
  }
}

// A writer process that publishes paced records until killed.
int run_paced_writer(const std::string& instance, std::atomic<std::uint64_t>& published) {
  RingWriter writer = RingWriter::create(ring_options(instance, 1u << 20));
  for (;;) {
    published.store(publish_test_record(writer), std::memory_order_release);
    const std::int64_t until = monotonic_ns() + 20'000;
    while (monotonic_ns() < until) cpu_relax();
  }
}

}  // namespace evring::test
