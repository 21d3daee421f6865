// Journal retention through real processes: --retain and --retain-for remove only sealed
// segments nobody holds; each kind of hold (a stopped reader's checkpoint, the model
// snapshot, a stopped bridge's hold file) keeps its segment; evring journal release lets it
// go; the archive keeps every event readable (a reader --from start, evring tail --from 1,
// the journal reader with every CRC) also after a kill -9 between the steps of a move; and
// the error for removed events names what works, which then works.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "journal/journal.hpp"
#include "journal/journal_archive.hpp"
#include "journal/journal_holds.hpp"
#include "journal/journal_retention.hpp"
#include "journal/segment_file.hpp"
#include "journal/snapshot_file.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::contains;
using test::ReaderProcess;
using test::run_tool;
using test::wait_until;
using test::WriterProcess;

// Segments of 16 KiB hold about 24 of the events put() makes: a few hundred events roll
// a dozen segments.
const std::vector<std::string> kSmallSegments{
    "--journal-segment-bytes", "16K", "--max-payload", "1K", "--retention-interval", "100ms"};
constexpr std::size_t kValueBytes = 600;

bool log_shows(const test::ServiceProcess& process, const std::string& text,
               std::chrono::milliseconds timeout) {
  return wait_until([&] { return contains(process.log(), text); }, timeout);
}

std::vector<std::string> writer_args(std::vector<std::string> extra) {
  std::vector<std::string> args = kSmallSegments;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

class RetentionTest : public test::ProcessTest {
 protected:
  RetentionTest()
      : ProcessTest("retention"), instance(test::unique_instance("retain")), cleanup(instance) {}

  // put k<from>..k<from+count-1>; returns the last seq.
  std::uint64_t put(int from, int count) {
    return test::put_values(instance, from, count, kValueBytes);
  }

  fs::path journal() const { return dir() / "journal"; }

  // Once retention has done what it can (a pass every 100 ms): the oldest segment stays the
  // same over half a second.
  std::uint64_t settled_oldest_seq() const {
    std::uint64_t oldest = oldest_live_seq();
    for (int same = 0; same < 5;) {
      std::this_thread::sleep_for(100ms);
      const std::uint64_t now = oldest_live_seq();
      same = now == oldest ? same + 1 : 0;
      oldest = now;
    }
    return oldest;
  }

  std::uint64_t oldest_live_seq() const {
    const std::vector<fs::path> segments = journal_segments(journal());
    return segments.empty() ? 0 : std::stoull(segments.front().stem().string().substr(8));
  }

  std::uint64_t sealed_bytes() const {
    const std::vector<fs::path> segments = journal_segments(journal());
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
      std::error_code ec;
      bytes += fs::file_size(segments[i], ec);
    }
    return bytes;
  }

  test::ToolResult evring(std::vector<std::string> args) const {
    return run_tool("evring", args, dir(), 30s);
  }

  std::uint64_t count_of(const std::string& reader, std::uint64_t after) {
    QueryClient client = QueryClient::connect(instance, reader);
    const QueryReply reply = client.query({"count"}, after, 30s);
    EXPECT_FALSE(reply.stale) << reader << " did not reach seq " << after << ": " << reply.raw;
    return nlohmann::json::parse(reply.raw)["result"].get<std::uint64_t>();
  }

  // Reads the whole journal, archive and live, through the journal reader (every CRC
  // checked): the seqs it gives, in order, must be 1..last with none missing.
  void expect_every_event_readable(std::uint64_t last) {
    JournalReader reader = JournalReader::open(journal(), 1);
    JournalRecord record;
    std::uint64_t expected = 1;
    while (expected <= last && reader.next(record)) {
      ASSERT_EQ(record.seq, expected);
      ++expected;
    }
    EXPECT_EQ(expected, last + 1) << "the journal and its archive end early";
  }

  std::string instance;
  test::InstanceCleanup cleanup;
};

TEST_F(RetentionTest, RetainBySizeRemovesOnlySealedUnheldSegments) {
  WriterProcess writer(instance, dir(), writer_args({"--retain", "48K", "--snapshot-every", "20"}));
  const std::uint64_t last = put(1, 300);
  const std::uint64_t oldest = settled_oldest_seq();
  EXPECT_GT(oldest, 1u);
  // Down to --retain, but for what the writer's oldest kept model snapshot needs: its
  // segment is never removed, and the segments after it count.
  const std::vector<SnapshotInfo> snapshots = list_snapshot_files(journal() / "snapshots", "model");
  ASSERT_FALSE(snapshots.empty());
  const std::uint64_t held = snapshots.back().seq + 1;
  EXPECT_LE(oldest, held);
  const std::vector<fs::path> segments = journal_segments(journal());
  ASSERT_GE(segments.size(), 2u);
  const std::uint64_t second = std::stoull(segments[1].stem().string().substr(8));
  EXPECT_TRUE(sealed_bytes() <= 48 * 1024 || second > held)
      << "a segment no one holds is over --retain: " << writer.log();
  // (The line follows the removal.)
  EXPECT_TRUE(log_shows(writer, "retention: removed seq 1..", 5s)) << writer.log();
  EXPECT_TRUE(contains(writer.log(), "over --retain 48 KiB"));
  // The segment being written is never touched: the newest record is still on disk.
  JournalReader tail_reader = JournalReader::open(journal(), last);
  JournalRecord record;
  ASSERT_TRUE(tail_reader.next(record));
  EXPECT_EQ(record.seq, last);

  // The model survives a restart from its snapshot and the journal after it: k7's version
  // is still 1, so a cas on version 1 is accepted.
  ASSERT_EQ(writer.stop(), 0);
  writer.restart();
  Client client = test::connect_with_retry(instance, 30s);
  const CommandReply cas = client.submit_text({"cas", "k7", "1", "after-restart"});
  EXPECT_TRUE(cas.accepted()) << cas.reason << "\n" << writer.log();
}

TEST_F(RetentionTest, RetainForRemovesSegmentsSealedLongAgo) {
  WriterProcess writer(instance, dir(),
                       writer_args({"--retain-for", "1s", "--snapshot-every", "1"}));
  // A snapshot after every event: the model snapshot holds only the newest segment, so every
  // sealed one can go (with fewer, the older kept snapshot may hold a sealed one).
  put(1, 120);
  ASSERT_TRUE(wait_until([&] { return oldest_live_seq() > 1; }, 20s)) << writer.log();
  EXPECT_TRUE(log_shows(writer, "sealed longer ago than --retain-for", 5s)) << writer.log();
  // Only sealed segments go: with nothing written, the newest one stays forever.
  ASSERT_TRUE(wait_until([&] { return journal_segments(journal()).size() == 1; }, 20s))
      << writer.log();
  std::this_thread::sleep_for(1500ms);  // past --retain-for once more: it still stays
  EXPECT_EQ(journal_segments(journal()).size(), 1u);
}

TEST_F(RetentionTest, ModelSnapshotHoldsUntilTheFirstSnapshot) {
  // No snapshot until a clean stop: a restart would replay from seq 1, so nothing goes.
  WriterProcess writer(instance, dir(), writer_args({"--retain", "16K", "--snapshot-every", "0"}));
  put(1, 150);
  ASSERT_TRUE(log_shows(writer, "held by model-snapshot", 20s)) << writer.log();
  EXPECT_EQ(oldest_live_seq(), 1u);
  // Once stopped cleanly it has a snapshot: the next run removes up to it.
  ASSERT_EQ(writer.stop(), 0);
  writer.restart();
  ASSERT_TRUE(wait_until([&] { return oldest_live_seq() > 1; }, 20s)) << writer.log();
  EXPECT_LE(oldest_live_seq(), 151u);
}

TEST_F(RetentionTest, StoppedReaderCheckpointHoldsAndReleaseLetsGo) {
  WriterProcess writer(instance, dir(), writer_args({"--retain", "16K", "--snapshot-every", "10"}));
  const std::uint64_t half = put(1, 15);
  std::uint64_t first = 0;
  {
    ReaderProcess reader(instance, "kv-held", dir(),
                         {"--view", "kv", "--wait", "block", "--checkpoint-every", "1"});
    EXPECT_EQ(count_of("kv-held", half), 15u);
    first = put(16, 15);
    EXPECT_EQ(count_of("kv-held", first), 30u);
    ASSERT_EQ(reader.stop(), 0);  // checkpoints at seq 15 and 30: the hold says 16
  }
  const std::vector<JournalHold> holds = read_holds(journal());
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds[0].holder, "reader-kv-held");
  // Two checkpoints are kept and a restart falls back to the older when the newer cannot be
  // read: the hold covers the older one.
  const std::vector<SnapshotInfo> checkpoints = list_snapshot_files(dir() / "kv-held", "view");
  ASSERT_EQ(checkpoints.size(), 2u);
  EXPECT_EQ(checkpoints.front().seq, first);
  EXPECT_LT(checkpoints.back().seq, first);
  EXPECT_EQ(holds[0].needed_seq, checkpoints.back().seq + 1);

  const std::uint64_t last = put(31, 200);
  ASSERT_TRUE(log_shows(writer, "held by reader-kv-held", 20s)) << writer.log();
  EXPECT_LE(oldest_live_seq(), checkpoints.back().seq + 1);
  const test::ToolResult listed = evring({"journal", "holds", "--name", instance});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "reader-kv-held")) << listed.out;
  const test::ToolResult stat = evring({"stat", "--name", instance});
  EXPECT_TRUE(contains(stat.out, "oldest held by reader-kv-held (needs seq " +
                                     std::to_string(checkpoints.back().seq + 1) + ")"))
      << stat.out;

  // The reader comes back from its checkpoint: everything it needs is there.
  {
    ReaderProcess reader(instance, "kv-held", dir(),
                         {"--view", "kv", "--wait", "block", "--checkpoint-every", "1"});
    EXPECT_EQ(count_of("kv-held", last), 230u);
    ASSERT_EQ(reader.stop(), 0);
  }
  // Released (as for a reader that will not come back), its segments go.
  const std::uint64_t checkpoint = read_holds(journal()).at(0).needed_seq - 1;
  const test::ToolResult released =
      evring({"journal", "release", "--name", instance, "reader-kv-held"});
  EXPECT_EQ(released.exit_code, 0) << released.err;
  EXPECT_TRUE(read_holds(journal()).empty());
  // Events in two runs, so the writer's model snapshots (it holds its older kept one) both
  // pass the checkpoint.
  put(231, 100);
  std::this_thread::sleep_for(300ms);
  put(331, 100);
  ASSERT_TRUE(wait_until([&] { return oldest_live_seq() > checkpoint + 1; }, 20s)) << writer.log();
  settled_oldest_seq();  // so the error below and the test see the same oldest seq

  // Started again from its checkpoint, it needs removed events: the error says so and
  // what works, and --from live works.
  const test::ToolResult refused = run_tool("evring-reader",
                                            {"--name", instance, "--id", "kv-held", "--view", "kv",
                                             "--checkpoint-dir", (dir() / "kv-held").string()},
                                            dir(), 30s);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(contains(refused.err, "needs events the journal no longer has")) << refused.err;
  EXPECT_TRUE(
      contains(refused.err, "the oldest seq on disk is " + std::to_string(oldest_live_seq())))
      << refused.err;
  EXPECT_TRUE(contains(refused.err, "--from live")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "--source nats://")) << refused.err;
  ReaderProcess live(instance, "kv-held", dir(),
                     {"--view", "kv", "--wait", "block", "--from", "live"});
  const std::uint64_t after = put(1000, 1);
  QueryClient client = QueryClient::connect(instance, "kv-held");
  const QueryReply reply = client.query({"get", "k1000"}, after, 30s);
  EXPECT_FALSE(reply.stale) << reply.raw;
  EXPECT_TRUE(contains(reply.raw, "\"version\":1")) << reply.raw;
}

// A reader killed before its first checkpoint starts again from seq 1 (--from checkpoint
// with none): its hold stays at its start while it runs, so retention leaves it all.
TEST_F(RetentionTest, ReaderKilledBeforeItsFirstCheckpointHoldsItsStart) {
  WriterProcess writer(instance, dir(), writer_args({"--retain", "16K", "--snapshot-every", "10"}));
  const std::uint64_t first = put(1, 30);
  const std::vector<std::string> no_checkpoint{
      "--view", "kv", "--wait", "block", "--checkpoint-every", "0", "--checkpoint-seconds", "1h"};
  ReaderProcess reader(instance, "kv-fresh", dir(), no_checkpoint);
  EXPECT_EQ(count_of("kv-fresh", first), 30u);
  // Past the hold's rewrite interval (a second), so a hold that followed the position
  // would have moved with the events below.
  std::this_thread::sleep_for(1200ms);
  const std::uint64_t last = put(31, 200);
  EXPECT_EQ(count_of("kv-fresh", last), 230u);
  ASSERT_TRUE(log_shows(writer, "held by reader-kv-fresh", 20s)) << writer.log();
  EXPECT_EQ(read_holds(journal()).at(0).needed_seq, 1u);
  reader.kill9();
  settled_oldest_seq();
  EXPECT_EQ(oldest_live_seq(), 1u) << writer.log();

  // It comes back from the start: every event is still there.
  reader.restart();
  EXPECT_EQ(count_of("kv-fresh", last), 230u) << reader.log();
}

// A reader started before its writer knows no journal folder yet: it holds the journal once
// the writer is there, so a checkpoint it writes then is covered after it stops.
TEST_F(RetentionTest, ReaderStartedBeforeItsWriterHoldsOnceTheWriterComes) {
  ReaderProcess reader(instance, "kv-early", dir(),
                       {"--view", "kv", "--wait", "block", "--checkpoint-every", "1"});
  WriterProcess writer(instance, dir(), writer_args({"--retain", "16K", "--snapshot-every", "10"}));
  const std::uint64_t first = put(1, 30);
  EXPECT_EQ(count_of("kv-early", first), 30u);
  ASSERT_TRUE(wait_until(
      [&] {
        const std::vector<JournalHold> holds = read_holds(journal());
        return holds.size() == 1 && holds[0].holder == "reader-kv-early";
      },
      10s))
      << reader.log();
  ASSERT_EQ(reader.stop(), 0);
  const std::uint64_t needed = read_holds(journal()).at(0).needed_seq;
  EXPECT_GE(needed, 1u);
  EXPECT_LE(needed, first + 1);
  put(31, 200);
  settled_oldest_seq();
  EXPECT_LE(oldest_live_seq(), needed) << writer.log();
  reader.restart();
  EXPECT_EQ(count_of("kv-early", first + 200), 230u) << reader.log();
}

TEST_F(RetentionTest, StoppedBridgeHoldFileHolds) {
  WriterProcess writer(instance, dir(), writer_args({"--retain", "16K", "--snapshot-every", "10"}));
  put(1, 10);
  // What a stopped bridge leaves: JetStream acknowledged up to seq 5. Written by a process
  // that has exited, since release refuses a running holder's hold.
  const pid_t bridge = ::fork();
  ASSERT_GE(bridge, 0);
  if (bridge == 0) {
    write_hold(journal(), bridge_holder("orders-stream"), 6);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(bridge, &status, 0), bridge);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  put(11, 200);
  ASSERT_TRUE(log_shows(writer, "held by bridge-orders-stream", 20s)) << writer.log();
  EXPECT_LE(oldest_live_seq(), 6u);
  const test::ToolResult released =
      evring({"journal", "release", "--journal", journal().string(), "bridge-orders-stream"});
  EXPECT_EQ(released.exit_code, 0) << released.err;
  ASSERT_TRUE(wait_until([&] { return oldest_live_seq() > 6; }, 20s)) << writer.log();
}

TEST_F(RetentionTest, ReleaseOfAnUnknownHolderNamesTheList) {
  WriterProcess writer(instance, dir(), writer_args({}));
  const test::ToolResult released = evring({"journal", "release", "--name", instance, "reader-x"});
  EXPECT_EQ(released.exit_code, 2);
  EXPECT_TRUE(contains(released.err, "evring journal holds --name " + instance)) << released.err;
  const test::ToolResult listed = evring({"journal", "holds", "--name", instance});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
}

// A running holder's hold is not released by mistake: refused (stop it first), unless
// --force; the holder then writes it again at its next checkpoint.
TEST_F(RetentionTest, ReleaseOfARunningHolderIsRefusedUnlessForced) {
  WriterProcess writer(instance, dir(), writer_args({}));
  const std::uint64_t first = put(1, 5);
  ReaderProcess reader(instance, "kv-running", dir(),
                       {"--view", "kv", "--wait", "block", "--checkpoint-every", "1"});
  EXPECT_EQ(count_of("kv-running", first), 5u);
  ASSERT_TRUE(wait_until([&] { return !read_holds(journal()).empty(); }, 10s));
  const test::ToolResult refused =
      evring({"journal", "release", "--name", instance, "reader-kv-running"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(contains(refused.err, "is running")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "--force")) << refused.err;
  EXPECT_EQ(read_holds(journal()).size(), 1u);
  const test::ToolResult forced =
      evring({"journal", "release", "--name", instance, "--force", "reader-kv-running"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(read_holds(journal()).empty());
  const std::uint64_t after = put(6, 1);
  EXPECT_EQ(count_of("kv-running", after), 6u);
  EXPECT_TRUE(wait_until([&] { return !read_holds(journal()).empty(); }, 10s))
      << "the running reader did not write its hold again";
}

TEST_F(RetentionTest, ArchiveKeepsEveryEventReadable) {
  const fs::path archive = dir() / "archive";
  WriterProcess writer(
      instance, dir(),
      writer_args({"--retain", "16K", "--archive", archive.string(), "--snapshot-every", "0"}));
  const std::uint64_t last = put(1, 250);
  // Holds do not stop a move (no snapshot yet holds seq 1): segments go to the archive.
  ASSERT_TRUE(wait_until([&] { return archived_segments(archive).size() >= 5; }, 20s))
      << writer.log();
  EXPECT_GT(oldest_live_seq(), 1u);
  EXPECT_EQ(read_journal_archive(journal()), fs::absolute(archive).lexically_normal());
  expect_every_event_readable(last);

  ReaderProcess reader(instance, "kv-all", dir(),
                       {"--view", "kv", "--wait", "block", "--from", "start"});
  EXPECT_EQ(count_of("kv-all", last), 250u);

  const test::ToolResult tail = evring(
      {"tail", "--name", instance, "--from", "1", "--count", std::to_string(last), "--json"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  std::uint64_t expected = 1;
  for (std::size_t at = 0; at < tail.out.size();) {
    const std::size_t end = tail.out.find('\n', at);
    const nlohmann::json line = nlohmann::json::parse(tail.out.substr(at, end - at));
    EXPECT_EQ(line["seq"].get<std::uint64_t>(), expected);
    ++expected;
    at = end + 1;
  }
  EXPECT_EQ(expected, last + 1);

  const test::ToolResult stat = evring({"stat", "--name", instance, "--json"});
  const nlohmann::json disk = nlohmann::json::parse(stat.out)["writer"]["journal_disk"];
  EXPECT_EQ(disk["archive_first_seq"], 1);
  EXPECT_EQ(disk["first_seq"], oldest_live_seq());
}

// kill -9 at each step of a move (after the compressed copy is durable under its temporary
// name; after its rename, before the original's unlink): nothing is lost, and the next
// start tidies the rest.
TEST_F(RetentionTest, KillMidArchiveLosesNothing) {
  const fs::path archive = dir() / "archive";
  for (const std::string step : {"written", "renamed"}) {
    SCOPED_TRACE(step);
    std::error_code ec;
    fs::remove_all(journal(), ec);
    fs::remove_all(archive, ec);
    ::setenv("EVRING_ARCHIVE_STOP_AT", step.c_str(), 1);
    WriterProcess writer(instance, dir(),
                         writer_args({"--retain", "16K", "--archive", archive.string()}));
    ::unsetenv("EVRING_ARCHIVE_STOP_AT");
    Client client = test::connect_with_retry(instance, 30s);
    const std::string value(kValueBytes, 'v');
    std::uint64_t last = 0;
    try {
      for (int i = 0; i < 100; ++i) {
        const CommandReply reply = client.submit_text({"put", "k" + std::to_string(i), value});
        if (reply.accepted()) last = reply.seq;
      }
    } catch (const Error&) {
      // The writer stopped at the step, maybe with a command in flight: the journal says
      // what it took.
    }
    ASSERT_TRUE(wait_until([&] { return writer.poll_exit().has_value(); }, 20s)) << writer.log();
    const int status = *writer.poll_exit();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 86) << status;
    EXPECT_GT(last, 24u);  // a segment was sealed, so a move began
    expect_every_event_readable(last);

    writer.restart();
    if (step == "written") {
      EXPECT_TRUE(log_shows(writer, "removed 1 unfinished move", 5s)) << writer.log();
    }
    ASSERT_TRUE(wait_until([&] { return sealed_bytes() <= 16 * 1024; }, 20s)) << writer.log();
    expect_every_event_readable(last);
    ASSERT_EQ(writer.stop(), 0);
  }
}

TEST_F(RetentionTest, TailFromRemovedSeqNamesTheOldestKept) {
  WriterProcess writer(instance, dir(), writer_args({"--retain", "16K", "--snapshot-every", "10"}));
  const std::uint64_t last = put(1, 150);
  ASSERT_GT(settled_oldest_seq(), 1u) << writer.log();
  const test::ToolResult refused =
      evring({"tail", "--name", instance, "--from", "1", "--count", "1"});
  EXPECT_EQ(refused.exit_code, 2);
  const std::string oldest = std::to_string(oldest_live_seq());
  EXPECT_TRUE(contains(refused.err, "use --from " + oldest)) << refused.err;
  // The remedy works.
  const test::ToolResult tail =
      evring({"tail", "--name", instance, "--from", oldest, "--count", "1", "--json"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_EQ(nlohmann::json::parse(tail.out)["seq"].get<std::uint64_t>(), oldest_live_seq());
  EXPECT_LE(oldest_live_seq(), last);
}

TEST_F(RetentionTest, ArchiveWithoutRetentionIsRefused) {
  const test::ToolResult refused = run_tool("evring-writer",
                                            {"--name", instance, "--journal", journal().string(),
                                             "--archive", (dir() / "archive").string()},
                                            dir(), 30s);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(contains(refused.err, "add --retain SIZE or --retain-for DURATION")) << refused.err;
}

// The race a reader meets in-process: it has listed and mapped a segment when retention
// moves it (and the ones after it) into the archive, or removes them. The records it
// mapped stay readable; what follows comes from the archive, or is a clear EventsRemoved.
class ArchiveRaceTest : public test::ProcessTest {
 protected:
  ArchiveRaceTest() : ProcessTest("archive-race") {}

  // Four sealed segments of 20 records and a fifth being written; each payload its seq.
  std::uint64_t write_journal(const fs::path& folder = {}) {
    JournalOptions options;
    options.directory = folder.empty() ? dir() / "journal" : folder;
    options.segment_bytes = 8 << 10;
    options.max_payload = 1024;
    JournalWriter writer = JournalWriter::open(options);
    std::vector<std::byte> payload(300);
    for (std::uint64_t i = 0; i < 85; ++i) {
      if (i % 20 == 0 && i != 0) writer.make_room(options.segment_bytes);  // seal one
      payload[0] = static_cast<std::byte>(writer.next_seq());
      writer.append(1, payload, 0);
    }
    return writer.last_seq();
  }
  fs::path journal() const { return dir() / "journal"; }
};

TEST_F(ArchiveRaceTest, SegmentsArchivedWhileReadGoOnFromTheArchive) {
  const std::uint64_t last = write_journal();
  const fs::path archive = dir() / "archive";
  write_journal_archive(journal(), archive);
  JournalReader reader = JournalReader::open(journal(), 1);
  JournalRecord record;
  ASSERT_TRUE(reader.next(record));
  const std::vector<fs::path> segments = journal_segments(journal());
  ASSERT_GE(segments.size(), 4u);
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const std::atomic<bool> never{false};
    archive_segment(segments[i], archive, 0600, kCreatorGroup, never);
  }
  std::uint64_t expected = 2;
  while (reader.next(record)) {
    ASSERT_EQ(record.seq, expected);
    EXPECT_EQ(record.payload[0], static_cast<std::byte>(expected));
    ++expected;
  }
  EXPECT_EQ(expected, last + 1);
}

TEST_F(ArchiveRaceTest, SegmentsRemovedWhileReadAreNamed) {
  write_journal();
  JournalReader reader = JournalReader::open(journal(), 1);
  JournalRecord record;
  ASSERT_TRUE(reader.next(record));
  const std::vector<fs::path> segments = journal_segments(journal());
  fs::remove(segments[0]);
  fs::remove(segments[1]);
  const std::uint64_t oldest = std::stoull(segments[2].stem().string().substr(8));
  std::uint64_t read = 1;
  try {
    while (reader.next(record)) ++read;
    ADD_FAILURE() << "the reader did not see that seq " << read + 1 << " was removed";
  } catch (const EventsRemoved& e) {
    // The mapped segment was read to its end; then the gap is named.
    EXPECT_EQ(e.wanted_seq(), read + 1);
    EXPECT_EQ(e.oldest_seq(), oldest);
  }
}

// A holder that cannot write its hold says so once, naming what retention may then remove
// and the folder to fix. (As root, which the tests may run as, a mode does not stop a
// write: a file where the holds folder should be does.)
TEST_F(ArchiveRaceTest, HoldThatCannotBeWrittenWarnsOnce) {
  fs::create_directories(journal());
  std::ofstream(journal() / "holds") << "not a folder";
  std::vector<std::string> lines;
  HoldKeeper keeper(journal(), reader_holder("kv-1"),
                    [&](LogLevel, std::string_view text) { lines.emplace_back(text); });
  keeper.need(42, 0, true);
  keeper.need(43, 0, true);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], "from seq 42 on")) << lines[0];
  EXPECT_TRUE(contains(lines[0], (journal() / "holds").string())) << lines[0];
}

// Archive names carry no instance or history: a second writer (or a new history of the
// journal) given the same --archive finds a file of its segment's name there. Its own
// segment is then kept, never unlinked in favour of the other's copy.
TEST_F(ArchiveRaceTest, AnotherHistorysArchivedSegmentIsNeverTakenForOurs) {
  write_journal();
  const fs::path other = dir() / "other-journal";
  write_journal(other);
  const fs::path archive = dir() / "archive";
  write_journal_archive(journal(), archive);
  const std::atomic<bool> never{false};
  const fs::path ours = journal_segments(journal()).front();
  ASSERT_TRUE(archive_segment(ours, archive, 0600, kCreatorGroup, never).has_value());
  const fs::path theirs = journal_segments(other).front();
  try {
    archive_segment(theirs, archive, 0600, kCreatorGroup, never);
    ADD_FAILURE() << "archived over another history's segment";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::history_changed) << e.what();
    EXPECT_TRUE(contains(e.what(), "its own --archive folder")) << e.what();
  }
  EXPECT_TRUE(fs::exists(theirs));
  // What is archived is still the first journal's.
  JournalReader reader = JournalReader::open(journal(), 1);
  JournalRecord record;
  ASSERT_TRUE(reader.next(record));
  EXPECT_EQ(record.seq, 1u);
}

// A writer's start tidies only its own history's unfinished moves, not another writer's
// move under way in the same folder.
TEST_F(ArchiveRaceTest, TidyLeavesOtherHistoriesTemporaries) {
  write_journal();
  const std::uint64_t history = JournalReader::open(journal(), 1).history_id();
  const fs::path archive = dir() / "archive";
  fs::create_directories(archive);
  const fs::path mine = archive / (".journal-1.evj.zst." + history_text(history) + ".tmp");
  const fs::path theirs = archive / (".journal-1.evj.zst." + history_text(history + 1) + ".tmp");
  std::ofstream(mine) << "x";
  std::ofstream(theirs) << "x";
  EXPECT_EQ(tidy_archive(archive, history), 1u);
  EXPECT_FALSE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(theirs));
}

// A stop asked for (the writer's shutdown) ends a pass before its next segment.
TEST_F(ArchiveRaceTest, StoppedPassMovesNothingMore) {
  write_journal();
  const std::size_t before = journal_segments(journal()).size();
  RetentionPolicy policy;
  policy.max_bytes = 1;
  policy.archive = dir() / "archive";
  const std::atomic<bool> stop{true};
  EXPECT_TRUE(apply_retention(journal(), policy, journal_file::unix_ns(), stop).retired.empty());
  EXPECT_EQ(journal_segments(journal()).size(), before);
  const std::atomic<bool> go{false};
  EXPECT_EQ(apply_retention(journal(), policy, journal_file::unix_ns(), go).retired.size(),
            before - 1);
}

// A segment whose seal time cannot be read (the next one's header) is not "sealed long ago".
TEST_F(ArchiveRaceTest, UnknownSealTimeIsNotDue) {
  write_journal();
  const std::vector<fs::path> segments = journal_segments(journal());
  fs::resize_file(segments[1], 0);
  RetentionPolicy policy;
  policy.max_age_ns = 1;
  policy.archive = dir() / "archive";  // so no hold stops it: only its age decides
  const std::atomic<bool> go{false};
  EXPECT_TRUE(apply_retention(journal(), policy, journal_file::unix_ns(), go).retired.empty());
  EXPECT_TRUE(fs::exists(segments[0]));
}

// A hold file the writer cannot read or parse keeps everything, and says why.
TEST_F(ArchiveRaceTest, UnreadableHoldHoldsSeqOne) {
  write_journal();
  prepare_holds_folder(journal(), 0600, kCreatorGroup);
  std::ofstream(holds_folder(journal()) / "reader-garbled") << "not a hold";
  const std::vector<JournalHold> holds = read_holds(journal());
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds[0].needed_seq, 1u);
  EXPECT_FALSE(holds[0].unreadable.empty());
  const std::vector<Holder> holders = journal_holders(journal());
  ASSERT_FALSE(holders.empty());
  EXPECT_EQ(holders[0].name, "reader-garbled");
  EXPECT_TRUE(contains(holders[0].why, "keeps every segment")) << holders[0].why;
}

// An archived segment gets the journal's read mode and group (--group readers catch up from
// the archive), whatever the umask; so does the archive folder. (Root may give any group.)
TEST_F(ArchiveRaceTest, ArchiveGrantsTheJournalsGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file another group needs root";
  write_journal();
  const fs::path archive = dir() / "archive";
  const gid_t group = ::getegid() + 4242;
  const std::atomic<bool> never{false};
  const mode_t old = ::umask(077);
  const bool archived =
      archive_segment(journal_segments(journal()).front(), archive, 0640, group, never).has_value();
  ::umask(old);
  ASSERT_TRUE(archived);
  struct stat st {};
  ASSERT_EQ(::stat(archived_segment_path(archive, 1).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_gid, group);
  ASSERT_EQ(::stat(archive.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_EQ(st.st_gid, group);
}

// A hold file is 0640 whatever its holder's umask, so the writer's group can read it.
TEST_F(ArchiveRaceTest, HoldModeIgnoresTheUmask) {
  fs::create_directories(journal());
  prepare_holds_folder(journal(), 0600, kCreatorGroup);
  const mode_t old = ::umask(077);
  write_hold(journal(), "reader-masked", 7);
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat((holds_folder(journal()) / "reader-masked").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

}  // namespace
}  // namespace evring
