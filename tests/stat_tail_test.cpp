// evring stat and evring tail as a user runs them, against a real writer and readers:
// what stat says of live, caught-up, stalled, killed readers and writers (text, --json,
// --prometheus), and what tail prints from the journal and live.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
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
#include "evring/query_client.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using ::testing::HasSubstr;

using test::lines_of;

class StatTailTest : public test::ProcessTest {
 public:
  const std::filesystem::path& scratch() const { return dir(); }

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
    // A histogram's samples (_bucket, _sum, _count) belong to the family without them.
    const std::string family =
        std::regex_replace(match[1].str(), std::regex("_(bucket|sum|count)$"), "");
    EXPECT_TRUE(typed.count(match[1].str()) || typed.count(family))
        << "sample before its TYPE: " << line;
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

// The screens `evring stat --watch` drew in `run_for` with $COLUMNS set to `columns` (no
// terminal: its output is a file), each without the escape codes that clear the screen.
std::vector<std::string> watch_screens(const StatTailTest& test, const std::string& instance,
                                       std::size_t columns, std::chrono::milliseconds run_for) {
  ::setenv("COLUMNS", std::to_string(columns).c_str(), 1);
  const test::ToolResult run =
      test::run_tool("evring", {"stat", "--name", instance, "--watch", "--interval", "100ms"},
                     test.scratch(), run_for);
  ::unsetenv("COLUMNS");
  EXPECT_EQ(run.exit_code, -1) << "--watch ended by itself: " << run.err;
  std::vector<std::string> screens;
  const std::string clear = "\x1b[H\x1b[2J";
  for (std::size_t at = run.out.find(clear); at != std::string::npos;) {
    const std::size_t next = run.out.find(clear, at + clear.size());
    screens.push_back(run.out.substr(at + clear.size(), next == std::string::npos
                                                            ? std::string::npos
                                                            : next - at - clear.size()));
    at = next;
  }
  EXPECT_GE(screens.size(), 2u) << run.out;
  return screens;
}

// The lines of a reader table's rows: those that start with the slowest-reader mark or
// its blank, then the reader's id.
std::vector<std::string> reader_lines(const std::string& screen, const std::string& id_start) {
  std::vector<std::string> rows;
  for (const std::string& line : lines_of(screen)) {
    if (line.size() > 3 && line.substr(3).starts_with(id_start)) rows.push_back(line);
  }
  return rows;
}

TEST_F(StatTailTest, WatchFitsTheWidthShowsTimeAndRatesAndMarksOnlyALaggingReader) {
  const std::string long_id = "reader-with-a-long-id-0001";
  KvInstance kv("watch", dir(), {long_id, "kv-2"}, 10);
  for (const std::size_t columns : {60u, 100u}) {
    SCOPED_TRACE(columns);
    const std::vector<std::string> screens =
        watch_screens(*this, kv.name, columns, std::chrono::milliseconds(1500));
    ASSERT_GE(screens.size(), 2u);
    for (const std::string& screen : screens) {
      for (const std::string& line : lines_of(screen)) {
        EXPECT_LE(line.size(), columns) << "[" << line << "]\n" << screen;
      }
    }
    const std::string& screen = screens[screens.size() - 2];  // the last may be cut off
    EXPECT_TRUE(std::regex_search(screen, std::regex(R"(stat at \d\d:\d\d:\d\d)"))) << screen;
    EXPECT_THAT(screen, HasSubstr("EVENTS/S"));
    // The journal path on a line of its own, whole or cut at its start.
    const std::string path = kv.writer.journal().string();
    bool path_line = false;
    for (const std::string& line : lines_of(screen)) {
      const std::size_t start = line.find_first_not_of(' ');
      if (start == std::string::npos) continue;
      const std::string text = line.substr(start);
      path_line =
          path_line || text == path || (text.starts_with("...") && path.ends_with(text.substr(3)));
    }
    EXPECT_TRUE(path_line) << path << "\n" << screen;
    const std::vector<std::string> rows = reader_lines(screen, "reader-");
    ASSERT_EQ(rows.size(), 1u) << screen;
    EXPECT_THAT(rows[0], HasSubstr(long_id.substr(0, 12)));
    if (columns == 60) {
      EXPECT_THAT(rows[0], HasSubstr("..."));  // the long id, cut
    }
    for (const std::string& line : lines_of(screen)) {
      EXPECT_FALSE(line.starts_with("*")) << "no reader lags, none is marked:\n" << screen;
    }
  }

  // A stopped reader falls behind: now it is the slowest, and marked.
  kv.readers[1]->signal(SIGSTOP);
  put_keys(kv.name, 5);
  const std::vector<std::string> screens =
      watch_screens(*this, kv.name, 100, std::chrono::milliseconds(1000));
  kv.readers[1]->signal(SIGCONT);
  ASSERT_GE(screens.size(), 2u);
  const std::vector<std::string> lagging = reader_lines(screens[screens.size() - 2], "kv-2");
  ASSERT_EQ(lagging.size(), 1u) << screens[screens.size() - 2];
  EXPECT_TRUE(lagging[0].starts_with("*")) << lagging[0];
  EXPECT_FALSE(reader_lines(screens[screens.size() - 2], "reader-").at(0).starts_with("*"));
}

TEST_F(StatTailTest, StatShowsEachReadersAppliedRate) {
  KvInstance kv("stat-rate", dir(), {"kv-rate"}, 1);
  std::atomic<bool> stop{false};
  std::future<void> load = std::async(std::launch::async, [&] {
    Client client = Client::connect(kv.name);
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {  // relaxed: a lone flag
      client.submit_text({"put", "rate", std::to_string(i)});
    }
  });
  const nlohmann::json stat = stat_json(kv.name);
  stop.store(true, std::memory_order_relaxed);  // relaxed: a lone flag
  load.get();
  const nlohmann::json row = reader_row(stat, "kv-rate");
  ASSERT_TRUE(row["events_per_s"].is_number()) << row.dump();
  EXPECT_GT(row["events_per_s"].get<double>(), 0.0) << row.dump();
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
