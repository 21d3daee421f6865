// The built-in views' tables (kv, bank, stats, tail, found by name) and the views that
// serve any domain, stats and tail (readers/views), driven through the C table
// evring-reader uses; the kv and bank views are in kv_view_test.cpp and
// bank_view_test.cpp.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "builtin_views.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/clock.hpp"
#include "view_table.hpp"

namespace evring {
namespace {

using namespace view_testing;

// A folder under /tmp, removed with what is in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/evring-view-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---- the table ----

TEST(BuiltinViews, FindsEveryViewByName) {
  for (const std::string_view name : {"kv", "bank", "stats", "tail"}) {
    const evring_view_v1* table = find_builtin_view(name);
    ASSERT_NE(table, nullptr) << name;
    EXPECT_EQ(table->name, name);
    EXPECT_EQ(table->abi_version, EVRING_VIEW_ABI_VERSION);
    EXPECT_EQ(table->table_bytes, sizeof(evring_view_v1));
    for (const bool present :
         {table->create != nullptr, table->destroy != nullptr, table->on_event != nullptr,
          table->query != nullptr, table->snapshot != nullptr, table->restore != nullptr}) {
      EXPECT_TRUE(present) << name;
    }
  }
  EXPECT_EQ(find_builtin_view("kv"), kv_view());
  EXPECT_EQ(find_builtin_view("bank"), bank_view());
  EXPECT_EQ(find_builtin_view("stats"), stats_view());
  EXPECT_EQ(find_builtin_view("tail"), tail_view());
  EXPECT_EQ(find_builtin_view("orders"), nullptr);
  EXPECT_EQ(find_builtin_view(""), nullptr);
  EXPECT_EQ(find_builtin_view("KV"), nullptr);
  EXPECT_EQ(builtin_view_names(), (std::vector<std::string_view>{"kv", "bank", "stats", "tail"}));
}

TEST(BuiltinViews, KvBankAndStatsRefuseAConfiguration) {
  for (const std::string_view name : {"kv", "bank", "stats"}) {
    SCOPED_TRACE(name);
    const Created refused = create_view(name, "shards=4");
    EXPECT_EQ(refused.view, nullptr);
    EXPECT_THAT(refused.message, HasSubstr("the " + std::string(name) +
                                           R"( view takes no configuration, got "shards=4")"));
    for (const char* config : {static_cast<const char*>(nullptr), ""}) {
      const Created created = create_view(name, config);
      ASSERT_NE(created.view, nullptr) << created.message;
      find_builtin_view(name)->destroy(created.view);
    }
  }
}

TEST(BuiltinViews, QueriesDoNotChangeTheView) {
  Writer writer("kv");
  View kv("kv");
  kv.apply(writer.accept({"put", "a", "x"}));
  const Bytes before = kv.snapshot();
  kv.ask({"get", "a"});
  kv.ask({"scan", ""});
  kv.ask({"count"});
  kv.query({"nonsense"});
  EXPECT_EQ(kv.snapshot(), before);
}

// ---- stats ----

TEST(StatsView, AnEmptyViewSaysSo) {
  View stats("stats");
  const json summary = stats.ask({"summary"});
  EXPECT_EQ(summary, json::parse(R"({"events":0,"by_type":{},"first_seq":null,"last_seq":null,
                                     "events_per_s":0,"lag_ns":null})"));
  EXPECT_EQ(stats.ask({}), summary);
}

TEST(StatsView, CountsEventsByTypeWithTheirSeqsAndLag) {
  View stats("stats");
  const Bytes payload = garbage(10);  // stats reads no payload, so any bytes will do
  const std::int64_t start = monotonic_ns();
  stats.on_event(41, 1, payload, start);
  stats.on_event(42, 2, payload, start);
  stats.on_event(43, 1, payload, start);
  stats.on_event(44, 1000, {}, start);
  stats.on_event(45, 0, payload, start);
  const std::int64_t last = monotonic_ns() - 5'000'000;
  stats.on_event(50, 63, payload, last);
  stats.on_event(51, 64, payload, last);
  const std::int64_t before_query = monotonic_ns();
  const json summary = stats.ask({"summary"});
  const std::int64_t after_query = monotonic_ns();
  EXPECT_EQ(summary["events"], json(7));
  EXPECT_EQ(summary["by_type"], json::parse(R"({"0":1,"1":2,"2":1,"63":1,"64":1,"1000":1})"));
  EXPECT_THAT(stats.query({}).reply,
              HasSubstr(R"("by_type":{"0":1,"1":2,"2":1,"63":1,"64":1,"1000":1})"));
  EXPECT_EQ(summary["first_seq"], json(41));
  EXPECT_EQ(summary["last_seq"], json(51));
  const auto lag = summary["lag_ns"].get<std::int64_t>();
  EXPECT_GE(lag, before_query - last);
  EXPECT_LE(lag, after_query - last);
}

TEST(StatsView, EventsPerSecondCountsTheLastWholeSecond) {
  View stats("stats");
  const Bytes payload;
  const std::int64_t now = monotonic_ns();
  // Too old for the window; then 300 half a second ago.
  for (int i = 0; i < 200; ++i) stats.on_event(1, payload, now - 5'000'000'000);
  for (int i = 0; i < 300; ++i) stats.on_event(1, payload, now - 500'000'000);
  const json summary = stats.ask({"summary"});
  EXPECT_EQ(summary["events"], json(500));
  EXPECT_EQ(summary["events_per_s"], json(300));

  // An event older than the window the view holds is counted, not rated.
  stats.on_event(1, payload, now - 3'000'000'000);
  EXPECT_EQ(stats.ask({})["events_per_s"], json(300));
  EXPECT_EQ(stats.ask({})["events"], json(501));

  // Events of the 100 ms bucket still filling wait for it to pass: the window is whole
  // buckets. (Should the query land in the next bucket, they already count.)
  for (int i = 0; i < 5; ++i) stats.on_event(1, payload, monotonic_ns());
  EXPECT_THAT(stats.ask({})["events_per_s"].get<int>(), ::testing::AnyOf(300, 305));
}

TEST(StatsView, UnknownWordsSayWhatTheViewAnswers) {
  View stats("stats");
  expect_malformed(stats, {"count"}, R"(unknown stats query "count": expected summary)");
  expect_malformed(stats, {"summary", "now"}, "expected 1 words (summary), got 2");
}

TEST(StatsView, ASnapshotRestoresTheSameView) {
  View stats("stats");
  const std::int64_t now = monotonic_ns();
  for (std::uint32_t i = 0; i < 100; ++i) stats.on_event(i % 5 + (i % 7 == 0 ? 100 : 0), {}, now);
  const Bytes bytes = stats.snapshot();
  View restored("stats");
  const Outcome outcome = restored.restore(bytes);
  ASSERT_EQ(outcome.status, EVRING_OK) << outcome.message;
  EXPECT_EQ(restored.snapshot(), bytes);
  json a = stats.ask({});
  json b = restored.ask({});
  for (json* summary : {&a, &b}) summary->erase("lag_ns");  // the clock moved between them
  EXPECT_EQ(a, b);

  Bytes truncated(bytes.begin(), bytes.end() - 1);
  Bytes miscounted = bytes;
  miscounted[4] = std::byte{99};  // the event count no longer matches the counts by type
  for (const Bytes& bad : {Bytes{}, truncated, miscounted, garbage(200)}) {
    const Outcome refused = restored.restore(bad);
    EXPECT_EQ(refused.status, EVRING_FAILED);
    EXPECT_THAT(refused.message, HasSubstr("stats view snapshot"));
  }
  EXPECT_EQ(restored.snapshot(), bytes);
}

// ---- tail ----

TEST(TailView, WritesOneJsonLinePerEventDescribedByTheDomain) {
  TempDir dir;
  const std::string path = dir.file("kv.jsonl");
  const std::string config = "out=" + path + ",domain=kv";
  {
    View tail("tail", config.c_str());
    tail.on_event(7, type_of(kv::EventType::put), kv::encode(kv::PutEvent{"a", "x\"y", 1}), 123);
    tail.on_event(8, type_of(kv::EventType::deleted), kv::encode(kv::DeletedEvent{"a", 1}), 124);
    // Not kv bytes: shown raw rather than refused.
    const Bytes bad = garbage(3);
    const Outcome outcome = tail.on_event(9, type_of(kv::EventType::put), bad, 125);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    EXPECT_EQ(tail.ask({"count"}), json(3));
  }
  const std::vector<std::string> lines = lines_of(path);
  ASSERT_EQ(lines.size(), 3u);
  // The exact bytes once; the other lines as JSON.
  EXPECT_EQ(lines[0], R"({"seq":7,"type":1,"publish_ns":123,)"
                      R"("event":{"type":"put","key":"a","value":"x\"y","version":1}})");
  EXPECT_EQ(json::parse(lines[1]), json::parse(R"({"seq":8,"type":2,"publish_ns":124,
      "event":{"type":"deleted","key":"a","version":1}})"));
  EXPECT_EQ(json::parse(lines[2]), json::parse(R"({"seq":9,"type":1,"publish_ns":125,
      "event":{"type":1,"bytes":3,"hex":"a5a4a7"}})"));
}

TEST(TailView, DescribesBankEventsAndAppendsToTheFile) {
  TempDir dir;
  const std::string path = dir.file("bank.jsonl");
  Writer writer("bank");
  std::vector<PublishedEvent> events = writer.accept({"open", "alice"});
  for (const Words& words : std::vector<Words>{
           {"deposit", "alice", "50"}, {"open", "bob"}, {"transfer", "alice", "bob", "20"}}) {
    events.push_back(writer.accept(words).at(0));
  }
  const std::string config = "domain=bank,out=" + path;
  for (int run = 0; run < 2; ++run) {
    View tail("tail", config.c_str());
    for (const PublishedEvent& event : events) tail.apply(event);
  }
  const std::vector<std::string> lines = lines_of(path);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(json::parse(lines[3])["event"],
            json::parse(R"({"type":"transferred","from":"alice","to":"bob","amount":20,
                            "from_balance":30,"to_balance":20})"));
  EXPECT_EQ(json::parse(lines[7])["seq"], json(4)) << "the second view numbered from 1 again";
  EXPECT_EQ(json::parse(lines[1])["event"]["type"], json("deposited"));
}

TEST(TailView, ShowsRawBytesByDefault) {
  TempDir dir;
  const std::string path = dir.file("raw.jsonl");
  const Bytes payload = garbage(100);
  {
    View tail("tail", path.c_str());  // a bare path: raw events
    tail.on_event(1, 77, payload, 5);
    tail.on_event(2, 3, {}, 6);
  }
  const std::vector<std::string> lines = lines_of(path);
  ASSERT_EQ(lines.size(), 2u);
  const json first = json::parse(lines[0]);
  EXPECT_EQ(first["type"], json(77));
  EXPECT_EQ(first["event"]["type"], json(77));
  EXPECT_EQ(first["event"]["bytes"], json(100));
  const std::string hex = first["event"]["hex"].get<std::string>();
  EXPECT_EQ(hex.size(), 128u) << "the first 64 bytes only";
  EXPECT_EQ(hex.substr(0, 8), "a5a4a7a6");
  EXPECT_EQ(json::parse(lines[1])["event"], json::parse(R"({"type":3,"bytes":0,"hex":""})"));
}

TEST(TailView, FlushEveryNWritesWholeBatchesAndTheRestOnAQueryOrAtTheEnd) {
  TempDir dir;
  const std::string path = dir.file("batched.jsonl");
  const std::string config = "out=" + path + ",flush=4";
  {
    View tail("tail", config.c_str());
    for (int i = 0; i < 3; ++i) tail.apply(1, garbage(4));
    EXPECT_EQ(lines_of(path).size(), 0u) << "three events wait for the fourth";
    tail.apply(1, garbage(4));
    EXPECT_EQ(lines_of(path).size(), 4u);
    tail.apply(1, garbage(4));
    EXPECT_EQ(lines_of(path).size(), 4u);
    EXPECT_EQ(tail.ask({"count"}), json(5));
    EXPECT_EQ(lines_of(path).size(), 5u) << "a query writes out what it counts";
    tail.apply(1, garbage(4));
    tail.apply(1, garbage(4));
  }
  EXPECT_EQ(lines_of(path).size(), 7u) << "destroying the view writes the rest";
}

TEST(TailView, RefusesAConfigurationItDoesNotKnow) {
  const struct {
    const char* config;
    std::string reason;
  } cases[] = {
      {"out=-,colour=red",
       R"(unknown tail view option "colour": expected out=PATH|-, domain=kv|bank|raw, flush=N)"},
      {"domain=orders", R"(tail view domain "orders" is unknown: expected kv, bank or raw)"},
      {"flush=0", "tail view flush 0 is out of range (1 to 1000000 events)"},
      {"flush=often", R"(tail view flush "often" is not a whole number)"},
      {"out=-,verbose", R"(tail view option "verbose" is not key=value)"},
      {"out=/nonexistent-evring-dir/tail.jsonl",
       R"(the tail view cannot open "/nonexistent-evring-dir/tail.jsonl" for appending: )"},
      {"/nonexistent-evring-dir/tail.jsonl", "cannot open"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.config);
    const Created created = create_view("tail", c.config);
    EXPECT_EQ(created.view, nullptr);
    EXPECT_THAT(created.message, HasSubstr(c.reason));
  }
  for (const char* stdout_config : {static_cast<const char*>(nullptr), "", "-", "out=-,flush=10"}) {
    const Created created = create_view("tail", stdout_config);
    ASSERT_NE(created.view, nullptr) << created.message;
    tail_view()->destroy(created.view);
  }
}

TEST(TailView, ASnapshotKeepsTheCount) {
  TempDir dir;
  const std::string path = dir.file("snap.jsonl");
  View tail("tail", path.c_str());
  for (int i = 0; i < 5; ++i) tail.apply(2, garbage(8));
  expect_malformed(tail, {}, "empty tail query: expected count");
  expect_malformed(tail, {"get", "a"}, R"(unknown tail query "get": expected count)");
  expect_malformed(tail, {"count", "all"}, "expected 1 words (count), got 2");
  const Bytes bytes = tail.snapshot();
  View restored("tail", path.c_str());
  ASSERT_EQ(restored.restore(bytes).status, EVRING_OK);
  EXPECT_EQ(restored.ask({"count"}), json(5));
  EXPECT_EQ(restored.snapshot(), bytes);
  for (const Bytes& bad : {Bytes{}, Bytes(bytes.begin(), bytes.end() - 1), garbage(12)}) {
    const Outcome refused = restored.restore(bad);
    EXPECT_EQ(refused.status, EVRING_FAILED);
    EXPECT_THAT(refused.message, HasSubstr("tail view snapshot"));
  }
  EXPECT_EQ(restored.ask({"count"}), json(5));
}

}  // namespace
}  // namespace evring
