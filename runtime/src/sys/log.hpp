// What evring's processes print about themselves: each line has a level, each process one
// threshold (--log-level; --quiet is `error`). Lines go to stderr as "<program>: <text>",
// warnings as "<program>: warning: <text>", each in one write so the lines of processes
// sharing a terminal or a log file do not interleave mid-line.
#pragma once

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

}  // namespace evring
