// The built-in bank domain's commands and events as bytes: the one definition shared by
// the domain and the bank view (both in domains/bank/ of the source tree), the other views
// that decode its events and the clients that submit binary commands. Decoded structs hold
// views into the bytes (or words) they were decoded from, so decoding allocates nothing;
// copy what must outlive them. Decoding a temporary std::vector does not compile, since the
// views would dangle.
//
// Layouts (codec.hpp: little-endian integers; text is a u32 length, then the bytes):
//
//   event 1 opened       text account
//   event 2 deposited    text account, i64 amount, i64 balance    balance: after the deposit
//   event 3 withdrawn    text account, i64 amount, i64 balance    balance: after the withdrawal
//   event 4 transferred  text from, text to, i64 amount, i64 from_balance, i64 to_balance
//                        (both balances after the transfer)
//
//   command              u8 kind, then
//     1 open             text account
//     2 deposit          text account, i64 amount
//     3 withdraw         text account, i64 amount
//     4 transfer         text from, text to, i64 amount
//
// Account names are 1 to kMaxAccountBytes bytes; every encode and decode checks it. A
// command may carry any amount (the domain rejects one that is not positive); an event
// always carries a positive amount and balances of zero or more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "evring/builtin/sized_writer.hpp"
#include "evring/codec.hpp"

namespace evring::bank {

inline constexpr std::size_t kMaxAccountBytes = 64;

enum class EventType : std::uint32_t { opened = 1, deposited = 2, withdrawn = 3, transferred = 4 };
enum class CommandKind : std::uint8_t { open = 1, deposit = 2, withdraw = 3, transfer = 4 };

struct OpenedEvent {
  static constexpr EventType type = EventType::opened;
  std::string_view account;
};

struct DepositedEvent {
  static constexpr EventType type = EventType::deposited;
  std::string_view account;
  std::int64_t amount = 0;
  std::int64_t balance = 0;
};

struct WithdrawnEvent {
  static constexpr EventType type = EventType::withdrawn;
  std::string_view account;
  std::int64_t amount = 0;
  std::int64_t balance = 0;
};

struct TransferredEvent {
  static constexpr EventType type = EventType::transferred;
  std::string_view from;
  std::string_view to;
  std::int64_t amount = 0;
  std::int64_t from_balance = 0;
  std::int64_t to_balance = 0;
};

struct OpenCommand {
  std::string_view account;
};

struct DepositCommand {
  std::string_view account;
  std::int64_t amount = 0;
};

struct WithdrawCommand {
  std::string_view account;
  std::int64_t amount = 0;
};

struct TransferCommand {
  std::string_view from;
  std::string_view to;
  std::int64_t amount = 0;
};

using Command = std::variant<OpenCommand, DepositCommand, WithdrawCommand, TransferCommand>;

// MalformedInput naming the limit when an account name is out of bounds.
namespace detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_account(std::string_view account) {
  if (account.empty()) {
    throw MalformedInput("bank account name is empty: names are 1 to " +
                         std::to_string(kMaxAccountBytes) + " bytes");
  }
  throw MalformedInput("bank account name is " + std::to_string(account.size()) +
                       " bytes, more than the limit of " + std::to_string(kMaxAccountBytes));
}

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_amount(std::string_view what,
                                                                    std::int64_t amount) {
  throw MalformedInput(std::string(what) + " has amount " + std::to_string(amount) +
                       "; amounts are positive");
}

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_balance(std::string_view what,
                                                                     std::int64_t balance) {
  throw MalformedInput(std::string(what) + " has balance " + std::to_string(balance) +
                       "; balances are never negative");
}

// Inline checks with the messages out of line: replay and catch-up run them per event.
inline void check_event_amounts(std::string_view what, std::int64_t amount,
                                std::initializer_list<std::int64_t> balances) {
  if (amount <= 0) [[unlikely]] {
    throw_bad_amount(what, amount);
  }
  for (const std::int64_t balance : balances) {
    if (balance < 0) [[unlikely]] {
      throw_bad_balance(what, balance);
    }
  }
}

}  // namespace detail

inline void check_account(std::string_view account) {
  if (account.empty() || account.size() > kMaxAccountBytes) [[unlikely]] {
    detail::throw_bad_account(account);
  }
}

namespace detail {

// A command's account is also valid UTF-8: it came from outside (events are the writer's).
inline void check_command_account(std::string_view account) {
  check_account(account);
  check_utf8("account", account);
}

}  // namespace detail

// ---- events ----

namespace detail {

// Deposited and withdrawn events are laid out alike: the account, the amount, the balance.
template <class BalanceChange>
std::vector<std::byte> encode_balance_change(const BalanceChange& event,
                                             std::vector<std::byte>&& reuse) {
  check_account(event.account);
  builtin::SizedWriter out(builtin::SizedWriter::text_size(event.account) + 16, std::move(reuse));
  out.put_text(event.account).put(event.amount).put(event.balance);
  return out.take();
}

template <class BalanceChange>
BalanceChange decode_balance_change(std::span<const std::byte> bytes, const char* what) {
  ByteReader in(bytes, what);
  BalanceChange event;
  event.account = in.get_text();
  event.amount = in.get<std::int64_t>();
  event.balance = in.get<std::int64_t>();
  in.expect_end();
  check_account(event.account);
  check_event_amounts(what, event.amount, {event.balance});
  return event;
}

}  // namespace detail

// Events: `reuse` lends its storage (SizedWriter), for a caller that encodes many.
inline std::vector<std::byte> encode(const OpenedEvent& event, std::vector<std::byte> reuse = {}) {
  check_account(event.account);
  builtin::SizedWriter out(builtin::SizedWriter::text_size(event.account), std::move(reuse));
  out.put_text(event.account);
  return out.take();
}

inline std::vector<std::byte> encode(const DepositedEvent& event,
                                     std::vector<std::byte> reuse = {}) {
  return detail::encode_balance_change(event, std::move(reuse));
}

inline std::vector<std::byte> encode(const WithdrawnEvent& event,
                                     std::vector<std::byte> reuse = {}) {
  return detail::encode_balance_change(event, std::move(reuse));
}

inline std::vector<std::byte> encode(const TransferredEvent& event,
                                     std::vector<std::byte> reuse = {}) {
  check_account(event.from);
  check_account(event.to);
  builtin::SizedWriter out(
      builtin::SizedWriter::text_size(event.from) + builtin::SizedWriter::text_size(event.to) + 24,
      std::move(reuse));
  out.put_text(event.from)
      .put_text(event.to)
      .put(event.amount)
      .put(event.from_balance)
      .put(event.to_balance);
  return out.take();
}

inline OpenedEvent decode_opened_event(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "bank opened event");
  OpenedEvent event;
  event.account = in.get_text();
  in.expect_end();
  check_account(event.account);
  return event;
}
OpenedEvent decode_opened_event(std::vector<std::byte>&&) = delete;

inline DepositedEvent decode_deposited_event(std::span<const std::byte> bytes) {
  return detail::decode_balance_change<DepositedEvent>(bytes, "bank deposited event");
}
DepositedEvent decode_deposited_event(std::vector<std::byte>&&) = delete;

inline WithdrawnEvent decode_withdrawn_event(std::span<const std::byte> bytes) {
  return detail::decode_balance_change<WithdrawnEvent>(bytes, "bank withdrawn event");
}
WithdrawnEvent decode_withdrawn_event(std::vector<std::byte>&&) = delete;

inline TransferredEvent decode_transferred_event(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "bank transferred event");
  TransferredEvent event;
  event.from = in.get_text();
  event.to = in.get_text();
  event.amount = in.get<std::int64_t>();
  event.from_balance = in.get<std::int64_t>();
  event.to_balance = in.get<std::int64_t>();
  in.expect_end();
  check_account(event.from);
  check_account(event.to);
  if (event.from == event.to) {
    throw MalformedInput("bank transferred event moves money from " + json_string(event.from) +
                         " to itself");
  }
  detail::check_event_amounts("bank transferred event", event.amount,
                              {event.from_balance, event.to_balance});
  return event;
}
TransferredEvent decode_transferred_event(std::vector<std::byte>&&) = delete;

// One event as one JSON object, e.g. {"type":"deposited","account":"a","amount":5,"balance":12}.
inline std::string describe_event(std::uint32_t type, std::span<const std::byte> payload) {
  switch (static_cast<EventType>(type)) {
    case EventType::opened: {
      const OpenedEvent event = decode_opened_event(payload);
      return R"({"type":"opened","account":)" + json_string(event.account) + "}";
    }
    case EventType::deposited: {
      const DepositedEvent event = decode_deposited_event(payload);
      return R"({"type":"deposited","account":)" + json_string(event.account) + R"(,"amount":)" +
             std::to_string(event.amount) + R"(,"balance":)" + std::to_string(event.balance) + "}";
    }
    case EventType::withdrawn: {
      const WithdrawnEvent event = decode_withdrawn_event(payload);
      return R"({"type":"withdrawn","account":)" + json_string(event.account) + R"(,"amount":)" +
             std::to_string(event.amount) + R"(,"balance":)" + std::to_string(event.balance) + "}";
    }
    case EventType::transferred: {
      const TransferredEvent event = decode_transferred_event(payload);
      return R"({"type":"transferred","from":)" + json_string(event.from) + R"(,"to":)" +
             json_string(event.to) + R"(,"amount":)" + std::to_string(event.amount) +
             R"(,"from_balance":)" + std::to_string(event.from_balance) + R"(,"to_balance":)" +
             std::to_string(event.to_balance) + "}";
    }
  }
  throw MalformedInput("bank event type " + std::to_string(type) +
                       " is unknown (known: 1 opened, 2 deposited, 3 withdrawn, 4 transferred)");
}

// ---- commands ----

inline std::vector<std::byte> encode(const OpenCommand& command) {
  check_account(command.account);
  builtin::SizedWriter out(1 + builtin::SizedWriter::text_size(command.account));
  out.put(static_cast<std::uint8_t>(CommandKind::open)).put_text(command.account);
  return out.take();
}

namespace detail {

// Deposit and withdraw commands are laid out alike: the kind, the account, the amount.
template <class AmountCommand>
std::vector<std::byte> encode_amount_command(const AmountCommand& command, CommandKind kind) {
  check_account(command.account);
  builtin::SizedWriter out(1 + builtin::SizedWriter::text_size(command.account) + 8);
  out.put(static_cast<std::uint8_t>(kind)).put_text(command.account).put(command.amount);
  return out.take();
}

template <class AmountCommand>
AmountCommand decode_amount_command(ByteReader& in) {
  AmountCommand command;
  command.account = in.get_text();
  command.amount = in.get<std::int64_t>();
  in.expect_end();
  check_command_account(command.account);
  return command;
}

}  // namespace detail

inline std::vector<std::byte> encode(const DepositCommand& command) {
  return detail::encode_amount_command(command, CommandKind::deposit);
}

inline std::vector<std::byte> encode(const WithdrawCommand& command) {
  return detail::encode_amount_command(command, CommandKind::withdraw);
}

inline std::vector<std::byte> encode(const TransferCommand& command) {
  check_account(command.from);
  check_account(command.to);
  builtin::SizedWriter out(1 + builtin::SizedWriter::text_size(command.from) +
                           builtin::SizedWriter::text_size(command.to) + 8);
  out.put(static_cast<std::uint8_t>(CommandKind::transfer))
      .put_text(command.from)
      .put_text(command.to)
      .put(command.amount);
  return out.take();
}

inline std::vector<std::byte> encode(const Command& command) {
  return std::visit([](const auto& alternative) { return encode(alternative); }, command);
}

inline Command decode_command(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "bank command");
  const auto kind = in.get<std::uint8_t>();
  switch (static_cast<CommandKind>(kind)) {
    case CommandKind::open: {
      OpenCommand command;
      command.account = in.get_text();
      in.expect_end();
      detail::check_command_account(command.account);
      return command;
    }
    case CommandKind::deposit:
      return detail::decode_amount_command<DepositCommand>(in);
    case CommandKind::withdraw:
      return detail::decode_amount_command<WithdrawCommand>(in);
    case CommandKind::transfer: {
      TransferCommand command;
      command.from = in.get_text();
      command.to = in.get_text();
      command.amount = in.get<std::int64_t>();
      in.expect_end();
      detail::check_command_account(command.from);
      detail::check_command_account(command.to);
      return command;
    }
  }
  throw MalformedInput("bank command kind " + std::to_string(kind) +
                       " is unknown (known: 1 open, 2 deposit, 3 withdraw, 4 transfer)");
}
Command decode_command(std::vector<std::byte>&&) = delete;

inline constexpr std::string_view kVerbs =
    "open ACCOUNT, deposit ACCOUNT AMOUNT, withdraw ACCOUNT AMOUNT or transfer FROM TO AMOUNT";

// The words typed after `evring cmd --name N`, e.g. {"transfer", "alice", "bob", "25"}. The
// command points into the words. Any amount that fits an i64 parses: whether it is
// positive is a rule of the domain, not of the grammar.
inline Command parse_command(std::span<const std::string_view> words) {
  if (words.empty()) {
    throw MalformedInput("empty bank command: expected " + std::string(kVerbs));
  }
  const std::string_view verb = words[0];
  if (verb == "open") {
    expect_words(words, 2, "open ACCOUNT");
    check_account(words[1]);
    return OpenCommand{words[1]};
  }
  if (verb == "deposit") {
    expect_words(words, 3, "deposit ACCOUNT AMOUNT");
    check_account(words[1]);
    return DepositCommand{words[1], parse_integer<std::int64_t>(words[2], "amount")};
  }
  if (verb == "withdraw") {
    expect_words(words, 3, "withdraw ACCOUNT AMOUNT");
    check_account(words[1]);
    return WithdrawCommand{words[1], parse_integer<std::int64_t>(words[2], "amount")};
  }
  if (verb == "transfer") {
    expect_words(words, 4, "transfer FROM TO AMOUNT");
    check_account(words[1]);
    check_account(words[2]);
    return TransferCommand{words[1], words[2], parse_integer<std::int64_t>(words[3], "amount")};
  }
  throw MalformedInput("unknown bank command " + json_string(verb) + ": expected " +
                       std::string(kVerbs));
}

}  // namespace evring::bank
