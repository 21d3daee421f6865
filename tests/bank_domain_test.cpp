// The built-in bank domain (domains/bank), driven through the C table the writer uses.
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "domain_table.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/codec.hpp"

namespace evring {
namespace {

using namespace domain_testing;

// A field copied out of an event, which may then be a temporary.
std::int64_t balance_after(const Event& event) {
  if (event.type == type_of(bank::EventType::withdrawn)) {
    return bank::decode_withdrawn_event(event.payload).balance;
  }
  return bank::decode_deposited_event(event.payload).balance;
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
  const auto snapshot_of = [&](std::uint64_t count, auto&& entries) {
    return snapshot_like(good, 4, count, entries);  // after the magic
  };
  Bytes wrong_magic = good;
  wrong_magic[3] ^= std::byte{1};
  const MalformedSnapshot cases[] = {
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
  expect_restores_refused(target, good, cases);
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
