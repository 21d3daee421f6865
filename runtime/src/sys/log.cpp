#include "sys/log.hpp"

#include <time.h>
#include <unistd.h>

#include <cstdio>

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

namespace {
template <class... Args>
std::string printed(const char* format, Args... args) {
  char text[64];
  std::snprintf(text, sizeof text, format, args...);
  return text;
}
}  // namespace

std::string rate_text(std::uint64_t count, std::int64_t ns) {
  if (ns <= 0) return "-";
  return printed("%.2f M", static_cast<double>(count) * 1e3 / static_cast<double>(ns));
}

std::int64_t thread_cpu_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

std::string time_left_text(std::uint64_t left, std::uint64_t count, std::int64_t ns) {
  if (count == 0 || ns <= 0) return {};
  const double seconds =
      static_cast<double>(left) * static_cast<double>(ns) / static_cast<double>(count) / 1e9;
  if (seconds < 100) return printed("about %.1f s left", seconds);
  if (seconds < 6000) return printed("about %.0f min left", seconds / 60);
  return printed("about %.1f h left", seconds / 3600);
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
