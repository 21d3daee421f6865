// Exit statuses of the evring command (DESIGN.md, "the contract") and the one place that
// turns an error into the message a user reads.
#pragma once

#include <string>

#include "evring/error.hpp"

namespace evring::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 2;     // bad flags, no such instance, writer not running, ...
inline constexpr int kExitRejected = 3;  // the domain rejected the command
inline constexpr int kExitStale = 4;     // a query's --after was not reached within --timeout
inline constexpr int kExitDamaged = 5;   // journal verify: a bad header, record or seq gap
inline constexpr int kExitTornTail = 6;  // journal verify: only a torn tail, cut at the next start

// The error's own message (what went wrong and what to do), prefixed with its kind, and a
// hint for the kinds whose remedy lies outside evring.
std::string describe(const Error& error);

}  // namespace evring::tools
