// The ring across real processes: a writer and reader processes, stopped and killed ones.
#include <sched.h>

#include <gtest/gtest.h>

#include "ring/broadcast_ring.hpp"
#include "ring_process_support.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using test::InstanceCleanup;
using test::SharedBlock;
using test::unique_instance;
using namespace evring::test;

TEST(RingProcesses, ThreeReaderProcessesSeeHalfAMillionRecords) {
  test::every_reader_sees_every_record(500'000);
}

TEST(RingProcesses, StoppedReaderIsLappedReportsWhatItMissedAndNeverYieldsABadRecord) {
  const std::string name = unique_instance("sigstop");
  InstanceCleanup cleanup(name);
  SharedBlock<Shared> shared;
  RingWriter writer = RingWriter::create(ring_options(name, 1u << 16));
  ReaderReport& report = shared->readers[0];
  ChildProcess reader = start_reader_process(name, "stopped", *shared, report);
  for (int i = 0; i < 1000; ++i) publish_test_record(writer);
  ASSERT_TRUE(test::wait_until([&] { return report.last_seq.load() == 1000; }, 20s));

  reader.signal(SIGSTOP);
  ASSERT_TRUE(test::wait_until([&] { return test::process_state(reader.pid()) == 'T'; }, 5s));
  // Publish at least five rings' worth while it cannot run.
  std::uint64_t bytes = 0;
  while (bytes < 5 * writer.capacity()) {
    bytes +=
        aligned_record_length(test::payload_length_for(publish_test_record(writer), kMaxPayload));
  }
  reader.signal(SIGCONT);
  for (int i = 0; i < 100; ++i) publish_test_record(writer);
  const std::uint64_t final_seq = writer.next_seq() - 1;
  shared->final_seq.store(final_seq, std::memory_order_release);
  const int status = reader.wait_for_exit(30s);
  ASSERT_NE(status, -1);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GE(report.lapped.load(), 1u);
  EXPECT_GT(report.missed.load(), 0u);
  EXPECT_EQ(report.received.load() + report.missed.load(), final_seq)
      << "every sequence number was either delivered or reported missed";
  EXPECT_EQ(report.bad_seq.load(), 0u);
  EXPECT_EQ(report.bad_payload.load(), 0u);
  EXPECT_EQ(report.last_seq.load(), final_seq);
  std::printf("published %llu, delivered %llu, lapped %llu times, missed %llu\n",
              static_cast<unsigned long long>(final_seq),
              static_cast<unsigned long long>(report.received.load()),
              static_cast<unsigned long long>(report.lapped.load()),
              static_cast<unsigned long long>(report.missed.load()));
}

TEST(RingProcesses, StoppedSleepingReaderCostsTheWriterOneWakeNotOnePerPublish) {
  const std::string name = unique_instance("stopsleep");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(ring_options(name, 1u << 20));
  std::atomic<std::uint32_t>& wake_requested = writer.registry().layout().wake_requested;
  ChildProcess sleeper = ChildProcess::spawn("sleeping reader", [&] {
    RingReaderOptions options;
    options.instance = name;
    options.identity = {"sleeper", "test", WaitKind::block};
    RingReader reader = RingReader::attach(options);
    RecordBuffer buffer(reader.max_payload());
    for (;;) reader.wait_next(buffer, WaitKind::block, 60'000'000'000);
    return 0;
  });
  ASSERT_TRUE(test::wait_until([&] { return wake_requested.load() == 1; }, 20s)) << "asleep";
  sleeper.signal(SIGSTOP);
  ASSERT_TRUE(test::wait_until([&] { return test::process_state(sleeper.pid()) == 'T'; }, 5s));
  for (int i = 0; i < 10'000; ++i) publish_test_record(writer);
  EXPECT_EQ(writer.wake_calls(), 1u) << "a stopped sleeper must not tax every publish";
  sleeper.signal(SIGCONT);
}

TEST(RingProcessesDeathTest, ReaderThatWritesIntoTheRingDiesAndOthersCarryOn) {
  const std::string name = unique_instance("readonly");
  InstanceCleanup cleanup(name);
  SharedBlock<Shared> shared;
  RingWriter writer = RingWriter::create(ring_options(name, 1u << 20));
  ReaderReport& report = shared->readers[0];
  ChildProcess good_reader = start_reader_process(name, "good", *shared, report);
  for (int i = 0; i < 100; ++i) publish_test_record(writer);

  EXPECT_DEATH(
      {
        RingReaderOptions options;
        options.instance = name;
        RingReader bad = RingReader::attach(options);
        // A plugin bug: a store through the reader's mapping. PROT_READ makes it fault.
        auto* ring = const_cast<std::byte*>(bad.ring_segment().data());
        ring[kRingDataOffset + 64] = std::byte{0xFF};
        std::fprintf(stderr, "the store went through\n");
      },
      "");

  for (int i = 0; i < 100; ++i) publish_test_record(writer);
  shared->final_seq.store(writer.next_seq() - 1, std::memory_order_release);
  const int status = good_reader.wait_for_exit(30s);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(report.received.load(), 200u);
  EXPECT_EQ(report.bad_payload.load(), 0u) << "nothing the dead reader did reached the ring";
  EXPECT_EQ(report.bad_seq.load(), 0u);
}

TEST(RingProcesses, WriterKilledMidStreamIsSeenGoneThenReplacedByANewIncarnation) {
  const std::string name = unique_instance("crash");
  InstanceCleanup cleanup(name);
  SharedBlock<std::atomic<std::uint64_t>> published;
  auto first = std::make_unique<ChildProcess>(
      ChildProcess::spawn("first writer", [&] { return run_paced_writer(name, *published); }));
  ASSERT_TRUE(test::wait_until([&] { return published->load() >= 10; }, 20s));

  RingReaderOptions options;
  options.instance = name;
  options.start = RingStart::earliest;
  RingReader reader = RingReader::attach(options);
  ASSERT_EQ(reader.incarnation(), 1u);
  RecordBuffer buffer(reader.max_payload());
  std::uint64_t received = 0;
  while (received < 1000) {
    const PollResult r = reader.wait_next(buffer, WaitKind::yield, 5'000'000'000);
    ASSERT_EQ(r.status, PollStatus::record);
    ASSERT_TRUE(test::payload_matches(buffer.seq(), buffer.payload(), kMaxPayload));
    ++received;
  }

  first->signal(SIGKILL);  // not reaped yet: a zombie must count as dead too
  PollResult r;
  do {
    r = reader.wait_next(buffer, WaitKind::yield, 5'000'000'000);
    if (r.status == PollStatus::record) {
      ASSERT_TRUE(test::payload_matches(buffer.seq(), buffer.payload(), kMaxPayload));
    }
  } while (r.status == PollStatus::record);
  EXPECT_EQ(r.status, PollStatus::writer_gone);
  first.reset();

  published->store(0);
  ChildProcess second =
      ChildProcess::spawn("second writer", [&] { return run_paced_writer(name, *published); });
  ASSERT_TRUE(test::wait_until([&] { return published->load() >= 10; }, 20s));
  r = reader.wait_next(buffer, WaitKind::yield, 5'000'000'000);
  ASSERT_EQ(r.status, PollStatus::writer_replaced);
  reader.reattach();
  EXPECT_EQ(reader.incarnation(), 2u);
  EXPECT_EQ(reader.writer_pid(), static_cast<std::uint64_t>(second.pid()));
  for (int i = 0; i < 100; ++i) {
    r = reader.wait_next(buffer, WaitKind::yield, 5'000'000'000);
    if (r.status == PollStatus::lapped) continue;  // it may have run ahead while we looked
    ASSERT_EQ(r.status, PollStatus::record);
    ASSERT_TRUE(test::payload_matches(buffer.seq(), buffer.payload(), kMaxPayload));
  }
}

}  // namespace
}  // namespace evring
