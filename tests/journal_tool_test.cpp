// evring journal verify|info|export as a user runs them, against journals real writers
// made: a good journal, a byte flipped in a sealed segment, a damaged header, a deleted
// middle segment, a torn tail (and the writer's restart that cuts it), all three while a
// writer appends, export against `evring tail --json`, --from/--to, and the errors.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "journal/journal.hpp"
#include "journal/journal_scan.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;

constexpr int kExitDamaged = 5;
constexpr int kExitTornTail = 6;

// Small segments, so a few hundred events fill several.
const std::vector<std::string> kSmallSegments{"--journal-segment-bytes", "4096", "--max-payload",
                                              "256"};

using test::lines_of;

// Overwrites bytes of a file in place, as a failing disk or a stray write would.
void write_at(const fs::path& path, std::uint64_t offset, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// Where the records of the last segment of `journal` end (journal_scan.hpp).
std::size_t end_of_records(const fs::path& segment) {
  const journal_file::MappedFile file(segment, false);
  return scan_records(file, sizeof(JournalSegmentHeader),
                      *journal_file::first_seq_from_name(segment))
      .end_offset;
}

class JournalToolTest : public test::ProcessTest {
 protected:
  JournalToolTest() : ProcessTest("journal-tool") {}

  test::ToolResult evring(std::vector<std::string> args) const {
    return test::run_tool("evring", args, dir(), std::chrono::seconds(60));
  }
  test::ToolResult journal(const std::string& sub, std::vector<std::string> args) const {
    args.insert(args.begin(), {"journal", sub});
    return evring(args);
  }
  nlohmann::json info_json(const fs::path& folder) const {
    const test::ToolResult result = journal("info", {"--journal", folder.string(), "--json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out);
  }

  // A kv writer's journal with `puts` events in several segments, the writer stopped.
  fs::path stopped_journal(const std::string& hint, int puts) {
    const std::string name = test::unique_instance(hint);
    test::InstanceCleanup cleanup(name);
    test::WriterProcess writer(name, dir(), kSmallSegments);
    put_keys(name, puts);
    EXPECT_EQ(writer.stop(), 0) << writer.log();
    return writer.journal();
  }

  static std::uint64_t put_keys(const std::string& instance, int count) {
    Client client = test::connect_with_retry(instance, std::chrono::seconds(10));
    std::uint64_t head = 0;
    for (int i = 0; i < count; ++i) {
      const std::string id = "cmd-" + std::to_string(i);
      const CommandReply reply =
          client.submit_text({"put", "k" + std::to_string(i), "value " + std::to_string(i)}, id);
      EXPECT_TRUE(reply.accepted()) << reply.reason;
      head = reply.seq;
    }
    return head;
  }
};

TEST_F(JournalToolTest, VerifyAndInfoDescribeAGoodStoppedJournal) {
  const fs::path folder = stopped_journal("jt-good", 400);
  const test::ToolResult verify = journal("verify", {"--journal", folder.string()});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(test::contains(verify.out, "400 records, seq 1 to 400")) << verify.out;

  const nlohmann::json info = info_json(folder);
  EXPECT_EQ(info["domain"], "kv");
  EXPECT_EQ(info["records"], 400);
  EXPECT_EQ(info["first_seq"], 1);
  EXPECT_EQ(info["last_seq"], 400);
  EXPECT_EQ(info["writer_running"], false);
  const nlohmann::json& segments = info["segments"];
  ASSERT_GE(segments.size(), 3u) << info.dump();
  std::uint64_t next = 1;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    EXPECT_EQ(segments[i]["first_seq"], next) << info.dump();
    next = segments[i]["last_seq"].get<std::uint64_t>() + 1;
    EXPECT_EQ(segments[i]["sealed"], i + 1 < segments.size());
  }
  EXPECT_EQ(next, 401u);
  const nlohmann::json check =
      nlohmann::json::parse(journal("verify", {"--journal", folder.string(), "--json"}).out);
  EXPECT_EQ(check["ok"], true);
  EXPECT_EQ(check["segments"], segments.size());
  EXPECT_EQ(check["history_id"], info["history_id"]);
}

TEST_F(JournalToolTest, VerifyNamesAFlippedByteInASealedSegment) {
  const fs::path folder = stopped_journal("jt-flip", 300);
  const fs::path first = journal_segments(folder).front();
  // The first record's payload: after the segment header (64) and its record header (32).
  write_at(first, 64 + 32 + 3, "\x5a");
  const test::ToolResult verify = journal("verify", {"--journal", folder.string()});
  EXPECT_EQ(verify.exit_code, kExitDamaged) << verify.out << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "bad record in " + first.string() + " at byte 64, seq 1"))
      << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "checksum mismatch, in a sealed segment")) << verify.err;
  const nlohmann::json check =
      nlohmann::json::parse(journal("verify", {"--journal", folder.string(), "--json"}).out);
  EXPECT_EQ(check["ok"], false);
  EXPECT_EQ(check["fault"]["kind"], "bad record");
  EXPECT_EQ(check["fault"]["seq"], 1);
  // The journal's own reader refuses it too, with the same record: export stops there.
  const test::ToolResult exported = journal("export", {"--journal", folder.string()});
  EXPECT_EQ(exported.exit_code, 2);
  EXPECT_TRUE(test::contains(exported.err, "damaged at seq 1")) << exported.err;
}

TEST_F(JournalToolTest, VerifyNamesADamagedSegmentHeader) {
  const fs::path folder = stopped_journal("jt-header", 300);
  const fs::path second = journal_segments(folder).at(1);
  write_at(second, 32, "\x01\x02");  // in segment_bytes: the header's CRC no longer matches
  const test::ToolResult verify = journal("verify", {"--journal", folder.string()});
  EXPECT_EQ(verify.exit_code, kExitDamaged) << verify.out << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "bad segment header in " + second.string())) << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "damaged header")) << verify.err;
  // What is before it was checked and is good.
  const nlohmann::json check =
      nlohmann::json::parse(journal("verify", {"--journal", folder.string(), "--json"}).out);
  EXPECT_EQ(check["first_seq"], 1);
  EXPECT_EQ(check["last_seq"].get<std::uint64_t>() + 1, *journal_file::first_seq_from_name(second));
}

TEST_F(JournalToolTest, VerifyNamesTheGapOfADeletedMiddleSegment) {
  const fs::path folder = stopped_journal("jt-gap", 400);
  const std::vector<fs::path> segments = journal_segments(folder);
  ASSERT_GE(segments.size(), 3u);
  const std::uint64_t missing_from = *journal_file::first_seq_from_name(segments[1]);
  const std::uint64_t missing_to = *journal_file::first_seq_from_name(segments[2]) - 1;
  fs::remove(segments[1]);
  const test::ToolResult verify = journal("verify", {"--journal", folder.string()});
  EXPECT_EQ(verify.exit_code, kExitDamaged) << verify.out << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "sequence gap in " + segments[2].string())) << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "seqs " + std::to_string(missing_from) + " to " +
                                             std::to_string(missing_to) + " are missing"))
      << verify.err;
}

TEST_F(JournalToolTest, ATornTailIsReportedAsSuchAndTheWritersRestartCutsIt) {
  const std::string name = test::unique_instance("jt-torn");
  test::InstanceCleanup cleanup(name);
  test::WriterProcess writer(name, dir(), kSmallSegments);
  put_keys(name, 100);
  writer.kill9();
  const fs::path last = journal_segments(writer.journal()).back();
  // What a crash in the middle of an append leaves: a header without its commit word.
  const std::size_t end = end_of_records(last);
  write_at(last, end, std::string(16, '\xab'));

  const test::ToolResult verify = journal("verify", {"--journal", writer.journal().string()});
  EXPECT_EQ(verify.exit_code, kExitTornTail) << verify.out << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "torn tail in " + last.string() + " at byte " +
                                             std::to_string(end) + ", seq 101"))
      << verify.err;
  EXPECT_TRUE(test::contains(verify.err, "which the writer cuts off")) << verify.err;
  EXPECT_TRUE(test::contains(verify.out, "100 records, seq 1 to 100")) << verify.out;

  // The remedy it names: the writer's next start cuts it, and the journal is good again.
  writer.restart();
  EXPECT_EQ(writer.stop(), 0) << writer.log();
  EXPECT_TRUE(test::contains(writer.log(), "cut a torn tail")) << writer.log();
  const test::ToolResult again = journal("verify", {"--journal", writer.journal().string()});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(test::contains(again.out, "100 records, seq 1 to 100")) << again.out;
}

TEST_F(JournalToolTest, NameFindsTheRecordedJournalAfterKill9AndSaysWhatToDoAfterACleanStop) {
  const std::string name = test::unique_instance("jt-name");
  test::InstanceCleanup cleanup(name);
  test::WriterProcess writer(name, dir(), kSmallSegments);  // --journal <dir>/journal
  put_keys(name, 10);
  const test::ToolResult live = journal("info", {"--name", name, "--json"});
  ASSERT_EQ(live.exit_code, 0) << live.err;
  const nlohmann::json info = nlohmann::json::parse(live.out);
  EXPECT_EQ(info["journal"], writer.journal().string());
  EXPECT_EQ(info["writer_running"], true);
  EXPECT_EQ(info["writer_pid"], writer.pid());
  EXPECT_EQ(info["segments"].back()["state"], "being written");

  writer.kill9();  // the registry stays, naming the journal; the lock goes with the process
  const test::ToolResult killed = journal("verify", {"--name", name});
  EXPECT_EQ(killed.exit_code, 0) << killed.err;
  EXPECT_TRUE(test::contains(killed.out, "10 records")) << killed.out;
  EXPECT_EQ(
      nlohmann::json::parse(journal("info", {"--name", name, "--json"}).out)["writer_running"],
      false);

  writer.restart();
  EXPECT_EQ(writer.stop(), 0);  // a clean stop removes the registry: --name no longer knows
  const test::ToolResult stopped = journal("info", {"--name", name});
  EXPECT_EQ(stopped.exit_code, 2);
  EXPECT_TRUE(test::contains(stopped.err, "give --journal DIR")) << stopped.err;
  EXPECT_EQ(journal("info", {"--journal", writer.journal().string()}).exit_code, 0);
}

TEST_F(JournalToolTest, AllThreeWorkWhileTheWriterAppends) {
  const std::string name = test::unique_instance("jt-live");
  test::InstanceCleanup cleanup(name);
  test::WriterProcess writer(name, dir(), kSmallSegments);
  std::atomic<std::uint64_t> head{put_keys(name, 1)};
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    Client client = test::connect_with_retry(name, std::chrono::seconds(10));
    // relaxed: a lone flag and a lone progress value; neither orders other memory.
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const CommandReply reply = client.submit_text({"put", "live" + std::to_string(i % 50), "v"});
      if (reply.accepted()) head.store(reply.seq, std::memory_order_relaxed);
    }
  });
  const fs::path folder = writer.journal();
  // One look of each tool; false at the first failure (the feeder must be joined first).
  const auto look = [&]() -> bool {
    // relaxed: the feeder's progress, read as a lower bound; nothing else is read with it.
    const std::uint64_t before = head.load(std::memory_order_relaxed);
    const test::ToolResult verify = journal("verify", {"--journal", folder.string(), "--json"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    if (verify.exit_code != 0) return false;
    EXPECT_GE(nlohmann::json::parse(verify.out)["last_seq"].get<std::uint64_t>(), before);

    const nlohmann::json info = info_json(folder);
    EXPECT_EQ(info["writer_running"], true);
    EXPECT_GE(info["last_seq"].get<std::uint64_t>(), before);

    const test::ToolResult exported = journal("export", {"--journal", folder.string()});
    EXPECT_EQ(exported.exit_code, 0) << exported.err;
    const std::vector<std::string> lines = lines_of(exported.out);
    EXPECT_GE(lines.size(), before);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (nlohmann::json::parse(lines[i])["seq"] != i + 1) {
        ADD_FAILURE() << "line " << i + 1 << " of the export is " << lines[i];
        return false;
      }
    }
    return exported.exit_code == 0;
  };
  for (int round = 0; round < 5 && look(); ++round) {
  }
  stop.store(true, std::memory_order_relaxed);  // relaxed: see the feeder
  feeder.join();
  EXPECT_GE(journal_segments(folder).size(), 3u) << "the writer should have rolled segments";
}

TEST_F(JournalToolTest, ExportOfKvAndBankEqualsTail) {
  for (const std::string domain : {"kv", "bank"}) {
    const std::string name = test::unique_instance("jt-export-" + domain);
    test::InstanceCleanup cleanup(name);
    test::WriterProcess writer(name, dir(),
                               {"--domain", domain, "--journal", (dir() / domain).string()});
    Client client = test::connect_with_retry(name, std::chrono::seconds(10));
    std::vector<std::vector<std::string_view>> commands;
    if (domain == "kv") {
      commands = {
          {"put", "a", "1"}, {"put", "b", "two words"}, {"cas", "a", "1", "3"}, {"del", "b"}};
    } else {
      commands = {{"open", "alice"},
                  {"open", "bob"},
                  {"deposit", "alice", "100"},
                  {"transfer", "alice", "bob", "30"},
                  {"withdraw", "bob", "5"}};
    }
    int id = 0;
    for (const auto& words : commands) {
      ASSERT_TRUE(client.submit_text(words, "id-" + std::to_string(++id)).accepted());
    }
    const std::string count = std::to_string(commands.size());
    test::expect_export_equals_tail(
        journal("export", {"--name", name}),
        evring({"tail", "--name", name, "--from", "1", "--count", count, "--json"}),
        commands.size(), /*with_command_ids=*/true);
  }
}

TEST_F(JournalToolTest, FromAndToBoundAllThree) {
  const fs::path folder = stopped_journal("jt-bounds", 300);
  const std::string path = folder.string();
  const test::ToolResult exported =
      journal("export", {"--journal", path, "--from", "150", "--to", "160"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const std::vector<std::string> lines = lines_of(exported.out);
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(nlohmann::json::parse(lines.front())["seq"], 150);
  EXPECT_EQ(nlohmann::json::parse(lines.back())["seq"], 160);
  EXPECT_EQ(nlohmann::json::parse(lines.back())["command_id"], "cmd-159");

  const nlohmann::json check =
      nlohmann::json::parse(journal("verify", {"--journal", path, "--to", "160", "--json"}).out);
  EXPECT_EQ(check["ok"], true);
  EXPECT_EQ(check["last_seq"], 160);

  const test::ToolResult info = journal("info", {"--journal", path, "--from", "290", "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json kept = nlohmann::json::parse(info.out)["segments"];
  ASSERT_FALSE(kept.empty()) << info.out;
  EXPECT_LT(kept.size(), journal_segments(folder).size()) << info.out;
  EXPECT_LE(kept.front()["first_seq"].get<std::uint64_t>(), 290u) << info.out;
  EXPECT_GE(kept.front()["last_seq"].get<std::uint64_t>(), 290u) << info.out;
  EXPECT_EQ(kept.back()["last_seq"], 300);

  EXPECT_TRUE(lines_of(journal("export", {"--journal", path, "--from", "301"}).out).empty());
  const test::ToolResult backwards =
      journal("export", {"--journal", path, "--from", "20", "--to", "10"});
  EXPECT_EQ(backwards.exit_code, 2);
  EXPECT_TRUE(test::contains(backwards.err, "--from 20 is after --to 10")) << backwards.err;
}

TEST_F(JournalToolTest, ErrorsSayWhatToGive) {
  const test::ToolResult unknown = journal("verify", {"--name", test::unique_instance("jt-none")});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(test::contains(unknown.err, "has no journal here")) << unknown.err;
  EXPECT_TRUE(test::contains(unknown.err, "--journal DIR")) << unknown.err;

  const test::ToolResult missing = journal("info", {"--journal", (dir() / "nowhere").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(test::contains(missing.err, "does not exist")) << missing.err;

  const fs::path file = dir() / "a-file";
  std::ofstream(file) << "not a journal\n";
  const test::ToolResult not_folder = journal("export", {"--journal", file.string()});
  EXPECT_EQ(not_folder.exit_code, 2);
  EXPECT_TRUE(test::contains(not_folder.err, "is a file, not a journal folder")) << not_folder.err;

  const fs::path empty = dir() / "empty";
  fs::create_directories(empty);
  const test::ToolResult no_segment = journal("verify", {"--journal", empty.string()});
  EXPECT_EQ(no_segment.exit_code, 2);
  EXPECT_TRUE(test::contains(no_segment.err, "holds no journal")) << no_segment.err;

  // A file of another format where a segment should be.
  std::ofstream(empty / "journal-00000000000000000001.evj") << std::string(4096, 'x');
  const test::ToolResult other = journal("verify", {"--journal", empty.string()});
  EXPECT_EQ(other.exit_code, kExitDamaged) << other.out << other.err;
  EXPECT_TRUE(test::contains(other.err, "not an evring journal segment (bad magic)")) << other.err;
  const test::ToolResult other_info = journal("info", {"--journal", empty.string()});
  EXPECT_EQ(other_info.exit_code, 2);
  EXPECT_TRUE(test::contains(other_info.err, "bad magic")) << other_info.err;
}

}  // namespace
}  // namespace evring
