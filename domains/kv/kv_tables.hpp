// The built-in kv domain and kv view as the C tables the writer and the reader reach them
// through, as they would a plugin's. Their events and commands: the public
// runtime/include/evring/builtin/kv_events.hpp.
#pragma once

#include "evring/domain_abi.h"
#include "evring/view_abi.h"

namespace evring {

// Any thread (the tables are static).
// kv: put/del, compare-and-set on a key's version.
const evring_domain_v1* kv_domain() noexcept;
// kv: the kv domain's keys; `get KEY`, `scan PREFIX [LIMIT]`, `count`.
const evring_view_v1* kv_view() noexcept;

}  // namespace evring
