// The journal: append, roll, reopen, and recovery from torn, flipped and truncated tails.
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "evring/error.hpp"
#include "evring/journal.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kMaxPayload = 1024;

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
      ASSERT_EQ(journal.append(9, payload, static_cast<std::int64_t>(seq) * 10), seq);
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
      ++expected;
    }
    return expected - 1;
  }

  // Overwrites bytes of a file in place.
  static void poke(const fs::path& file, std::uint64_t offset, const std::string& bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
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
    append_test_records(journal, 49);
    // Where record 50 starts: read it back through a reader-independent route, the size.
    last_offset = sizeof(JournalSegmentHeader);
    for (std::uint64_t seq = 1; seq <= 49; ++seq) {
      last_offset += sizeof(JournalRecordHeader) +
                     ((test::payload_length_for(seq, kMaxPayload) + 7) & ~std::uint64_t{7});
    }
    append_test_records(journal, 1);
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
  const auto size = fs::file_size(segment);
  std::uint64_t cut = sizeof(JournalSegmentHeader);
  for (std::uint64_t seq = 1; seq <= 60; ++seq) {
    cut += sizeof(JournalRecordHeader) +
           ((test::payload_length_for(seq, kMaxPayload) + 7) & ~std::uint64_t{7});
  }
  fs::resize_file(segment, cut + 10);
  JournalRecovery recovery;
  JournalWriter journal = JournalWriter::open(options(1 << 20), &recovery);
  EXPECT_TRUE(recovery.cut_torn_tail);
  EXPECT_EQ(recovery.last_seq, 60u);
  EXPECT_EQ(fs::file_size(segment), size) << "grown back to its reserved size";
  append_test_records(journal, 5);
  EXPECT_EQ(read_all(1), 65u);
}

TEST_F(JournalTest, AnotherFormatVersionIsRefusedNamingBoth) {
  {
    JournalWriter journal = JournalWriter::open(options());
    append_test_records(journal, 3);
  }
  const fs::path segment = journal_segments(directory_).front();
  poke(segment, offsetof(JournalSegmentHeader, format_version), std::string("\x07\0\0\0", 4));
  try {
    JournalWriter::open(options());
    FAIL() << "opened a journal of another version";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::incompatible);
    EXPECT_NE(std::string(e.what()).find("version 7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("version 1"), std::string::npos) << e.what();
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
      journal.append(9, payload, static_cast<std::int64_t>(seq) * 10);
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

TEST(Durability, ParsesNamesAndRefusesOthers) {
  EXPECT_EQ(parse_durability("none"), Durability::none);
  EXPECT_EQ(parse_durability("async"), Durability::async);
  EXPECT_EQ(parse_durability("sync"), Durability::sync);
  EXPECT_THROW(parse_durability("fsync"), Error);
}

}  // namespace
}  // namespace evring
