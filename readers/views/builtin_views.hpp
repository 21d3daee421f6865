// The views built into evring-reader, chosen with --view kv|bank|stats|tail: linked in
// rather than loaded with dlopen, but reached through the same C table as a plugin, so the
// reader has one code path. The kv and bank views live with their domains
// (domains/kv, domains/bank); stats and tail, which serve any domain, here.
#pragma once

#include <string_view>
#include <vector>

#include "bank_tables.hpp"
#include "evring/view_abi.h"
#include "kv_tables.hpp"

namespace evring {

// stats: any domain's events counted by type, rate and lag; `summary`.
const evring_view_v1* stats_view() noexcept;
// tail: each event as one JSON line to stdout or a file (config out=PATH,domain=kv|bank|raw,
// flush=N); `count`.
const evring_view_v1* tail_view() noexcept;

// Any thread (the tables are static). The built-in view called `name`, or nullptr.
const evring_view_v1* find_builtin_view(std::string_view name) noexcept;
// Their names, for help texts and errors ("expected kv, bank, stats or tail").
std::vector<std::string_view> builtin_view_names();

}  // namespace evring
