// The built-in kv view (domains/kv), driven through the C table evring-reader uses, with
// events from the kv domain's own table.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/builtin/kv_events.hpp"
#include "view_table.hpp"

namespace evring {
namespace {

using namespace view_testing;

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

}  // namespace
}  // namespace evring
