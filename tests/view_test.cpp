// The built-in views (kv, bank, stats, tail), driven through the C table evring-reader
// uses, so the C++ adapter (exceptions to statuses, sinks) is tested along with the
// queries. Events come from the built-in domains' own tables where a realistic history
// matters, so the views are tested against what the writer really publishes.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "builtin_domains.hpp"
#include "builtin_views.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/clock.hpp"

namespace evring {
namespace {

using Bytes = std::vector<std::byte>;
using Words = std::vector<std::string>;
using json = nlohmann::json;
using ::testing::HasSubstr;

int append_text(void* context, const void* data, std::size_t size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  return 0;
}

int append_bytes(void* context, const void* data, std::size_t size) {
  auto* out = static_cast<Bytes*>(context);
  const auto* first = static_cast<const std::byte*>(data);
  out->insert(out->end(), first, first + size);
  return 0;
}

std::uint64_t test_seed() {
  if (const char* env = std::getenv("EVRING_VIEW_SEED")) return std::strtoull(env, nullptr, 10);
  return 20261127;
}

std::uint64_t announce_seed() {
  const std::uint64_t seed = test_seed();
  std::printf("seed %llu (replay with EVRING_VIEW_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

struct PublishedEvent {
  std::uint32_t type = 0;
  Bytes payload;
};

// What one call through the table gave back: a status, the JSON reply (queries) and the
// message (refusals).
struct Outcome {
  int status = EVRING_OK;
  std::string reply;
  std::string message;
};

// The outcome of create(): the view, or why there is none.
struct Created {
  void* view = nullptr;
  std::string message;
};

Created create_view(std::string_view name, const char* config) {
  const evring_view_v1* table = find_builtin_view(name);
  if (table == nullptr) throw std::runtime_error("no built-in view " + std::string(name));
  Created created;
  evring_sink error{&created.message, append_text};
  created.view = table->create(config, &error);
  return created;
}

// One view, created and destroyed through its C table, fed events with increasing seqs.
class View {
 public:
  explicit View(std::string_view name, const char* config = nullptr)
      : table_(find_builtin_view(name)) {
    Created created = create_view(name, config);
    if (created.view == nullptr) throw std::runtime_error("create failed: " + created.message);
    view_ = created.view;
  }
  ~View() { table_->destroy(view_); }
  View(const View&) = delete;
  View& operator=(const View&) = delete;

  Outcome on_event(std::uint32_t type, std::span<const std::byte> payload,
                   std::int64_t publish_ns = 0) {
    return on_event(next_seq_, type, payload, publish_ns);
  }

  Outcome on_event(std::uint64_t seq, std::uint32_t type, std::span<const std::byte> payload,
                   std::int64_t publish_ns) {
    next_seq_ = seq + 1;
    const evring_event event{seq, type, 0, publish_ns, payload.data(), payload.size()};
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->on_event(view_, &event, &error);
    return outcome;
  }

  // on_event, expecting success.
  void apply(std::uint32_t type, std::span<const std::byte> payload, std::int64_t publish_ns = 0) {
    const Outcome outcome = on_event(type, payload, publish_ns);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
  }
  void apply(const PublishedEvent& event) { apply(event.type, event.payload); }
  void apply(const std::vector<PublishedEvent>& events) {
    for (const PublishedEvent& event : events) apply(event);
  }

  Outcome query(const Words& words) const {
    std::vector<const char*> pointers;
    for (const std::string& word : words) pointers.push_back(word.c_str());
    Outcome outcome;
    evring_sink reply{&outcome.reply, append_text};
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->query(view_, pointers.data(), pointers.size(), &reply, &error);
    return outcome;
  }

  // query, expecting one JSON value back.
  json ask(const Words& words) const {
    const Outcome outcome = query(words);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    EXPECT_TRUE(json::accept(outcome.reply)) << outcome.reply;
    return json::parse(outcome.reply, nullptr, false);
  }

  Bytes snapshot() const {
    Bytes bytes;
    evring_sink out{&bytes, append_bytes};
    EXPECT_EQ(table_->snapshot(view_, &out), EVRING_OK);
    return bytes;
  }

  Outcome restore(std::span<const std::byte> bytes) {
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->restore(view_, bytes.data(), bytes.size(), &error);
    return outcome;
  }

 private:
  const evring_view_v1* table_;
  void* view_ = nullptr;
  std::uint64_t next_seq_ = 1;
};

// A built-in domain, driven as the writer drives it: parse, handle, apply each event.
class Writer {
 public:
  explicit Writer(std::string_view name) : table_(find_builtin_domain(name)) {
    std::string error;
    evring_sink sink{&error, append_text};
    model_ = table_->create(nullptr, &sink);
    if (model_ == nullptr) throw std::runtime_error("create failed: " + error);
  }
  ~Writer() { table_->destroy(model_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // The events of the command, or none if the domain refused it.
  std::vector<PublishedEvent> submit(const Words& words) {
    std::vector<const char*> pointers;
    for (const std::string& word : words) pointers.push_back(word.c_str());
    Bytes command;
    std::string error;
    evring_sink out{&command, append_bytes};
    evring_sink reason{&error, append_text};
    if (table_->parse(pointers.data(), pointers.size(), &out, &reason) != EVRING_OK) return {};
    std::vector<PublishedEvent> events;
    evring_event_sink sink{
        &events, [](void* context, std::uint32_t type, const void* payload, std::size_t size) {
          const auto* first = static_cast<const std::byte*>(payload);
          static_cast<std::vector<PublishedEvent>*>(context)->push_back(
              PublishedEvent{type, Bytes(first, first + size)});
          return 0;
        }};
    if (table_->handle(model_, command.data(), command.size(), &sink, &reason) != EVRING_OK) {
      return {};
    }
    for (const PublishedEvent& event : events) {
      EXPECT_EQ(
          table_->apply(model_, event.type, event.payload.data(), event.payload.size(), &reason),
          EVRING_OK)
          << error;
    }
    return events;
  }

  std::vector<PublishedEvent> accept(const Words& words) {
    std::vector<PublishedEvent> events = submit(words);
    EXPECT_FALSE(events.empty()) << "the domain refused " << testing::PrintToString(words);
    return events;
  }

 private:
  const evring_domain_v1* table_;
  void* model_ = nullptr;
};

std::uint32_t type_of(kv::EventType type) {
  return static_cast<std::uint32_t>(type);
}
std::uint32_t type_of(bank::EventType type) {
  return static_cast<std::uint32_t>(type);
}

Bytes garbage(std::size_t size) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(0xa5 ^ i);
  return bytes;
}

void expect_malformed(const View& view, const Words& words, std::string_view reason) {
  SCOPED_TRACE(testing::PrintToString(words));
  const Outcome outcome = view.query(words);
  EXPECT_EQ(outcome.status, EVRING_MALFORMED) << outcome.reply;
  EXPECT_THAT(outcome.message, HasSubstr(std::string(reason)));
  EXPECT_TRUE(outcome.reply.empty()) << outcome.reply;
}

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

// ---- kv ----

TEST(KvView, GetAnswersTheValueAndVersionOrNull) {
  Writer writer("kv");
  View kv("kv");
  EXPECT_EQ(kv.ask({"get", "a"}), json(nullptr));
  kv.apply(writer.accept({"put", "a", "x"}));
  EXPECT_EQ(kv.ask({"get", "a"}), json::parse(R"({"key":"a","value":"x","version":1})"));
  kv.apply(writer.accept({"put", "a", "y"}));
  kv.apply(writer.accept({"cas", "a", "2", "z"}));
  EXPECT_EQ(kv.ask({"get", "a"}), json::parse(R"({"key":"a","value":"z","version":3})"));
  EXPECT_EQ(kv.ask({"get", "b"}), json(nullptr));
  EXPECT_EQ(kv.query({"get", "a"}).reply, R"({"key":"a","value":"z","version":3})");
}

TEST(KvView, DeletedKeysAreGoneAndComeBackAtVersionOne) {
  Writer writer("kv");
  View kv("kv");
  kv.apply(writer.accept({"put", "a", "x"}));
  kv.apply(writer.accept({"put", "b", "y"}));
  EXPECT_EQ(kv.ask({"count"}), json(2));
  kv.apply(writer.accept({"del", "a"}));
  EXPECT_EQ(kv.ask({"get", "a"}), json(nullptr));
  EXPECT_EQ(kv.ask({"count"}), json(1));
  EXPECT_EQ(kv.ask({"scan", ""}).size(), 1u);
  kv.apply(writer.accept({"put", "a", "again"}));
  EXPECT_EQ(kv.ask({"get", "a"})["version"], json(1));
  EXPECT_EQ(kv.ask({"count"}), json(2));
}

TEST(KvView, ValuesComeBackAsJsonStrings) {
  Writer writer("kv");
  View kv("kv");
  const std::string value = "quote \" backslash \\ newline \n tab \t bell \x07 end";
  kv.apply(writer.accept({"put", "k", value}));
  kv.apply(writer.accept({"put", "empty", ""}));
  EXPECT_EQ(kv.ask({"get", "k"})["value"], json(value));
  EXPECT_EQ(kv.ask({"get", "empty"})["value"], json(""));
}

TEST(KvView, ScanListsTheKeysWithThePrefixInKeyOrder) {
  Writer writer("kv");
  View kv("kv");
  for (const char* key : {"b", "a/2", "ab", "a/10", "a", "c", "a/1", "A"}) {
    kv.apply(writer.accept({"put", key, std::string("v-") + key}));
  }
  const auto keys = [&](const Words& words) {
    std::vector<std::string> listed;
    for (const json& entry : kv.ask(words)) {
      EXPECT_EQ(entry["value"], json("v-" + entry["key"].get<std::string>()));
      EXPECT_EQ(entry["version"], json(1));
      listed.push_back(entry["key"].get<std::string>());
    }
    return listed;
  };
  using Keys = std::vector<std::string>;
  EXPECT_EQ(keys({"scan", "a"}), (Keys{"a", "a/1", "a/10", "a/2", "ab"}));
  EXPECT_EQ(keys({"scan", "a/"}), (Keys{"a/1", "a/10", "a/2"}));
  EXPECT_EQ(keys({"scan", "a/1"}), (Keys{"a/1", "a/10"}));
  EXPECT_EQ(keys({"scan", ""}), (Keys{"A", "a", "a/1", "a/10", "a/2", "ab", "b", "c"}));
  EXPECT_EQ(keys({"scan", "", "3"}), (Keys{"A", "a", "a/1"}));
  EXPECT_EQ(keys({"scan", "a", "1"}), (Keys{"a"}));
  EXPECT_EQ(keys({"scan", "b", "10000"}), (Keys{"b"}));
  EXPECT_EQ(keys({"scan", "zz"}), Keys{});
  EXPECT_EQ(keys({"scan", "0"}), Keys{});
  EXPECT_EQ(kv.query({"scan", "zz"}).reply, "[]");
}

TEST(KvView, ScanListsAHundredKeysUnlessToldOtherwise) {
  Writer writer("kv");
  View kv("kv");
  for (int i = 0; i < 250; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%03d", i);
    kv.apply(writer.accept({"put", key, "v"}));
  }
  const json first = kv.ask({"scan", "k"});
  ASSERT_EQ(first.size(), 100u);
  EXPECT_EQ(first.front()["key"], json("k000"));
  EXPECT_EQ(first.back()["key"], json("k099"));
  EXPECT_EQ(kv.ask({"scan", "k", "10000"}).size(), 250u);
  EXPECT_EQ(kv.ask({"scan", "k1", "200"}).size(), 100u);
  EXPECT_EQ(kv.ask({"count"}), json(250));
}

TEST(KvView, UnknownOrBadWordsSayWhatTheViewAnswers) {
  View kv("kv");
  expect_malformed(kv, {}, "empty kv query: expected get KEY, scan PREFIX [LIMIT] or count");
  expect_malformed(kv, {"put", "a", "x"},
                   R"(unknown kv query "put": expected get KEY, scan PREFIX [LIMIT] or count)");
  expect_malformed(kv, {"GET", "a"}, R"(unknown kv query "GET")");
  expect_malformed(kv, {"get"}, "expected 2 words (get KEY), got 1");
  expect_malformed(kv, {"get", "a", "b"}, "expected 2 words (get KEY), got 3");
  expect_malformed(kv, {"scan"}, "expected 2 or 3 words (scan PREFIX [LIMIT]), got 1");
  expect_malformed(kv, {"scan", "a", "1", "2"}, "got 4");
  expect_malformed(kv, {"scan", "a", "0"}, "scan limit 0 is out of range (1 to 10000)");
  expect_malformed(kv, {"scan", "a", "10001"}, "scan limit 10001 is out of range (1 to 10000)");
  expect_malformed(kv, {"scan", "a", "ten"}, R"(scan limit "ten" is not a whole number)");
  expect_malformed(kv, {"scan", "a", "-1"}, R"(scan limit "-1" is not a whole number)");
  expect_malformed(kv, {"count", "a"}, "expected 1 words (count), got 2");
}

TEST(KvView, FollowsARandomWorkloadOfTheKvDomain) {
  std::mt19937_64 random(announce_seed());
  Writer writer("kv");
  View kv("kv");
  struct Entry {
    std::string value;
    std::uint64_t version = 0;
  };
  std::map<std::string, Entry> expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "key" + std::to_string(random() % 60);
    const std::string value = "v" + std::to_string(random() % 1000);
    const auto found = expected.find(key);
    const std::uint64_t version = found == expected.end() ? 0 : found->second.version;
    switch (random() % 4) {
      case 0:
        if (kv.ask({"count"}) != json(expected.size())) FAIL() << "count at step " << i;
        kv.apply(writer.submit({"del", key}));
        expected.erase(key);
        break;
      case 1:
        kv.apply(writer.submit({"cas", key, std::to_string(version), value}));
        expected[key] = Entry{value, version + 1};
        break;
      default:
        kv.apply(writer.submit({"put", key, value}));
        expected[key] = Entry{value, version + 1};
    }
  }
  json listing = json::array();
  for (const auto& [key, entry] : expected) {
    listing.push_back(json{{"key", key}, {"value", entry.value}, {"version", entry.version}});
    EXPECT_EQ(kv.ask({"get", key}), listing.back());
  }
  EXPECT_EQ(kv.ask({"scan", "", "10000"}), listing);
  EXPECT_EQ(kv.ask({"count"}), json(expected.size()));
}

// Thousands of keys coming and going: the hash map grows, and erasing moves other keys
// within it, so every lookup and the ordered listing are checked against a std::map.
TEST(KvView, KeepsEveryKeyThroughHeavyChurn) {
  std::mt19937_64 random(announce_seed());
  View kv("kv");
  std::map<std::string, std::uint64_t> expected;  // key -> version
  for (int i = 0; i < 60000; ++i) {
    const std::string key = "k" + std::to_string(random() % 4000);
    const auto found = expected.find(key);
    if (found != expected.end() && random() % 3 == 0) {
      kv.apply(type_of(kv::EventType::deleted), kv::encode(kv::DeletedEvent{key, found->second}));
      expected.erase(found);
    } else {
      const std::uint64_t version = found == expected.end() ? 1 : found->second + 1;
      kv.apply(type_of(kv::EventType::put), kv::encode(kv::PutEvent{key, key, version}));
      expected[key] = version;
    }
  }
  ASSERT_EQ(kv.ask({"count"}), json(expected.size()));
  for (int i = 0; i < 4000; ++i) {
    const std::string key = "k" + std::to_string(i);
    const auto found = expected.find(key);
    const json got = kv.ask({"get", key});
    if (found == expected.end()) {
      EXPECT_EQ(got, json(nullptr)) << key;
    } else {
      EXPECT_EQ(got, (json{{"key", key}, {"value", key}, {"version", found->second}}));
    }
  }
  const json listing = kv.ask({"scan", "k", "10000"});
  ASSERT_EQ(listing.size(), expected.size());
  auto next = expected.begin();
  for (const json& entry : listing) EXPECT_EQ(entry["key"], json((next++)->first));
}

TEST(KvView, ASnapshotRestoresTheSameView) {
  Writer writer("kv");
  View kv("kv");
  for (int i = 0; i < 300; ++i) {
    kv.apply(writer.accept({"put", "k" + std::to_string(i % 97), "v" + std::to_string(i)}));
  }
  kv.apply(writer.accept({"del", "k5"}));
  const Bytes bytes = kv.snapshot();

  View restored("kv");
  const Outcome outcome = restored.restore(bytes);
  ASSERT_EQ(outcome.status, EVRING_OK) << outcome.message;
  EXPECT_EQ(restored.snapshot(), bytes);
  EXPECT_EQ(restored.ask({"scan", "", "10000"}), kv.ask({"scan", "", "10000"}));
  EXPECT_EQ(restored.ask({"count"}), json(96));
  EXPECT_EQ(restored.ask({"get", "k5"}), json(nullptr));

  // The restored view carries on from where the snapshot was taken.
  const std::vector<PublishedEvent> later = writer.accept({"put", "k1", "later"});
  for (View* view : {&kv, &restored}) view->apply(later);
  EXPECT_EQ(restored.snapshot(), kv.snapshot());

  // An empty view round-trips too, and restoring replaces what was there.
  View empty("kv");
  ASSERT_EQ(restored.restore(empty.snapshot()).status, EVRING_OK);
  EXPECT_EQ(restored.ask({"count"}), json(0));
  EXPECT_EQ(restored.ask({"scan", ""}), json::array());
}

TEST(KvView, MalformedSnapshotsAreRefusedAndLeaveTheViewAsItWas) {
  Writer writer("kv");
  View kv("kv");
  kv.apply(writer.accept({"put", "a", "x"}));
  kv.apply(writer.accept({"put", "b", "y"}));
  const Bytes good = kv.snapshot();

  Bytes truncated(good.begin(), good.end() - 1);
  Bytes trailing = good;
  trailing.push_back(std::byte{0});
  Bytes wrong_magic = good;
  wrong_magic[0] ^= std::byte{1};
  // Count 2 with the same entry twice.
  View single("kv");
  single.apply(writer.accept({"put", "c", "z"}));
  Bytes twice = single.snapshot();
  twice[4] = std::byte{2};
  const Bytes entry(twice.begin() + 12, twice.end());
  twice.insert(twice.end(), entry.begin(), entry.end());

  const struct {
    Bytes bytes;
    std::string reason;
  } cases[] = {
      {{}, "kv view snapshot is truncated"},
      {truncated, "kv view snapshot is truncated"},
      {trailing, "1 unexpected bytes at its end"},
      {wrong_magic, "does not start with the kv view snapshot magic"},
      {twice, R"(kv view snapshot has key "c" twice)"},
      {garbage(64), "kv view snapshot"},
  };
  View target("kv");
  target.apply(writer.accept({"put", "kept", "1"}));
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    const Outcome outcome = target.restore(c.bytes);
    EXPECT_EQ(outcome.status, EVRING_FAILED);
    EXPECT_THAT(outcome.message, HasSubstr(c.reason));
    EXPECT_EQ(target.ask({"scan", ""}), json::parse(R"([{"key":"kept","value":"1","version":1}])"));
  }
  ASSERT_EQ(target.restore(good).status, EVRING_OK);
  EXPECT_EQ(target.ask({"count"}), json(2));
}

TEST(KvView, GarbageEventsFailWithoutChangingTheView) {
  Writer writer("kv");
  View kv("kv");
  kv.apply(writer.accept({"put", "a", "x"}));
  const Bytes before = kv.snapshot();
  const Bytes put_without_version = kv::encode(kv::DeletedEvent{"a", 1});
  const struct {
    std::uint32_t type;
    Bytes payload;
    std::string reason;
  } cases[] = {
      {type_of(kv::EventType::put), {}, "kv put event is truncated"},
      {type_of(kv::EventType::put), garbage(3), "kv put event is truncated"},
      {type_of(kv::EventType::put), garbage(200), "kv put event"},
      {type_of(kv::EventType::put), put_without_version, "kv put event is truncated"},
      {type_of(kv::EventType::deleted), garbage(7), "kv deleted event is truncated"},
      {type_of(kv::EventType::deleted), kv::encode(kv::PutEvent{"a", "x", 1}),
       "kv deleted event has"},
      {9, kv::encode(kv::PutEvent{"a", "x", 1}), "kv event type 9 is unknown"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    const Outcome outcome = kv.on_event(c.type, c.payload);
    EXPECT_EQ(outcome.status, EVRING_FAILED);
    EXPECT_THAT(outcome.message, HasSubstr(c.reason));
    EXPECT_EQ(kv.snapshot(), before);
  }
}

// ---- bank ----

TEST(BankView, BalanceAnswersTheAccountOrNull) {
  Writer writer("bank");
  View bank("bank");
  EXPECT_EQ(bank.ask({"balance", "alice"}), json::parse(R"({"account":"alice","balance":null})"));
  bank.apply(writer.accept({"open", "alice"}));
  EXPECT_EQ(bank.ask({"balance", "alice"}), json::parse(R"({"account":"alice","balance":0})"));
  bank.apply(writer.accept({"deposit", "alice", "100"}));
  bank.apply(writer.accept({"withdraw", "alice", "30"}));
  bank.apply(writer.accept({"open", "bob"}));
  bank.apply(writer.accept({"transfer", "alice", "bob", "25"}));
  EXPECT_EQ(bank.query({"balance", "alice"}).reply, R"({"account":"alice","balance":45})");
  EXPECT_EQ(bank.ask({"balance", "bob"}), json::parse(R"({"account":"bob","balance":25})"));
  EXPECT_EQ(bank.ask({"balance", "carol\""}),
            json::parse(R"({"account":"carol\"","balance":null})"));
}

TEST(BankView, TopListsTheHighestBalancesFirstAndTiesByName) {
  Writer writer("bank");
  View bank("bank");
  for (const auto& [account, amount] : std::vector<std::pair<std::string, int>>{
           {"dave", 10}, {"alice", 5}, {"carol", 10}, {"bob", 10}, {"erin", 1}, {"zed", 0}}) {
    bank.apply(writer.accept({"open", account}));
    if (amount > 0) bank.apply(writer.accept({"deposit", account, std::to_string(amount)}));
  }
  EXPECT_EQ(bank.ask({"top", "4"}), json::parse(R"([
    {"account":"bob","balance":10}, {"account":"carol","balance":10},
    {"account":"dave","balance":10}, {"account":"alice","balance":5}])"));
  EXPECT_EQ(bank.ask({"top", "1"}), json::parse(R"([{"account":"bob","balance":10}])"));
  const json all = bank.ask({"top", "1000"});
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[4], json::parse(R"({"account":"erin","balance":1})"));
  EXPECT_EQ(all[5], json::parse(R"({"account":"zed","balance":0})"));

  View empty("bank");
  EXPECT_EQ(empty.query({"top", "10"}).reply, "[]");
}

TEST(BankView, UnknownOrBadWordsSayWhatTheViewAnswers) {
  View bank("bank");
  expect_malformed(bank, {}, "empty bank query: expected balance ACCOUNT, top N or total");
  expect_malformed(bank, {"deposit", "a", "1"},
                   R"(unknown bank query "deposit": expected balance ACCOUNT, top N or total)");
  expect_malformed(bank, {"balance"}, "expected 2 words (balance ACCOUNT), got 1");
  expect_malformed(bank, {"top"}, "expected 2 words (top N), got 1");
  expect_malformed(bank, {"top", "0"}, "top count 0 is out of range (1 to 1000)");
  expect_malformed(bank, {"top", "1001"}, "top count 1001 is out of range (1 to 1000)");
  expect_malformed(bank, {"top", "many"}, R"(top count "many" is not a whole number)");
  expect_malformed(bank, {"total", "now"}, "expected 1 words (total), got 2");
}

TEST(BankView, TotalIsWhatWentInLessWhatWentOutAfterARandomWorkload) {
  std::mt19937_64 random(announce_seed());
  Writer writer("bank");
  View bank("bank");
  std::map<std::string, std::int64_t> balances;  // from the events' balances
  std::int64_t deposited = 0;
  std::int64_t withdrawn = 0;
  const auto account = [&] { return "acct" + std::to_string(random() % 25); };
  for (int i = 0; i < 8000; ++i) {
    const std::string amount = std::to_string(1 + random() % 500);
    std::vector<PublishedEvent> events;
    switch (random() % 8) {
      case 0:
        events = writer.submit({"open", account()});
        break;
      case 1:
      case 2:
        events = writer.submit({"deposit", account(), amount});
        break;
      case 3:
        events = writer.submit({"withdraw", account(), amount});
        break;
      default:
        events = writer.submit({"transfer", account(), account(), amount});
    }
    for (const PublishedEvent& event : events) {
      bank.apply(event);
      switch (static_cast<bank::EventType>(event.type)) {
        case bank::EventType::opened:
          balances[std::string(bank::decode_opened_event(event.payload).account)] = 0;
          break;
        case bank::EventType::deposited: {
          const auto d = bank::decode_deposited_event(event.payload);
          balances[std::string(d.account)] = d.balance;
          deposited += d.amount;
          break;
        }
        case bank::EventType::withdrawn: {
          const auto w = bank::decode_withdrawn_event(event.payload);
          balances[std::string(w.account)] = w.balance;
          withdrawn += w.amount;
          break;
        }
        case bank::EventType::transferred: {
          const auto t = bank::decode_transferred_event(event.payload);
          balances[std::string(t.from)] = t.from_balance;
          balances[std::string(t.to)] = t.to_balance;
          break;
        }
      }
    }
    if (i % 1000 == 999) {
      const json total = bank.ask({"total"});
      EXPECT_EQ(total["total"].get<std::int64_t>(),
                total["deposited"].get<std::int64_t>() - total["withdrawn"].get<std::int64_t>())
          << total;
    }
  }
  std::int64_t sum = 0;
  for (const auto& [holder, balance] : balances) {
    sum += balance;
    EXPECT_EQ(bank.ask({"balance", holder}), json({{"account", holder}, {"balance", balance}}));
  }
  ASSERT_GT(deposited, 0);
  ASSERT_GT(withdrawn, 0);
  EXPECT_EQ(bank.ask({"total"}), json({{"total", sum},
                                       {"deposited", deposited},
                                       {"withdrawn", withdrawn},
                                       {"accounts", balances.size()}}));
  EXPECT_EQ(sum, deposited - withdrawn);
}

TEST(BankView, TotalsPastTheLargestI64AreExact) {
  Writer writer("bank");
  View bank("bank");
  const std::string largest = std::to_string(std::numeric_limits<std::int64_t>::max());
  for (const char* holder : {"a", "b", "c"}) {
    bank.apply(writer.accept({"open", holder}));
    bank.apply(writer.accept({"deposit", holder, largest}));
  }
  bank.apply(writer.accept({"withdraw", "a", "7"}));
  // 3 * (2^63 - 1) = 27670116110564327421; less 7.
  const Outcome total = bank.query({"total"});
  EXPECT_EQ(total.reply, R"({"total":27670116110564327414,"deposited":27670116110564327421,)"
                         R"("withdrawn":7,"accounts":3})");
  View restored("bank");
  ASSERT_EQ(restored.restore(bank.snapshot()).status, EVRING_OK);
  EXPECT_EQ(restored.query({"total"}).reply, total.reply);
}

TEST(BankView, ASnapshotRestoresTheSameView) {
  Writer writer("bank");
  View bank("bank");
  for (int i = 0; i < 40; ++i) {
    const std::string holder = "acct" + std::to_string(i);
    bank.apply(writer.accept({"open", holder}));
    bank.apply(writer.accept({"deposit", holder, std::to_string(100 + i)}));
  }
  bank.apply(writer.accept({"withdraw", "acct3", "50"}));
  bank.apply(writer.accept({"transfer", "acct4", "acct5", "60"}));
  const Bytes bytes = bank.snapshot();

  View restored("bank");
  const Outcome outcome = restored.restore(bytes);
  ASSERT_EQ(outcome.status, EVRING_OK) << outcome.message;
  EXPECT_EQ(restored.snapshot(), bytes);
  EXPECT_EQ(restored.ask({"top", "1000"}), bank.ask({"top", "1000"}));
  EXPECT_EQ(restored.ask({"total"}), bank.ask({"total"}));

  for (const std::string_view bad :
       {std::string_view(), std::string_view("\x62\x6b\x56\x31", 4), std::string_view("xyz")}) {
    const Bytes bad_bytes(reinterpret_cast<const std::byte*>(bad.data()),
                          reinterpret_cast<const std::byte*>(bad.data()) + bad.size());
    const Outcome refused = restored.restore(bad_bytes);
    EXPECT_EQ(refused.status, EVRING_FAILED);
    EXPECT_THAT(refused.message, HasSubstr("bank view snapshot"));
  }
  Bytes truncated(bytes.begin(), bytes.end() - 3);
  EXPECT_EQ(restored.restore(truncated).status, EVRING_FAILED);
  EXPECT_EQ(restored.snapshot(), bytes);
}

TEST(BankView, GarbageEventsFailWithoutChangingTheView) {
  Writer writer("bank");
  View bank("bank");
  bank.apply(writer.accept({"open", "a"}));
  bank.apply(writer.accept({"deposit", "a", "10"}));
  const Bytes before = bank.snapshot();
  const struct {
    std::uint32_t type;
    Bytes payload;
    std::string reason;
  } cases[] = {
      {type_of(bank::EventType::opened), {}, "bank opened event is truncated"},
      {type_of(bank::EventType::opened), bank::encode(bank::DepositedEvent{"a", 1, 11}),
       "bank opened event has 16 unexpected bytes"},
      {type_of(bank::EventType::deposited), garbage(5), "bank deposited event is truncated"},
      {type_of(bank::EventType::withdrawn), garbage(300), "bank withdrawn event"},
      {type_of(bank::EventType::transferred), bank::encode(bank::OpenedEvent{"a"}),
       "bank transferred event is truncated"},
      {0, bank::encode(bank::OpenedEvent{"b"}), "bank event type 0 is unknown"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    const Outcome outcome = bank.on_event(c.type, c.payload);
    EXPECT_EQ(outcome.status, EVRING_FAILED);
    EXPECT_THAT(outcome.message, HasSubstr(c.reason));
    EXPECT_EQ(bank.snapshot(), before);
  }
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
