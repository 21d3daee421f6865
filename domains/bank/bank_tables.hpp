// The built-in bank domain and bank view as the C tables the writer and the reader reach
// them through, as they would a plugin's. Their events and commands: the public
// runtime/include/evring/builtin/bank_events.hpp.
#pragma once

#include "evring/domain_abi.h"
#include "evring/view_abi.h"

namespace evring {

// Any thread (the tables are static).
// bank: accounts, deposit, withdraw, transfer, no overdraft.
const evring_domain_v1* bank_domain() noexcept;
// bank: the bank domain's accounts; `balance ACCOUNT`, `top N`, `total`.
const evring_view_v1* bank_view() noexcept;

}  // namespace evring
