// The built-in kv domain (domains/kv), driven through the C table the writer uses.
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "domain_table.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/codec.hpp"

namespace evring {
namespace {

using namespace domain_testing;

// Fields copied out of an event, which may then be a temporary.
std::uint64_t put_version(const Event& event) {
  return kv::decode_put_event(event.payload).version;
}
std::uint64_t deleted_version(const Event& event) {
  return kv::decode_deleted_event(event.payload).version;
}

// ---- kv ----

TEST(KvDomain, PutStartsAtVersionOneAndEachPutAddsOne) {
  Domain kv("kv");
  const Event first = kv.accept({"put", "a", "x"});
  EXPECT_EQ(first.type, type_of(kv::EventType::put));
  EXPECT_EQ(kv.describe(first), R"({"type":"put","key":"a","value":"x","version":1})");

  const Event second = kv.accept({"put", "a", "y"});
  const kv::PutEvent put = kv::decode_put_event(second.payload);
  EXPECT_EQ(put.key, "a");
  EXPECT_EQ(put.value, "y");
  EXPECT_EQ(put.version, 2u);

  // Versions are per key.
  EXPECT_EQ(put_version(kv.accept({"put", "b", "z"})), 1u);
  EXPECT_EQ(put_version(kv.accept({"put", "a", ""})), 3u);
}

TEST(KvDomain, HandleDecidesWithoutChangingTheModel) {
  Domain kv("kv");
  Bytes command;
  ASSERT_EQ(kv.parse({"put", "a", "x"}, command).status, EVRING_OK);
  const Outcome first = kv.handle(command);
  const Outcome again = kv.handle(command);
  ASSERT_EQ(first.events.size(), 1u);
  ASSERT_EQ(again.events.size(), 1u);
  EXPECT_EQ(first.events[0].payload, again.events[0].payload);
  EXPECT_EQ(kv::decode_put_event(again.events[0].payload).version, 1u);

  ASSERT_EQ(kv.apply(first.events[0].type, first.events[0].payload).status, EVRING_OK);
  EXPECT_EQ(kv::decode_put_event(kv.handle(command).events.at(0).payload).version, 2u);
}

TEST(KvDomain, DelRemovesTheKeyAndALaterPutStartsAgainAtOne) {
  Domain kv("kv");
  kv.accept({"put", "a", "x"});
  kv.accept({"put", "a", "y"});
  const Event deleted = kv.accept({"del", "a"});
  EXPECT_EQ(deleted.type, type_of(kv::EventType::deleted));
  EXPECT_EQ(kv.describe(deleted), R"({"type":"deleted","key":"a","version":2})");
  const kv::DeletedEvent event = kv::decode_deleted_event(deleted.payload);
  EXPECT_EQ(event.key, "a");
  EXPECT_EQ(event.version, 2u);

  expect_refused(kv.submit({"del", "a"}), EVRING_REJECTED, R"(no such key "a")");
  EXPECT_EQ(put_version(kv.accept({"put", "a", "z"})), 1u);
}

TEST(KvDomain, DelOfAKeyThatNeverExistedIsRejected) {
  Domain kv("kv");
  kv.accept({"put", "a", "x"});
  expect_refused(kv.submit({"del", "ghost"}), EVRING_REJECTED, R"(no such key "ghost")");
  // The rejection left "a" alone.
  EXPECT_EQ(put_version(kv.accept({"cas", "a", "1", "y"})), 2u);
}

TEST(KvDomain, CasOnVersionZeroCreatesAKeyThatMustNotExist) {
  Domain kv("kv");
  const Event created_event = kv.accept({"cas", "a", "0", "v"});
  const kv::PutEvent created = kv::decode_put_event(created_event.payload);
  EXPECT_EQ(created.value, "v");
  EXPECT_EQ(created.version, 1u);
  expect_refused(kv.submit({"cas", "a", "0", "w"}), EVRING_REJECTED,
                 R"(version mismatch: key "a" is at version 1, not 0)");
}

TEST(KvDomain, CasWritesOnlyOnTheCurrentVersion) {
  Domain kv("kv");
  for (const char* value : {"1", "2", "3"}) kv.accept({"put", "a", value});
  expect_refused(kv.submit({"cas", "a", "2", "z"}), EVRING_REJECTED,
                 R"(version mismatch: key "a" is at version 3, not 2)");
  expect_refused(kv.submit({"cas", "a", "4", "z"}), EVRING_REJECTED,
                 R"(version mismatch: key "a" is at version 3, not 4)");
  const Event written = kv.accept({"cas", "a", "3", "z"});
  EXPECT_EQ(kv.describe(written), R"({"type":"put","key":"a","value":"z","version":4})");
  expect_refused(kv.submit({"cas", "a", "3", "again"}), EVRING_REJECTED,
                 R"(key "a" is at version 4, not 3)");
}

TEST(KvDomain, CasOnAMissingKeySaysItIsAtVersionZero) {
  Domain kv("kv");
  expect_refused(kv.submit({"cas", "ghost", "5", "v"}), EVRING_REJECTED,
                 R"(version mismatch: key "ghost" is at version 0, not 5)");
  kv.accept({"put", "a", "x"});
  kv.accept({"del", "a"});
  expect_refused(kv.submit({"cas", "a", "1", "v"}), EVRING_REJECTED,
                 R"(key "a" is at version 0, not 1)");
  EXPECT_EQ(put_version(kv.accept({"cas", "a", "0", "v"})), 1u);
}

TEST(KvDomain, KeysAndValuesAtTheirLimitsAreAccepted) {
  Domain kv("kv");
  const std::string key(kv::kMaxKeyBytes, 'k');
  const std::string value(kv::kMaxValueBytes, 'v');
  const Event largest = kv.accept({"put", key, value});
  const kv::PutEvent put = kv::decode_put_event(largest.payload);
  EXPECT_EQ(put.key, key);
  EXPECT_EQ(put.value, value);
  const Event empty = kv.accept({"put", "e", ""});
  EXPECT_EQ(kv::decode_put_event(empty.payload).value, "");
  EXPECT_EQ(deleted_version(kv.accept({"del", key})), 1u);
}

TEST(KvDomain, MalformedTextCommandsSayWhatIsWrong) {
  const std::string long_key(kv::kMaxKeyBytes + 1, 'k');
  const std::string long_value(kv::kMaxValueBytes + 1, 'v');
  const struct {
    Words words;
    std::string reason;
  } cases[] = {
      {{}, "empty kv command: expected put KEY VALUE, del KEY or cas KEY VERSION VALUE"},
      {{"get", "a"},
       R"(unknown kv command "get": expected put KEY VALUE, del KEY or cas KEY VERSION VALUE)"},
      {{"PUT", "a", "x"}, R"(unknown kv command "PUT")"},
      {{"put", "a"}, "expected 3 words (put KEY VALUE), got 2"},
      {{"put", "a", "x", "y"}, "expected 3 words (put KEY VALUE), got 4"},
      {{"del"}, "expected 2 words (del KEY), got 1"},
      {{"del", "a", "b"}, "expected 2 words (del KEY), got 3"},
      {{"cas", "a", "1"}, "expected 4 words (cas KEY VERSION VALUE), got 3"},
      {{"cas", "a", "1", "x", "y"}, "expected 4 words (cas KEY VERSION VALUE), got 5"},
      {{"cas", "a", "one", "x"}, R"(version "one" is not a whole number)"},
      {{"cas", "a", "1x", "x"}, R"(version "1x" is not a whole number)"},
      {{"cas", "a", "", "x"}, R"(version "" is not a whole number)"},
      {{"cas", "a", "-1", "x"}, R"(version "-1" is not a whole number)"},
      {{"cas", "a", "18446744073709551616", "x"},
       R"(version "18446744073709551616" is out of range)"},
      {{"put", "", "x"}, "kv key is empty: keys are 1 to 256 bytes"},
      {{"del", ""}, "kv key is empty"},
      {{"put", long_key, "x"}, "kv key is 257 bytes, more than the limit of 256"},
      {{"del", long_key}, "more than the limit of 256"},
      {{"cas", long_key, "0", "x"}, "more than the limit of 256"},
      {{"put", "a", long_value}, "kv value is 4097 bytes, more than the limit of 4096"},
      {{"cas", "a", "0", long_value}, "more than the limit of 4096"},
  };
  Domain kv("kv");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    expect_refused(kv.submit(c.words), EVRING_MALFORMED, c.reason);
  }
}

TEST(KvDomain, BinaryCommandsAreCheckedLikeText) {
  Domain kv("kv");
  // A client's own encoding goes straight to handle().
  EXPECT_EQ(kv.submit(kv::encode(kv::CasCommand{"a", 0, "v"})).status, EVRING_OK);
  EXPECT_EQ(kv.submit(kv::encode(kv::PutCommand{"a", "w"})).status, EVRING_OK);
  EXPECT_EQ(kv.submit(kv::encode(kv::DelCommand{"a"})).status, EVRING_OK);

  const Bytes put = kv::encode(kv::PutCommand{"a", "v"});
  Bytes truncated(put.begin(), put.end() - 1);
  Bytes trailing = put;
  trailing.push_back(std::byte{0});
  const std::string long_key(300, 'k');
  const std::string long_value(5000, 'v');
  ByteWriter oversized_key;
  oversized_key.put(static_cast<std::uint8_t>(kv::CommandKind::put))
      .put_text(long_key)
      .put_text("v");
  ByteWriter oversized_value;
  oversized_value.put(static_cast<std::uint8_t>(kv::CommandKind::cas))
      .put_text("a")
      .put(std::uint64_t{0})
      .put_text(long_value);
  ByteWriter empty_key;
  empty_key.put(static_cast<std::uint8_t>(kv::CommandKind::del)).put_text("");

  expect_refused(kv.handle(Bytes{}), EVRING_MALFORMED, "kv command is truncated");
  expect_refused(kv.handle(Bytes{std::byte{9}}), EVRING_MALFORMED,
                 "kv command kind 9 is unknown (known: 1 put, 2 del, 3 cas)");
  expect_refused(kv.handle(Bytes{std::byte{0}}), EVRING_MALFORMED, "kv command kind 0 is unknown");
  expect_refused(kv.handle(truncated), EVRING_MALFORMED, "kv command is truncated");
  expect_refused(kv.handle(trailing), EVRING_MALFORMED, "1 unexpected bytes at its end");
  expect_refused(kv.handle(oversized_key.bytes()), EVRING_MALFORMED, "limit of 256");
  expect_refused(kv.handle(oversized_value.bytes()), EVRING_MALFORMED, "limit of 4096");
  expect_refused(kv.handle(empty_key.bytes()), EVRING_MALFORMED, "kv key is empty");

  // Encoding refuses what decoding would.
  EXPECT_THROW(kv::encode(kv::PutCommand{long_key, "v"}), MalformedInput);
  EXPECT_THROW(kv::encode(kv::PutEvent{"a", long_value, 1}), MalformedInput);
}

TEST(KvDomain, EventsRoundTripThroughThePublicHeader) {
  const Bytes put_bytes = kv::encode(kv::PutEvent{"key", "value", 7});
  const kv::PutEvent put = kv::decode_put_event(put_bytes);
  EXPECT_EQ(put.key, "key");
  EXPECT_EQ(put.value, "value");
  EXPECT_EQ(put.version, 7u);
  const Bytes deleted_bytes = kv::encode(kv::DeletedEvent{"k", 9});
  const kv::DeletedEvent deleted = kv::decode_deleted_event(deleted_bytes);
  EXPECT_EQ(deleted.key, "k");
  EXPECT_EQ(deleted.version, 9u);

  EXPECT_THROW(kv::decode_put_event(std::span(put_bytes).first(put_bytes.size() - 1)),
               MalformedInput);
  EXPECT_THROW(kv::decode_deleted_event(put_bytes), MalformedInput);
  EXPECT_THROW(kv::decode_put_event(briefly(kv::encode(kv::PutEvent{"k", "v", 0}))),
               MalformedInput);
  EXPECT_THROW(kv::decode_deleted_event(briefly(kv::encode(kv::DeletedEvent{"k", 0}))),
               MalformedInput);

  const Bytes command_bytes = kv::encode(kv::CasCommand{"k", 12, "v"});
  const auto command = kv::decode_command(command_bytes);
  const auto& cas = std::get<kv::CasCommand>(command);
  EXPECT_EQ(cas.key, "k");
  EXPECT_EQ(cas.expected_version, 12u);
  EXPECT_EQ(cas.value, "v");
}

TEST(KvDomain, DescribeWritesJsonStringsEscaped) {
  Domain kv("kv");
  const Event put = kv.accept({"put", "we\"ird\\", "line\nbreak\t\x01"});
  EXPECT_EQ(kv.describe(put),
            R"({"type":"put","key":"we\"ird\\","value":"line\nbreak\t\u0001","version":1})");

  const Outcome unknown = kv.describe(7, put.payload);
  EXPECT_EQ(unknown.status, EVRING_FAILED);
  EXPECT_THAT(unknown.message, HasSubstr("kv event type 7 is unknown"));
  const Outcome mismatched = kv.describe(type_of(kv::EventType::deleted), put.payload);
  EXPECT_EQ(mismatched.status, EVRING_FAILED);
  EXPECT_THAT(mismatched.message, HasSubstr("kv deleted event"));
}

TEST(KvDomain, ApplyFailsOnEventsOutOfStepWithTheModel) {
  Domain kv("kv");
  const auto put = [&](std::uint64_t version) {
    return kv.apply(type_of(kv::EventType::put), kv::encode(kv::PutEvent{"a", "v", version}));
  };
  const auto del = [&](std::uint64_t version) {
    return kv.apply(type_of(kv::EventType::deleted), kv::encode(kv::DeletedEvent{"a", version}));
  };
  expect_refused(put(2), EVRING_FAILED, "carries version 2 where the model expects 1");
  expect_refused(del(1), EVRING_FAILED, "carries version 1 where the model expects 0");
  EXPECT_EQ(put(1).status, EVRING_OK);
  expect_refused(put(1), EVRING_FAILED, "where the model expects 2");
  expect_refused(del(3), EVRING_FAILED, "carries version 3 where the model expects 1");
  expect_refused(kv.apply(9, Bytes{}), EVRING_FAILED, "kv event type 9 is unknown");
  // An event that does not decode is a failure too, not a refusal.
  expect_refused(kv.apply(type_of(kv::EventType::put), Bytes{std::byte{1}}), EVRING_FAILED,
                 "kv put event is truncated");
  // None of it changed the model.
  expect_refused(kv.submit({"cas", "a", "2", "x"}), EVRING_REJECTED, "is at version 1, not 2");
  EXPECT_EQ(del(1).status, EVRING_OK);
}

TEST(KvDomain, SnapshotRestoresTheSameState) {
  Domain kv("kv");
  std::map<std::string, std::uint64_t> versions;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key" + std::to_string(i % 37);
    if (i % 11 == 10 && versions.contains(key)) {
      kv.accept({"del", key});
      versions.erase(key);
    } else {
      kv.accept({"put", key, "value" + std::to_string(i)});
      ++versions[key];
    }
  }
  const Bytes snapshot = kv.snapshot();

  Domain restored("kv");
  ASSERT_EQ(restored.restore(snapshot).status, EVRING_OK);
  EXPECT_EQ(restored.snapshot(), snapshot);
  for (int i = 0; i < 37; ++i) {
    const std::string key = "key" + std::to_string(i);
    const std::uint64_t version = versions.contains(key) ? versions[key] : 0;
    SCOPED_TRACE(key);
    // The same decisions from both: a wrong version names the same current one...
    const Words wrong{"cas", key, std::to_string(version + 5), "x"};
    const Outcome original_refusal = kv.submit(wrong);
    expect_refused(restored.submit(wrong), EVRING_REJECTED, original_refusal.message);
    EXPECT_THAT(original_refusal.message, HasSubstr("at version " + std::to_string(version)));
    // ...and the right one writes the next version.
    const Event written = restored.accept({"cas", key, std::to_string(version), "x"});
    EXPECT_EQ(kv::decode_put_event(written.payload).version, version + 1);
  }

  Domain empty("kv");
  Domain empty_restored("kv");
  ASSERT_EQ(empty_restored.restore(empty.snapshot()).status, EVRING_OK);
  EXPECT_EQ(empty_restored.snapshot(), empty.snapshot());
}

TEST(KvDomain, RestoreRefusesMalformedSnapshotsAndKeepsItsState) {
  Domain kv("kv");
  kv.accept({"put", "a", "x"});
  kv.accept({"put", "b", "y"});
  const Bytes good = kv.snapshot();

  const auto snapshot_of = [&](std::uint64_t count, auto&& entries) {
    return snapshot_like(good, 4, count, entries);  // after the magic
  };
  Bytes wrong_magic = good;
  wrong_magic[0] ^= std::byte{0xff};
  Bytes trailing = good;
  trailing.push_back(std::byte{0});
  const MalformedSnapshot cases[] = {
      {{}, "kv snapshot is truncated"},
      {wrong_magic, "does not start with the kv snapshot magic"},
      {Bytes(good.begin(), good.end() - 1), "kv snapshot is truncated"},
      {trailing, "1 unexpected bytes at its end"},
      {snapshot_of(3, [](ByteWriter&) {}), "kv snapshot is truncated"},
      {snapshot_of(2,
                   [](ByteWriter& out) {
                     out.put_text("a").put(std::uint64_t{1}).put_text("x");
                     out.put_text("a").put(std::uint64_t{2}).put_text("y");
                   }),
       R"(kv snapshot has key "a" twice)"},
      {snapshot_of(1,
                   [](ByteWriter& out) { out.put_text("a").put(std::uint64_t{0}).put_text("x"); }),
       "at version 0"},
      {snapshot_of(1,
                   [](ByteWriter& out) { out.put_text("").put(std::uint64_t{1}).put_text("x"); }),
       "kv key is empty"},
      {snapshot_of(std::numeric_limits<std::uint64_t>::max(), [](ByteWriter&) {}),
       "kv snapshot is truncated"},
  };
  Domain target("kv");
  expect_restores_refused(target, good, cases);
}

TEST(KvDomain, GarbageNeverCrashesIt) {
  const std::uint64_t seed = announce_seed();
  const std::vector<Bytes> commands{
      kv::encode(kv::PutCommand{"a", "value"}), kv::encode(kv::PutCommand{"b", ""}),
      kv::encode(kv::DelCommand{"a"}), kv::encode(kv::CasCommand{"a", 1, "v"}),
      kv::encode(kv::CasCommand{"b", 0, "v"})};
  const std::vector<Event> events{
      {type_of(kv::EventType::put), kv::encode(kv::PutEvent{"a", "value", 1})},
      {type_of(kv::EventType::put), kv::encode(kv::PutEvent{"b", "v", 2})},
      {type_of(kv::EventType::deleted), kv::encode(kv::DeletedEvent{"a", 1})}};
  feed_garbage("kv", commands, events, seed);
}

}  // namespace
}  // namespace evring
