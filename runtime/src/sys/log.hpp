// What evring's processes print about themselves: each line has a level, each process one
// threshold (--log-level; --quiet is `error`). Lines go to stderr as "<program>: <text>",
// warnings as "<program>: warning: <text>", each in one write so the lines of processes
// sharing a terminal or a log file do not interleave mid-line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace evring {

// error: what stops the process; warn: something set aside or cut off that the operator
// should know of; info (the default): start, readiness, long replays and stops; debug:
// every snapshot and checkpoint too.
enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

// "error", "warn", "info" or "debug"; Error(invalid_argument) naming them for another word.
LogLevel parse_log_level(std::string_view word);

using LogSink = std::function<void(LogLevel level, std::string_view text)>;

// Prints the lines at or above `threshold` to stderr.
LogSink stderr_log(std::string program, LogLevel threshold);

// For the progress lines of long runs (the writer's replay, a reader's catch-up): `count`
// events in `ns` as "12.34 M" (events/s; "-" for no time), and the time the `left` events
// will take at that pace as "about 1.5 s left" ("about 3 min left"; empty before any
// pace is known).
std::string rate_text(std::uint64_t count, std::int64_t ns);
// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), in ns: beside the wall clock, a
// rate that does not count the time others had the core.
std::int64_t thread_cpu_ns() noexcept;
std::string time_left_text(std::uint64_t left, std::uint64_t count, std::int64_t ns);

}  // namespace evring
