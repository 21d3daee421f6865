// Readers and tail across every way a writer ends (kill -9, SIGTERM, SIGINT) and starts
// again, readers started before their writer, and histories: a journal started again is a
// new history, and nothing of the old one (checkpoint, model snapshot, live view) is ever
// served as part of it. Real processes throughout.
#include <signal.h>
#include <unistd.h>

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
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "journal/journal.hpp"
#include "shm/registry.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::InstanceCleanup;
using test::ReaderProcess;
using test::run_tool;
using test::ServiceProcess;
using test::unique_instance;
using test::wait_until;
using test::WriterProcess;

class WriterRestartTest : public test::ProcessTest {
 protected:
  WriterRestartTest() : ProcessTest("restart") {}
};

// The reply once the reader has applied `after` (failing the test if it goes stale).
nlohmann::json query_after(const std::string& instance, const std::string& reader,
                           std::vector<std::string_view> words, std::uint64_t after) {
  QueryClient client = QueryClient::connect(instance, reader);
  const QueryReply reply = client.query(words, after, std::chrono::seconds(30));
  EXPECT_FALSE(reply.stale) << reader << " did not reach seq " << after << ": " << reply.raw;
  return nlohmann::json::parse(reply.raw);
}

std::uint64_t submit(const std::string& instance, std::vector<std::string_view> words) {
  Client client = test::connect_with_retry(instance, std::chrono::seconds(30));
  const CommandReply reply = client.submit_text(words);
  EXPECT_TRUE(reply.accepted()) << reply.reason;
  return reply.seq;
}

// CPU time (user + system) the process has used, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  // state is field 3 of stat(5); utime and stime are 14 and 15.
  return std::stol(fields.at(11)) + std::stol(fields.at(12));
}

bool reader_registered(const std::string& instance, const std::string& id) {
  try {
    const Registry registry = Registry::open(instance, Access::read_only);
    for (const ReaderInfo& reader : registry.readers()) {
      if (reader.id == id && reader.alive) return true;
    }
  } catch (const Error&) {
  }
  return false;
}

enum class WriterEnd { kill9, sigterm, sigint };

std::string to_string(WriterEnd end) {
  switch (end) {
    case WriterEnd::kill9:
      return "kill9";
    case WriterEnd::sigterm:
      return "sigterm";
    case WriterEnd::sigint:
      return "sigint";
  }
  return "?";
}

void end_writer(WriterProcess& writer, WriterEnd end) {
  switch (end) {
    case WriterEnd::kill9:
      writer.kill9();
      return;
    case WriterEnd::sigterm:
      ASSERT_EQ(writer.stop(), 0) << writer.log();
      return;
    case WriterEnd::sigint: {
      writer.signal(SIGINT);
      std::optional<int> status;
      ASSERT_TRUE(wait_until([&] { return (status = writer.poll_exit()).has_value(); },
                             std::chrono::seconds(30)))
          << writer.log();
      ASSERT_EQ(*status, 0) << writer.log();
      return;
    }
  }
}

class WriterEnds : public WriterRestartTest, public ::testing::WithParamInterface<WriterEnd> {};

// The bug this guards against: after a clean stop the reader never joined the new writer
// (stale answers forever), spun a core meanwhile, vanished from stat, and was slow to stop.
TEST_P(WriterEnds, ReaderSleepsWhileTheWriterIsDownThenFollowsTheNextOne) {
  const std::string instance = unique_instance("restart-" + to_string(GetParam()));
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  ReaderProcess reader(instance, "bank-r", dir(), {"--view", "bank", "--wait", "block"});
  submit(instance, {"open", "a"});
  const std::uint64_t first = submit(instance, {"deposit", "a", "10"});
  EXPECT_EQ(query_after(instance, "bank-r", {"total"}, first)["result"]["total"], 10);

  end_writer(writer, GetParam());
  // The reader notices within a few ms and then sleeps: well under a tenth of a core.
  ASSERT_TRUE(
      wait_until([&] { return contains(reader.log(), "is gone"); }, std::chrono::seconds(10)))
      << reader.log();
  const long before = cpu_ticks(reader.pid());
  const std::int64_t start = monotonic_ns();
  // Queries are still answered, as of the last event, while there is no writer.
  EXPECT_EQ(query_after(instance, "bank-r", {"total"}, first)["result"]["total"], 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  const double share = static_cast<double>(cpu_ticks(reader.pid()) - before) /
                       static_cast<double>(sysconf(_SC_CLK_TCK)) / seconds;
  EXPECT_LT(share, 0.10) << "a reader waiting for its writer used " << share << " of a core";

  writer.restart();
  const std::uint64_t next = submit(instance, {"deposit", "a", "5"});
  EXPECT_EQ(next, first + 1);
  EXPECT_EQ(query_after(instance, "bank-r", {"total"}, next)["result"]["total"], 15);
  EXPECT_TRUE(
      wait_until([&] { return reader_registered(instance, "bank-r"); }, std::chrono::seconds(10)))
      << "evring stat does not show the reader after the writer's restart";

  // And once more, the other way round: a second stop and start in a row.
  end_writer(writer, GetParam());
  writer.restart();
  const std::uint64_t third = submit(instance, {"withdraw", "a", "3"});
  EXPECT_EQ(query_after(instance, "bank-r", {"total"}, third)["result"]["total"], 12);

  const std::int64_t stop_start = monotonic_ns();
  EXPECT_EQ(reader.stop(), 0) << reader.log();
  EXPECT_LT(monotonic_ns() - stop_start, 2'000'000'000) << "SIGTERM took too long to stop it";
}

TEST_P(WriterEnds, TailFollowsTheWriterThroughItsRestart) {
  const std::string instance = unique_instance("tail-" + to_string(GetParam()));
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  submit(instance, {"put", "a", "1"});
  ServiceProcess tail(
      "evring", dir(), "tail", {"tail", "--name", instance, "--from", "1", "--count", "3"},
      [&](pid_t pid) { return reader_registered(instance, "evring-tail-" + std::to_string(pid)); });
  end_writer(writer, GetParam());
  writer.restart();
  submit(instance, {"put", "b", "2"});
  submit(instance, {"put", "c", "3"});
  std::optional<int> status;
  ASSERT_TRUE(
      wait_until([&] { return (status = tail.poll_exit()).has_value(); }, std::chrono::seconds(20)))
      << "evring tail did not follow the restarted writer:\n"
      << test::read_file(dir() / "tail.out") << tail.log();
  EXPECT_EQ(*status, 0) << tail.log();
  const std::string out = test::read_file(dir() / "tail.out");
  EXPECT_TRUE(contains(out, "seq=1 put key=a")) << out;
  EXPECT_TRUE(contains(out, "seq=2 put key=b")) << out;
  EXPECT_TRUE(contains(out, "seq=3 put key=c")) << out;
}

INSTANTIATE_TEST_SUITE_P(EveryWay, WriterEnds,
                         ::testing::Values(WriterEnd::kill9, WriterEnd::sigterm, WriterEnd::sigint),
                         [](const auto& param_info) { return to_string(param_info.param); });

TEST_F(WriterRestartTest, AReaderStartedBeforeItsWriterWaitsForIt) {
  const std::string instance = unique_instance("reader-first");
  InstanceCleanup cleanup(instance);
  ReaderProcess reader(instance, "kv-early", dir(), {"--view", "kv"});
  EXPECT_TRUE(contains(reader.log(), "has no writer running")) << reader.log();
  EXPECT_TRUE(contains(reader.log(), "start evring-writer --name " + instance)) << reader.log();
  // Answers at once, as of nothing, while it waits.
  QueryClient early = QueryClient::connect(instance, "kv-early");
  EXPECT_EQ(nlohmann::json::parse(early.query({"count"}).raw)["as_of_seq"], 0);
  const long before = cpu_ticks(reader.pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_LT(cpu_ticks(reader.pid()) - before, sysconf(_SC_CLK_TCK) / 10) << "it spins";

  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  const std::uint64_t seq = submit(instance, {"put", "k", "v"});
  EXPECT_EQ(query_after(instance, "kv-early", {"get", "k"}, seq)["result"]["value"], "v");
}

TEST_F(WriterRestartTest, AReaderFromStartOnAStoppedInstanceServesItsJournal) {
  const std::string instance = unique_instance("stopped-journal");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  submit(instance, {"put", "a", "1"});
  const std::uint64_t last = submit(instance, {"put", "b", "2"});
  ASSERT_EQ(writer.stop(), 0) << writer.log();

  ReaderProcess reader(instance, "kv-offline", dir(),
                       {"--view", "kv", "--from", "start", "--journal", writer.journal().string()});
  EXPECT_EQ(query_after(instance, "kv-offline", {"count"}, last)["result"], 2);
  writer.restart();
  const std::uint64_t next = submit(instance, {"put", "c", "3"});
  EXPECT_EQ(query_after(instance, "kv-offline", {"count"}, next)["result"], 3);
  // It joined the new writer's ring, not only its journal: stat shows it.
  EXPECT_TRUE(wait_until([&] { return reader_registered(instance, "kv-offline"); },
                         std::chrono::seconds(10)));
}

TEST_F(WriterRestartTest, TailOfAStoppedInstancePrintsItsJournal) {
  const std::string instance = unique_instance("tail-stopped");
  InstanceCleanup cleanup(instance);
  // The default journal folder (XDG_STATE_HOME is the test's folder), as a user runs it.
  ServiceProcess writer(
      "evring-writer", dir(), "writer", {"--name", instance, "--domain", "kv"}, [&](pid_t pid) {
        try {
          return Client::connect(instance).writer_pid() == static_cast<std::uint64_t>(pid);
        } catch (const Error&) {
          return false;
        }
      });
  submit(instance, {"put", "a", "1"});
  submit(instance, {"put", "b", "2"});
  ASSERT_EQ(writer.stop(), 0) << writer.log();
  const auto tail = run_tool("evring", {"tail", "--name", instance, "--from", "1", "--count", "2"},
                             dir(), std::chrono::seconds(20));
  EXPECT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_TRUE(contains(tail.out, "seq=1 put key=a")) << tail.out << tail.err;
  EXPECT_TRUE(contains(tail.out, "seq=2 put key=b")) << tail.out << tail.err;
}

// Issue 12's case: k1..k5, everything stopped, the journal deleted, a new history written;
// the reader's checkpoint at seq 5 is of the old one and must not be restored.
TEST_F(WriterRestartTest, ACheckpointOfAnotherHistoryIsNeverRestored) {
  const std::string instance = unique_instance("history-checkpoint");
  InstanceCleanup cleanup(instance);
  std::uint64_t last = 0;
  {
    WriterProcess writer(instance, dir(), {"--domain", "kv"});
    ReaderProcess reader(instance, "kv-h", dir(), {"--view", "kv"});
    for (int i = 1; i <= 5; ++i) last = submit(instance, {"put", "k" + std::to_string(i), "old"});
    query_after(instance, "kv-h", {"count"}, last);
    ASSERT_EQ(reader.stop(), 0) << reader.log();
    ASSERT_EQ(writer.stop(), 0) << writer.log();
  }
  fs::remove_all(dir() / "journal");
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  for (const char* key : {"new", "new2", "n1", "n2", "n3", "n4", "n5", "n6"}) {
    last = submit(instance, {"put", key, "fresh"});
  }
  ReaderProcess reader(instance, "kv-h", dir(), {"--view", "kv"});  // --from checkpoint
  EXPECT_EQ(query_after(instance, "kv-h", {"count"}, last)["result"], 8);
  EXPECT_EQ(query_after(instance, "kv-h", {"get", "new"}, last)["result"]["value"], "fresh");
  EXPECT_TRUE(query_after(instance, "kv-h", {"get", "k1"}, last)["result"].is_null());
  EXPECT_TRUE(contains(reader.log(), "is of history")) << reader.log();
  EXPECT_FALSE(contains(reader.log(), "restored the view")) << reader.log();
}

TEST_F(WriterRestartTest, AModelSnapshotOfAnotherHistoryIsNeverRestored) {
  const std::string instance = unique_instance("history-snapshot");
  InstanceCleanup cleanup(instance);
  {
    WriterProcess writer(instance, dir(), {"--domain", "bank", "--snapshot-every", "1"});
    submit(instance, {"open", "old"});
    submit(instance, {"deposit", "old", "7"});
    ASSERT_EQ(writer.stop(), 0) << writer.log();
  }
  // The segments go, the snapshots stay (as after a careless clean-up).
  for (const fs::path& segment : journal_segments(dir() / "journal")) fs::remove(segment);
  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  // The old model is not there: "old" does not exist in the new history.
  Client client = Client::connect(instance);
  EXPECT_FALSE(client.submit_text({"deposit", "old", "1"}).accepted());
  EXPECT_TRUE(client.submit_text({"open", "old"}).accepted());
  EXPECT_TRUE(contains(writer.log(), "is of history")) << writer.log();
}

// A reader that runs through it: the writer stops, its journal is started again, and the
// view must become the new history's, not a mix of both.
TEST_F(WriterRestartTest, ALiveReaderRebuildsWhenTheHistoryStartsAgain) {
  const std::string instance = unique_instance("history-live");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  ReaderProcess reader(instance, "kv-l", dir(), {"--view", "kv"});
  submit(instance, {"put", "old1", "x"});
  const std::uint64_t old_last = submit(instance, {"put", "old2", "x"});
  query_after(instance, "kv-l", {"count"}, old_last);
  ASSERT_EQ(writer.stop(), 0) << writer.log();
  fs::remove_all(writer.journal());
  writer.restart();
  const std::uint64_t seq = submit(instance, {"put", "fresh", "y"});
  EXPECT_EQ(seq, 1u);
  ASSERT_TRUE(wait_until([&] { return contains(reader.log(), "rebuilding the view from seq 1"); },
                         std::chrono::seconds(20)))
      << reader.log();
  const auto count = query_after(instance, "kv-l", {"count"}, seq);
  EXPECT_EQ(count["result"], 1) << count.dump();
  EXPECT_TRUE(query_after(instance, "kv-l", {"get", "old1"}, seq)["result"].is_null());
}

TEST_F(WriterRestartTest, AJournalFolderThatIsNotTheWritersIsAnErrorAtStart) {
  const std::string instance = unique_instance("bad-journal");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  submit(instance, {"open", "a"});

  const auto missing =
      run_tool("evring-reader",
               {"--name", instance, "--view", "bank", "--from", "start", "--journal",
                "/no/such/folder", "--checkpoint-dir", (dir() / "c1").string()},
               dir(), std::chrono::seconds(20));
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_TRUE(contains(missing.err, "/no/such/folder")) << missing.err;
  EXPECT_TRUE(contains(missing.err, "does not exist")) << missing.err;

  fs::create_directories(dir() / "empty");
  const auto empty =
      run_tool("evring-reader",
               {"--name", instance, "--view", "bank", "--journal", (dir() / "empty").string(),
                "--checkpoint-dir", (dir() / "c2").string()},
               dir(), std::chrono::seconds(20));
  EXPECT_EQ(empty.exit_code, 2) << empty.err;
  EXPECT_TRUE(contains(empty.err, "holds no journal")) << empty.err;

  // Another instance's journal: another history than this writer's.
  const std::string other = unique_instance("bad-journal-other");
  InstanceCleanup other_cleanup(other);
  const fs::path other_dir = dir() / "other";
  fs::create_directories(other_dir);
  {
    WriterProcess other_writer(other, other_dir, {"--domain", "bank"});
    submit(other, {"open", "b"});
  }
  const auto foreign =
      run_tool("evring-reader",
               {"--name", instance, "--view", "bank", "--journal", (other_dir / "journal").string(),
                "--checkpoint-dir", (dir() / "c3").string()},
               dir(), std::chrono::seconds(20));
  EXPECT_EQ(foreign.exit_code, 2) << foreign.err;
  EXPECT_TRUE(contains(foreign.err, "another instance's journal")) << foreign.err;
}

}  // namespace
}  // namespace evring
