// The bank state as the bank domain and the bank view both keep it, each account's
// balance, and its codec in their snapshots (state_snapshot.hpp): one definition, so the
// domain and the view cannot come to disagree on what a state is. Entry layout: text
// account, i64 balance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "evring/codec.hpp"
#include "flat_string_map.hpp"

namespace evring::bank {

using Balances = containers::FlatStringMap<std::int64_t>;
using AccountNode = Balances::Node;

// Writes the balances in account order.
void put_balances(ByteWriter& out, const Balances& balances);

// Reads what put_balances wrote, checking each account name and refusing a negative
// balance; `what` names the snapshot in errors ("bank snapshot", "bank view snapshot"),
// `snapshot_bytes` is its size.
Balances get_balances(ByteReader& in, std::size_t snapshot_bytes, std::string_view what);

}  // namespace evring::bank
