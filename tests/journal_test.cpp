// The journal: append, roll, reopen, metadata, and recovery from torn, flipped and
// truncated tails.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kMaxPayload = 1024;

// The metadata the test writer stores with `seq`: none for most records, a command id for
// every third (as the writer stores it on the last event of a command), the maximum now and
// then.
std::string meta_for(std::uint64_t seq) {
  if (seq % 101 == 0) {
    std::string meta(kJournalMaxMetaBytes, '\0');
    for (std::size_t i = 0; i < meta.size(); ++i) meta[i] = static_cast<char>((seq + i) % 251);
    return meta;
  }
  if (seq % 3 == 0) return "client-7/command-" + std::to_string(seq);
  return {};
}

std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::string text_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Where the record after `last_seq` starts, when records 1 to last_seq are all in the first
// segment: computed from the format, independently of the reader.
std::uint64_t offset_after(std::uint64_t last_seq) {
  std::uint64_t offset = sizeof(JournalSegmentHeader);
  for (std::uint64_t seq = 1; seq <= last_seq; ++seq) {
    offset += sizeof(JournalRecordHeader) +
              ((meta_for(seq).size() + test::payload_length_for(seq, kMaxPayload) + 7) &
               ~std::uint64_t{7});
  }
  return offset;
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() / test::unique_instance("journal");
    fs::remove_all(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  JournalOptions options(std::uint64_t segment_bytes = 64 << 10) const {
    JournalOptions o;
    o.directory = directory_;
    o.segment_bytes = segment_bytes;
    o.max_payload = kMaxPayload;
    return o;
  }

  static void append_test_records(JournalWriter& journal, std::uint64_t count) {
    std::vector<std::byte> bytes(kMaxPayload);
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t seq = journal.next_seq();
      const std::span<std::byte> payload(bytes.data(), test::payload_length_for(seq, kMaxPayload));
      test::fill_payload(seq, payload);
      ASSERT_EQ(
          journal.append(9, payload, static_cast<std::int64_t>(seq) * 10, bytes_of(meta_for(seq))),
          seq);
    }
  }

  // Reads from `from` to the end, checking every record; returns the last seq read.
  std::uint64_t read_all(std::uint64_t from) const {
    JournalReader reader = JournalReader::open(directory_, from);
    JournalRecord record;
    std::uint64_t expected = from;
    while (reader.next(record)) {
      EXPECT_EQ(record.seq, expected);
      EXPECT_EQ(record.type, 9u);
      EXPECT_EQ(record.publish_ns, static_cast<std::int64_t>(record.seq) * 10);
      EXPECT_TRUE(test::payload_matches(record.seq, record.payload, kMaxPayload)) << record.seq;
      EXPECT_EQ(text_of(record.meta), meta_for(record.seq)) << record.seq;
      ++expected;
    }
    return expected - 1;
  }

  // Overwrites bytes of a file in place.
  static void poke(const fs::path& file, std::uint64_t offset, const std::string& bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << "cannot write to " << file;
  }

  fs::path directory_;
};

TEST_F(JournalTest, AppendsRollsSegmentsAndReadsBackFromAnySeq) {
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(), &recovery);
  EXPECT_EQ(recovery.last_seq, 0u);
  append_test_records(journal, 2000);
  EXPECT_GT(journal_segments(directory_).size(), 3u) << "64 KiB segments must have rolled";
  EXPECT_EQ(read_all(1), 2000u);
  EXPECT_EQ(read_all(1234), 2000u);
  EXPECT_EQ(read_all(2000), 2000u);
  for (const fs::path& segment : journal_segments(directory_)) {
    EXPECT_EQ(fs::status(segment).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << segment;
  }
}

// A reader's start reads the history while the writer's retention removes the oldest
// segments: one gone between the listing and its opening is passed over, never an error.
TEST_F(JournalTest, HistoryIsReadWhileTheOldestSegmentsAreRemoved) {
  JournalWriter journal = JournalWriter::open(options(8 << 10));
  append_test_records(journal, 3000);
  const std::uint64_t history = journal_history(directory_);
  ASSERT_NE(history, 0u);
  const std::vector<fs::path> segments = journal_segments(directory_);
  ASSERT_GT(segments.size(), 50u);
  // release/acquire: the last removal happens before the check that sees `removed`.
  std::atomic<bool> removed{false};
  std::thread retention([&] {
    for (std::size_t i = 0; i + 1 < segments.size(); ++i) fs::remove(segments[i]);
    removed.store(true, std::memory_order_release);
  });
  int reads = 0;
  while (!removed.load(std::memory_order_acquire)) {
    try {
      EXPECT_EQ(journal_history(directory_), history);
    } catch (const Error& e) {
      ADD_FAILURE() << "after " << reads << " reads: " << e.what();
      break;
    }
    ++reads;
  }
  retention.join();
  EXPECT_EQ(journal_history(directory_), history);
  EXPECT_GT(reads, 0);
}

TEST_F(JournalTest, BatchesReadEveryRecordOnceAndStayValidUntilTheNextCall) {
  JournalWriter journal = JournalWriter::open(options());
  append_test_records(journal, 3000);
  ASSERT_GT(journal_segments(directory_).size(), 3u);
  for (const std::uint64_t from : {std::uint64_t{1}, std::uint64_t{777}}) {
    JournalReader reader = JournalReader::open(directory_, from);
    std::array<JournalRecord, 32> batch;
    std::uint64_t expected = from;
    while (const std::size_t count = reader.next_batch(batch)) {
      // Every record of the batch is still readable (a segment change in mid-batch would
      // have unmapped the ones before it: a crash here, or a report under ASan).
      for (std::size_t i = 0; i < count; ++i) {
        ASSERT_EQ(batch[i].seq, expected++);
        ASSERT_TRUE(test::payload_matches(batch[i].seq, batch[i].payload, kMaxPayload));
        ASSERT_EQ(text_of(batch[i].meta), meta_for(batch[i].seq));
      }
    }
    EXPECT_EQ(expected, 3001u) << "from " << from;
    // At the end, a batch is empty until more is written, then goes on from there.
    EXPECT_EQ(reader.next_batch(batch), 0u);
  }
  JournalReader reader = JournalReader::open(directory_, 3001);
  std::array<JournalRecord, 8> batch;
  EXPECT_EQ(reader.next_batch(batch), 0u);
  append_test_records(journal, 5);
  ASSERT_EQ(reader.next_batch(batch), 5u);
  EXPECT_EQ(batch[0].seq, 3001u);
  EXPECT_EQ(batch[4].seq, 3005u);
}

// The writer asks for room for all of a command's events before the first: they then land
// in one segment, so a disk that cannot give a new segment refuses all of them or none.
TEST_F(JournalTest, MakeRoomStartsTheNextSegmentOnlyWhenTheRecordsWouldNotFit) {
  JournalWriter journal = JournalWriter::open(options());
  append_test_records(journal, 1);
  journal.make_room(1024);
  EXPECT_EQ(journal_segments(directory_).size(), 1u) << "room enough in the first";
  journal.make_room(64 << 10);
  const std::vector<fs::path> segments = journal_segments(directory_);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments.back().filename(), "journal-00000000000000000002.evj")
      << "the new segment starts at the next seq";
  append_test_records(journal, 3);
  EXPECT_EQ(journal_segments(directory_).size(), 2u);
  EXPECT_EQ(read_all(1), 4u);
  EXPECT_EQ(JournalWriter::record_bytes(3, 6), sizeof(JournalRecordHeader) + 16);
}

TEST_F(JournalTest, ReopenContinuesTheSequenceWithoutAGap) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 700);
  }
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(), &recovery);
  EXPECT_FALSE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.first_seq, 1u);
  EXPECT_EQ(recovery.last_seq, 700u);
  EXPECT_EQ(journal.next_seq(), 701u);
  append_test_records(journal, 10);
  EXPECT_EQ(read_all(1), 710u);
}

TEST_F(JournalTest, FlippedByteInTheLastRecordIsCutOffAndSaidSo) {
  std::uint64_t last_offset = 0;
  {
    JournalWriter journal = JournalWriter::open(options(1 << 20));
    append_test_records(journal, 50);
    last_offset = offset_after(49);
  }
  const fs::path segment = journal_segments(directory_).back();
  poke(segment, last_offset + sizeof(JournalRecordHeader) - 1, "\x7f");  // inside the header
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(1 << 20), &recovery);
  EXPECT_TRUE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.cut_at_offset, last_offset);
  EXPECT_EQ(recovery.cut_reason, "checksum mismatch");
  EXPECT_EQ(recovery.last_seq, 49u);
  EXPECT_EQ(journal.next_seq(), 50u) << "the sequence continues without a gap";
  append_test_records(journal, 3);
  EXPECT_EQ(read_all(1), 52u);
}

TEST_F(JournalTest, TornAndTruncatedTailsAreCut) {
  {
    JournalWriter journal = JournalWriter::open(options(1 << 20));
    append_test_records(journal, 100);
  }
  const fs::path segment = journal_segments(directory_).back();
  // A crash mid-file-extension: the file ends in the middle of the records.
  const std::uint64_t cut = offset_after(60);
  fs::resize_file(segment, cut + 10);
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(1 << 20), &recovery);
  EXPECT_TRUE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.last_seq, 60u);
  EXPECT_EQ(fs::file_size(segment), cut + 10) << "kept as it is: appends grow it";
  append_test_records(journal, 5);
  EXPECT_EQ(read_all(1), 65u);
  append_test_records(journal, 100);
  EXPECT_EQ(read_all(1), 165u);
  EXPECT_GT(fs::file_size(segment), cut + 10) << "grown again as records needed";
}

TEST_F(JournalTest, AnotherFormatVersionIsRefusedNamingBoth) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 3);
  }
  const fs::path segment = journal_segments(directory_).front();
  // As a journal written by the previous format, version 1 (before record metadata), says.
  poke(segment, offsetof(JournalSegmentHeader, format_version), std::string("\x01\0\0\0", 4));
  for (const bool writer : {true, false}) {
    try {
      if (writer) {
        JournalWriter::open(options());
      } else {
        JournalReader::open(directory_, 1);
      }
      FAIL() << "opened a journal of another version, writer=" << writer;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::incompatible);
      EXPECT_NE(std::string(e.what()).find("version 1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("version " + std::to_string(kJournalFormatVersion)),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(segment.string()), std::string::npos) << e.what();
    }
  }
}

TEST_F(JournalTest, DamageBeforeTheLastSegmentIsCorruptionNotATornTail) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 1000);
  }
  const auto segments = journal_segments(directory_);
  ASSERT_GE(segments.size(), 2u);
  poke(segments.front(), sizeof(JournalSegmentHeader) + sizeof(JournalRecordHeader) + 2, "XY");
  try {
    read_all(1);
    FAIL() << "read through a damaged middle segment";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::corrupt);
    EXPECT_NE(std::string(e.what()).find("not a torn tail"), std::string::npos) << e.what();
  }
}

TEST_F(JournalTest, KillNineMidAppendLosesNothingAppendedBefore) {
  test::SharedBlock<std::atomic<std::uint64_t>> appended;
  test::ChildProcess child = test::ChildProcess::spawn("journal writer", [&] {
    JournalWriter journal = JournalWriter::open(options(256 << 10));
    std::vector<std::byte> bytes(kMaxPayload);
    for (;;) {
      const std::uint64_t seq = journal.next_seq();
      const std::span<std::byte> payload(bytes.data(), test::payload_length_for(seq, kMaxPayload));
      test::fill_payload(seq, payload);
      journal.append(9, payload, static_cast<std::int64_t>(seq) * 10, bytes_of(meta_for(seq)));
      // release: the test reads it after the kill; the append above happened before.
      appended->store(seq, std::memory_order_release);
    }
    return 0;
  });
  ASSERT_TRUE(
      test::wait_until([&] { return appended->load() > 20'000; }, std::chrono::seconds(30)));
  child.kill_and_reap();
  const std::uint64_t acknowledged = appended->load(std::memory_order_acquire);
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(256 << 10), &recovery);
  EXPECT_GE(recovery.last_seq, acknowledged) << "an append that returned is never lost";
  EXPECT_EQ(read_all(1), recovery.last_seq);
}

TEST_F(JournalTest, MetadataRoundTripsAcrossReopenAndIsNotPartOfThePayload) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 300);
  }
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(), &recovery);
  EXPECT_FALSE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.last_seq, 300u);
  append_test_records(journal, 300);
  // read_all checks every record's metadata and payload, across the reopen and the rolls.
  EXPECT_EQ(read_all(1), 600u);
  EXPECT_EQ(read_all(306), 600u);

  JournalReader reader = JournalReader::open(directory_, 306);
  JournalRecord record;
  ASSERT_TRUE(reader.next(record));
  EXPECT_EQ(text_of(record.meta), "client-7/command-306");
  ASSERT_TRUE(reader.next(record));
  EXPECT_TRUE(record.meta.empty()) << "a record appended without metadata reads back without";
}

TEST_F(JournalTest, MetadataAndPayloadOfTheMaximumSizesFitAndOneByteMoreIsRefused) {
  // Segments just big enough for four of the largest records: the writer's own limit.
  const std::uint64_t largest =
      sizeof(JournalRecordHeader) + ((kJournalMaxMetaBytes + kMaxPayload + 7) & ~std::size_t{7});
  const std::uint64_t segment_bytes = sizeof(JournalSegmentHeader) + 4 * largest;
  EXPECT_THROW(JournalWriter::open(options(segment_bytes - 1)), Error);
  JournalWriter journal = JournalWriter::open(options(segment_bytes));

  std::vector<std::byte> payload(kMaxPayload);
  std::vector<std::byte> meta(kJournalMaxMetaBytes);
  for (std::uint64_t seq = 1; seq <= 9; ++seq) {  // rolls twice: four per segment
    test::fill_payload(seq, payload);
    test::fill_payload(seq + 1000, meta);
    ASSERT_EQ(journal.append(5, payload, 0, meta), seq);
  }
  EXPECT_EQ(journal_segments(directory_).size(), 3u) << "each segment holds exactly four";

  std::vector<std::byte> too_big(kJournalMaxMetaBytes + 1);
  try {
    journal.append(5, payload, 0, too_big);
    FAIL() << "appended 256 bytes of metadata";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  payload.push_back(std::byte{1});
  EXPECT_THROW(journal.append(5, payload, 0, meta), Error);
  EXPECT_EQ(journal.last_seq(), 9u) << "a refused append appends nothing";

  JournalReader reader = JournalReader::open(directory_, 1);
  JournalRecord record;
  std::vector<std::byte> expected_payload(kMaxPayload);
  std::vector<std::byte> expected_meta(kJournalMaxMetaBytes);
  for (std::uint64_t seq = 1; seq <= 9; ++seq) {
    ASSERT_TRUE(reader.next(record)) << seq;
    test::fill_payload(seq, expected_payload);
    test::fill_payload(seq + 1000, expected_meta);
    EXPECT_TRUE(std::ranges::equal(record.payload, expected_payload)) << seq;
    EXPECT_TRUE(std::ranges::equal(record.meta, expected_meta)) << seq;
  }
  EXPECT_FALSE(reader.next(record));
}

TEST_F(JournalTest, LastSeqIsZeroWhenEmptyAndTheNewestRecordAfter) {
  {
    JournalWriter journal = JournalWriter::open(options());
    EXPECT_EQ(journal.last_seq(), 0u);
    append_test_records(journal, 42);
    EXPECT_EQ(journal.last_seq(), 42u);
    EXPECT_EQ(journal.next_seq(), 43u);
  }
  EXPECT_EQ(JournalWriter::open(options()).last_seq(), 42u);
}

TEST_F(JournalTest, TornLastRecordIsCut) {
  // The last record has a payload of the maximum size, so half of it is plenty of bytes.
  std::uint64_t last_seq = 2;
  while (test::payload_length_for(last_seq, kMaxPayload) != kMaxPayload) ++last_seq;
  {
    JournalWriter journal = JournalWriter::open(options(1 << 20));
    append_test_records(journal, last_seq);
  }
  // A crash mid-append: the header and the start of the payload reached the page cache, the
  // rest did not.
  const fs::path segment = journal_segments(directory_).back();
  const std::uint64_t last = offset_after(last_seq - 1);
  poke(segment, last + sizeof(JournalRecordHeader) + kMaxPayload / 2,
       std::string(kMaxPayload / 2, '\0'));
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(1 << 20), &recovery);
  EXPECT_TRUE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.cut_at_offset, last);
  EXPECT_EQ(recovery.cut_segment, segment);
  EXPECT_EQ(recovery.last_seq, last_seq - 1);
  append_test_records(journal, 4);
  EXPECT_EQ(read_all(1), last_seq + 3);
}

// A record is there once its seq, the commit word, is: a crash (or a reader's look) after
// the rest of the header was written but before the seq finds no record yet. A reader reads
// it as the end and looks again; the next writer cuts it as a torn tail, saying why.
TEST_F(JournalTest, HeaderWithoutItsCommitWordIsTheEndToAReaderAndATornTailToRecovery) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 5);
  }
  const fs::path segment = journal_segments(directory_).back();
  const std::uint64_t uncommitted = offset_after(5);
  // Record 6's header as append writes it, but its seq (bytes 16 to 23) still 0.
  JournalRecordHeader header{0x1234'5678u, 8, 9, 0, 0, 60};
  std::string bytes(sizeof header, '\0');
  std::memcpy(bytes.data(), &header, sizeof header);
  poke(segment, uncommitted, bytes);

  JournalReader reader = JournalReader::open(directory_, 1);
  JournalRecord record;
  std::uint64_t read = 0;
  while (reader.next(record)) ++read;
  EXPECT_EQ(read, 5u);
  EXPECT_FALSE(reader.next(record)) << "an uncommitted record is the end, not damage";
  EXPECT_EQ(reader.next_seq(), 6u);

  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(), &recovery);
  EXPECT_TRUE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.cut_at_offset, uncommitted);
  EXPECT_NE(recovery.cut_reason.find("commit word"), std::string::npos) << recovery.cut_reason;
  EXPECT_EQ(recovery.last_seq, 5u);
  append_test_records(journal, 3);
  EXPECT_EQ(read_all(1), 8u);
}

// A crash after an append wrote its payload but before it wrote the header: the slot reads
// as the end, but the bytes after it are not zero. Shorter records written over them later
// must not leave them where a reader looks for the next header, or once the writer rolls
// past them a reader calls the segment damaged.
TEST_F(JournalTest, PayloadLeftWithoutItsHeaderNeverReadsAsARecord) {
  const std::uint64_t segment_bytes = 64 << 10;
  {
    JournalWriter journal = JournalWriter::open(options(segment_bytes));
    append_test_records(journal, 10);
  }
  const fs::path segment = journal_segments(directory_).back();
  const std::uint64_t torn_at = offset_after(10);
  const std::uint64_t after_header = torn_at + sizeof(JournalRecordHeader);
  poke(segment, after_header, std::string(segment_bytes - after_header, '\x5a'));
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(segment_bytes), &recovery);
  EXPECT_FALSE(recovery.cut_torn_tail) << "a zero header is the end, not a torn record";
  EXPECT_EQ(recovery.last_seq, 10u);

  // Small records over the left-over bytes until the largest record no longer fits; it
  // starts the next segment, and the rest of the first stays as the crash left it.
  const std::vector<std::byte> small(8, std::byte{1});
  const std::uint64_t largest =
      sizeof(JournalRecordHeader) + ((kJournalMaxMetaBytes + kMaxPayload + 7) & ~std::size_t{7});
  std::uint64_t offset = torn_at;
  do {
    journal.append(9, small, 0);
    offset += sizeof(JournalRecordHeader) + small.size();
  } while (offset + largest <= segment_bytes);
  const std::vector<std::byte> payload(kMaxPayload, std::byte{2});
  const std::vector<std::byte> meta(kJournalMaxMetaBytes, std::byte{3});
  journal.append(9, payload, 0, meta);
  ASSERT_EQ(journal_segments(directory_).size(), 2u);

  JournalReader reader = JournalReader::open(directory_, 11);
  JournalRecord record;
  std::uint64_t read = 0;
  while (reader.next(record)) ++read;
  EXPECT_EQ(read, journal.last_seq() - 10);
}

TEST_F(JournalTest, LastSegmentShorterThanAHeaderIsRefusedAsCorrupt) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 1000);
  }
  const auto segments = journal_segments(directory_);
  ASSERT_GE(segments.size(), 2u);
  fs::resize_file(segments.back(), sizeof(JournalSegmentHeader) - 1);
  const auto expect_corrupt = [&](const std::function<void()>& open_and_read) {
    try {
      open_and_read();
      FAIL() << "accepted a segment without a whole header";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::corrupt);
      EXPECT_NE(std::string(e.what()).find(segments.back().string()), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  };
  expect_corrupt([&] { JournalWriter::open(options()); });
  expect_corrupt([&] { read_all(1); });
}

TEST_F(JournalTest, SegmentCutShortBeforeALaterOneIsCorruptionNotTheEnd) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 1000);
  }
  const auto segments = journal_segments(directory_);
  ASSERT_GE(segments.size(), 2u);
  // The first segment loses its second half: cut between two records, in a header, or in a
  // payload (of a record with a payload big enough to cut).
  std::uint64_t first_lost = 40;
  while (test::payload_length_for(first_lost, kMaxPayload) < 200) ++first_lost;
  const std::uint64_t cut = offset_after(first_lost - 1);
  ASSERT_LT(cut + 1000, fs::file_size(segments.front()));
  for (const std::uint64_t extra : {std::uint64_t{0}, std::uint64_t{17}, std::uint64_t{132}}) {
    fs::resize_file(segments.front(), cut + extra);
    try {
      read_all(1);
      FAIL() << "a reader waited at a gap as if it were the live end, cut at +" << extra;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::corrupt);
      EXPECT_NE(std::string(e.what()).find("seq " + std::to_string(first_lost)), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("lost"), std::string::npos) << e.what();
    }
  }
}

TEST_F(JournalTest, ReaderOpenedPastTheEndStartsAtItsSeqOnceItIsWritten) {
  JournalWriter journal = JournalWriter::open(options());
  append_test_records(journal, 10);
  JournalReader reader = JournalReader::open(directory_, 15);
  EXPECT_EQ(reader.next_seq(), 15u);
  JournalRecord record;
  EXPECT_FALSE(reader.next(record));
  append_test_records(journal, 10);
  for (std::uint64_t seq = 15; seq <= 20; ++seq) {
    ASSERT_TRUE(reader.next(record));
    EXPECT_EQ(record.seq, seq) << "never a record before the one asked for";
  }
  EXPECT_FALSE(reader.next(record));
  EXPECT_THROW(JournalReader::open(directory_, 0), Error);
}

// A new writer's journal is one segment with no record: a reader says "nothing yet" at
// once (it used to loop re-entering that segment), then follows what gets written.
TEST_F(JournalTest, ReaderOfAnEmptyJournalReturnsAtOnceAndFollowsItsGrowth) {
  JournalWriter journal = JournalWriter::open(options());
  JournalReader reader = JournalReader::open(directory_, 1);
  JournalRecord record;
  EXPECT_FALSE(reader.next(record));
  EXPECT_FALSE(reader.next(record));
  append_test_records(journal, 1500);  // rolls 64 KiB segments on the way
  for (std::uint64_t seq = 1; seq <= 1500; ++seq) {
    ASSERT_TRUE(reader.next(record)) << seq;
    EXPECT_EQ(record.seq, seq);
  }
  EXPECT_FALSE(reader.next(record));
}

// A segment costs the disk what its records need: it starts small and doubles up to the
// segment size, reserving its blocks as it grows. A reader that mapped it small follows it
// as it grows, and on into the next segment, with nothing taken for damage.
TEST_F(JournalTest, SegmentsStartSmallAndDoubleAndAReaderFollowsTheGrowth) {
  const std::uint64_t segment_bytes = 1 << 20;
  JournalWriter journal = JournalWriter::open(options(segment_bytes));
  const fs::path first = journal_segments(directory_).front();
  EXPECT_EQ(fs::file_size(first), kJournalSegmentFirstBytes);
  JournalReader reader = JournalReader::open(directory_, 1);
  JournalRecord record;
  EXPECT_FALSE(reader.next(record));  // mapped at its first size

  std::uint64_t read = 0;
  std::vector<std::uint64_t> sizes{fs::file_size(first)};
  for (int round = 1; journal_segments(directory_).size() < 3; ++round) {
    append_test_records(journal, 20);
    if (fs::file_size(first) != sizes.back()) sizes.push_back(fs::file_size(first));
    // Read now and then: some growths, and a roll, happen between two reads.
    if (round % 7 == 0) {
      while (reader.next(record)) ASSERT_EQ(record.seq, ++read);
    }
  }
  while (reader.next(record)) ASSERT_EQ(record.seq, ++read);
  EXPECT_EQ(read, journal.last_seq());
  // 64 KiB, 128 KiB, ... 1 MiB: each a doubling, the last the segment size.
  ASSERT_GE(sizes.size(), 2u);
  for (std::size_t i = 1; i < sizes.size(); ++i) EXPECT_EQ(sizes[i], 2 * sizes[i - 1]);
  EXPECT_EQ(sizes.back(), segment_bytes);
  struct stat info {};
  ASSERT_EQ(::stat(first.c_str(), &info), 0);
  EXPECT_GE(static_cast<std::uint64_t>(info.st_blocks) * 512, segment_bytes) << "blocks reserved";
  EXPECT_EQ(read_all(1), journal.last_seq());
}

// Opening in the middle skips by the headers' lengths; a damaged length must not send the
// reader to the wrong place, but to the damage, reported as a reader from the start would.
TEST_F(JournalTest, SkippingPastADamagedLengthFindsTheDamage) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 1000);
  }
  const auto segments = journal_segments(directory_);
  ASSERT_GE(segments.size(), 2u);
  EXPECT_EQ(read_all(30), 1000u) << "skipping over undamaged records";
  poke(segments.front(), offset_after(9) + offsetof(JournalRecordHeader, payload_bytes), "\x08");
  for (const std::uint64_t from : {std::uint64_t{5}, std::uint64_t{30}}) {
    try {
      read_all(from);
      FAIL() << "read from " << from << " past a damaged record in a middle segment";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::corrupt);
      EXPECT_NE(std::string(e.what()).find("seq 10"), std::string::npos) << e.what();
    }
  }
}

TEST(Durability, ParsesNamesAndRefusesOthers) {
  EXPECT_EQ(parse_durability("none"), Durability::none);
  EXPECT_EQ(parse_durability("async"), Durability::async);
  EXPECT_EQ(parse_durability("sync"), Durability::sync);
  EXPECT_THROW(parse_durability("fsync"), Error);
}

}  // namespace
}  // namespace evring
