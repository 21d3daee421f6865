// The built-in kv and bank domains, driven through the C table the writer uses, so the
// C++ adapter (exceptions to statuses, sinks) is tested along with the rules.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

#include "builtin_domains.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/codec.hpp"

namespace evring {
namespace {

using Bytes = std::vector<std::byte>;
using Words = std::vector<std::string>;
using ::testing::HasSubstr;

constexpr std::int64_t kMaxI64 = std::numeric_limits<std::int64_t>::max();

struct Event {
  std::uint32_t type = 0;
  Bytes payload;
};

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

int collect_event(void* context, std::uint32_t type, const void* payload, std::size_t size) {
  const auto* first = static_cast<const std::byte*>(payload);
  static_cast<std::vector<Event>*>(context)->push_back(Event{type, Bytes(first, first + size)});
  return 0;
}

// What one call through the table gave back.
struct Outcome {
  int status = EVRING_OK;
  std::string message;
  std::vector<Event> events;
};

std::uint64_t test_seed() {
  if (const char* env = std::getenv("EVRING_DOMAIN_SEED")) return std::strtoull(env, nullptr, 10);
  return 20261127;
}

std::uint64_t announce_seed() {
  const std::uint64_t seed = test_seed();
  std::printf("seed %llu (replay with EVRING_DOMAIN_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

// One model of a built-in domain, created and destroyed through its C table.
class Domain {
 public:
  explicit Domain(std::string_view name) : table_(find_builtin_domain(name)) {
    if (table_ == nullptr) throw std::runtime_error("no built-in domain " + std::string(name));
    std::string error;
    evring_sink sink{&error, append_text};
    model_ = table_->create(nullptr, &sink);
    if (model_ == nullptr) throw std::runtime_error("create failed: " + error);
  }
  ~Domain() { table_->destroy(model_); }
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  Outcome parse(const Words& words, Bytes& command) const {
    std::vector<const char*> pointers;
    for (const std::string& word : words) pointers.push_back(word.c_str());
    Outcome outcome;
    evring_sink out{&command, append_bytes};
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->parse(pointers.data(), pointers.size(), &out, &error);
    return outcome;
  }

  Outcome handle(std::span<const std::byte> command) const {
    Outcome outcome;
    evring_event_sink events{&outcome.events, collect_event};
    evring_sink reason{&outcome.message, append_text};
    outcome.status = table_->handle(model_, command.data(), command.size(), &events, &reason);
    return outcome;
  }

  Outcome apply(std::uint32_t type, std::span<const std::byte> payload) {
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->apply(model_, type, payload.data(), payload.size(), &error);
    return outcome;
  }

  // handle, then apply each event, as the writer does.
  Outcome submit(std::span<const std::byte> command) {
    Outcome handled = handle(command);
    if (handled.status != EVRING_OK) {
      EXPECT_TRUE(handled.events.empty()) << "a refused command emitted events";
      EXPECT_FALSE(handled.message.empty()) << "a refusal without a reason";
      return handled;
    }
    for (const Event& event : handled.events) {
      const Outcome applied = apply(event.type, event.payload);
      EXPECT_EQ(applied.status, EVRING_OK) << applied.message;
    }
    return handled;
  }

  // parse, then submit: the path of `evring cmd --name N WORDS...`.
  Outcome submit(const Words& words) {
    Bytes command;
    Outcome parsed = parse(words, command);
    if (parsed.status != EVRING_OK) return parsed;
    return submit(std::span<const std::byte>(command));
  }

  // submit, expecting exactly one event back.
  Event accept(const Words& words) {
    Outcome outcome = submit(words);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    EXPECT_EQ(outcome.events.size(), 1u);
    return outcome.events.empty() ? Event{} : outcome.events.front();
  }

  Bytes snapshot() const {
    Bytes bytes;
    evring_sink out{&bytes, append_bytes};
    EXPECT_EQ(table_->snapshot(model_, &out), EVRING_OK);
    return bytes;
  }

  Outcome restore(std::span<const std::byte> bytes) {
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->restore(model_, bytes.data(), bytes.size(), &error);
    return outcome;
  }

  Outcome describe(std::uint32_t type, std::span<const std::byte> payload) const {
    Outcome outcome;
    evring_sink json{&outcome.message, append_text};
    outcome.status = table_->describe(type, payload.data(), payload.size(), &json);
    return outcome;
  }

  std::string describe(const Event& event) const {
    const Outcome outcome = describe(event.type, event.payload);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    return outcome.message;
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

// Fields copied out of an event, which may then be a temporary.
std::uint64_t put_version(const Event& event) {
  return kv::decode_put_event(event.payload).version;
}
std::uint64_t deleted_version(const Event& event) {
  return kv::decode_deleted_event(event.payload).version;
}
std::int64_t balance_after(const Event& event) {
  if (event.type == type_of(bank::EventType::withdrawn)) {
    return bank::decode_withdrawn_event(event.payload).balance;
  }
  return bank::decode_deposited_event(event.payload).balance;
}

// Bytes that outlive no statement: for decodes that must throw before looking at them.
std::span<const std::byte> briefly(const Bytes& bytes) {
  return bytes;
}

void expect_refused(const Outcome& outcome, int status, std::string_view reason) {
  EXPECT_EQ(outcome.status, status) << outcome.message;
  EXPECT_THAT(outcome.message, HasSubstr(std::string(reason)));
  EXPECT_TRUE(outcome.events.empty());
}

// ---- the table ----

// Keys and values are any bytes, but JSON is UTF-8: what is not well-formed UTF-8 is
// replaced, byte by byte, so every description and reply parses (found by fuzzing).
TEST(JsonString, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(json_string("a\xfb"
                        "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(json_string("\xc3\xa9 \xf0\x9f\x98\x80"), "\"\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")") << "a surrogate";
  EXPECT_EQ(json_string("\xc0\xaf"), R"("\ufffd\ufffd")") << "an overlong '/'";
  EXPECT_EQ(json_string("\xe2\x82"), R"("\ufffd\ufffd")") << "cut short";
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")") << "past U+10FFFF";
  EXPECT_EQ(json_string("q\"\x01"), R"("q\"\u0001")");
}

TEST(BuiltinDomains, FindsKvAndBankByName) {
  for (const std::string_view name : {"kv", "bank"}) {
    const evring_domain_v1* table = find_builtin_domain(name);
    ASSERT_NE(table, nullptr) << name;
    EXPECT_EQ(table->name, name);
    EXPECT_EQ(table->abi_version, EVRING_DOMAIN_ABI_VERSION);
    EXPECT_EQ(table->table_bytes, sizeof(evring_domain_v1));
    for (const bool present :
         {table->create != nullptr, table->destroy != nullptr, table->handle != nullptr,
          table->apply != nullptr, table->parse != nullptr, table->describe != nullptr,
          table->snapshot != nullptr, table->restore != nullptr}) {
      EXPECT_TRUE(present) << name;
    }
  }
  EXPECT_EQ(find_builtin_domain("kv"), kv_domain());
  EXPECT_EQ(find_builtin_domain("bank"), bank_domain());
  EXPECT_EQ(find_builtin_domain("orders"), nullptr);
  EXPECT_EQ(find_builtin_domain(""), nullptr);
  EXPECT_EQ(find_builtin_domain("KV"), nullptr);
  EXPECT_EQ(builtin_domain_names(), (std::vector<std::string_view>{"kv", "bank"}));
}

TEST(BuiltinDomains, RefuseAConfigurationTheyDoNotTake) {
  for (const evring_domain_v1* table : {kv_domain(), bank_domain()}) {
    std::string error;
    evring_sink sink{&error, append_text};
    EXPECT_EQ(table->create("shards=4", &sink), nullptr);
    EXPECT_THAT(error, HasSubstr("takes no configuration"));
    EXPECT_THAT(error, HasSubstr("\"shards=4\""));
    void* model = table->create("", &sink);
    EXPECT_NE(model, nullptr);
    table->destroy(model);
  }
}

TEST(BuiltinDomains, AnEventTheHostRefusesFailsTheCommand) {
  const evring_domain_v1* table = kv_domain();
  std::string error;
  evring_sink sink{&error, append_text};
  void* model = table->create(nullptr, &sink);
  ASSERT_NE(model, nullptr);
  const Bytes command = kv::encode(kv::PutCommand{"a", "v"});
  // As the host does when an event would not fit its ring or journal.
  evring_event_sink refusing{nullptr,
                             [](void*, std::uint32_t, const void*, std::size_t) { return 1; }};
  EXPECT_EQ(table->handle(model, command.data(), command.size(), &refusing, &sink), EVRING_FAILED);
  EXPECT_THAT(error, HasSubstr("larger than this instance's ring or journal allow"));
  table->destroy(model);
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
  const Bytes magic(good.begin(), good.begin() + 4);

  const auto snapshot_of = [&](std::uint64_t count, auto&& entries) {
    ByteWriter out;
    for (const std::byte b : magic) out.put(static_cast<std::uint8_t>(b));
    out.put(count);
    entries(out);
    return out.take();
  };
  Bytes wrong_magic = good;
  wrong_magic[0] ^= std::byte{0xff};
  Bytes trailing = good;
  trailing.push_back(std::byte{0});
  const struct {
    Bytes bytes;
    std::string reason;
  } cases[] = {
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
  ASSERT_EQ(target.restore(good).status, EVRING_OK);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    expect_refused(target.restore(c.bytes), EVRING_FAILED, c.reason);
    EXPECT_EQ(target.snapshot(), good);
  }
}

// ---- bank ----

// The balance of `account` as the model sees it, asked without changing it: a withdrawal of
// everything there is, handled but never applied.
void expect_balance(const Domain& bank, const std::string& account, std::int64_t balance) {
  const Outcome probe = bank.handle(bank::encode(bank::WithdrawCommand{account, kMaxI64}));
  if (balance == kMaxI64) {
    EXPECT_EQ(probe.status, EVRING_OK) << probe.message;
  } else {
    EXPECT_THAT(probe.message, HasSubstr("has balance " + std::to_string(balance) + ","))
        << account;
  }
}

TEST(BankDomain, EventsCarryTheResultingBalances) {
  Domain bank("bank");
  const Event opened = bank.accept({"open", "alice"});
  EXPECT_EQ(opened.type, type_of(bank::EventType::opened));
  EXPECT_EQ(bank.describe(opened), R"({"type":"opened","account":"alice"})");
  bank.accept({"open", "bob"});

  const Event deposited = bank.accept({"deposit", "alice", "100"});
  EXPECT_EQ(deposited.type, type_of(bank::EventType::deposited));
  EXPECT_EQ(bank.describe(deposited),
            R"({"type":"deposited","account":"alice","amount":100,"balance":100})");
  EXPECT_EQ(bank.describe(bank.accept({"deposit", "alice", "5"})),
            R"({"type":"deposited","account":"alice","amount":5,"balance":105})");

  const Event withdrawn = bank.accept({"withdraw", "alice", "30"});
  EXPECT_EQ(withdrawn.type, type_of(bank::EventType::withdrawn));
  EXPECT_EQ(bank.describe(withdrawn),
            R"({"type":"withdrawn","account":"alice","amount":30,"balance":75})");

  const Event transferred = bank.accept({"transfer", "alice", "bob", "25"});
  EXPECT_EQ(transferred.type, type_of(bank::EventType::transferred));
  EXPECT_EQ(bank.describe(transferred),
            R"({"type":"transferred","from":"alice","to":"bob","amount":25,)"
            R"("from_balance":50,"to_balance":25})");
  const bank::TransferredEvent event = bank::decode_transferred_event(transferred.payload);
  EXPECT_EQ(event.from, "alice");
  EXPECT_EQ(event.to, "bob");
  EXPECT_EQ(event.amount, 25);
  EXPECT_EQ(event.from_balance, 50);
  EXPECT_EQ(event.to_balance, 25);

  expect_balance(bank, "alice", 50);
  expect_balance(bank, "bob", 25);
  // Everything, down to zero, may go.
  EXPECT_EQ(balance_after(bank.accept({"withdraw", "bob", "25"})), 0);
}

TEST(BankDomain, RejectsUnknownAccounts) {
  Domain bank("bank");
  bank.accept({"open", "alice"});
  bank.accept({"deposit", "alice", "10"});
  for (const Words& words :
       {Words{"deposit", "ghost", "5"}, Words{"withdraw", "ghost", "5"},
        Words{"transfer", "ghost", "alice", "5"}, Words{"transfer", "alice", "ghost", "5"}}) {
    SCOPED_TRACE(words[0]);
    expect_refused(bank.submit(words), EVRING_REJECTED, R"(no such account "ghost")");
  }
  expect_balance(bank, "alice", 10);
}

TEST(BankDomain, RejectsOpeningAnAccountTwice) {
  Domain bank("bank");
  bank.accept({"open", "alice"});
  bank.accept({"deposit", "alice", "10"});
  expect_refused(bank.submit({"open", "alice"}), EVRING_REJECTED,
                 R"(account "alice" already exists)");
  expect_balance(bank, "alice", 10);
}

TEST(BankDomain, RejectsAmountsThatAreNotPositive) {
  Domain bank("bank");
  bank.accept({"open", "a"});
  bank.accept({"open", "b"});
  bank.accept({"deposit", "a", "10"});
  const struct {
    Words words;
    std::string reason;
  } cases[] = {
      {{"deposit", "a", "0"}, "amount must be positive, got 0"},
      {{"deposit", "a", "-5"}, "amount must be positive, got -5"},
      {{"withdraw", "a", "0"}, "amount must be positive, got 0"},
      {{"withdraw", "a", "-1"}, "amount must be positive, got -1"},
      {{"transfer", "a", "b", "0"}, "amount must be positive, got 0"},
      {{"transfer", "a", "b", "-9223372036854775808"},
       "amount must be positive, got -9223372036854775808"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    expect_refused(bank.submit(c.words), EVRING_REJECTED, c.reason);
  }
  expect_balance(bank, "a", 10);
  expect_balance(bank, "b", 0);
}

TEST(BankDomain, RejectsOverdraftsAndSaysTheBalance) {
  Domain bank("bank");
  bank.accept({"open", "alice"});
  bank.accept({"open", "bob"});
  bank.accept({"deposit", "alice", "10"});
  expect_refused(bank.submit({"withdraw", "alice", "11"}), EVRING_REJECTED,
                 R"(insufficient funds: account "alice" has balance 10, cannot withdraw 11)");
  expect_refused(bank.submit({"transfer", "alice", "bob", "11"}), EVRING_REJECTED,
                 R"(insufficient funds: account "alice" has balance 10, cannot transfer 11)");
  expect_refused(bank.submit({"withdraw", "bob", "1"}), EVRING_REJECTED,
                 R"(account "bob" has balance 0, cannot withdraw 1)");
  expect_balance(bank, "alice", 10);
  expect_balance(bank, "bob", 0);
}

TEST(BankDomain, RejectsATransferToTheSameAccount) {
  Domain bank("bank");
  bank.accept({"open", "alice"});
  bank.accept({"deposit", "alice", "10"});
  expect_refused(bank.submit({"transfer", "alice", "alice", "5"}), EVRING_REJECTED,
                 R"(cannot transfer from account "alice" to itself)");
  expect_balance(bank, "alice", 10);
}

TEST(BankDomain, RejectsABalanceThatWouldOverflow) {
  Domain bank("bank");
  bank.accept({"open", "full"});
  bank.accept({"open", "other"});
  EXPECT_EQ(balance_after(bank.accept({"deposit", "full", "9223372036854775807"})), kMaxI64);
  expect_refused(bank.submit({"deposit", "full", "1"}), EVRING_REJECTED,
                 R"(balance overflow: account "full" has balance 9223372036854775807)");
  bank.accept({"deposit", "other", "3"});
  expect_refused(bank.submit({"transfer", "other", "full", "1"}), EVRING_REJECTED,
                 "would pass the largest balance, 9223372036854775807");
  expect_balance(bank, "full", kMaxI64);
  expect_balance(bank, "other", 3);
  // Room made, room used.
  bank.accept({"transfer", "full", "other", "5"});
  expect_balance(bank, "other", 8);
  EXPECT_EQ(bank.submit({"deposit", "full", "5"}).status, EVRING_OK);
  expect_balance(bank, "full", kMaxI64);
}

TEST(BankDomain, MalformedTextCommandsSayWhatIsWrong) {
  const std::string long_name(bank::kMaxAccountBytes + 1, 'n');
  const struct {
    Words words;
    std::string reason;
  } cases[] = {
      {{},
       "empty bank command: expected open ACCOUNT, deposit ACCOUNT AMOUNT, withdraw "
       "ACCOUNT AMOUNT or transfer FROM TO AMOUNT"},
      {{"close", "a"},
       R"(unknown bank command "close": expected open ACCOUNT, deposit ACCOUNT AMOUNT, )"
       R"(withdraw ACCOUNT AMOUNT or transfer FROM TO AMOUNT)"},
      {{"open"}, "expected 2 words (open ACCOUNT), got 1"},
      {{"open", "a", "b"}, "expected 2 words (open ACCOUNT), got 3"},
      {{"deposit", "a"}, "expected 3 words (deposit ACCOUNT AMOUNT), got 2"},
      {{"deposit", "a", "1", "2"}, "expected 3 words (deposit ACCOUNT AMOUNT), got 4"},
      {{"withdraw"}, "expected 3 words (withdraw ACCOUNT AMOUNT), got 1"},
      {{"transfer", "a", "b"}, "expected 4 words (transfer FROM TO AMOUNT), got 3"},
      {{"transfer", "a", "b", "1", "x"}, "expected 4 words (transfer FROM TO AMOUNT), got 5"},
      {{"deposit", "a", "ten"}, R"(amount "ten" is not a whole number)"},
      {{"deposit", "a", "1.5"}, R"(amount "1.5" is not a whole number)"},
      {{"deposit", "a", "+5"}, R"(amount "+5" is not a whole number)"},
      {{"withdraw", "a", ""}, R"(amount "" is not a whole number)"},
      {{"deposit", "a", "9223372036854775808"},
       R"(amount "9223372036854775808" is out of range (-9223372036854775808 to )"
       R"(9223372036854775807))"},
      {{"withdraw", "a", "-9223372036854775809"}, "is out of range"},
      {{"transfer", "a", "b", "99999999999999999999"}, "is out of range"},
      {{"open", long_name}, "bank account name is 65 bytes, more than the limit of 64"},
      {{"open", ""}, "bank account name is empty: names are 1 to 64 bytes"},
      {{"deposit", "", "5"}, "bank account name is empty"},
      {{"withdraw", long_name, "5"}, "more than the limit of 64"},
      {{"transfer", "a", long_name, "5"}, "more than the limit of 64"},
      {{"transfer", long_name, "a", "5"}, "more than the limit of 64"},
  };
  Domain bank("bank");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    expect_refused(bank.submit(c.words), EVRING_MALFORMED, c.reason);
  }
  const std::string longest(bank::kMaxAccountBytes, 'n');
  const Event opened = bank.accept({"open", longest});
  EXPECT_EQ(bank::decode_opened_event(opened.payload).account, longest);
}

TEST(BankDomain, BinaryCommandsAreCheckedLikeText) {
  Domain bank("bank");
  EXPECT_EQ(bank.submit(bank::encode(bank::OpenCommand{"a"})).status, EVRING_OK);
  EXPECT_EQ(bank.submit(bank::encode(bank::OpenCommand{"b"})).status, EVRING_OK);
  EXPECT_EQ(bank.submit(bank::encode(bank::DepositCommand{"a", 9})).status, EVRING_OK);
  EXPECT_EQ(bank.submit(bank::encode(bank::WithdrawCommand{"a", 2})).status, EVRING_OK);
  EXPECT_EQ(bank.submit(bank::encode(bank::TransferCommand{"a", "b", 3})).status, EVRING_OK);
  expect_balance(bank, "a", 4);
  expect_balance(bank, "b", 3);

  const Bytes deposit = bank::encode(bank::DepositCommand{"a", 5});
  Bytes trailing = deposit;
  trailing.push_back(std::byte{0});
  ByteWriter long_name;
  long_name.put(static_cast<std::uint8_t>(bank::CommandKind::open)).put_text(std::string(65, 'n'));
  ByteWriter empty_to;
  empty_to.put(static_cast<std::uint8_t>(bank::CommandKind::transfer))
      .put_text("a")
      .put_text("")
      .put(std::int64_t{1});

  expect_refused(bank.handle(Bytes{}), EVRING_MALFORMED, "bank command is truncated");
  expect_refused(bank.handle(Bytes{std::byte{5}}), EVRING_MALFORMED,
                 "bank command kind 5 is unknown (known: 1 open, 2 deposit, 3 withdraw, "
                 "4 transfer)");
  expect_refused(bank.handle(Bytes(deposit.begin(), deposit.end() - 8)), EVRING_MALFORMED,
                 "bank command is truncated");
  expect_refused(bank.handle(trailing), EVRING_MALFORMED, "1 unexpected bytes at its end");
  expect_refused(bank.handle(long_name.bytes()), EVRING_MALFORMED, "more than the limit of 64");
  expect_refused(bank.handle(empty_to.bytes()), EVRING_MALFORMED, "bank account name is empty");
  // A binary command may carry any amount: the rule, not the grammar, refuses it.
  expect_refused(bank.handle(bank::encode(bank::DepositCommand{"a", -3})), EVRING_REJECTED,
                 "amount must be positive, got -3");
}

TEST(BankDomain, EventsRoundTripAndRefuseImpossibleValues) {
  const Bytes deposited_bytes = bank::encode(bank::DepositedEvent{"a", 5, 12});
  const bank::DepositedEvent deposited = bank::decode_deposited_event(deposited_bytes);
  EXPECT_EQ(deposited.account, "a");
  EXPECT_EQ(deposited.amount, 5);
  EXPECT_EQ(deposited.balance, 12);
  const Bytes withdrawn_bytes = bank::encode(bank::WithdrawnEvent{"a", 5, 0});
  EXPECT_EQ(bank::decode_withdrawn_event(withdrawn_bytes).balance, 0);
  const Bytes opened_bytes = bank::encode(bank::OpenedEvent{"z"});
  EXPECT_EQ(bank::decode_opened_event(opened_bytes).account, "z");

  EXPECT_THROW(bank::decode_deposited_event(briefly(bank::encode(bank::DepositedEvent{"a", 0, 1}))),
               MalformedInput);
  EXPECT_THROW(
      bank::decode_withdrawn_event(briefly(bank::encode(bank::WithdrawnEvent{"a", 1, -1}))),
      MalformedInput);
  EXPECT_THROW(bank::decode_transferred_event(
                   briefly(bank::encode(bank::TransferredEvent{"a", "a", 1, 0, 1}))),
               MalformedInput);
  EXPECT_THROW(bank::decode_transferred_event(
                   briefly(bank::encode(bank::TransferredEvent{"a", "b", 1, -1, 1}))),
               MalformedInput);
  EXPECT_THROW(bank::decode_opened_event(briefly(bank::encode(bank::DepositedEvent{"a", 1, 1}))),
               MalformedInput);

  Domain bank("bank");
  const Outcome unknown = bank.describe(0, bank::encode(bank::OpenedEvent{"a"}));
  EXPECT_EQ(unknown.status, EVRING_FAILED);
  EXPECT_THAT(unknown.message, HasSubstr("bank event type 0 is unknown"));
  EXPECT_EQ(bank.describe(type_of(bank::EventType::opened), Bytes{}).status, EVRING_FAILED);
}

TEST(BankDomain, ApplyFailsOnEventsOutOfStepWithTheModel) {
  Domain bank("bank");
  const auto apply = [&](const auto& event) {
    return bank.apply(type_of(std::decay_t<decltype(event)>::type), bank::encode(event));
  };
  expect_refused(apply(bank::DepositedEvent{"a", 5, 5}), EVRING_FAILED,
                 R"(bank deposited event for account "a", which is not open)");
  EXPECT_EQ(apply(bank::OpenedEvent{"a"}).status, EVRING_OK);
  EXPECT_EQ(apply(bank::OpenedEvent{"b"}).status, EVRING_OK);
  expect_refused(apply(bank::OpenedEvent{"a"}), EVRING_FAILED, "which is already open");
  expect_refused(apply(bank::DepositedEvent{"a", 5, 6}), EVRING_FAILED,
                 R"(leaves account "a" at 6, which does not follow from its balance of 0)");
  EXPECT_EQ(apply(bank::DepositedEvent{"a", 5, 5}).status, EVRING_OK);
  expect_refused(apply(bank::WithdrawnEvent{"a", 1, 5}), EVRING_FAILED, "does not follow");
  expect_refused(apply(bank::TransferredEvent{"a", "b", 2, 3, 1}), EVRING_FAILED,
                 R"(leaves account "b" at 1)");
  expect_refused(apply(bank::TransferredEvent{"a", "c", 2, 3, 2}), EVRING_FAILED,
                 R"(account "c", which is not open)");
  expect_refused(bank.apply(5, Bytes{}), EVRING_FAILED, "bank event type 5 is unknown");
  expect_balance(bank, "a", 5);
  expect_balance(bank, "b", 0);
}

TEST(BankDomain, SnapshotRestoresTheSameState) {
  Domain bank("bank");
  for (int i = 0; i < 20; ++i) {
    bank.accept({"open", "acct" + std::to_string(i)});
    bank.accept({"deposit", "acct" + std::to_string(i), std::to_string(100 * i + 1)});
  }
  for (int i = 0; i < 19; ++i) {
    bank.accept({"transfer", "acct" + std::to_string(i + 1), "acct" + std::to_string(i),
                 std::to_string(i + 3)});
  }
  const Bytes snapshot = bank.snapshot();
  Domain restored("bank");
  ASSERT_EQ(restored.restore(snapshot).status, EVRING_OK);
  EXPECT_EQ(restored.snapshot(), snapshot);
  for (int i = 0; i < 20; ++i) {
    const std::string account = "acct" + std::to_string(i);
    const std::int64_t balance = 100 * i + 1 + (i < 19 ? i + 3 : 0) - (i > 0 ? i + 2 : 0);
    expect_balance(bank, account, balance);
    expect_balance(restored, account, balance);
    expect_refused(restored.submit({"open", account}), EVRING_REJECTED, "already exists");
  }
  expect_refused(restored.submit({"deposit", "acct20", "1"}), EVRING_REJECTED, "no such account");
}

TEST(BankDomain, RestoreRefusesMalformedSnapshotsAndKeepsItsState) {
  Domain bank("bank");
  bank.accept({"open", "a"});
  bank.accept({"deposit", "a", "7"});
  const Bytes good = bank.snapshot();
  const Bytes magic(good.begin(), good.begin() + 4);
  const auto snapshot_of = [&](std::uint64_t count, auto&& entries) {
    ByteWriter out;
    for (const std::byte b : magic) out.put(static_cast<std::uint8_t>(b));
    out.put(count);
    entries(out);
    return out.take();
  };
  Bytes wrong_magic = good;
  wrong_magic[3] ^= std::byte{1};
  const struct {
    Bytes bytes;
    std::string reason;
  } cases[] = {
      {{}, "bank snapshot is truncated"},
      {wrong_magic, "does not start with the bank snapshot magic"},
      {Bytes(good.begin(), good.end() - 1), "bank snapshot is truncated"},
      {snapshot_of(1, [](ByteWriter& out) { out.put_text("a").put(std::int64_t{-1}); }),
       R"(account "a" at a negative balance, -1)"},
      {snapshot_of(2,
                   [](ByteWriter& out) {
                     out.put_text("a").put(std::int64_t{1});
                     out.put_text("a").put(std::int64_t{2});
                   }),
       R"(bank snapshot has account "a" twice)"},
      {snapshot_of(
           1, [](ByteWriter& out) { out.put_text(std::string(65, 'n')).put(std::int64_t{1}); }),
       "more than the limit of 64"},
      {snapshot_of(0, [](ByteWriter& out) { out.put(std::uint8_t{0}); }),
       "1 unexpected bytes at its end"},
  };
  Domain target("bank");
  ASSERT_EQ(target.restore(good).status, EVRING_OK);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    expect_refused(target.restore(c.bytes), EVRING_FAILED, c.reason);
    EXPECT_EQ(target.snapshot(), good);
  }
  expect_balance(target, "a", 7);
}

// Random commands against a plain reference model: every decision must match it, every
// event must carry the balances it predicts, and the balances, built from the events
// alone, always add up to what came in minus what went out (mod 2^64, as amounts near
// the int64 limit are part of the mix).
TEST(BankDomain, RandomCommandsKeepMoneyConserved) {
  const std::uint64_t seed = announce_seed();
  std::mt19937_64 rng(seed);
  const auto pick = [&](std::uint64_t below) { return rng() % below; };
  const auto account = [&] {
    // acct12..acct15 are never opened, so unknown accounts stay in the mix.
    return "acct" + std::to_string(pick(16));
  };
  const auto amount = [&]() -> std::int64_t {
    const std::uint64_t kind = pick(100);
    if (kind < 5) return -static_cast<std::int64_t>(pick(3));  // 0, -1, -2
    if (kind < 8) return kMaxI64 - static_cast<std::int64_t>(pick(1000));
    return static_cast<std::int64_t>(1 + pick(1000));
  };

  Domain bank("bank");
  std::map<std::string, std::int64_t> reference;  // the rules, written out plainly
  std::map<std::string, std::int64_t> view;       // balances as events tell them
  std::uint64_t deposited = 0;
  std::uint64_t withdrawn = 0;
  int accepted = 0;
  constexpr int kCommands = 100'000;
  for (int i = 0; i < kCommands && !::testing::Test::HasFailure(); ++i) {
    Words words;
    bool ok = false;
    switch (pick(10)) {
      case 0: {
        const std::string a = "acct" + std::to_string(pick(12));
        words = {"open", a};
        ok = !reference.contains(a);
        if (ok) reference[a] = 0;
        break;
      }
      case 1:
      case 2:
      case 3: {
        const std::string a = account();
        const std::int64_t n = amount();
        words = {"deposit", a, std::to_string(n)};
        ok = n > 0 && reference.contains(a) && reference[a] <= kMaxI64 - n;
        if (ok) reference[a] += n;
        break;
      }
      case 4:
      case 5:
      case 6: {
        const std::string a = account();
        const std::int64_t n = amount();
        words = {"withdraw", a, std::to_string(n)};
        ok = n > 0 && reference.contains(a) && reference[a] >= n;
        if (ok) reference[a] -= n;
        break;
      }
      default: {
        const std::string from = account();
        const std::string to = pick(20) == 0 ? from : account();
        const std::int64_t n = amount();
        words = {"transfer", from, to, std::to_string(n)};
        ok = n > 0 && from != to && reference.contains(from) && reference.contains(to) &&
             reference[from] >= n && reference[to] <= kMaxI64 - n;
        if (ok) {
          reference[from] -= n;
          reference[to] += n;
        }
        break;
      }
    }
    const Outcome outcome = bank.submit(words);
    ASSERT_EQ(outcome.status, ok ? EVRING_OK : EVRING_REJECTED)
        << "command " << i << " (" << words[0] << "): " << outcome.message << ", seed " << seed;
    if (!ok) continue;
    ++accepted;
    ASSERT_EQ(outcome.events.size(), 1u);
    const Event& event = outcome.events[0];
    switch (static_cast<bank::EventType>(event.type)) {
      case bank::EventType::opened:
        view[std::string(bank::decode_opened_event(event.payload).account)] = 0;
        break;
      case bank::EventType::deposited: {
        const auto e = bank::decode_deposited_event(event.payload);
        view[std::string(e.account)] = e.balance;
        deposited += static_cast<std::uint64_t>(e.amount);
        break;
      }
      case bank::EventType::withdrawn: {
        const auto e = bank::decode_withdrawn_event(event.payload);
        view[std::string(e.account)] = e.balance;
        withdrawn += static_cast<std::uint64_t>(e.amount);
        break;
      }
      case bank::EventType::transferred: {
        const auto e = bank::decode_transferred_event(event.payload);
        view[std::string(e.from)] = e.from_balance;
        view[std::string(e.to)] = e.to_balance;
        break;
      }
    }
    ASSERT_EQ(view, reference) << "after command " << i << ", seed " << seed;
    std::uint64_t sum = 0;
    for (const auto& [name, balance] : view) sum += static_cast<std::uint64_t>(balance);
    ASSERT_EQ(sum, deposited - withdrawn) << "after command " << i << ", seed " << seed;
  }
  // Enough of every kind got through for the run to mean something.
  EXPECT_GT(accepted, kCommands / 4);
  EXPECT_GT(deposited, 0u);
  EXPECT_GT(withdrawn, 0u);

  Domain restored("bank");
  ASSERT_EQ(restored.restore(bank.snapshot()).status, EVRING_OK);
  for (const auto& [name, balance] : reference) {
    expect_balance(bank, name, balance);
    expect_balance(restored, name, balance);
  }
}

// ---- garbage ----

// Random and mutated bytes into every entry point: statuses stay within what the ABI
// allows, a refusal always says why, and the model stays whole enough to snapshot.
void feed_garbage(std::string_view name, const std::vector<Bytes>& commands,
                  const std::vector<Event>& events, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto pick = [&](std::uint64_t below) { return rng() % below; };
  const auto garbage = [&](const Bytes& sample) {
    Bytes bytes;
    if (pick(4) == 0) {
      bytes.resize(pick(48));
      for (std::byte& b : bytes) b = static_cast<std::byte>(rng());
      return bytes;
    }
    bytes = sample;
    for (std::uint64_t flips = 1 + pick(3); flips > 0 && !bytes.empty(); --flips) {
      bytes[pick(bytes.size())] = static_cast<std::byte>(rng());
    }
    if (pick(4) == 0) bytes.resize(pick(bytes.size() + 4));
    return bytes;
  };

  Domain domain(name);
  for (int i = 0; i < 50'000 && !::testing::Test::HasFailure(); ++i) {
    const Outcome handled = domain.submit(garbage(commands[pick(commands.size())]));
    ASSERT_TRUE(handled.status == EVRING_OK || handled.status == EVRING_REJECTED ||
                handled.status == EVRING_MALFORMED)
        << handled.status << ", seed " << seed;

    const Event& sample = events[pick(events.size())];
    const std::uint32_t type = pick(8) == 0 ? static_cast<std::uint32_t>(rng()) : sample.type;
    const Bytes payload = garbage(sample.payload);
    const Outcome applied = domain.apply(type, payload);
    ASSERT_TRUE(applied.status == EVRING_OK || applied.status == EVRING_FAILED)
        << applied.status << ", seed " << seed;
    if (applied.status != EVRING_OK) {
      ASSERT_FALSE(applied.message.empty());
    }

    const Outcome described = domain.describe(type, payload);
    ASSERT_TRUE(described.status == EVRING_OK || described.status == EVRING_FAILED);
    if (described.status == EVRING_OK) {
      ASSERT_EQ(described.message.front(), '{');
      ASSERT_EQ(described.message.back(), '}');
    }
    // Both decode the same way; only apply() also checks the event against the state.
    if (applied.status == EVRING_OK) {
      ASSERT_EQ(described.status, EVRING_OK) << described.message;
    } else {
      ASSERT_EQ(described.status == EVRING_OK,
                applied.message.find("history does not belong") != std::string::npos)
          << applied.message << " / " << described.message;
    }

    if (i % 500 == 0) {
      const Bytes before = domain.snapshot();
      const Outcome restored = domain.restore(garbage(before));
      ASSERT_TRUE(restored.status == EVRING_OK || restored.status == EVRING_FAILED);
      if (restored.status == EVRING_FAILED) {
        ASSERT_EQ(domain.snapshot(), before);
      }
    }
  }
  Domain copy(name);
  const Bytes snapshot = domain.snapshot();
  ASSERT_EQ(copy.restore(snapshot).status, EVRING_OK);
  EXPECT_EQ(copy.snapshot(), snapshot);
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

TEST(BankDomain, GarbageNeverCrashesIt) {
  const std::uint64_t seed = announce_seed();
  const std::vector<Bytes> commands{
      bank::encode(bank::OpenCommand{"a"}), bank::encode(bank::OpenCommand{"b"}),
      bank::encode(bank::DepositCommand{"a", 100}), bank::encode(bank::WithdrawCommand{"a", 5}),
      bank::encode(bank::TransferCommand{"a", "b", 7})};
  const std::vector<Event> events{
      {type_of(bank::EventType::opened), bank::encode(bank::OpenedEvent{"c"})},
      {type_of(bank::EventType::deposited), bank::encode(bank::DepositedEvent{"a", 1, 101})},
      {type_of(bank::EventType::withdrawn), bank::encode(bank::WithdrawnEvent{"a", 1, 3})},
      {type_of(bank::EventType::transferred),
       bank::encode(bank::TransferredEvent{"a", "b", 1, 2, 3})}};
  feed_garbage("bank", commands, events, seed);
}

}  // namespace
}  // namespace evring
