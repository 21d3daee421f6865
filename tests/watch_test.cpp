// evring watch as a user runs it, through real processes: the subscription's lines while
// puts flow and the subscriber, the reader and the writer are killed at random; each
// subscriber's log must chain without a gap or a duplicate, and end at a fresh query's
// result. Also Ctrl-C, --from, and a slow subscriber's reset.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "test_support.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::InstanceCleanup;
using test::ReaderProcess;
using test::ServiceProcess;
using test::unique_instance;
using test::WriterProcess;

class WatchTest : public test::ProcessTest {
 protected:
  WatchTest() : ProcessTest("watch") {}
};

// A kv writer, one kv reader `id` of it, and a client.
struct KvInstance {
  KvInstance(const std::string& hint, const std::string& id, const fs::path& dir)
      : name(unique_instance(hint)),
        cleanup(name),
        writer(name, dir, {"--domain", "kv"}),
        reader(name, id, dir, {"--view", "kv"}),
        client(Client::connect(name)) {}
  std::string name;
  InstanceCleanup cleanup;
  WriterProcess writer;
  ReaderProcess reader;
  Client client;
};

// The complete lines of a watcher's stdout (one it is writing may not be whole yet).
std::vector<json> whole_lines(const fs::path& out) {
  if (!fs::exists(out)) return {};
  std::string text = test::read_file(out);
  const std::size_t end = text.rfind('\n');
  text.resize(end == std::string::npos ? 0 : end + 1);
  std::vector<json> lines;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t next = text.find('\n', at);
    lines.push_back(json::parse(text.substr(at, next - at)));
    at = next + 1;
  }
  return lines;
}

// After a kill -9 of its watcher: drops a line it cut short, so the next start's lines
// follow the last whole one.
void drop_cut_line(const fs::path& out) {
  const std::string text = test::read_file(out);
  const std::size_t end = text.rfind('\n');
  fs::resize_file(out, end == std::string::npos ? 0 : end + 1);
}

struct Chain {
  std::uint64_t last_seq = 0;
  json result;  // as of last_seq
  std::size_t changes = 0;
  std::size_t resets = 0;
};

// Checks the subscription semantics line by line (docs/views.md); returns where it ended.
Chain check_chain(const std::vector<json>& lines, const std::string& who) {
  Chain chain;
  bool want_snapshot = true;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json& line = lines[i];
    const std::string where = who + " line " + std::to_string(i + 1) + ": " + line.dump();
    if (line.contains("as_of_seq")) {
      // A chain that saw nothing after seq 0 (a snapshot of a view with no event yet) is
      // resumed without --from: it starts again with a snapshot, and misses nothing.
      EXPECT_TRUE(want_snapshot || chain.last_seq == 0)
          << "a snapshot without a reset before it, " << where;
      chain.last_seq = line["as_of_seq"];
      chain.result = line["result"];
      want_snapshot = false;
      continue;
    }
    // A reset again before the snapshot is right: the watcher was killed between the two
    // and resumed from the same seq.
    EXPECT_TRUE(!want_snapshot || line.contains("reset")) << "expected a snapshot, " << where;
    EXPECT_EQ(line["prev_seq"].get<std::uint64_t>(), chain.last_seq) << "a gap, " << where;
    if (line.contains("reset")) {
      ++chain.resets;
      want_snapshot = true;
    } else if (line.contains("progress_seq")) {
      EXPECT_GE(line["progress_seq"].get<std::uint64_t>(), chain.last_seq) << where;
      chain.last_seq = line["progress_seq"];
    } else {
      EXPECT_GT(line["seq"].get<std::uint64_t>(), chain.last_seq) << "a duplicate, " << where;
      EXPECT_NE(line["result"], chain.result) << "a change that changes nothing, " << where;
      chain.last_seq = line["seq"];
      chain.result = line["result"];
      ++chain.changes;
    }
  }
  return chain;
}

// evring watch --name N --reader R [--from F] get KEY, its stdout appended to <key>.out.
std::unique_ptr<ServiceProcess> start_watch(const std::string& instance, const std::string& reader,
                                            const fs::path& dir, const std::string& key,
                                            std::uint64_t from) {
  std::vector<std::string> args{"watch", "--name", instance, "--reader", reader};
  if (from != 0) args.insert(args.end(), {"--from", std::to_string(from)});
  args.insert(args.end(), {"get", key});
  return std::make_unique<ServiceProcess>("evring", dir, "watch-" + key, args,
                                          [](pid_t) { return true; });
}

json fresh_result(const std::string& instance, const std::string& reader, const std::string& key,
                  std::uint64_t after) {
  QueryClient client = QueryClient::connect(instance, reader);
  const QueryReply reply = client.query({"get", key}, after, std::chrono::seconds(20));
  EXPECT_FALSE(reply.stale) << reply.raw;
  return json::parse(reply.raw)["result"];
}

TEST_F(WatchTest, EverySubscriberLogChainsWhateverIsKilled) {
  const std::string instance = unique_instance("watch-chaos");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  ReaderProcess reader(instance, "kv-w", dir(), {"--view", "kv", "--checkpoint-every", "300"});
  const std::vector<std::string> keys{"k0", "k1", "k2"};
  std::vector<std::unique_ptr<ServiceProcess>> watchers;
  for (const std::string& key : keys) {
    watchers.push_back(start_watch(instance, "kv-w", dir(), key, 0));
  }
  ASSERT_TRUE(test::wait_until(
      [&] {
        for (const std::string& key : keys) {
          if (test::read_file(dir() / ("watch-" + key + ".out")).empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));

  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  int kills[3] = {0, 0, 0};  // subscriber, reader, writer
  std::uint64_t last_seq = 0;
  int puts = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      Client client = test::connect_with_retry(instance, std::chrono::seconds(10));
      for (int i = 0; i < 40; ++i) {
        const std::string key = "k" + std::to_string(random() % 5);  // k3, k4: no watcher
        const CommandReply reply = client.submit_text({"put", key, std::to_string(++puts)});
        if (reply.accepted()) last_seq = std::max(last_seq, reply.seq);
      }
    } catch (const Error&) {
      // The writer was killed under the client: connect again.
    }
    switch (random() % 6) {
      case 0: {
        const std::size_t which = random() % watchers.size();
        watchers[which]->kill9();
        const fs::path out = dir() / ("watch-" + keys[which] + ".out");
        drop_cut_line(out);
        const std::vector<json> lines = whole_lines(out);
        const Chain chain = check_chain(lines, keys[which]);
        watchers[which] = start_watch(instance, "kv-w", dir(), keys[which], chain.last_seq);
        ++kills[0];
        break;
      }
      case 1:
        reader.kill9();
        reader.restart();
        ++kills[1];
        break;
      case 2:
        writer.kill9();
        writer.restart();
        ++kills[2];
        break;
      default:
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        break;
    }
  }
  std::printf("seed %u: %d puts; killed %d subscribers, %d readers, %d writers\n", seed, puts,
              kills[0], kills[1], kills[2]);
  // Quiet now: every watcher must reach the head, each line chained.
  Client client = test::connect_with_retry(instance, std::chrono::seconds(10));
  const std::uint64_t head = client.submit_text({"put", "k3", "end"}).seq;
  ASSERT_GE(head, last_seq);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const fs::path out = dir() / ("watch-" + keys[i] + ".out");
    const json expected = fresh_result(instance, "kv-w", keys[i], head);
    ASSERT_TRUE(
        test::wait_until([&] { return check_chain(whole_lines(out), keys[i]).last_seq >= head; },
                         std::chrono::seconds(10)))
        << keys[i] << " never got to seq " << head << ":\n"
        << test::read_file(out) << watchers[i]->log();
    const Chain chain = check_chain(whole_lines(out), keys[i]);
    EXPECT_EQ(chain.result, expected) << keys[i] << ":\n" << test::read_file(out);
    EXPECT_GT(chain.changes, 0u) << keys[i];
    std::printf("%s: %zu lines, %zu changes, %zu resets\n", keys[i].c_str(),
                whole_lines(out).size(), chain.changes, chain.resets);
  }
}

TEST_F(WatchTest, CtrlCEndsItWithZeroAndFromResumesExactly) {
  KvInstance kv("watch-from", "kv-f", dir());
  const std::string& instance = kv.name;
  Client& client = kv.client;
  const std::uint64_t first = client.submit_text({"put", "a", "1"}).seq;
  auto watcher = start_watch(instance, "kv-f", dir(), "a", 0);
  const fs::path out = dir() / "watch-a.out";
  ASSERT_TRUE(
      test::wait_until([&] { return whole_lines(out).size() >= 1; }, std::chrono::seconds(10)));
  const std::uint64_t second = client.submit_text({"put", "a", "2"}).seq;
  ASSERT_TRUE(
      test::wait_until([&] { return whole_lines(out).size() >= 2; }, std::chrono::seconds(10)));
  watcher->signal(SIGINT);
  EXPECT_EQ(watcher->stop(), 0) << watcher->log();  // exited 0 (SIGTERM finds it gone)
  std::vector<json> lines = whole_lines(out);
  EXPECT_EQ(lines[0]["as_of_seq"], first);
  EXPECT_EQ(lines[1]["seq"], second);
  EXPECT_EQ(lines[1]["prev_seq"], first);
  EXPECT_EQ(lines[1]["result"]["value"], "2");

  // While no one watches: a change, then a resume from the last seq seen gets exactly it.
  const std::uint64_t third = client.submit_text({"put", "a", "3"}).seq;
  client.submit_text({"put", "b", "unrelated"});
  watcher = start_watch(instance, "kv-f", dir(), "a", second);
  ASSERT_TRUE(test::wait_until([&] { return whole_lines(out).size() >= lines.size() + 2; },
                               std::chrono::seconds(10)));
  lines = whole_lines(out);
  // The change is told as of the end of the run of events the view applied it in.
  EXPECT_GE(lines[2]["seq"].get<std::uint64_t>(), third) << lines[2];
  EXPECT_EQ(lines[2]["result"]["value"], "3") << lines[2];
  EXPECT_EQ(lines[2]["prev_seq"], second) << lines[2];
  EXPECT_TRUE(lines[3].contains("progress_seq")) << lines[3];
  EXPECT_EQ(check_chain(lines, "a").resets, 0u);

  // A progress line comes within a second or so while nothing changes.
  const std::size_t before = lines.size();
  ASSERT_TRUE(
      test::wait_until([&] { return whole_lines(out).size() > before; }, std::chrono::seconds(3)));
  EXPECT_TRUE(whole_lines(out).back().contains("progress_seq"));
}

TEST_F(WatchTest, ASlowSubscriberIsResetNotWaitedFor) {
  KvInstance kv("watch-slow", "kv-s", dir());
  const std::string& instance = kv.name;
  Client& client = kv.client;
  client.submit_text({"put", "a", "0"});
  // A value long enough that a few hundred changes overflow the subscriber's buffer.
  const std::string padding(400, 'x');
  Subscription slow =
      Subscription::open(instance, "kv-s", std::vector<std::string_view>{"get", "a"});
  QueryClient queries = QueryClient::connect(instance, "kv-s");
  std::uint64_t last = 0;
  for (int i = 1; i <= 600; ++i) {
    last = client.submit_text({"put", "a", padding + std::to_string(i)}).seq;
    queries.query({"get", "a"}, last);  // the view applied it: one change each
  }
  // The view went on regardless: it is at the head.
  EXPECT_EQ(queries.query({"count"}, last).as_of_seq, last);
  std::vector<std::string> lines;
  bool reset = false;
  for (;;) {
    const std::optional<WatchLine> line = slow.next(std::chrono::seconds(3));
    ASSERT_TRUE(line.has_value()) << "no line after: " << (lines.empty() ? "" : lines.back());
    lines.push_back(line->raw);
    if (line->kind == WatchLine::Kind::reset) {
      reset = true;
      EXPECT_TRUE(line->reason.find("overflow") != std::string::npos) << line->raw;
    }
    if (reset && line->kind == WatchLine::Kind::snapshot && line->seq == last) break;
    if (reset && line->kind != WatchLine::Kind::reset && line->seq >= last) break;
  }
  EXPECT_TRUE(reset);
  // evring stat shows the subscription and its reset.
  const test::ToolResult stat =
      test::run_tool("evring", {"stat", "--name", instance, "--json"}, dir());
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  const json reader_row = json::parse(stat.out)["readers"][0];
  EXPECT_EQ(reader_row["subscriptions"], 1) << stat.out;
  EXPECT_GE(reader_row["subscriber_resets"].get<std::uint64_t>(), 1u) << stat.out;
  std::vector<json> parsed;
  for (const std::string& line : lines) parsed.push_back(json::parse(line));
  const Chain chain = check_chain(parsed, "slow");
  EXPECT_EQ(chain.result["value"], padding + "600");
}

// Reads a set's lines into `logs` (one per subscription) until every subscription has
// said a seq at or past `seq`.
void read_until(SubscriptionSet& set, std::vector<std::vector<json>>& logs, std::uint64_t seq) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::size_t behind = set.size();
  std::vector<bool> done(set.size(), false);
  const auto update = [&](std::size_t i) {
    if (!done[i] && set.last_seq(i) >= seq) {
      done[i] = true;
      --behind;
    }
  };
  for (std::size_t i = 0; i < set.size(); ++i) update(i);
  while (behind > 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << behind << " subscriptions behind";
    const std::optional<SubscriptionSet::Line> line = set.next(std::chrono::seconds(3));
    ASSERT_TRUE(line.has_value()) << "no line while " << behind << " are behind";
    logs[line->index].push_back(json::parse(line->line.raw));
    // A snapshot after a reset may be older than what came before: it says its seq.
    if (line->line.kind != WatchLine::Kind::reset) update(line->index);
  }
}

TEST_F(WatchTest, AThousandSubscriptionsShareOneSlotAndEachChainsAndResumes) {
  KvInstance kv("watch-set", "kv-m", dir());
  const std::string& instance = kv.name;
  constexpr std::size_t kSubscriptions = 1000;
  std::vector<SubscriptionSet::Query> queries;
  for (std::size_t i = 0; i < kSubscriptions; ++i) {
    queries.push_back({{"get", "k" + std::to_string(i)}, 0});
  }
  // Puts flow from another thread while the subscriptions open and read.
  std::atomic<std::uint64_t> last_put{0};
  const auto put_some = [&](int count, int round) {
    std::mt19937 random(static_cast<unsigned>(round));
    for (int n = 0; n < count; ++n) {
      const std::string key = "k" + std::to_string(random() % kSubscriptions);
      last_put = kv.client.submit_text({"put", key, std::to_string(round * 100000 + n)}).seq;
    }
  };
  std::vector<std::vector<json>> logs(kSubscriptions);
  {
    std::thread puts(put_some, 5000, 1);
    SubscriptionSet set = SubscriptionSet::open(instance, "kv-m", queries);
    ASSERT_EQ(set.size(), kSubscriptions);
    puts.join();
    read_until(set, logs, last_put);
    // One slot holds them all: the reader counts 1000, and other clients still get slots.
    const test::ToolResult stat =
        test::run_tool("evring", {"stat", "--name", instance, "--json"}, dir());
    ASSERT_EQ(stat.exit_code, 0) << stat.err;
    EXPECT_EQ(json::parse(stat.out)["readers"][0]["subscriptions"], kSubscriptions) << stat.out;
    for (std::size_t i = 0; i < kSubscriptions; ++i) queries[i].from_seq = set.last_seq(i);
  }
  // Closed, then resumed: each goes on exactly after its own last seq.
  put_some(2000, 2);
  std::vector<std::size_t> resumed_at(kSubscriptions);
  for (std::size_t i = 0; i < kSubscriptions; ++i) resumed_at[i] = logs[i].size();
  {
    SubscriptionSet set = SubscriptionSet::open(instance, "kv-m", queries);
    std::thread puts(put_some, 2000, 3);
    puts.join();
    read_until(set, logs, last_put);
  }
  QueryClient fresh = QueryClient::connect(instance, "kv-m");
  for (std::size_t i = 0; i < kSubscriptions; ++i) {
    const std::string key = "k" + std::to_string(i);
    const Chain chain = check_chain(logs[i], key);
    ASSERT_LT(resumed_at[i], logs[i].size()) << key;
    EXPECT_FALSE(logs[i][resumed_at[i]].contains("reset")) << key << ": " << logs[i][resumed_at[i]];
    const QueryReply reply = fresh.query({"get", key}, last_put);
    EXPECT_EQ(chain.result, json::parse(reply.raw)["result"]) << key;
  }
}

}  // namespace
}  // namespace evring
