#include "sys/log.hpp"

#include <unistd.h>

#include <utility>

#include "evring/error.hpp"

namespace evring {

LogLevel parse_log_level(std::string_view word) {
  if (word == "error") return LogLevel::error;
  if (word == "warn") return LogLevel::warn;
  if (word == "info") return LogLevel::info;
  if (word == "debug") return LogLevel::debug;
  throw Error(ErrorCode::invalid_argument,
              "--log-level " + std::string(word) + ": choose error, warn, info or debug");
}

LogSink stderr_log(std::string program, LogLevel threshold) {
  return [program = std::move(program), threshold](LogLevel level, std::string_view text) {
    if (level > threshold) return;
    std::string line = program + ": ";
    if (level == LogLevel::warn) line += "warning: ";
    line.append(text);
    line += '\n';
    // One write(2): a whole line or nothing, never half a line between another's.
    [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  };
}

}  // namespace evring
