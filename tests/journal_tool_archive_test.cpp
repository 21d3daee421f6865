// evring journal verify|info|export over a retained journal: with an archive (verify covers
// archive and live, info lists both and where the history starts, export --from 1 equals
// tail --from 1), its damage named (a flipped byte in an archived segment, a truncated .zst,
// an archived segment removed), retention without an archive (verify passes and says where
// the history starts), and segments archived while verify reads them (in-process, and under
// a writer archiving as it goes).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "journal/journal.hpp"
#include "journal/journal_archive.hpp"
#include "journal/journal_scan.hpp"
#include "shm/shared_segment.hpp"  // kCreatorGroup
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::contains;

constexpr int kExitDamaged = 5;

// Segments of 16 KiB hold about 24 of the events put() makes (retention_test.cpp's).
const std::vector<std::string> kSmallSegments{
    "--journal-segment-bytes", "16K", "--max-payload", "1K", "--retention-interval", "100ms"};
constexpr std::size_t kValueBytes = 600;

using test::lines_of;

class JournalArchiveToolTest : public test::ProcessTest {
 protected:
  JournalArchiveToolTest()
      : ProcessTest("journal-archive"),
        instance(test::unique_instance("jarchive")),
        cleanup(instance) {}

  fs::path journal() const { return dir() / "journal"; }
  fs::path archive() const { return dir() / "archive"; }

  test::ToolResult evring(std::vector<std::string> args) const {
    return test::run_tool("evring", args, dir(), 60s);
  }
  test::ToolResult tool(const std::string& sub, std::vector<std::string> args) const {
    args.insert(args.begin(), {"journal", sub, "--journal", journal().string()});
    return evring(args);
  }
  nlohmann::json tool_json(const std::string& sub) const {
    const test::ToolResult result = tool(sub, {"--json"});
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    return nlohmann::json::parse(result.out);
  }

  test::WriterProcess start_writer(std::vector<std::string> extra) const {
    std::vector<std::string> args = kSmallSegments;
    args.insert(args.end(), extra.begin(), extra.end());
    return test::WriterProcess(instance, dir(), args);
  }
  test::WriterProcess archiving_writer() const {
    return start_writer(
        {"--retain", "16K", "--archive", archive().string(), "--snapshot-every", "0"});
  }

  // put k<from>..k<from+count-1>; returns the last seq.
  std::uint64_t put(int from, int count) const {
    return test::put_values(instance, from, count, kValueBytes);
  }

  // A stopped writer's journal of 250 events, at least 4 of its segments archived.
  std::uint64_t archived_journal() {
    test::WriterProcess writer = archiving_writer();
    const std::uint64_t last = put(1, 250);
    EXPECT_TRUE(test::wait_until([&] { return archived_segments(archive()).size() >= 4; }, 20s))
        << writer.log();
    EXPECT_EQ(writer.stop(), 0) << writer.log();
    return last;
  }

  static std::uint64_t oldest_live_seq(const fs::path& folder) {
    const std::vector<fs::path> segments = journal_segments(folder);
    return segments.empty() ? 0 : *journal_file::first_seq_from_name(segments.front());
  }

  std::string instance;
  test::InstanceCleanup cleanup;
};

TEST_F(JournalArchiveToolTest, VerifyInfoAndExportCoverArchiveAndLive) {
  test::WriterProcess writer = archiving_writer();
  const std::uint64_t last = put(1, 250);
  ASSERT_TRUE(test::wait_until([&] { return archived_segments(archive()).size() >= 4; }, 20s))
      << writer.log();
  const std::string count = std::to_string(last);
  const test::ToolResult tail =
      evring({"tail", "--name", instance, "--from", "1", "--count", count, "--json"});
  ASSERT_EQ(writer.stop(), 0) << writer.log();
  const std::uint64_t live_from = oldest_live_seq(journal());
  ASSERT_GT(live_from, 1u);

  const test::ToolResult verify = tool("verify", {});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(contains(verify.out, count + " records, seq 1 to " + count)) << verify.out;
  EXPECT_TRUE(contains(verify.out, "archived in " + archive().string())) << verify.out;
  const nlohmann::json check = tool_json("verify");
  EXPECT_EQ(check["records"], last);
  EXPECT_EQ(check["archived_segments"], archived_segments(archive()).size());
  EXPECT_EQ(check["removed_to_seq"], 0);

  // --no-archive checks the live folder only, and says what it passed over.
  const test::ToolResult live_only = tool("verify", {"--no-archive"});
  ASSERT_EQ(live_only.exit_code, 0) << live_only.err;
  EXPECT_TRUE(contains(live_only.out, "seq 1 to " + std::to_string(live_from - 1) +
                                          " archived, not checked (--no-archive)"))
      << live_only.out;

  const nlohmann::json info = tool_json("info");
  EXPECT_EQ(info["archive"], archive().string());
  EXPECT_EQ(info["records"], last);
  EXPECT_EQ(info["start"], "seq 1 to " + std::to_string(live_from - 1) + " archived, seq " +
                               std::to_string(live_from) + " to " + count + " live");
  std::uint64_t next = 1;
  for (const nlohmann::json& segment : info["segments"]) {
    EXPECT_EQ(segment["first_seq"], next) << info.dump();
    EXPECT_EQ(segment["archived"], next < live_from) << segment.dump();
    next = segment["last_seq"].get<std::uint64_t>() + 1;
  }
  EXPECT_EQ(next, last + 1);

  test::expect_export_equals_tail(tool("export", {"--from", "1"}), tail, last,
                                  /*with_command_ids=*/false);
}

TEST_F(JournalArchiveToolTest, VerifyNamesAFlippedByteInAnArchivedSegment) {
  archived_journal();
  const ArchivedSegment damaged = archived_segments(archive()).at(1);
  // Decompressed, one payload byte flipped (after the segment header, 64, and the first
  // record's header, 32), compressed again in its place.
  const fs::path work = dir() / "work";
  fs::create_directories(work);
  const fs::path plain = work / journal_file::segment_file_name(damaged.first_seq);
  {
    const journal_file::MappedFile file = map_archived_segment(damaged.path);
    std::string bytes(reinterpret_cast<const char*>(file.data()), file.size());
    bytes[64 + 32 + 3] ^= 0x5a;
    std::ofstream(plain, std::ios::binary) << bytes;
  }
  fs::remove(damaged.path);
  const std::atomic<bool> never_stop{false};
  archive_segment(plain, archive(), 0600, kCreatorGroup, never_stop);

  const test::ToolResult verify = tool("verify", {});
  EXPECT_EQ(verify.exit_code, kExitDamaged) << verify.out << verify.err;
  EXPECT_TRUE(contains(verify.err, "bad record in " + damaged.path.string() + " at byte 64, seq " +
                                       std::to_string(damaged.first_seq)))
      << verify.err;
  EXPECT_TRUE(contains(verify.out, "seq 1 to " + std::to_string(damaged.first_seq - 1)))
      << verify.out;
  // Past the archive, the live folder is good.
  EXPECT_EQ(tool("verify", {"--no-archive"}).exit_code, 0);
}

TEST_F(JournalArchiveToolTest, VerifyNamesATruncatedArchivedSegment) {
  archived_journal();
  const ArchivedSegment damaged = archived_segments(archive()).at(2);
  fs::resize_file(damaged.path, damaged.bytes / 2);
  const test::ToolResult verify = tool("verify", {});
  EXPECT_EQ(verify.exit_code, kExitDamaged) << verify.out << verify.err;
  EXPECT_TRUE(contains(verify.err, "bad archived segment in " + damaged.path.string() +
                                       " at byte 0, seq " + std::to_string(damaged.first_seq)))
      << verify.err;
  EXPECT_TRUE(contains(verify.err, "does not decompress")) << verify.err;
  const nlohmann::json check = nlohmann::json::parse(tool("verify", {"--json"}).out);
  EXPECT_EQ(check["fault"]["kind"], "bad archived segment");
  EXPECT_EQ(check["last_seq"], damaged.first_seq - 1);
}

TEST_F(JournalArchiveToolTest, VerifyNamesAnArchivedSegmentRemoved) {
  archived_journal();
  const std::vector<ArchivedSegment> archived = archived_segments(archive());
  fs::remove(archived.at(1).path);
  const test::ToolResult verify = tool("verify", {});
  EXPECT_EQ(verify.exit_code, kExitDamaged) << verify.out << verify.err;
  EXPECT_TRUE(contains(verify.err, "sequence gap in " + archived.at(2).path.string()))
      << verify.err;
  EXPECT_TRUE(contains(verify.err, "seqs " + std::to_string(archived.at(1).first_seq) + " to " +
                                       std::to_string(archived.at(2).first_seq - 1) +
                                       " are missing"))
      << verify.err;
}

TEST_F(JournalArchiveToolTest, RetentionWithoutArchiveVerifiesAndSaysWhereItStarts) {
  {
    test::WriterProcess writer = start_writer({"--retain", "16K", "--snapshot-every", "10"});
    put(1, 150);
    ASSERT_TRUE(test::wait_until([&] { return oldest_live_seq(journal()) > 1; }, 20s))
        << writer.log();
    ASSERT_EQ(writer.stop(), 0) << writer.log();
  }
  const std::string oldest = std::to_string(oldest_live_seq(journal()));
  const std::string removed = std::to_string(oldest_live_seq(journal()) - 1);
  const test::ToolResult verify = tool("verify", {});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(contains(verify.out, "seq " + oldest + " to 150"));
  EXPECT_TRUE(contains(
      verify.out,
      "seq 1 to " + removed + " removed by retention (the oldest on disk is " + oldest + ")"))
      << verify.out;
  const nlohmann::json info = tool_json("info");
  EXPECT_EQ(info["removed_to_seq"], std::stoull(removed));
  EXPECT_TRUE(contains(info["start"].get<std::string>(), "seq 1 to " + removed + " removed"))
      << info.dump();
  // Export from a removed seq is refused, naming the oldest; that remedy works.
  const test::ToolResult refused = tool("export", {"--from", "1"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(contains(refused.err, "give --from " + oldest + " or later")) << refused.err;
  const test::ToolResult exported = tool("export", {"--from", oldest});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(lines_of(exported.out).size(), 150 - std::stoull(oldest) + 1);
}

// verify runs while the writer archives the segments it has not reached yet.
TEST_F(JournalArchiveToolTest, VerifyWhileTheWriterArchivesFindsNoGap) {
  test::WriterProcess writer = archiving_writer();
  put(1, 100);
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    for (int i = 1000; !stop.load(std::memory_order_relaxed); i += 20) put(i, 20);
  });
  // Until retention has moved segments under several runs (each a fraction of a second, but
  // slow under sanitizers, so both counts are waited for: the feeder keeps archiving).
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int runs = 0;
  while ((runs < 3 || archived_segments(archive()).size() < 12) &&
         std::chrono::steady_clock::now() < deadline) {
    const test::ToolResult verify = tool("verify", {"--json"});
    ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    const nlohmann::json check = nlohmann::json::parse(verify.out);
    EXPECT_EQ(check["first_seq"], 1) << verify.out;
    ++runs;
  }
  EXPECT_GE(runs, 3);
  // relaxed: the flag only ends the feeder's loop; join() orders everything else.
  stop.store(true, std::memory_order_relaxed);
  feeder.join();
  EXPECT_GE(archived_segments(archive()).size(), 12u) << writer.log();
}

// The race, made certain: segments are archived while the check has the first one mapped.
// Segments of 9 MiB, so the check reports progress (every 8 MiB) inside the first one.
TEST(JournalArchiveRaceTest, SegmentsArchivedDuringTheCheckAreReadFromTheArchive) {
  const fs::path root = fs::temp_directory_path() / test::unique_instance("jarchive-race");
  fs::create_directories(root);
  JournalOptions options;
  options.directory = root / "journal";
  options.segment_bytes = 9 << 20;
  options.max_payload = 1 << 20;
  std::uint64_t last = 0;
  {
    JournalWriter writer = JournalWriter::open(options);
    std::vector<std::byte> payload(1 << 20);
    for (int i = 0; i < 26; ++i) {
      if (i % 8 == 0 && i != 0) writer.make_room(options.segment_bytes);  // seal one
      payload[0] = static_cast<std::byte>(writer.next_seq());
      writer.append(1, payload, 0);
    }
    last = writer.last_seq();
  }
  const fs::path archive = root / "archive";
  write_journal_archive(options.directory, archive);
  const std::vector<fs::path> segments = journal_segments(options.directory);
  ASSERT_EQ(segments.size(), 4u);
  JournalCheckOptions check_options;
  bool moved = false;
  const std::atomic<bool> never_stop{false};
  check_options.on_progress = [&](std::uint64_t, std::uint64_t) {
    if (moved) return;
    for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
      archive_segment(segments[i], archive, 0600, kCreatorGroup, never_stop);
    }
    moved = true;
  };
  const JournalCheck check = check_journal(options.directory, check_options);
  EXPECT_TRUE(moved);
  EXPECT_FALSE(check.fault) << check.fault->what;
  EXPECT_EQ(check.records, last);
  EXPECT_EQ(check.segments, 4u);
  EXPECT_EQ(check.archived_segments, 2u);  // the first was mapped before it moved
  std::error_code ec;
  fs::remove_all(root, ec);
}

}  // namespace
}  // namespace evring
