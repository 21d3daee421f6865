// evring-writer as a user runs it: real processes, the evring cmd tool, restarts, kill -9,
// a damaged journal, plugins that must be refused, and group commit.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "journal/journal.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using test::contains;
using test::InstanceCleanup;
using test::run_tool;
using test::TempDir;
using test::unique_instance;
using test::WriterProcess;

TEST(WriterProcess, CmdPrintsSeqRejectsWithReasonAndRefusesMalformed) {
  const std::string instance = unique_instance("writer-cmd");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-cmd");
  WriterProcess writer(instance, dir.path(), {"--domain", "bank"});
  const auto cmd = [&](std::vector<std::string> words) {
    std::vector<std::string> args{"cmd", "--name", instance};
    args.insert(args.end(), words.begin(), words.end());
    return run_tool("evring", args, dir.path());
  };
  auto result = cmd({"open", "alice"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "seq=1\n");
  result = cmd({"deposit", "alice", "100"});
  EXPECT_EQ(result.out, "seq=2\n");
  result = cmd({"withdraw", "alice", "500"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.out, "rejected: ")) << result.out;
  EXPECT_TRUE(contains(result.out, "100")) << "the reason names the balance: " << result.out;
  result = cmd({"frobnicate", "alice"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "malformed command")) << result.err;
  result = cmd({"deposit", "alice", "99999999999999999999"});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  // The same id twice: applied once, both answer the first seq.
  result = cmd({"--id", "retry-1", "deposit", "alice", "5"});
  EXPECT_EQ(result.out, "seq=3\n");
  result = cmd({"--id", "retry-1", "deposit", "alice", "5"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "seq=3\n");
  EXPECT_TRUE(contains(result.err, "duplicate")) << result.err;
  result = cmd({"withdraw", "alice", "105"});
  EXPECT_EQ(result.out, "seq=4\n") << "5 was deposited once, not twice: " << result.out;
  result = run_tool("evring", {"cmd", "--name", instance + "-nobody", "open", "x"}, dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "start evring-writer --name " + instance + "-nobody"))
      << result.err;
}

// info (the default) says what starts and stops, debug adds every snapshot (the restart
// test below), warn only what went wrong; a level that does not exist is refused.
TEST(WriterProcess, LogLevelChoosesWhatIsPrinted) {
  const std::string instance = unique_instance("writer-log");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-log");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv"});
  Client::connect(instance).submit_text({"put", "a", "1"});
  ASSERT_EQ(writer.stop(), 0) << writer.log();
  EXPECT_TRUE(contains(writer.log(), "evring-writer: stopped: 1 commands")) << writer.log();
  EXPECT_FALSE(contains(writer.log(), "snapshot of the model")) << writer.log();

  // warn: a clean start and stop have nothing to say.
  std::filesystem::create_directories(dir.path() / "quiet");
  WriterProcess warned(instance, dir.path() / "quiet", {"--domain", "kv", "--log-level", "warn"});
  ASSERT_EQ(warned.stop(), 0) << warned.log();
  EXPECT_EQ(warned.log(), "");

  const auto result =
      run_tool("evring-writer", {"--name", instance, "--log-level", "loud"}, dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "choose error, warn, info or debug")) << result.err;
}

TEST(WriterProcess, RestartsContinueTheSequenceAndRememberCommandIds) {
  const std::string instance = unique_instance("writer-restart");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-restart");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--log-level", "debug"});
  {
    Client client = Client::connect(instance);
    EXPECT_EQ(client.submit_text({"put", "a", "1"}, "id-a").seq, 1u);
    EXPECT_EQ(client.submit_text({"put", "b", "2"}, "id-b").seq, 2u);
  }
  // A clean stop writes a snapshot; the restart restores it.
  ASSERT_EQ(writer.stop(), 0) << writer.log();
  EXPECT_TRUE(contains(writer.log(), "snapshot of the model at seq 2")) << writer.log();
  writer.restart();
  EXPECT_TRUE(contains(writer.log(), "restored the model at seq 2")) << writer.log();
  {
    Client client = Client::connect(instance);
    const CommandReply again = client.submit_text({"put", "a", "1"}, "id-a");
    EXPECT_TRUE(again.duplicate());
    EXPECT_EQ(again.seq, 1u);
    EXPECT_EQ(client.submit_text({"cas", "a", "1", "x"}, "id-c").seq, 3u);
    const CommandReply stale = client.submit_text({"cas", "a", "1", "y"});
    EXPECT_TRUE(stale.rejected());
    EXPECT_TRUE(contains(stale.reason, "2")) << "names the current version: " << stale.reason;
  }
  // kill -9: no snapshot of seq 3; the journal alone must bring back id-c and the model.
  writer.kill9();
  writer.restart();
  Client client = Client::connect(instance);
  const CommandReply dup = client.submit_text({"cas", "a", "1", "x"}, "id-c");
  EXPECT_TRUE(dup.duplicate());
  EXPECT_EQ(dup.seq, 3u);
  EXPECT_TRUE(client.submit_text({"cas", "a", "2", "z"}).accepted()) << "version 2 after replay";
  EXPECT_EQ(client.submit_text({"del", "b"}).seq, 5u);
}

TEST(WriterProcess, TornJournalTailIsCutSaidAndTheSequenceContinues) {
  const std::string instance = unique_instance("writer-torn");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-torn");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv"});
  {
    Client client = Client::connect(instance);
    for (int i = 0; i < 10; ++i) client.submit_text({"put", "k" + std::to_string(i), "v"});
  }
  writer.kill9();
  // Damage the last record's payload, as a crash mid-append could leave it.
  const auto segments = journal_segments(writer.journal());
  ASSERT_EQ(segments.size(), 1u);
  {
    JournalReader reader = JournalReader::open(writer.journal(), 10);
    JournalRecord record;
    ASSERT_TRUE(reader.next(record));
    ASSERT_EQ(record.seq, 10u);
  }
  std::fstream file(segments[0], std::ios::in | std::ios::out | std::ios::binary);
  // Find the last record by scanning for its key "k9" and flip a byte of it.
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto at = bytes.rfind("k9");
  ASSERT_NE(at, std::string::npos);
  file.seekp(static_cast<std::streamoff>(at));
  file.put('X');
  file.close();
  writer.restart();
  EXPECT_TRUE(contains(writer.log(), "evring-writer: warning: journal: cut a torn tail"))
      << writer.log();
  Client client = Client::connect(instance);
  EXPECT_EQ(client.submit_text({"put", "after", "cut"}).seq, 10u) << "seq 10 was cut, reused";
}

TEST(WriterProcess, AJournalOfAnotherDomainIsRefused) {
  const std::string instance = unique_instance("writer-domain");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-domain");
  {
    WriterProcess writer(instance, dir.path(), {"--domain", "kv"});
    ASSERT_EQ(writer.stop(), 0);
  }
  const auto result = run_tool(
      "evring-writer",
      {"--name", instance, "--journal", (dir.path() / "journal").string(), "--domain", "bank"},
      dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "domain \"kv\"")) << result.err;
  EXPECT_TRUE(contains(result.err, "--domain kv")) << result.err;
}

TEST(WriterProcess, SecondWriterOnTheSameJournalOrInstanceIsRefused) {
  const std::string instance = unique_instance("writer-two");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-two");
  WriterProcess writer(instance, dir.path(), {});
  auto result =
      run_tool("evring-writer", {"--name", instance + "-b", "--journal", writer.journal().string()},
               dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "in use by another evring-writer")) << result.err;
  result = run_tool("evring-writer",
                    {"--name", instance, "--journal", (dir.path() / "other").string()}, dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "already has a writer")) << result.err;
  Client client = Client::connect(instance);
  EXPECT_TRUE(client.submit_text({"put", "still", "works"}).accepted());
}

TEST(WriterProcess, DomainPluginsAreLoadedOrRefusedWithAReason) {
  const std::string instance = unique_instance("writer-plugin");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-plugin");
  const std::string lib_dir = EVRING_PLUGIN_DIR;
  auto result = run_tool(
      "evring-writer",
      {"--name", instance, "--no-journal", "--domain", lib_dir + "/libwrong_abi_domain.so"},
      dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "ABI version 99")) << result.err;
  EXPECT_TRUE(contains(result.err, "version 1")) << result.err;
  result =
      run_tool("evring-writer",
               {"--name", instance, "--no-journal", "--domain", lib_dir + "/libno_entry_domain.so"},
               dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "evring_domain_entry")) << result.err;
  result =
      run_tool("evring-writer",
               {"--name", instance, "--no-journal", "--domain", "/nonexistent/x.so"}, dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "cannot load domain plugin")) << result.err;
  result = run_tool("evring-writer", {"--name", instance, "--no-journal", "--domain", "ledger"},
                    dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "kv, bank")) << result.err;

  WriterProcess writer(instance, dir.path(), {"--domain", lib_dir + "/libcounter_domain.so"});
  Client client = Client::connect(instance);
  EXPECT_EQ(client.submit_text({"add", "5"}).seq, 1u);
  EXPECT_EQ(client.submit_text({"add", "-1"}).code, RejectCode::rule);
  EXPECT_EQ(client.submit_text({"sub", "1"}).code, RejectCode::malformed);
  EXPECT_EQ(client.submit_text({"add", "7"}).seq, 2u);
}

TEST(WriterProcess, SyncDurabilityGroupsCommandsIntoFewerSyncs) {
  const std::string instance = unique_instance("writer-sync");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-sync");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--durability", "sync"});
  Client client = Client::connect(instance);
  constexpr int kCommands = 2000;
  int accepted = 0;
  for (int i = 0; i < kCommands; ++i) {
    client.send_text(std::vector<std::string_view>{"put", "k", "v"});
    if (client.in_flight() >= 64) accepted += client.receive().reply.accepted() ? 1 : 0;
  }
  while (client.in_flight() > 0) accepted += client.receive().reply.accepted() ? 1 : 0;
  EXPECT_EQ(accepted, kCommands);
  ASSERT_EQ(writer.stop(), 0);
  // "stopped: ... N syncs": group commit made far fewer syncs than commands.
  const std::string log = writer.log();
  const auto at = log.find(" syncs");
  ASSERT_NE(at, std::string::npos) << log;
  const auto start = log.rfind(' ', at - 1) + 1;
  const int syncs = std::stoi(log.substr(start, at - start));
  EXPECT_GT(syncs, 0);
  EXPECT_LT(syncs, kCommands / 4) << log;
}

// What a small instance costs with the defaults: a journal of a few events takes its
// segment's first 64 KiB on disk, not the 64 MiB a segment grows to, and the ring 16 MiB.
TEST(WriterProcess, ASmallInstanceCostsLittleDiskAndMemoryByDefault) {
  const std::string instance = unique_instance("writer-footprint");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-footprint");
  WriterProcess writer(instance, dir.path(), {});
  Client client = Client::connect(instance);
  ASSERT_TRUE(client.submit_text({"put", "a", "1"}).accepted());
  ASSERT_TRUE(client.submit_text({"put", "b", "2"}).accepted());
  std::uint64_t journal_bytes = 0;
  for (const std::filesystem::path& segment : journal_segments(writer.journal())) {
    struct stat info {};
    ASSERT_EQ(::stat(segment.c_str(), &info), 0);
    journal_bytes += static_cast<std::uint64_t>(info.st_blocks) * 512;
  }
  EXPECT_GT(journal_bytes, 0u);
  EXPECT_LE(journal_bytes, 1u << 20) << "a two-event journal on disk";
  const std::uint64_t ring_file =
      std::filesystem::file_size("/dev/shm/evring." + instance + ".ring");
  EXPECT_LE(ring_file, (16u << 20) + (64u << 10)) << "the ring's segment, data and header";
  EXPECT_GE(ring_file, 16u << 20);
}

}  // namespace
}  // namespace evring
