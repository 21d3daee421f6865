// The ring's protocol on a plain buffer: a transmitter and receivers over a cursor and a
// data area of this process's memory, no segment, no registry, no /dev/shm. Laps and torn
// copies are made by setting the cursor's words by hand, as Aeron tests its broadcast
// receiver.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "evring/error.hpp"
#include "ring/ring_protocol.hpp"
#include "ring/ring_receiver.hpp"
#include "ring/ring_transmitter.hpp"

namespace evring {
namespace {

constexpr std::uint64_t kCapacity = kMinRingCapacity;  // 4096
constexpr std::uint32_t kMaxPayload = 256;

// A ring in plain memory: the cursor and an 8-aligned data area.
struct PlainRing {
  RingCursor cursor{};
  alignas(64) std::byte data[kCapacity]{};

  RingTransmitter transmitter(std::uint64_t first_seq = 1) {
    return RingTransmitter(cursor, std::span(data), kMaxPayload, first_seq);
  }
  RingReceiver receiver(RingStart start = RingStart::earliest, std::uint64_t first_seq = 1) {
    return RingReceiver(cursor, std::span<const std::byte>(data), kMaxPayload, first_seq, start,
                        "the test ring", /*damaged_after_ns=*/0);
  }
};

std::vector<std::byte> payload_of(std::size_t bytes, std::uint8_t fill) {
  return std::vector<std::byte>(bytes, std::byte{fill});
}

std::uint64_t publish(RingTransmitter& transmitter, std::size_t bytes, std::uint8_t fill = 7) {
  return transmitter.publish(/*type=*/3, payload_of(bytes, fill), /*publish_ns=*/42);
}

std::uint64_t commit_word_at(const PlainRing& ring, std::uint64_t position) {
  std::uint64_t word;
  std::memcpy(&word, ring.data + (position & (kCapacity - 1)) + kCommitWordOffset, sizeof word);
  return word;
}

// A fresh ring, its transmitter, and a receiver from its earliest record.
class RingProtocol : public ::testing::Test {
 protected:
  PlainRing ring;
  RingTransmitter transmitter = ring.transmitter();
  RingReceiver receiver = ring.receiver();
  RecordBuffer buffer{kMaxPayload};
};

TEST(RingProtocolStart, RecordsArriveInOrderWithTheirFields) {
  PlainRing ring;
  RingTransmitter transmitter = ring.transmitter(/*first_seq=*/10);
  RingReceiver receiver = ring.receiver(RingStart::earliest, 10);
  RecordBuffer buffer(kMaxPayload);
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
  for (std::uint8_t i = 0; i < 5; ++i) EXPECT_EQ(publish(transmitter, 1 + i * 10, i), 10u + i);
  for (std::uint8_t i = 0; i < 5; ++i) {
    ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), 10u + i);
    EXPECT_EQ(buffer.type(), 3u);
    EXPECT_EQ(buffer.publish_ns(), 42);
    ASSERT_EQ(buffer.payload().size(), 1u + i * 10);
    EXPECT_EQ(buffer.payload().front(), std::byte{i});
  }
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
  EXPECT_EQ(receiver.position(), transmitter.tail());
}

TEST_F(RingProtocol, RecordsWrapWithPaddingAndStayWhole) {
  // Payloads of 184 to 248 bytes do not divide 4096: laps end in padding records of 24
  // bytes and more, and in headerless rests of 8 and 16 bytes.
  std::uint64_t expected = 1;
  for (int round = 0; round < 200; ++round) {
    publish(transmitter, 248 - round % 9 * 8, static_cast<std::uint8_t>(round));
    ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record) << "round " << round;
    EXPECT_EQ(buffer.seq(), expected++);
    EXPECT_EQ(buffer.payload().size(), 248u - round % 9 * 8);
    EXPECT_EQ(buffer.payload().back(), std::byte{static_cast<std::uint8_t>(round)});
  }
  EXPECT_GT(transmitter.tail(), 8 * kCapacity) << "the ring wrapped many times";
}

TEST(RingProtocolStart, LiveReceiverStartsAtTheTail) {
  PlainRing ring;
  RingTransmitter transmitter = ring.transmitter();
  publish(transmitter, 16);
  publish(transmitter, 16);
  // The cursor was never stored (two small records are less than its stride): the
  // receiver walks past the committed records from the ring's start.
  ASSERT_EQ(ring.cursor.tail.load(), 0u);
  RingReceiver receiver = ring.receiver(RingStart::live);
  EXPECT_EQ(receiver.expected_seq(), 3u);
  EXPECT_EQ(receiver.live_start_seq(), 3u);
  RecordBuffer buffer(kMaxPayload);
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
  publish(transmitter, 16);
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  EXPECT_EQ(buffer.seq(), 3u);
}

TEST_F(RingProtocol, ALappedReceiverResumesAtTheNewestRecord) {
  // 64 records of 128 aligned bytes: two rings' worth, so the first 32 are overwritten.
  for (int i = 0; i < 64; ++i) publish(transmitter, 128 - sizeof(RecordHeader));
  const PollResult lapped = receiver.poll(buffer);
  ASSERT_EQ(lapped.status, PollStatus::lapped);
  EXPECT_EQ(lapped.resume_seq, 64u);
  EXPECT_EQ(lapped.missed, 63u) << "seqs 1 to 63 were skipped";
  EXPECT_EQ(receiver.lapped_count(), 1u);
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  EXPECT_EQ(buffer.seq(), 64u);
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
}

TEST_F(RingProtocol, ACopyOverwrittenWhileReadIsThrownAway) {
  publish(transmitter, 16);
  publish(transmitter, 16);
  transmitter.flush();
  // The transmitter has announced that it is about to write a whole ring past the
  // receiver's cursor (W2), but not yet published (W5): the bytes the receiver copies may
  // be torn, so it must not hand them out.
  const std::uint64_t tail = ring.cursor.tail.load();
  ring.cursor.tail_intent.store(kCapacity + sizeof(RecordHeader) + 8);
  const PollResult result = receiver.poll(buffer);
  EXPECT_NE(result.status, PollStatus::record) << "a torn copy was handed out";
  // The intent moved past seq 1, so the receiver resyncs on the newest record.
  ASSERT_EQ(result.status, PollStatus::lapped);
  EXPECT_EQ(result.resume_seq, 2u);
  EXPECT_EQ(ring.cursor.tail.load(), tail);
}

TEST_F(RingProtocol, ACursorCaughtMidPublishIsDamagedOnlyWhenItStaysSo) {
  for (int i = 0; i < 64; ++i) publish(transmitter, 128 - sizeof(RecordHeader));
  // Lapped, and latest not before the tail: a writer between its stores of latest and tail
  // (W6) — or, when it never changes (damaged_after_ns is 0 here), a damaged cursor.
  ring.cursor.latest.store(ring.cursor.tail.load());
  try {
    receiver.poll(buffer);
    FAIL() << "a cursor that stays inconsistent is not accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt);
    EXPECT_NE(std::string(e.what()).find("the test ring"), std::string::npos) << e.what();
  }
}

TEST_F(RingProtocol, PayloadLimits) {
  EXPECT_EQ(publish(transmitter, 0), 1u) << "an empty payload is a record";
  EXPECT_EQ(publish(transmitter, kMaxPayload), 2u) << "the largest payload fits";
  try {
    publish(transmitter, kMaxPayload + 1);
    FAIL() << "a payload over the maximum is refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  EXPECT_EQ(transmitter.next_seq(), 3u) << "a refused payload takes no seq";
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  EXPECT_TRUE(buffer.payload().empty());
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  EXPECT_EQ(buffer.payload().size(), kMaxPayload);
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
}

TEST_F(RingProtocol, ARecordLongerThanTheMaximumIsCorruption) {
  publish(transmitter, 16);
  // Forge the published header's length past max_payload.
  RecordHeader header;
  std::memcpy(&header, ring.data, sizeof header);
  header.length = sizeof(RecordHeader) + kMaxPayload + 8;
  std::memcpy(ring.data, &header, sizeof header);
  EXPECT_THROW(receiver.poll(buffer), Error);
}

// A padding at the data area's start would fill all of it and lead to itself: corruption,
// said so, where the receiver once went round it for ever (found by ring_reader_fuzz).
TEST_F(RingProtocol, APaddingThatFillsTheWholeRingIsCorruption) {
  publish(transmitter, 16);
  RecordHeader header;
  std::memcpy(&header, ring.data, sizeof header);
  header.type = kPaddingType;
  header.length = static_cast<std::uint32_t>(kCapacity);
  std::memcpy(ring.data, &header, sizeof header);
  try {
    receiver.poll(buffer);
    FAIL() << "a padding over the whole ring was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt);
    EXPECT_NE(std::string(e.what()).find("fills the whole data area"), std::string::npos)
        << e.what();
  }
}

TEST_F(RingProtocol, ASkippedSeqIsCorruption) {
  publish(transmitter, 16);
  publish(transmitter, 16);
  RecordHeader header;
  std::memcpy(&header, ring.data + aligned_record_length(16), sizeof header);
  header.seq = 5;
  std::memcpy(ring.data + aligned_record_length(16), &header, sizeof header);
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  EXPECT_THROW(receiver.poll(buffer), Error);
}

TEST_F(RingProtocol, TheWriterCleansTheNextBoundaryBeforeEachCommit) {
  // Record sizes that do not divide the ring: laps end in padding and headerless rests,
  // and every lap lands its boundaries where the last one had payload bytes.
  for (int round = 0; round < 300; ++round) {
    const std::size_t bytes = 40 + round % 13 * 16;
    const std::uint64_t seq = publish(transmitter, bytes, 0xFF);  // payload bytes all 0xFF
    const std::uint64_t next = next_boundary(transmitter.tail(), kCapacity);
    ASSERT_EQ(commit_word_at(ring, next), 0u) << "round " << round << ": not cleaned ahead";
    ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record) << "round " << round;
    ASSERT_EQ(buffer.seq(), seq);
    ASSERT_EQ(buffer.payload().size(), bytes);
    EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty)
        << "round " << round << ": old bytes at the next boundary taken for a record";
  }
}

TEST_F(RingProtocol, TheCursorIsStoredAtAStrideAndOnFlush) {
  const std::uint64_t stride = std::min<std::uint64_t>(kCursorStride, kCapacity / 8);
  publish(transmitter, 16);
  EXPECT_EQ(ring.cursor.tail.load(), 0u) << "one small record does not move the cursor";
  transmitter.flush();
  EXPECT_EQ(ring.cursor.tail.load(), transmitter.tail());
  EXPECT_EQ(ring.cursor.head_seq.load(), 1u);
  EXPECT_EQ(ring.cursor.latest.load(), 0u);
  for (int i = 0; i < 100; ++i) {
    publish(transmitter, 40);
    EXPECT_LT(transmitter.tail() - ring.cursor.tail.load(), stride) << "record " << i;
    EXPECT_LE(ring.cursor.tail.load(), transmitter.tail());
  }
  EXPECT_EQ(receiver.newest_seq(), 101u) << "exact, though the cursor lags";
}

TEST_F(RingProtocol, AReceiverOnAWordCleanedALapLaterSeesTheLapThroughTheCursor) {
  // 128-byte records, 32 to a lap. The receiver reads seq 1 and waits at position 128 for
  // seq 2; 32 more records put seq 33 at the next lap's start and clean position 128 + a
  // lap: the word the receiver looks at reads 0 again, as if nothing were new.
  constexpr std::size_t kPayload = 128 - sizeof(RecordHeader);
  publish(transmitter, kPayload);
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  for (int i = 0; i < 32; ++i) publish(transmitter, kPayload);
  ASSERT_EQ(commit_word_at(ring, receiver.position()), 0u);
  // The cursor shows the lap once the writer stores it (at its stride, or going idle).
  transmitter.flush();
  const PollResult lapped = receiver.poll(buffer);
  ASSERT_EQ(lapped.status, PollStatus::lapped);
  EXPECT_EQ(lapped.resume_seq, 33u);
  EXPECT_EQ(lapped.missed, 31u);
  ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
  EXPECT_EQ(buffer.seq(), 33u);
}

TEST_F(RingProtocol, ABatchArrivesWholeAndInOrderAcrossTheWrap) {
  std::vector<std::vector<std::byte>> payloads;
  std::vector<OutgoingRecord> records;
  std::uint64_t expected = 1;
  for (int round = 0; round < 40; ++round) {
    payloads.clear();
    records.clear();
    const int count = 1 + round % 7;
    for (int i = 0; i < count; ++i) {
      payloads.push_back(payload_of(8 + (round * 7 + i) % 200, static_cast<std::uint8_t>(i)));
    }
    for (int i = 0; i < count; ++i) records.push_back({static_cast<std::uint32_t>(i), payloads[i]});
    ASSERT_EQ(transmitter.publish_batch(records, 42), expected);
    for (int i = 0; i < count; ++i) {
      ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record) << "round " << round;
      EXPECT_EQ(buffer.seq(), expected++);
      EXPECT_EQ(buffer.type(), static_cast<std::uint32_t>(i));
      EXPECT_EQ(buffer.payload().size(), payloads[i].size());
      EXPECT_EQ(buffer.payload().front(), std::byte{static_cast<std::uint8_t>(i)});
    }
    EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
  }
  EXPECT_GT(transmitter.tail(), 2 * kCapacity) << "the batches wrapped";
}

TEST_F(RingProtocol, ABatchWiderThanTheRingGoesOutInRunsAndLapsItsReader) {
  const std::vector<std::byte> payload = payload_of(100, 9);
  const std::vector<OutgoingRecord> records(100, OutgoingRecord{5, payload});  // ~12 KiB
  EXPECT_EQ(transmitter.publish_batch(records, 42), 1u);
  EXPECT_EQ(transmitter.next_seq(), 101u);
  const PollResult lapped = receiver.poll(buffer);
  ASSERT_EQ(lapped.status, PollStatus::lapped);
  for (std::uint64_t seq = lapped.resume_seq; seq <= 100; ++seq) {
    ASSERT_EQ(receiver.poll(buffer).status, PollStatus::record);
    EXPECT_EQ(buffer.seq(), seq);
  }
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
}

TEST_F(RingProtocol, ABatchWithAnOversizedPayloadWritesNothing) {
  const std::vector<std::byte> small = payload_of(8, 1);
  const std::vector<std::byte> large = payload_of(kMaxPayload + 1, 2);
  const std::vector<OutgoingRecord> records{{1, small}, {1, large}};
  EXPECT_THROW(transmitter.publish_batch(records, 42), Error);
  EXPECT_EQ(transmitter.next_seq(), 1u);
  EXPECT_EQ(transmitter.tail(), 0u);
  EXPECT_EQ(receiver.poll(buffer).status, PollStatus::empty);
}

}  // namespace
}  // namespace evring
