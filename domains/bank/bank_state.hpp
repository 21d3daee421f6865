// The bank state as the bank domain and the bank view both keep it, each account's
// balance, and its codec in their snapshots (state_snapshot.hpp): one definition, so the
// domain and the view cannot come to disagree on what a state is. Entry layout: text
// account, i64 balance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "evring/builtin/bank_events.hpp"
#include "evring/codec.hpp"
#include "evring/event.hpp"
#include "flat_string_map.hpp"
#include "look_ahead.hpp"

namespace evring::bank {

using Balances = containers::FlatStringMap<std::int64_t>;
using AccountNode = Balances::Node;

// Writes the balances in account order.
void put_balances(ByteWriter& out, const Balances& balances);

// Reads what put_balances wrote, checking each account name and refusing a negative
// balance; `what` names the snapshot in errors ("bank snapshot", "bank view snapshot"),
// `snapshot_bytes` is its size.
Balances get_balances(ByteReader& in, std::size_t snapshot_bytes, std::string_view what);

// The accounts a bank event names, for looking ahead along a run (look_ahead.hpp): every
// bank event starts with one; a transfer's second field is the other.
inline std::size_t peek_accounts(const Event& event, look_ahead::Looked::Keys& keys) noexcept {
  std::size_t offset = 0;
  keys[0].bytes = look_ahead::peek_text(event, offset);
  if (keys[0].bytes.empty()) return 0;
  if (event.type != static_cast<std::uint32_t>(EventType::transferred)) return 1;
  keys[1].bytes = look_ahead::peek_text(event, offset);
  return keys[1].bytes.empty() ? 1 : 2;
}

}  // namespace evring::bank
