// How a process waits for something another process will do (a reply, the next record):
//
//   spin   busy-polls with a pause instruction: lowest latency, burns a whole core.
//   yield  polls and gives the core away between polls (sched_yield): for shared cores.
//   block  polls briefly, then sleeps on a futex until the other side rings.
#pragma once

#include <cstdint>
#include <string_view>

namespace evring {

enum class WaitKind : std::uint32_t { spin = 0, yield = 1, block = 2 };

// "spin", "yield" or "block"; throws Error(invalid_argument) naming the choices.
WaitKind parse_wait_kind(std::string_view text);
std::string_view to_string(WaitKind kind);

}  // namespace evring
