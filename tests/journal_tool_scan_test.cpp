// The journal scan (journal/journal_scan.hpp) on journals written in-process: the live end
// of a running writer against a torn tail, the --to bound, a zeroed header in a sealed
// segment, and the segment summaries info shows.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "journal/journal.hpp"
#include "journal/journal_scan.hpp"
#include "journal/segment_file.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;

class JournalScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("evring-journal-scan-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  // `records` records of 100 bytes in segments of 4 KiB (about 30 a segment).
  JournalWriter write(int records) {
    JournalOptions options;
    options.directory = directory_;
    options.segment_bytes = 4096;
    options.max_payload = 256;
    JournalWriter journal = JournalWriter::open(options);
    const std::string payload(100, 'p');
    for (int i = 0; i < records; ++i) journal.append(7, std::as_bytes(std::span(payload)), i);
    return journal;
  }

  // Writes `bytes` at `offset` of `segment`, as damage or a crash would leave them.
  static void poke(const fs::path& segment, std::size_t offset, const std::string& bytes) {
    journal_file::MappedFile file(segment, true);
    std::memcpy(file.data() + offset, bytes.data(), bytes.size());
  }

  fs::path directory_;
};

TEST_F(JournalScanTest, AnUncommittedRecordIsTheLiveEndOnlyWhileAWriterRuns) {
  JournalWriter journal = write(100);
  const fs::path last = journal_segments(directory_).back();
  const journal_file::MappedFile file(last, false);
  const RecordRun run =
      scan_records(file, sizeof(JournalSegmentHeader), *journal_file::first_seq_from_name(last));
  ASSERT_FALSE(run.damaged());
  EXPECT_EQ(run.next_seq, 101u);
  poke(last, run.end_offset, std::string(8, '\x11'));  // crc and length, no commit word yet

  JournalCheckOptions live;
  live.writer_running = true;
  const JournalCheck running = check_journal(directory_, live);
  EXPECT_FALSE(running.fault.has_value()) << running.fault->what;
  EXPECT_EQ(running.last_seq, 100u);
  EXPECT_GE(running.segments, 3u);

  const JournalCheck stopped = check_journal(directory_, JournalCheckOptions{});
  ASSERT_TRUE(stopped.fault.has_value());
  EXPECT_EQ(stopped.fault->kind, JournalFault::Kind::torn_tail);
  EXPECT_EQ(stopped.fault->segment, last);
  EXPECT_EQ(stopped.fault->offset, run.end_offset);
  EXPECT_EQ(stopped.fault->seq, 101u);
  EXPECT_EQ(stopped.records, 100u);
}

TEST_F(JournalScanTest, FromAndToCheckOnlyTheSegmentsThatHoldThem) {
  write(200);
  const std::vector<SegmentSummary> segments = summarize_segments(directory_);
  ASSERT_GE(segments.size(), 4u);
  JournalCheckOptions options;
  options.from_seq = segments[1].first_seq + 1;
  options.to_seq = segments[2].first_seq + 2;
  const JournalCheck check = check_journal(directory_, options);
  EXPECT_FALSE(check.fault.has_value());
  EXPECT_EQ(check.segments, 2u);
  EXPECT_EQ(check.first_seq, segments[1].first_seq);
  EXPECT_EQ(check.last_seq, options.to_seq);
}

TEST_F(JournalScanTest, AZeroedHeaderInASealedSegmentIsDamageNotItsEnd) {
  write(100);
  const fs::path first = journal_segments(directory_).front();
  // The third record's header: 64 bytes of segment header, then records of 136 bytes.
  const std::size_t third = sizeof(JournalSegmentHeader) + 2 * JournalWriter::record_bytes(0, 100);
  poke(first, third, std::string(sizeof(JournalRecordHeader), '\0'));
  const JournalCheck check = check_journal(directory_, JournalCheckOptions{});
  ASSERT_TRUE(check.fault.has_value());
  EXPECT_EQ(check.fault->kind, JournalFault::Kind::bad_record);
  EXPECT_EQ(check.fault->offset, third);
  EXPECT_EQ(check.fault->seq, 3u);
  EXPECT_EQ(check.records, 2u);
}

TEST_F(JournalScanTest, SummariesCountEachSegmentsRecords) {
  write(100);
  const std::vector<SegmentSummary> segments = summarize_segments(directory_);
  std::uint64_t next = 1;
  for (const SegmentSummary& segment : segments) {
    EXPECT_EQ(segment.first_seq, next);
    EXPECT_GT(segment.records, 0u);
    EXPECT_EQ(segment.file_bytes, 4096u);
    EXPECT_EQ(segment.last, &segment == &segments.back());
    next = segment.last_seq() + 1;
  }
  EXPECT_EQ(next, 101u);
}

}  // namespace
}  // namespace evring
