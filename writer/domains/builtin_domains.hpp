// The domains built into evring-writer, chosen with --domain kv|bank.
#pragma once

#include <string_view>
#include <vector>

#include "evring/domain_abi.h"

namespace evring {

// kv: put/del, compare-and-set on a key's version (runtime/include/evring/builtin/kv_events.hpp).
const evring_domain_v1* kv_domain() noexcept;
// bank: accounts, deposit, withdraw, transfer, no overdraft (evring/builtin/bank_events.hpp).
const evring_domain_v1* bank_domain() noexcept;

// The built-in domain called `name`, or nullptr.
const evring_domain_v1* find_builtin_domain(std::string_view name) noexcept;
// Their names, for help texts and errors ("expected kv or bank").
std::vector<std::string_view> builtin_domain_names();

}  // namespace evring
