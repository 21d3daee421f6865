// evring-reader as a user runs it: queries and read-your-writes, views that converge
// whatever happened to their reader (late start, SIGSTOP and lapped, kill -9 and restart
// from a checkpoint, a writer restart), poison events, and bad input.
#include <signal.h>

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/query_client.hpp"
#include "shm/registry.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using test::contains;
using test::InstanceCleanup;
using test::ReaderProcess;
using test::run_tool;
using test::unique_instance;
using test::WriterProcess;

class ReaderTest : public test::ProcessTest {
 protected:
  ReaderTest() : ProcessTest("reader") {}
  std::string plugin(const std::string& name) const {
    return std::string(EVRING_PLUGIN_DIR) + "/lib" + name + ".so";
  }
};

// The reply once the reader has applied `after` (failing the test if it goes stale).
nlohmann::json query_after(const std::string& instance, const std::string& reader,
                           std::vector<std::string_view> words, std::uint64_t after) {
  QueryClient client = QueryClient::connect(instance, reader);
  const QueryReply reply = client.query(words, after, std::chrono::seconds(60));
  EXPECT_FALSE(reply.stale) << reader << " did not reach seq " << after << ": " << reply.raw;
  return nlohmann::json::parse(reply.raw);
}

TEST_F(ReaderTest, ReadYourWritesTenThousandTimes) {
  const std::string instance = unique_instance("reader-ryw");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  ReaderProcess reader(instance, "kv-ryw", dir(), {"--view", "kv", "--from", "start"});
  Session session(Client::connect(instance), QueryClient::connect(instance, "kv-ryw"));
  for (int i = 0; i < 10'000; ++i) {
    const std::string key = "k" + std::to_string(i % 97);
    const std::string value = "v" + std::to_string(i);
    const CommandReply put = session.submit_text({"put", key, value});
    ASSERT_TRUE(put.accepted()) << put.reason;
    const QueryReply got = session.query({"get", key});
    ASSERT_FALSE(got.stale) << got.raw;
    ASSERT_GE(got.as_of_seq, put.seq);
    ASSERT_TRUE(got.result.has_value()) << got.raw;
    ASSERT_EQ(nlohmann::json::parse(*got.result)["value"], value) << got.raw;
  }
}

TEST_F(ReaderTest, EvringQueryPrintsJsonAndExitsZeroStaleOrError) {
  const std::string instance = unique_instance("reader-query");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  ReaderProcess reader(instance, "bank-q", dir(), {"--view", "bank"});
  Client client = Client::connect(instance);
  client.submit_text({"open", "alice"});
  const std::uint64_t seq = client.submit_text({"deposit", "alice", "42"}).seq;
  const auto query = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"query", "--name", instance, "--reader", "bank-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tool("evring", args, dir());
  };
  auto result = query({"--after", std::to_string(seq), "balance", "alice"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["result"]["balance"], 42) << result.out;
  EXPECT_GE(json["as_of_seq"].get<std::uint64_t>(), seq);

  result = query({"--after", std::to_string(seq + 1000), "--timeout", "200ms", "total"});
  EXPECT_EQ(result.exit_code, 4) << result.out << result.err;
  json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["stale"], true);
  EXPECT_EQ(json["as_of_seq"].get<std::uint64_t>(), seq);

  result = query({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(nlohmann::json::parse(result.out).contains("error")) << result.out;

  result = run_tool("evring", {"query", "--name", instance, "--reader", "nobody", "total"}, dir());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "no reader with id \"nobody\"")) << result.err;
  EXPECT_TRUE(contains(result.err, "bank-q")) << "lists the readers there are: " << result.err;
}

// kv workload over a small key space: puts, cas and dels, some rejected.
std::vector<std::vector<std::string>> kv_workload(std::uint64_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::string>> commands;
  commands.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string key = "key" + std::to_string(rng() % 3000);
    const auto roll = rng() % 10;
    if (roll < 7) {
      commands.push_back({"put", key, "v" + std::to_string(rng() % 1'000'000)});
    } else if (roll < 9) {
      commands.push_back({"cas", key, std::to_string(rng() % 4), "c" + std::to_string(i)});
    } else {
      commands.push_back({"del", key});
    }
  }
  return commands;
}

TEST_F(ReaderTest, FourReadersConvergeWhateverHappensToThem) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kCommands = 150'000;
#else
  constexpr std::uint64_t kCommands = 1'000'000;
#endif
  const std::uint64_t seed = std::random_device{}();
  std::printf("convergence seed %llu\n", static_cast<unsigned long long>(seed));
  const std::string instance = unique_instance("reader-converge");
  InstanceCleanup cleanup(instance);
  // A 1 MiB ring holds ~20k events: a stopped reader is lapped quickly.
  WriterProcess writer(instance, dir(), {"--domain", "kv", "--ring-bytes", "1M", "--quiet"});
  ReaderProcess from_start(instance, "start", dir(), {"--view", "kv", "--from", "start"});
  ReaderProcess stopped(instance, "stopped", dir(), {"--view", "kv", "--from", "start"});
  ReaderProcess killed(instance, "killed", dir(),
                       {"--view", "kv", "--checkpoint-every", std::to_string(kCommands / 20),
                        "--log-level", "debug"});
  std::optional<ReaderProcess> late;

  const auto commands = kv_workload(kCommands, seed);
  Client client = Client::connect(instance);
  std::uint64_t head = 0;
  for (std::uint64_t i = 0; i < kCommands; ++i) {
    const std::vector<std::string_view> words(commands[i].begin(), commands[i].end());
    client.send_text(words);
    while (client.in_flight() >= 64) head = std::max(head, client.receive().reply.seq);
    if (i == kCommands / 5) stopped.signal(SIGSTOP);
    if (i == kCommands * 2 / 5) {
      // Killed once it has a checkpoint (a slow sanitizer build may lag), so the restart
      // must restore it and replay only the rest.
      ASSERT_TRUE(test::wait_until([&] { return contains(killed.log(), "checkpoint at seq"); },
                                   std::chrono::seconds(60)))
          << killed.log();
      killed.kill9();
    }
    if (i == kCommands / 2) {
      late.emplace(instance, "late", dir(),
                   std::vector<std::string>{"--view", "kv", "--from", "start"});
    }
    if (i == kCommands * 3 / 5) killed.restart();
    if (i == kCommands * 7 / 10) stopped.signal(SIGCONT);
  }
  while (client.in_flight() > 0) head = std::max(head, client.receive().reply.seq);
  ASSERT_GT(head, kCommands / 2) << "most commands should be accepted";

  std::vector<std::string> scans;
  for (const char* id : {"start", "stopped", "killed", "late"}) {
    const nlohmann::json count = query_after(instance, id, {"count"}, head);
    EXPECT_EQ(count["as_of_seq"].get<std::uint64_t>(), head) << id;
    const nlohmann::json scan = query_after(instance, id, {"scan", "key", "10000"}, head);
    ASSERT_TRUE(scan.contains("result")) << scan.dump();
    EXPECT_EQ(scan["result"].size(), count["result"].get<std::size_t>()) << id;
    scans.push_back(scan["result"].dump());
  }
  for (std::size_t i = 1; i < scans.size(); ++i) {
    EXPECT_EQ(scans[i], scans[0]) << "reader " << i << " differs from the one from the start";
  }
  const Registry registry = Registry::open(instance, Access::read_only);
  bool saw_stopped = false;
  for (const ReaderInfo& info : registry.readers()) {
    if (info.id != "stopped") continue;
    saw_stopped = true;
    EXPECT_GT(info.lapped_count, 0u) << "the stopped reader was lapped";
    EXPECT_GT(info.replay_count, 0u) << "and caught up from the journal";
  }
  EXPECT_TRUE(saw_stopped);
  EXPECT_TRUE(contains(killed.log(), "restored the view at seq")) << killed.log();
}

TEST_F(ReaderTest, ReaderFollowsAWriterKilledAndRestarted) {
  const std::string instance = unique_instance("reader-follow");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  ReaderProcess reader(instance, "bank-f", dir(), {"--view", "bank"});
  {
    Client client = Client::connect(instance);
    client.submit_text({"open", "a"});
    client.submit_text({"deposit", "a", "10"});
  }
  writer.kill9();
  writer.restart();
  Client client = Client::connect(instance);
  const std::uint64_t seq = client.submit_text({"deposit", "a", "5"}).seq;
  EXPECT_EQ(seq, 3u);
  const auto total = query_after(instance, "bank-f", {"total"}, seq);
  EXPECT_EQ(total["result"]["total"], 15) << total.dump();
}

TEST_F(ReaderTest, PoisonEventStopsTheReaderOrIsSetAside) {
  const std::string instance = unique_instance("reader-poison");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  ReaderProcess reader(instance, "picky", dir(), {"--view", plugin("picky_view")});
  Client client = Client::connect(instance);
  client.submit_text({"put", "a", "fine"});
  const std::uint64_t poison = client.submit_text({"put", "b", "poison"}).seq;
  ASSERT_TRUE(
      test::wait_until([&] { return reader.poll_exit().has_value(); }, std::chrono::seconds(20)));
  EXPECT_TRUE(contains(reader.log(), "seq " + std::to_string(poison))) << reader.log();
  EXPECT_TRUE(contains(reader.log(), "refusing the value")) << reader.log();
  EXPECT_TRUE(contains(reader.log(), "--on-error skip")) << reader.log();

  const std::uint64_t after = client.submit_text({"put", "c", "fine"}).seq;
  ReaderProcess skipping(instance, "picky", dir(),
                         {"--view", plugin("picky_view"), "--on-error", "skip"});
  const auto puts = query_after(instance, "picky", {"puts"}, after);
  EXPECT_EQ(puts["result"], 2) << "two fine puts, the poison one set aside: " << puts.dump();
  const std::string dead = test::read_file(dir() / "picky" / "dead-letter.jsonl");
  EXPECT_TRUE(contains(dead, "\"seq\":" + std::to_string(poison))) << dead;

  const auto exploded = query_after(instance, "picky", {"explode"}, 0);
  EXPECT_TRUE(contains(exploded["error"].get<std::string>(), "exploded")) << exploded.dump();
}

TEST_F(ReaderTest, BadViewsAndInstancesGetClearErrors) {
  const std::string instance = unique_instance("reader-bad");
  InstanceCleanup cleanup(instance);
  // (A reader of an instance whose writer is not running waits for it:
  // writer_restart_test.cpp.)
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  auto result =
      run_tool("evring-reader", {"--name", instance, "--view", plugin("wrong_abi_view")}, dir());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "view ABI version 77")) << result.err;
  EXPECT_TRUE(contains(result.err, "versions 1 to 2")) << result.err;
  result =
      run_tool("evring-reader", {"--name", instance, "--view", plugin("no_entry_domain")}, dir());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "evring_view_entry")) << result.err;
  result = run_tool("evring-reader", {"--name", instance, "--view", "histogram"}, dir());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "kv, bank")) << result.err;
  result = run_tool("evring-reader", {"--name", instance, "--from", "yesterday"}, dir());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "start, live or checkpoint")) << result.err;
}

TEST_F(ReaderTest, AViewOfAnotherDomainIsRefusedAtStartNotAtItsFirstEvent) {
  const std::string instance = unique_instance("reader-domain");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  Client::connect(instance).submit_text({"put", "a", "1"});
  const auto result = run_tool("evring-reader", {"--name", instance, "--view", "bank"}, dir());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "view bank reads events of domain bank, but instance \"" +
                                       instance + "\" runs domain kv: start it on a bank instance"))
      << result.err;
  EXPECT_FALSE(contains(result.err, "seq 1")) << "refused at its first event: " << result.err;
}

TEST_F(ReaderTest, WithoutAJournalALappedReaderStopsRatherThanServeAHole) {
  const std::string instance = unique_instance("reader-nojournal");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv", "--no-journal", "--ring-bytes", "1M"});
  ReaderProcess reader(instance, "kv-nj", dir(), {"--view", "kv", "--from", "live"});
  reader.signal(SIGSTOP);
  Client client = Client::connect(instance);
  for (int i = 0; i < 50'000; ++i) {  // some 5 MB through a 1 MiB ring
    client.send_text(std::vector<std::string_view>{"put", "k", "some value to fill the ring"});
    if (client.in_flight() >= 64) client.receive();
  }
  while (client.in_flight() > 0) client.receive();
  reader.signal(SIGCONT);
  ASSERT_TRUE(
      test::wait_until([&] { return reader.poll_exit().has_value(); }, std::chrono::seconds(20)))
      << reader.log();
  EXPECT_TRUE(contains(reader.log(), "keeps no journal")) << reader.log();
}

}  // namespace
}  // namespace evring
