// evring stat and evring tail as a user runs them, against a real writer and readers:
// what stat says of live, caught-up, stalled, killed readers and writers (text, --json,
// --prometheus), and what tail prints from the journal and live.
#include <signal.h>

#include <chrono>
#include <future>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/query.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class StatTailTest : public test::ProcessTest {
 protected:
  StatTailTest() : ProcessTest("stat-tail") {}

  test::ToolResult evring(std::vector<std::string> args) const {
    return test::run_tool("evring", args, dir(), std::chrono::seconds(30));
  }

  // evring stat --json, which must succeed.
  nlohmann::json stat_json(const std::string& instance) const {
    const test::ToolResult result = evring({"stat", "--name", instance, "--json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out);
  }
};

// The row of reader `id` in a stat --json snapshot (a failed expectation and null if none).
nlohmann::json reader_row(const nlohmann::json& stat, const std::string& id) {
  for (const nlohmann::json& row : stat["readers"]) {
    if (row["id"] == id) return row;
  }
  ADD_FAILURE() << "no reader " << id << " in " << stat.dump();
  return nullptr;
}

// Blocks until reader `id` has applied `seq` (read-your-writes through its query socket).
void wait_applied(const std::string& instance, const std::string& id, std::uint64_t seq) {
  QueryClient client = QueryClient::connect(instance, id);
  const std::vector<std::string_view> words{"count"};
  const QueryReply reply = client.query(words, seq, std::chrono::seconds(30));
  ASSERT_FALSE(reply.stale) << id << " did not reach seq " << seq << ": " << reply.raw;
}

std::uint64_t put_keys(const std::string& instance, int count) {
  Client client = Client::connect(instance);
  std::uint64_t head = 0;
  for (int i = 0; i < count; ++i) {
    const CommandReply reply =
        client.submit_text({"put", "k" + std::to_string(i), "value " + std::to_string(i)});
    EXPECT_TRUE(reply.accepted()) << reply.reason;
    head = reply.seq;
  }
  return head;
}

// A kv writer and its readers (kv views, block wait) on an instance of its own, after
// `puts` puts that every reader has applied; all of it killed and removed at scope exit.
struct KvInstance {
  KvInstance(const std::string& hint, const std::filesystem::path& dir,
             const std::vector<std::string>& reader_ids, int puts)
      : name(test::unique_instance(hint)), cleanup(name), writer(name, dir, {"--domain", "kv"}) {
    for (const std::string& id : reader_ids) {
      readers.push_back(std::make_unique<test::ReaderProcess>(
          name, id, dir, std::vector<std::string>{"--view", "kv", "--wait", "block"}));
    }
    head = put_keys(name, puts);
    for (const std::string& id : reader_ids) wait_applied(name, id, head);
  }

  std::string name;
  test::InstanceCleanup cleanup;
  test::WriterProcess writer;
  std::vector<std::unique_ptr<test::ReaderProcess>> readers;
  std::uint64_t head = 0;
};

TEST_F(StatTailTest, StatShowsTheWriterAndACaughtUpReader) {
  KvInstance kv("stat-live", dir(), {"kv-stat"}, 20);
  ASSERT_EQ(kv.head, 20u);

  const nlohmann::json stat = stat_json(kv.name);
  EXPECT_EQ(stat["instance"], kv.name);
  const nlohmann::json& w = stat["writer"];
  EXPECT_EQ(w["alive"], true) << stat.dump();
  EXPECT_EQ(w["state"], "alive");
  EXPECT_EQ(w["pid"].get<std::uint64_t>(), static_cast<std::uint64_t>(kv.writer.pid()));
  EXPECT_EQ(w["head_seq"].get<std::uint64_t>(), kv.head);
  EXPECT_EQ(w["events_total"].get<std::uint64_t>(), kv.head);
  EXPECT_EQ(w["domain"], "kv");
  EXPECT_EQ(w["durability"], "async");
  EXPECT_EQ(w["journal"], kv.writer.journal().string());
  EXPECT_GT(w["journal_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_GE(w["incarnation"].get<std::uint64_t>(), 1u);
  EXPECT_GT(stat["ring"]["capacity_bytes"].get<std::uint64_t>(), 0u);

  const nlohmann::json row = reader_row(stat, "kv-stat");
  EXPECT_EQ(row["alive"], true) << row.dump();
  EXPECT_EQ(row["view"], "kv");
  EXPECT_EQ(row["pid"].get<std::uint64_t>(), static_cast<std::uint64_t>(kv.readers[0]->pid()));
  EXPECT_EQ(row["position_seq"].get<std::uint64_t>(), kv.head);
  EXPECT_EQ(row["lag_events"], 0);
  EXPECT_EQ(row["lag_us"], 0);
  EXPECT_EQ(row["wait"], "block");
  EXPECT_EQ(row["slowest"], true) << "the only live reader is the slowest";

  const test::ToolResult text = evring({"stat", "--name", kv.name});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("head seq 20"));
  EXPECT_THAT(text.out, HasSubstr("kv-stat"));
  EXPECT_THAT(text.out, HasSubstr("alive"));
}

TEST_F(StatTailTest, StatShowsKilledReadersAndWritersDeadAndStoppedOnesStalled) {
  KvInstance kv("stat-dead", dir(), {"kv-killed", "kv-stopped"}, 5);
  kv.readers[0]->kill9();
  kv.readers[1]->signal(SIGSTOP);
  // A stopped reader keeps its pid but its heartbeat ages: stalled after a few seconds.
  nlohmann::json stat;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    stat = stat_json(kv.name);
  } while (reader_row(stat, "kv-stopped")["state"] != "stalled" &&
           std::chrono::steady_clock::now() < deadline);
  kv.readers[1]->signal(SIGCONT);
  EXPECT_EQ(reader_row(stat, "kv-stopped")["state"], "stalled") << stat.dump();
  EXPECT_EQ(reader_row(stat, "kv-stopped")["alive"], false);
  const nlohmann::json dead = reader_row(stat, "kv-killed");
  EXPECT_EQ(dead["alive"], false) << dead.dump();
  EXPECT_EQ(dead["state"], "dead");
  EXPECT_EQ(dead["slowest"], false) << "a dead reader is not the slowest live one";
  EXPECT_EQ(stat["writer"]["alive"], true);

  kv.writer.kill9();
  stat = stat_json(kv.name);
  EXPECT_EQ(stat["writer"]["alive"], false) << stat.dump();
  EXPECT_EQ(stat["writer"]["state"], "dead");
  EXPECT_EQ(stat["writer"]["head_seq"].get<std::uint64_t>(), kv.head);
  EXPECT_EQ(stat["writer"]["events_per_s"], 0.0);
  const test::ToolResult text = evring({"stat", "--name", kv.name});
  ASSERT_EQ(text.exit_code, 0) << "a dead writer is shown, not refused: " << text.err;
  EXPECT_THAT(text.out, HasSubstr("dead"));
}

TEST_F(StatTailTest, PrometheusOutputHasTheMetricLines) {
  KvInstance kv("stat-prom", dir(), {"kv-prom"}, 3);
  const test::ToolResult result = evring({"stat", "--name", kv.name, "--prometheus"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  const std::string inst = "instance=\"" + kv.name + "\"";
  const std::string reader = inst + ",reader=\"kv-prom\",view=\"kv\"";
  for (const std::string& line : std::vector<std::string>{
           "# TYPE evring_writer_head_seq gauge",
           "evring_writer_head_seq{" + inst + "} 3",
           "evring_writer_up{" + inst + "} 1",
           "# TYPE evring_writer_events_total counter",
           "evring_writer_events_total{" + inst + "} 3",
           "evring_reader_up{" + reader + "} 1",
           "evring_reader_position_seq{" + reader + "} 3",
           "evring_reader_lag_events{" + reader + "} 0",
           "evring_reader_lapped_total{" + reader + "} 0",
       }) {
    EXPECT_THAT(out, HasSubstr(line + "\n"));
  }

  // The exposition format: HELP and TYPE once per metric, before its samples; samples are
  // name{labels} number.
  const std::regex sample(R"(([a-z_]+)\{[^}]*\} -?[0-9.e+-]+)");
  std::set<std::string> typed;
  for (const std::string& line : lines_of(out)) {
    if (line.starts_with("# HELP ")) continue;
    if (line.starts_with("# TYPE ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice for " << name;
      continue;
    }
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, sample)) << "not a sample line: " << line;
    EXPECT_TRUE(typed.count(match[1].str())) << "sample before its TYPE: " << line;
  }
}

TEST_F(StatTailTest, TailFromOnePrintsExactlyCountDecodedLines) {
  KvInstance kv("tail-from", dir(), {}, 10);
  test::ToolResult result =
      evring({"tail", "--name", kv.name, "--from", "1", "--count", "7", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 7u) << result.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json line = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(line["seq"].get<std::uint64_t>(), i + 1) << lines[i];
    EXPECT_EQ(line["type"], 1) << lines[i];
    EXPECT_EQ(line["event"]["type"], "put") << lines[i];
    EXPECT_EQ(line["event"]["key"], "k" + std::to_string(i)) << lines[i];
    EXPECT_EQ(line["event"]["value"], "value " + std::to_string(i)) << lines[i];
    EXPECT_EQ(line["event"]["version"], 1) << lines[i];
  }

  result = evring({"tail", "--name", kv.name, "--from", "9", "--count", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "seq=9 put key=k8 value=\"value 8\" version=1\n"
            "seq=10 put key=k9 value=\"value 9\" version=1\n");
}

TEST_F(StatTailTest, TailFollowsLiveEventsAndLeavesNoRowInStat) {
  KvInstance kv("tail-live", dir(), {}, 1);
  Client client = Client::connect(kv.name);

  // Live: tail sees what is published after it attaches; keep publishing until it has 3.
  std::future<test::ToolResult> tail = std::async(std::launch::async, [&] {
    return evring({"tail", "--name", kv.name, "--count", "3", "--json"});
  });
  int sent = 0;
  while (tail.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    ASSERT_LT(sent, 1000) << "tail never printed 3 events";
    ASSERT_TRUE(client.submit_text({"put", "live", std::to_string(sent++)}).accepted());
  }
  const test::ToolResult result = tail.get();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  std::uint64_t previous = 0;
  for (const std::string& text : lines) {
    const nlohmann::json line = nlohmann::json::parse(text);
    const auto seq = line["seq"].get<std::uint64_t>();
    EXPECT_GT(seq, kv.head) << "live: not the event from before it started";
    if (previous != 0) {
      EXPECT_EQ(seq, previous + 1) << "no gap";
    }
    previous = seq;
    EXPECT_EQ(line["event"]["key"], "live") << text;
  }

  // A tail that exited released its registry slot.
  const nlohmann::json stat = stat_json(kv.name);
  EXPECT_TRUE(stat["readers"].empty()) << stat.dump();
}

TEST_F(StatTailTest, UnknownInstanceExitsTwoNamingHowToStartAWriter) {
  const std::string instance = test::unique_instance("stat-none");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"stat", "--name", instance},
        std::vector<std::string>{"stat", "--name", instance, "--json"},
        std::vector<std::string>{"stat", "--name", instance, "--prometheus"},
        std::vector<std::string>{"tail", "--name", instance, "--from", "1"}}) {
    const test::ToolResult result = evring(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.out << result.err;
    EXPECT_THAT(result.err, HasSubstr("instance \"" + instance + "\" has no writer"));
    EXPECT_THAT(result.err, HasSubstr("start evring-writer --name " + instance));
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  const test::ToolResult bad = evring({"stat", "--name", instance, "--interval", "1s"});
  EXPECT_EQ(bad.exit_code, 2) << "--interval needs --watch: " << bad.err;
}

}  // namespace
}  // namespace evring
