// Unit tests of the ring, registry and segments, in one process.
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "ring/broadcast_ring.hpp"
#include "sync/doorbell.hpp"
#include "sync/wait_strategy.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

using test::InstanceCleanup;
using test::unique_instance;

std::vector<std::byte> test_payload(std::uint64_t seq, std::uint32_t max_payload) {
  std::vector<std::byte> bytes(test::payload_length_for(seq, max_payload));
  test::fill_payload(seq, bytes);
  return bytes;
}

std::uint64_t publish_test_record(RingWriter& writer) {
  const std::uint64_t seq = writer.next_seq();
  const std::vector<std::byte> bytes = test_payload(seq, writer.max_payload());
  EXPECT_EQ(writer.publish(7, bytes), seq);
  return seq;
}

RingOptions small_ring(const std::string& instance, std::uint64_t capacity = 8192,
                       std::uint32_t max_payload = 1000) {
  RingOptions options;
  options.instance = instance;
  options.capacity = capacity;
  options.max_payload = max_payload;
  return options;
}

RingReaderOptions reader_options(const std::string& instance,
                                 RingStart start = RingStart::earliest) {
  RingReaderOptions options;
  options.instance = instance;
  options.start = start;
  options.identity = {"unit", "test", WaitKind::spin};
  return options;
}

template <typename Fn>
ErrorCode error_code_of(Fn&& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "expected an evring::Error";
  return ErrorCode::io;
}

TEST(Ring, EmptyRingPollsEmpty) {
  const std::string name = unique_instance("empty");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer.max_payload());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty);
}

TEST(Ring, WrapsAroundWithMixedSizesAndKeepsSequence) {
  const std::string name = unique_instance("wrap");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer.max_payload());
  std::uint64_t published_bytes = 0;
  std::uint64_t next_expected = 1;
  // Publish a few records at a time (never a whole ring ahead), read them all back.
  for (int round = 0; round < 3000; ++round) {
    const int batch = 1 + round % 4;
    for (int i = 0; i < batch; ++i) {
      published_bytes += aligned_record_length(
          test::payload_length_for(publish_test_record(writer), writer.max_payload()));
    }
    for (int i = 0; i < batch; ++i) {
      ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
      ASSERT_EQ(buffer.seq(), next_expected);
      ASSERT_EQ(buffer.type(), 7u);
      ASSERT_TRUE(test::payload_matches(buffer.seq(), buffer.payload(), writer.max_payload()));
      ++next_expected;
    }
    ASSERT_EQ(reader.poll(buffer).status, PollStatus::empty);
  }
  EXPECT_GT(published_bytes, 50 * writer.capacity()) << "the ring must have wrapped many times";
  EXPECT_EQ(reader.lapped_count(), 0u);
}

TEST(Ring, PadsARecordThatWouldCrossTheEnd) {
  const std::string name = unique_instance("pad");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name, 4096, 1000));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer.max_payload());
  // Records of 1000 aligned bytes: four fill 4000 of 4096, the fifth must wrap.
  const std::vector<std::byte> payload(1000 - sizeof(RecordHeader), std::byte{0x5A});
  auto read_next = [&](std::uint64_t seq) {
    ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), seq) << "padding must never reach the caller";
    EXPECT_EQ(buffer.payload().size(), payload.size());
    EXPECT_EQ(buffer.payload()[payload.size() - 1], std::byte{0x5A});
  };
  for (int i = 0; i < 3; ++i) writer.publish(1, payload);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) read_next(seq);
  writer.publish(1, payload);
  writer.publish(1, payload);
  const auto* layout = reinterpret_cast<const RingLayout*>(reader.ring_segment().data());
  // The fifth record starts at 4096 (after 96 bytes of padding) and ends at 5096.
  EXPECT_EQ(layout->cursor.tail.load(), 4096u + 1000u);
  EXPECT_EQ(layout->cursor.latest.load(), 4096u);
  const auto* padding = reinterpret_cast<const RecordHeader*>(reader.ring_segment().data() +
                                                              layout->config.data_offset + 4000);
  EXPECT_EQ(padding->type, kPaddingType);
  EXPECT_EQ(padding->length, 96u);
  read_next(4);
  read_next(5);
  EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty);
}

TEST(Ring, SkipsARestTooShortForAPaddingHeader) {
  const std::string name = unique_instance("shortpad");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name, 4096, 1000));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer.max_payload());
  // Four records of 1020 aligned bytes leave 16 bytes at the end: less than a header.
  const std::vector<std::byte> payload(1020 - sizeof(RecordHeader), std::byte{0x33});
  for (std::uint64_t seq = 1; seq <= 12; ++seq) {
    writer.publish(1, payload);
    ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), seq);
    EXPECT_EQ(buffer.payload().size(), payload.size());
  }
  EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty);
}

TEST(Ring, CarriesMaximumAndEmptyPayloadsAndRefusesLarger) {
  const std::string name = unique_instance("maxpayload");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name, 1 << 16, 4000));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer.max_payload());
  std::vector<std::byte> biggest(4000);
  for (std::size_t i = 0; i < biggest.size(); ++i) biggest[i] = std::byte(i * 31);
  writer.publish(2, biggest);
  writer.publish(3, {});
  std::string message;
  EXPECT_EQ(error_code_of([&] { writer.publish(2, std::vector<std::byte>(4001)); }, &message),
            ErrorCode::invalid_argument);
  EXPECT_NE(message.find("4000"), std::string::npos) << message;
  ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
  ASSERT_EQ(buffer.payload().size(), biggest.size());
  EXPECT_TRUE(std::equal(biggest.begin(), biggest.end(), buffer.payload().begin()));
  ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
  EXPECT_EQ(buffer.payload().size(), 0u);
  EXPECT_EQ(buffer.type(), 3u);
  EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty) << "the refused record was published";
}

TEST(Ring, SequenceStartsWhereTheWriterSaysAndHasNoGaps) {
  const std::string name = unique_instance("firstseq");
  InstanceCleanup cleanup(name);
  RingOptions options = small_ring(name);
  options.first_seq = 1000;
  RingWriter writer = RingWriter::create(options);
  RingReader reader = RingReader::attach(reader_options(name));
  // Nothing published yet: the head is where the journal the writer continues ends, not 0
  // (a reader restoring a checkpoint at 999 must not take the instance for a new one).
  EXPECT_EQ(reader.head_seq(), 999u);
  RecordBuffer buffer(writer.max_payload());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(publish_test_record(writer), 1000u + i);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), 1000u + i);
  }
  EXPECT_EQ(reader.head_seq(), 1009u);
}

TEST(Ring, LiveReaderStartsAtTheNextRecord) {
  const std::string name = unique_instance("live");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  for (int i = 0; i < 5; ++i) publish_test_record(writer);
  RingReader reader = RingReader::attach(reader_options(name, RingStart::live));
  RecordBuffer buffer(writer.max_payload());
  EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty);
  publish_test_record(writer);
  ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
  EXPECT_EQ(buffer.seq(), 6u);
}

TEST(Ring, LappedReaderReportsExactlyWhatItMissed) {
  const std::string name = unique_instance("lap");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer.max_payload());
  for (int i = 0; i < 3; ++i) publish_test_record(writer);
  ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);   // seq 1
  for (int i = 0; i < 2000; ++i) publish_test_record(writer);  // far more than 8 KiB
  // Seqs 2 and 3 were copied and validated with seq 1, before the writer came round: a
  // private copy stays good, so they are still delivered.
  for (std::uint64_t seq = 2; seq <= 3; ++seq) {
    ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), seq);
    EXPECT_TRUE(test::payload_matches(buffer.seq(), buffer.payload(), writer.max_payload()));
  }
  const PollResult lapped = reader.poll(buffer);
  ASSERT_EQ(lapped.status, PollStatus::lapped);
  // It resumes at the record the cursor names: the newest, or one at most a cursor stride
  // (ring_protocol.hpp) before it, and reads on from there.
  const std::uint64_t newest = writer.next_seq() - 1;
  const std::uint64_t stride_records = kCursorStride / sizeof(RecordHeader) + 1;
  EXPECT_LE(lapped.resume_seq, newest);
  EXPECT_GE(lapped.resume_seq + stride_records, newest) << "resumes near the newest record";
  EXPECT_EQ(lapped.missed, lapped.resume_seq - 4);
  for (std::uint64_t seq = lapped.resume_seq; seq <= newest; ++seq) {
    ASSERT_EQ(reader.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), seq);
    EXPECT_TRUE(test::payload_matches(buffer.seq(), buffer.payload(), writer.max_payload()));
  }
  EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty);
  EXPECT_EQ(reader.lapped_count(), 1u);
  EXPECT_EQ(reader.slot()->missed_count.load(), lapped.missed);
}

TEST(Ring, RefusesBadOptionsWithAReason) {
  const std::string name = unique_instance("options");
  InstanceCleanup cleanup(name);
  std::string message;
  EXPECT_EQ(error_code_of([&] { RingWriter::create(small_ring(name, 10000)); }, &message),
            ErrorCode::invalid_argument);
  EXPECT_NE(message.find("power of two"), std::string::npos) << message;
  EXPECT_EQ(error_code_of([&] { RingWriter::create(small_ring(name, 4096, 2000)); }, &message),
            ErrorCode::invalid_argument);
  EXPECT_NE(message.find("--ring-bytes"), std::string::npos) << message;
  EXPECT_EQ(error_code_of([&] { RingWriter::create(small_ring("bad/name")); }, &message),
            ErrorCode::invalid_argument);
  EXPECT_NE(message.find("bad/name"), std::string::npos) << message;
}

TEST(Ring, UnknownInstanceSaysHowToStartIt) {
  const std::string name = unique_instance("nobody");
  std::string message;
  EXPECT_EQ(error_code_of([&] { RingReader::attach(reader_options(name)); }, &message),
            ErrorCode::no_instance);
  EXPECT_NE(message.find("evring-writer --name " + name), std::string::npos) << message;
}

TEST(Ring, SecondLiveWriterIsRefused) {
  const std::string name = unique_instance("twowriters");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  std::string message;
  EXPECT_EQ(error_code_of([&] { RingWriter::create(small_ring(name)); }, &message),
            ErrorCode::writer_running);
  EXPECT_NE(message.find(std::to_string(::getpid())), std::string::npos) << message;
  publish_test_record(writer);  // the first writer is untouched
}

TEST(Ring, SegmentsAreOwnerOnlyByDefaultAndModeIsConfigurable) {
  for (const mode_t mode : {mode_t{0600}, mode_t{0640}}) {
    const std::string name = unique_instance("perm");
    InstanceCleanup cleanup(name);
    RingOptions options = small_ring(name);
    if (mode != 0600) options.mode = mode;
    RingWriter writer = RingWriter::create(options);
    // Whoever may read the ring may claim a reader slot: the registry adds write to read.
    const mode_t registry_mode = mode == 0640 ? 0660 : mode;
    for (const auto& [part, expected] : {std::pair{"ring", mode}, {"registry", registry_mode}}) {
      struct stat st {};
      const std::string path = "/dev/shm/" + segment_name(name, part);
      ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
      EXPECT_EQ(st.st_mode & 0777, expected) << path;
    }
  }
}

// Writes a segment that looks like a ring of another layout version.
void forge_ring(const std::string& instance, std::uint32_t version, std::uint64_t owner_pid) {
  SharedSegment segment =
      SharedSegment::create(segment_name(instance, "ring"), kRingDataOffset + 4096, 0600);
  auto* preamble = reinterpret_cast<SegmentPreamble*>(segment.data());
  preamble->magic = kSegmentMagic;
  preamble->layout_version = version;
  preamble->kind = SegmentKind::ring;
  preamble->owner_pid = owner_pid;
  preamble->owner_start_ticks = process_start_ticks(static_cast<pid_t>(owner_pid));
  preamble->incarnation = 41;
  preamble->state.store(static_cast<std::uint32_t>(SegmentState::ready));
}

TEST(Ring, ReaderRefusesAnotherLayoutVersionAndNamesBoth) {
  const std::string name = unique_instance("version");
  InstanceCleanup cleanup(name);
  forge_ring(name, 99, static_cast<std::uint64_t>(::getpid()));
  std::string message;
  EXPECT_EQ(error_code_of([&] { RingReader::attach(reader_options(name)); }, &message),
            ErrorCode::incompatible);
  EXPECT_NE(message.find("99"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(kRingLayoutVersion)), std::string::npos) << message;
  // Its (live) owner keeps it: a new writer refuses rather than pull it from under them.
  EXPECT_EQ(error_code_of([&] { RingWriter::create(small_ring(name)); }),
            ErrorCode::writer_running);
}

TEST(Ring, WriterReplacesASegmentLeftByADeadWriterOfAnyVersion) {
  const std::string name = unique_instance("stale");
  InstanceCleanup cleanup(name);
  test::ChildProcess dead = test::ChildProcess::spawn("dead writer", [] { return 0; });
  ASSERT_NE(dead.wait_for_exit(std::chrono::seconds(10)), -1);
  forge_ring(name, 99, static_cast<std::uint64_t>(dead.pid()));
  SharedSegment old_view = *SharedSegment::open(segment_name(name, "ring"), Access::read_only);
  RingWriter writer = RingWriter::create(small_ring(name));
  EXPECT_EQ(writer.incarnation(), 42u) << "continues the old incarnation count";
  const auto* old_preamble = reinterpret_cast<const SegmentPreamble*>(old_view.data());
  EXPECT_EQ(old_preamble->state.load(), static_cast<std::uint32_t>(SegmentState::superseded));
  RingReader reader = RingReader::attach(reader_options(name));
  EXPECT_EQ(reader.incarnation(), 42u);
}

TEST(Ring, WriterReplacesGarbageUnderItsName) {
  const std::string name = unique_instance("garbage");
  InstanceCleanup cleanup(name);
  {
    SharedSegment junk = SharedSegment::create(segment_name(name, "ring"), 100, 0600);
    std::memset(junk.data(), 0xAB, 100);
  }
  RingWriter writer = RingWriter::create(small_ring(name));
  EXPECT_EQ(writer.incarnation(), 1u);
  RingReader reader = RingReader::attach(reader_options(name));
  publish_test_record(writer);
  RecordBuffer buffer(writer.max_payload());
  EXPECT_EQ(reader.poll(buffer).status, PollStatus::record);
}

TEST(Ring, ReaderSeesACleanShutdownAsWriterGone) {
  const std::string name = unique_instance("shutdown");
  InstanceCleanup cleanup(name);
  auto writer = std::make_unique<RingWriter>(RingWriter::create(small_ring(name)));
  RingReader reader = RingReader::attach(reader_options(name));
  RecordBuffer buffer(writer->max_payload());
  publish_test_record(*writer);
  writer.reset();
  EXPECT_EQ(reader.wait_next(buffer, WaitKind::spin, 1'000'000'000).status, PollStatus::record)
      << "records published before the shutdown are still delivered";
  EXPECT_EQ(reader.wait_next(buffer, WaitKind::spin, 1'000'000'000).status,
            PollStatus::writer_gone);
  EXPECT_FALSE(SharedSegment::open(segment_name(name, "ring"), Access::read_only).has_value())
      << "a clean shutdown removes the segments";
}

TEST(Registry, ClaimsReleasesAndRefusesWhenFull) {
  const std::string name = unique_instance("slots");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  std::vector<RingReader> readers;
  for (std::size_t i = 0; i < kMaxReaders; ++i) {
    RingReaderOptions options = reader_options(name);
    options.identity.id = "r" + std::to_string(i);
    readers.push_back(RingReader::attach(options));
  }
  EXPECT_EQ(writer.registry().readers().size(), kMaxReaders);
  std::string message;
  EXPECT_EQ(error_code_of([&] { RingReader::attach(reader_options(name)); }, &message),
            ErrorCode::resource);
  EXPECT_NE(message.find("evring stat"), std::string::npos) << message;
  readers.pop_back();
  EXPECT_EQ(writer.registry().readers().size(), kMaxReaders - 1);
  RingReader again = RingReader::attach(reader_options(name));
  const auto rows = writer.registry().readers();
  ASSERT_EQ(rows.size(), kMaxReaders);
  EXPECT_TRUE(std::all_of(rows.begin(), rows.end(), [](const ReaderInfo& r) { return r.alive; }));
  EXPECT_EQ(rows.front().id, "r0");
  EXPECT_EQ(rows.front().view, "test");
}

TEST(Registry, SlotOfADeadReaderIsShownDeadAndReclaimed) {
  const std::string name = unique_instance("deadslot");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  test::ChildProcess child = test::ChildProcess::spawn("crashing reader", [&] {
    RingReader reader = RingReader::attach(reader_options(name));
    ::_exit(0);  // dies holding its slot, as a crash would
    return 0;
  });
  ASSERT_NE(child.wait_for_exit(std::chrono::seconds(10)), -1);
  auto rows = writer.registry().readers();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].alive);
  EXPECT_EQ(rows[0].pid, static_cast<std::uint64_t>(child.pid()));
  RingReader reader = RingReader::attach(reader_options(name));
  rows = writer.registry().readers();
  ASSERT_EQ(rows.size(), 1u) << "the dead reader's slot was reused";
  EXPECT_TRUE(rows[0].alive);
}

TEST(WaitStrategy, ParsesNamesAndRefusesOthers) {
  EXPECT_EQ(parse_wait_kind("spin"), WaitKind::spin);
  EXPECT_EQ(parse_wait_kind("yield"), WaitKind::yield);
  EXPECT_EQ(parse_wait_kind("block"), WaitKind::block);
  std::string message;
  EXPECT_EQ(error_code_of([] { parse_wait_kind("sleep"); }, &message), ErrorCode::invalid_argument);
  EXPECT_NE(message.find("spin, yield or block"), std::string::npos);
}

TEST(WaitStrategy, APublishRingsTheReadersDoorbellWhenAReaderAsked) {
  const std::string name = unique_instance("futex");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name));
  RingReader reader = RingReader::attach(reader_options(name));
  // The readers' doorbell (sync/doorbell.hpp): sleepers sleep on the registry's bell.
  std::atomic<std::uint32_t>& bell = writer.registry().layout().wake_bell;
  const std::uint32_t seen = bell.load();
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    // Ten seconds unless woken: the test fails on its deadline if the wake is lost.
    futex_wait_shared(reinterpret_cast<const std::uint32_t*>(&bell), seen, 10'000'000'000);
    woke = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it fall asleep
  // A publish while a reader is counted as sleeping makes the writer wake the futex.
  writer.registry().layout().wake_requested.store(1);
  publish_test_record(writer);
  EXPECT_TRUE(test::wait_until([&] { return woke.load(); }, std::chrono::seconds(5)));
  EXPECT_EQ(writer.registry().layout().wake_requested.load(), 0u) << "the writer clears it";
  sleeper.join();
}

TEST(WaitStrategy, BlockingReaderGetsEveryRecord) {
  const std::string name = unique_instance("block");
  InstanceCleanup cleanup(name);
  RingWriter writer = RingWriter::create(small_ring(name, 1 << 20, 1000));
  std::atomic<std::uint64_t> received{0};
  std::thread consumer([&] {
    RingReader reader = RingReader::attach(reader_options(name));
    RecordBuffer buffer(reader.max_payload());
    while (received < 200) {
      const PollResult r = reader.wait_next(buffer, WaitKind::block, 5'000'000'000);
      if (r.status != PollStatus::record) break;
      if (!test::payload_matches(buffer.seq(), buffer.payload(), 1000)) break;
      received.fetch_add(1);
    }
  });
  for (int i = 0; i < 200; ++i) {
    publish_test_record(writer);
    if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));  // let it sleep
  }
  consumer.join();
  EXPECT_EQ(received.load(), 200u);
}

TEST(IdleStrategy, BlockSpinsThenSleepsAndEveryKindEndsAtItsDeadline) {
  IdleStrategy block(WaitKind::block, /*timeout_ns=*/2'000'000'000, /*spin_before_sleep_ns=*/0);
  IdleStep step = IdleStep::again;
  for (int round = 0; round < 1000 && step == IdleStep::again; ++round) step = block.idle();
  EXPECT_EQ(step, IdleStep::sleep) << "block sleeps once it has spun long enough";
  for (const WaitKind kind : {WaitKind::spin, WaitKind::yield, WaitKind::block}) {
    IdleStrategy idle(kind, /*timeout_ns=*/1'000'000, /*spin_before_sleep_ns=*/10'000'000'000);
    const std::int64_t start = monotonic_ns();
    while (idle.idle() != IdleStep::timed_out) {
      ASSERT_LT(monotonic_ns() - start, 5'000'000'000) << to_string(kind) << " never timed out";
    }
    EXPECT_GE(monotonic_ns() - start, 1'000'000) << to_string(kind) << " timed out early";
    EXPECT_LE(idle.remaining_ns(), 0);
  }
}

TEST(Doorbell, RingsOnlyForASleeperAndWakesIt) {
  std::atomic<std::uint32_t> sleeping{0};
  std::atomic<std::uint32_t> bell{0};
  Doorbell ringer(sleeping, bell);
  EXPECT_FALSE(ringer.ring()) << "nobody sleeps: no wake call";
  std::atomic<bool> work{false};
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    Doorbell doorbell(sleeping, bell);
    // Ten seconds unless woken: the test fails on its deadline if the wake is lost.
    while (!doorbell.sleep_unless([&] { return work.load(); }, 10'000'000'000)) {
    }
    woke = true;
  });
  ASSERT_TRUE(test::wait_until([&] { return sleeping.load() == 1; }, std::chrono::seconds(5)));
  work = true;
  EXPECT_TRUE(test::wait_until(
      [&] {
        ringer.ring();
        return woke.load();
      },
      std::chrono::seconds(5)));
  sleeper.join();
  // The sleeper's last look raised the flag again: one more ring lowers it, for good.
  ringer.ring();
  EXPECT_EQ(sleeping.load(), 0u) << "the ringer lowers the flag";
  EXPECT_FALSE(ringer.ring()) << "and the next ring makes no wake call";
}

}  // namespace
}  // namespace evring
