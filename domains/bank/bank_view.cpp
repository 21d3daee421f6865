// The built-in bank view: the bank domain's accounts and balances, for `balance ACCOUNT`,
// `top N` and `total`. Event layouts: the public runtime/include/evring/builtin/
// bank_events.hpp; the balances and their snapshot codec, shared with the bank domain:
// bank_state.hpp.
//
// Events carry each balance after the change, so applying one is a store, never a sum the
// view could get wrong. `total` adds the balances up at query time and sets the sum beside
// what went in and out (the amounts of deposits and withdrawals): the two are computed from
// different fields of the events, so `total == deposited - withdrawn` is a real check.
// `top` sorts at query time too: keeping accounts ordered by balance would cost every
// event a tree update, and catch-up speed matters more than the cost of a rare `top`.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bank_state.hpp"
#include "bank_tables.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/view.hpp"
#include "look_ahead.hpp"
#include "state_snapshot.hpp"
#include "view_support.hpp"

namespace evring {
namespace {

// Sums of i64 amounts: 2^63 - 1 deposited twice already overflows an i64. (__extension__
// keeps -Wpedantic quiet about a GCC and Clang type.)
__extension__ using Sum = __int128;
__extension__ using SumBits = unsigned __int128;

// "bkV1": a snapshot of another layout is refused, not misread.
constexpr std::uint32_t kSnapshotMagic = 0x31566b62;
constexpr std::uint64_t kMaxTop = 1000;
constexpr std::string_view kQueries = "balance ACCOUNT, top N or total";

std::string sum_text(Sum value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  std::string digits;
  while (value != 0) {
    const auto digit = static_cast<int>(value % 10);
    digits.push_back(static_cast<char>('0' + (negative ? -digit : digit)));
    value /= 10;
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

void put_sum(ByteWriter& out, Sum value) {
  const auto bits = static_cast<SumBits>(value);
  out.put(static_cast<std::uint64_t>(bits)).put(static_cast<std::uint64_t>(bits >> 64));
}

Sum get_sum(ByteReader& in) {
  const auto low = in.get<std::uint64_t>();
  const auto high = in.get<std::uint64_t>();
  return static_cast<Sum>((static_cast<SumBits>(high) << 64) | low);
}

class BankView {
 public:
  static constexpr const char* name = "bank";
  static constexpr const char* domain = "bank";  // its events only: others refused at start

  explicit BankView(std::string_view config) { views::refuse_config("bank", config); }

  // Applies what the writer decided without second-guessing it: a view checks the bytes,
  // not the history (the writer's model did that before publishing).
  void on_event(const Event& event) { apply(event, look_ahead::Looked{}); }

  // As on_event for each, looking ahead (look_ahead.hpp) at the accounts of the events to
  // come: their slots 8 events on, their nodes 4 on.
  void on_events(std::span<const Event> events, std::size_t& applied) {
    look_ahead::apply_run(
        balances_, events, applied, bank::peek_accounts,
        [this](const Event& event, const look_ahead::Looked& looked) { apply(event, looked); },
        [](const Account&) noexcept {});  // a balance lives in its node
  }

  std::string query(std::span<const std::string_view> words) const {
    if (!words.empty()) {
      const std::string_view verb = words[0];
      if (verb == "balance") {
        expect_words(words, 2, "balance ACCOUNT");
        const Account* found = balances_.find(words[1]);
        return R"({"account":)" + json_string(words[1]) + R"(,"balance":)" +
               (found == nullptr ? std::string("null") : std::to_string(found->value)) + "}";
      }
      if (verb == "top") return top(words);
      if (verb == "total") {
        expect_words(words, 1, "total");
        Sum total = 0;
        balances_.for_each([&](const Account& entry) { total += entry.value; });
        return R"({"total":)" + sum_text(total) + R"(,"deposited":)" + sum_text(deposited_) +
               R"(,"withdrawn":)" + sum_text(withdrawn_) + R"(,"accounts":)" +
               std::to_string(balances_.size()) + "}";
      }
    }
    views::unknown_query("bank", words, kQueries);
  }

  // Sorted by account so that equal states give equal bytes.
  std::vector<std::byte> snapshot() const {
    ByteWriter out;
    out.put(kSnapshotMagic);
    put_sum(out, deposited_);
    put_sum(out, withdrawn_);
    bank::put_balances(out, balances_);
    return out.take();
  }

  // Builds the new state aside, so bytes that turn out malformed leave the view as it was.
  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "bank view snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "bank view snapshot");
    const Sum deposited = get_sum(in);
    const Sum withdrawn = get_sum(in);
    bank::Balances balances = bank::get_balances(in, bytes.size(), "bank view snapshot");
    in.expect_end();
    if (deposited < 0 || withdrawn < 0) {
      throw MalformedInput("bank view snapshot has a negative deposited or withdrawn sum");
    }
    balances_ = std::move(balances);
    deposited_ = deposited;
    withdrawn_ = withdrawn;
  }

 private:
  using Account = bank::AccountNode;

  void apply(const Event& event, const look_ahead::Looked& looked) {
    switch (static_cast<bank::EventType>(event.type)) {
      case bank::EventType::opened: {
        const bank::OpenedEvent opened = bank::decode_opened_event(event.payload);
        balances_.try_emplace(opened.account, 0);
        return;
      }
      case bank::EventType::deposited: {
        const bank::DepositedEvent deposited = bank::decode_deposited_event(event.payload);
        account(deposited.account, looked) = deposited.balance;
        deposited_ += deposited.amount;
        return;
      }
      case bank::EventType::withdrawn: {
        const bank::WithdrawnEvent withdrawn = bank::decode_withdrawn_event(event.payload);
        account(withdrawn.account, looked) = withdrawn.balance;
        withdrawn_ += withdrawn.amount;
        return;
      }
      case bank::EventType::transferred: {
        const bank::TransferredEvent transferred = bank::decode_transferred_event(event.payload);
        account(transferred.from, looked) = transferred.from_balance;
        account(transferred.to, looked) = transferred.to_balance;
        return;
      }
    }
    throw MalformedInput("bank event type " + std::to_string(event.type) +
                         " is unknown (known: 1 opened, 2 deposited, 3 withdrawn, "
                         "4 transferred): is this reader's instance running the bank domain?");
  }

  // An account an event names; one the view never saw open (a view restored from a
  // snapshot of another instance, say) is opened rather than refused: views just apply.
  std::int64_t& account(std::string_view holder, const look_ahead::Looked& looked) {
    if (Account* found = look_ahead::find(balances_, holder, looked)) return found->value;
    return balances_.try_emplace(holder, 0).first->value;
  }

  std::string top(std::span<const std::string_view> words) const {
    expect_words(words, 2, "top N");
    const auto wanted = parse_integer<std::uint64_t>(words[1], "top count");
    if (wanted < 1 || wanted > kMaxTop) {
      throw MalformedInput("top count " + std::to_string(wanted) + " is out of range (1 to " +
                           std::to_string(kMaxTop) + ")");
    }
    std::vector<const Account*> accounts;
    accounts.reserve(balances_.size());
    balances_.for_each([&](const Account& entry) { accounts.push_back(&entry); });
    const auto shown =
        static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(wanted, accounts.size()));
    // Highest balance first; equal balances by name, so the answer does not depend on the
    // hash map's order.
    std::partial_sort(accounts.begin(), accounts.begin() + shown, accounts.end(),
                      [](const Account* a, const Account* b) {
                        if (a->value != b->value) return a->value > b->value;
                        return a->key < b->key;
                      });
    std::string out = "[";
    for (std::ptrdiff_t i = 0; i < shown; ++i) {
      if (i != 0) out += ',';
      out += R"({"account":)" + json_string(accounts[i]->key) + R"(,"balance":)" +
             std::to_string(accounts[i]->value) + "}";
    }
    out += ']';
    return out;
  }

  bank::Balances balances_;
  Sum deposited_ = 0;
  Sum withdrawn_ = 0;
};

}  // namespace

const evring_view_v1* bank_view() noexcept {
  return view_table<BankView>();
}

}  // namespace evring
