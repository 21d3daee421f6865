// evring demo's workload: the client processes' random bank commands, pipelined.
#include <random>

#include <fmt/format.h>

#include "demo_run.hpp"
#include "exit_status.hpp"

namespace evring::tools::demo {

std::string account_name(std::uint32_t i) {
  return fmt::format("acct-{:04}", i);
}

// A client process's body: `quota` random deposits, withdrawals and transfers.
int run_client(const DemoConfig& config, unsigned index, std::uint64_t quota, ClientBoard& board) {
  Client client = Client::connect(config.instance);
  std::mt19937_64 random(0x5eed + index);
  std::uniform_int_distribution<std::uint32_t> pick_account(0, config.accounts - 1);
  std::uniform_int_distribution<std::int64_t> pick_amount(1, kMaxAmount);
  std::uniform_int_distribution<int> pick_kind(0, 99);
  std::uint64_t done = 0;
  std::uint64_t accepted = 0;
  std::int64_t net = 0;
  pipeline(
      client, quota,
      [&](std::uint64_t, std::vector<std::string>& words) {
        const int kind = pick_kind(random);
        const std::int64_t amount = pick_amount(random);
        const std::string amount_text = std::to_string(amount);
        if (kind < 45) {
          words = {"deposit", account_name(pick_account(random)), amount_text};
          return Pending{amount};
        }
        if (kind < 70) {
          words = {"withdraw", account_name(pick_account(random)), amount_text};
          return Pending{-amount};
        }
        words = {"transfer", account_name(pick_account(random)), account_name(pick_account(random)),
                 amount_text};
        return Pending{0};
      },
      [&](const Pending& pending, const CommandReply& reply) {
        if (reply.accepted()) {
          ++accepted;
          net += pending.net_change;
        }
        // relaxed: a display counter (see ClientBoard).
        board.done.store(++done, std::memory_order_relaxed);
      });
  // relaxed, all: the parent reads them after this process has exited.
  board.accepted.store(accepted, std::memory_order_relaxed);
  board.rejected.store(done - accepted, std::memory_order_relaxed);
  board.net.store(net, std::memory_order_relaxed);
  return kExitOk;
}

}  // namespace evring::tools::demo
