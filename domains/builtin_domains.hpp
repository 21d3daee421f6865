// The domains built into evring, by name: the writer runs one (--domain kv|bank), and the
// reader and the tools describe a built-in domain's events with its table
// (event_description.hpp). Each lives in its own folder, kv/ and bank/, with its view.
#pragma once

#include <string_view>
#include <vector>

#include "bank_tables.hpp"
#include "evring/domain_abi.h"
#include "kv_tables.hpp"

namespace evring {

// Any thread (the tables are static). The built-in domain called `name`, or nullptr.
const evring_domain_v1* find_builtin_domain(std::string_view name) noexcept;
// Their names, for help texts and errors ("expected kv or bank").
std::vector<std::string_view> builtin_domain_names();

}  // namespace evring
