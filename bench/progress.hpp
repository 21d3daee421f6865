// A progress line on stderr for a step that takes more than a second, so a long run never
// looks hung. Silent for the first second (short steps print nothing), then at most one
// update a second: on a terminal one line rewritten in place, elsewhere (a log) one line
// per update. stdout, which holds the tables, is left alone.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "evring/clock.hpp"

namespace evring::bench {

class Progress {
 public:
  // `total` 0: a count with no known end.
  Progress(std::string what, std::uint64_t total)
      : what_(std::move(what)),
        total_(total),
        next_print_ns_(monotonic_ns() + kIntervalNs),
        terminal_(::isatty(STDERR_FILENO) != 0) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  // Reads the clock: call it every few thousand iterations of a hot loop, not every one.
  void update(std::uint64_t done) {
    const std::int64_t now = monotonic_ns();
    if (now < next_print_ns_) return;
    next_print_ns_ = now + kIntervalNs;
    const std::string line =
        total_ == 0 ? fmt::format("{}: {}", what_, done)
                    : fmt::format("{}: {} of {} ({:.0f}%)", what_, done, total_,
                                  100.0 * static_cast<double>(done) / static_cast<double>(total_));
    // \033[K clears what a longer earlier line left on the terminal.
    if (terminal_) {
      fmt::print(stderr, "\r{}\033[K", line);
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
    shown_ = true;
  }

  // Clears the in-place line, so the next output starts on a clean line. Idempotent.
  void finish() {
    if (shown_ && terminal_) {
      fmt::print(stderr, "\r\033[K");
      std::fflush(stderr);
    }
    shown_ = false;
  }

 private:
  static constexpr std::int64_t kIntervalNs = 1'000'000'000;
  std::string what_;
  std::uint64_t total_;
  std::int64_t next_print_ns_;
  bool terminal_;
  bool shown_ = false;
};

}  // namespace evring::bench
