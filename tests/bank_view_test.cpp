// The built-in bank view (domains/bank), driven through the C table evring-reader uses,
// with events from the bank domain's own table.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/builtin/bank_events.hpp"
#include "evring/codec.hpp"
#include "view_table.hpp"

namespace evring {
namespace {

using namespace view_testing;

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

// The balances come back through the codec the bank domain's snapshots use too
// (bank_state.hpp), in the view's own words; a refused snapshot leaves the view as it was.
TEST(BankView, MalformedSnapshotsAreRefusedAndLeaveTheViewAsItWas) {
  Writer writer("bank");
  View target("bank");
  target.apply(writer.accept({"open", "kept"}));
  target.apply(writer.accept({"deposit", "kept", "5"}));
  const Bytes good = target.snapshot();
  // The magic and the two sums (4 + 16 + 16 bytes) of `good`, then `count` and the entries.
  constexpr std::size_t kHeaderBytes = 36;
  const auto snapshot_of = [&](std::uint64_t count, auto&& entries) {
    return snapshot_like(good, kHeaderBytes, count, entries);
  };
  Bytes negative_sum = good;
  negative_sum[4 + 15] = std::byte{0x80};  // the top byte of the deposited sum
  const struct {
    Bytes bytes;
    std::string reason;
  } cases[] = {
      {snapshot_of(2,
                   [](ByteWriter& out) {
                     out.put_text("a").put(std::int64_t{1});
                     out.put_text("a").put(std::int64_t{2});
                   }),
       R"(bank view snapshot has account "a" twice)"},
      {snapshot_of(1, [](ByteWriter& out) { out.put_text("a").put(std::int64_t{-1}); }),
       R"(bank view snapshot has account "a" at a negative balance, -1)"},
      {snapshot_of(1, [](ByteWriter& out) { out.put_text("").put(std::int64_t{1}); }),
       "bank account name is empty"},
      {snapshot_of(3, [](ByteWriter&) {}), "bank view snapshot is truncated"},
      {negative_sum, "bank view snapshot has a negative deposited or withdrawn sum"},
  };
  const json total = target.ask({"total"});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    const Outcome outcome = target.restore(c.bytes);
    EXPECT_EQ(outcome.status, EVRING_FAILED);
    EXPECT_THAT(outcome.message, HasSubstr(c.reason));
    EXPECT_EQ(target.ask({"total"}), total);
    EXPECT_EQ(target.snapshot(), good);
  }
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

}  // namespace
}  // namespace evring
