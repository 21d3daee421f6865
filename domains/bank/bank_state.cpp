#include "bank_state.hpp"

#include <string>

#include "evring/builtin/bank_events.hpp"
#include "state_snapshot.hpp"

namespace evring::bank {

void put_balances(ByteWriter& out, const Balances& balances) {
  state_snapshot::put_entries(out, state_snapshot::sorted_nodes(balances),
                              [](ByteWriter& to, std::int64_t balance) { to.put(balance); });
}

Balances get_balances(ByteReader& in, std::size_t snapshot_bytes, std::string_view what) {
  // The smallest entry: a u32 length, a one-byte name and an i64 balance.
  constexpr std::size_t kSmallestEntry = 4 + 1 + 8;
  return state_snapshot::get_entries<std::int64_t>(
      in, snapshot_bytes, kSmallestEntry, what, "account",
      [&](ByteReader& from, std::string_view holder) {
        const auto balance = from.get<std::int64_t>();
        check_account(holder);
        if (balance < 0) {
          throw MalformedInput(std::string(what) + " has account " + json_string(holder) +
                               " at a negative balance, " + std::to_string(balance));
        }
        return balance;
      },
      [](const AccountNode&) {});
}

}  // namespace evring::bank
