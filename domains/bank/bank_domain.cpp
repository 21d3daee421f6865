// The built-in bank domain: accounts with int64 balances that never go negative; open,
// deposit, withdraw and transfer. Its byte layouts are in the public
// runtime/include/evring/builtin/bank_events.hpp; its state and that state's snapshot
// codec, shared with the bank view, in bank_state.hpp.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "bank_state.hpp"
#include "bank_tables.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/domain.hpp"
#include "state_snapshot.hpp"

namespace evring {
namespace {

// "bkS1": a snapshot of another layout is refused, not misread.
constexpr std::uint32_t kSnapshotMagic = 0x31536b62;
constexpr std::int64_t kMaxBalance = std::numeric_limits<std::int64_t>::max();

class BankModel {
 public:
  static constexpr const char* name = "bank";

  explicit BankModel(std::string_view config) {
    if (!config.empty()) {
      throw MalformedInput("the bank domain takes no configuration, got " + json_string(config));
    }
  }

  void handle(std::span<const std::byte> bytes, DomainEvents& events) const {
    const bank::Command command = bank::decode_command(bytes);
    if (const auto* open = std::get_if<bank::OpenCommand>(&command)) {
      if (balances_.find(open->account) != nullptr) {
        throw CommandRejected("account " + json_string(open->account) + " already exists");
      }
      emit(events, bank::OpenedEvent{open->account});
    } else if (const auto* deposit = std::get_if<bank::DepositCommand>(&command)) {
      check_amount(deposit->amount);
      const std::int64_t balance = balance_of(deposit->account);
      check_room(deposit->account, balance, deposit->amount);
      emit(events,
           bank::DepositedEvent{deposit->account, deposit->amount, balance + deposit->amount});
    } else if (const auto* withdraw = std::get_if<bank::WithdrawCommand>(&command)) {
      check_amount(withdraw->amount);
      const std::int64_t balance = balance_of(withdraw->account);
      check_funds(withdraw->account, balance, withdraw->amount, "withdraw");
      emit(events,
           bank::WithdrawnEvent{withdraw->account, withdraw->amount, balance - withdraw->amount});
    } else {
      const auto& transfer = std::get<bank::TransferCommand>(command);
      check_amount(transfer.amount);
      if (transfer.from == transfer.to) {
        throw CommandRejected("cannot transfer from account " + json_string(transfer.from) +
                              " to itself");
      }
      const std::int64_t from_balance = balance_of(transfer.from);
      const std::int64_t to_balance = balance_of(transfer.to);
      check_funds(transfer.from, from_balance, transfer.amount, "transfer");
      check_room(transfer.to, to_balance, transfer.amount);
      emit(events,
           bank::TransferredEvent{transfer.from, transfer.to, transfer.amount,
                                  from_balance - transfer.amount, to_balance + transfer.amount});
    }
  }

  // Checks each event against the state it lands on: an event out of step with the model
  // means the history (or the snapshot it was replayed onto) is not this model's, and the
  // host must stop rather than carry on with a state nobody decided.
  void apply(std::uint32_t type, std::span<const std::byte> payload,
             const look_ahead::Looked& looked = {}) {
    switch (static_cast<bank::EventType>(type)) {
      case bank::EventType::opened: {
        const bank::OpenedEvent event = bank::decode_opened_event(payload);
        if (balances_.find(event.account) != nullptr) {
          throw std::runtime_error("bank opened event for account " + json_string(event.account) +
                                   ", which is already open: the history does not belong to "
                                   "this state");
        }
        balances_.try_emplace(event.account, 0);
        return;
      }
      case bank::EventType::deposited: {
        const bank::DepositedEvent event = bank::decode_deposited_event(payload);
        std::int64_t& balance = account(event.account, "deposited", looked);
        if (balance > kMaxBalance - event.amount || balance + event.amount != event.balance) {
          out_of_step("deposited", event.account, balance, event.balance);
        }
        balance = event.balance;
        return;
      }
      case bank::EventType::withdrawn: {
        const bank::WithdrawnEvent event = bank::decode_withdrawn_event(payload);
        std::int64_t& balance = account(event.account, "withdrawn", looked);
        if (balance - event.amount != event.balance) {
          out_of_step("withdrawn", event.account, balance, event.balance);
        }
        balance = event.balance;
        return;
      }
      case bank::EventType::transferred: {
        const bank::TransferredEvent event = bank::decode_transferred_event(payload);
        std::int64_t& from = account(event.from, "transferred", looked);
        std::int64_t& to = account(event.to, "transferred", looked);
        if (from - event.amount != event.from_balance) {
          out_of_step("transferred", event.from, from, event.from_balance);
        }
        if (to > kMaxBalance - event.amount || to + event.amount != event.to_balance) {
          out_of_step("transferred", event.to, to, event.to_balance);
        }
        from = event.from_balance;
        to = event.to_balance;
        return;
      }
    }
    throw std::runtime_error("bank event type " + std::to_string(type) +
                             " is unknown (known: 1 opened, 2 deposited, 3 withdrawn, "
                             "4 transferred)");
  }

  // The writer's replay: as apply for each, looking ahead at the accounts of the events to
  // come (look_ahead.hpp), their slots and nodes.
  void apply_events(std::span<const Event> events, std::size_t& applied) {
    look_ahead::apply_run(
        balances_, events, applied, bank::peek_accounts,
        [this](const Event& event, const look_ahead::Looked& looked) {
          apply(event.type, event.payload, looked);
        },
        [](const Node&) noexcept {});  // a balance lives in its node
  }

  static std::vector<std::byte> parse(std::span<const std::string_view> words) {
    return bank::encode(bank::parse_command(words));
  }

  static std::string describe(std::uint32_t type, std::span<const std::byte> payload) {
    return bank::describe_event(type, payload);
  }

  static const char* type_name(std::uint32_t type) noexcept {
    switch (static_cast<bank::EventType>(type)) {
      case bank::EventType::opened:
        return "opened";
      case bank::EventType::deposited:
        return "deposited";
      case bank::EventType::withdrawn:
        return "withdrawn";
      case bank::EventType::transferred:
        return "transferred";
    }
    return nullptr;
  }

  // Sorted by account so that equal states give equal bytes.
  std::vector<std::byte> snapshot() const {
    ByteWriter out;
    out.put(kSnapshotMagic);
    bank::put_balances(out, balances_);
    return out.take();
  }

  // Builds the new state aside, so bytes that turn out malformed leave the model as it was.
  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "bank snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "bank snapshot");
    bank::Balances restored = bank::get_balances(in, bytes.size(), "bank snapshot");
    in.expect_end();
    balances_ = std::move(restored);
  }

 private:
  using Node = bank::AccountNode;

  static void check_amount(std::int64_t amount) {
    if (amount <= 0) {
      throw CommandRejected("amount must be positive, got " + std::to_string(amount));
    }
  }

  std::int64_t balance_of(std::string_view holder) const {
    const Node* found = balances_.find(holder);
    if (found == nullptr) throw CommandRejected("no such account " + json_string(holder));
    return found->value;
  }

  static void check_funds(std::string_view holder, std::int64_t balance, std::int64_t amount,
                          std::string_view verb) {
    if (balance < amount) {
      throw CommandRejected("insufficient funds: account " + json_string(holder) + " has balance " +
                            std::to_string(balance) + ", cannot " + std::string(verb) + " " +
                            std::to_string(amount));
    }
  }

  static void check_room(std::string_view holder, std::int64_t balance, std::int64_t amount) {
    if (balance > kMaxBalance - amount) {
      throw CommandRejected("balance overflow: account " + json_string(holder) + " has balance " +
                            std::to_string(balance) + "; adding " + std::to_string(amount) +
                            " would pass the largest balance, " + std::to_string(kMaxBalance));
    }
  }

  std::int64_t& account(std::string_view holder, std::string_view event,
                        const look_ahead::Looked& looked) {
    Node* found = look_ahead::find(balances_, holder, looked);
    if (found == nullptr) {
      throw std::runtime_error("bank " + std::string(event) + " event for account " +
                               json_string(holder) +
                               ", which is not open: the history does not belong to this state");
    }
    return found->value;
  }

  [[noreturn]] static void out_of_step(std::string_view event, std::string_view holder,
                                       std::int64_t balance, std::int64_t claimed) {
    throw std::runtime_error(
        "bank " + std::string(event) + " event leaves account " + json_string(holder) + " at " +
        std::to_string(claimed) + ", which does not follow from its balance of " +
        std::to_string(balance) + ": the history does not belong to this state");
  }

  // One buffer for every event: no allocation per command once it has grown. (The host
  // calls handle() from one thread: the writer's apply loop.)
  template <class Event>
  void emit(DomainEvents& events, const Event& event) const {
    scratch_ = bank::encode(event, std::move(scratch_));
    events.emit(static_cast<std::uint32_t>(Event::type), scratch_);
  }

  bank::Balances balances_;
  mutable std::vector<std::byte> scratch_;  // emit()'s
};

}  // namespace

const evring_domain_v1* bank_domain() noexcept {
  return domain_table<BankModel>();
}

}  // namespace evring
