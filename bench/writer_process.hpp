// An evring-writer run as a real process for `evring-bench commands`: fork + exec of the
// binary beside evring-bench, pinned to one CPU, its stderr either passed on (it runs with
// --quiet) or captured line by line (the replay figure is read from its log). Stopped with
// SIGTERM, since only a clean stop removes its shared-memory segments; SIGKILL comes only
// past a deadline or on the way out of an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness/child_process.hpp"

namespace evring::bench {

struct WriterLaunch {
  std::filesystem::path binary;
  std::string instance;
  std::vector<std::string> args;  // after --name INSTANCE
  unsigned cpu = 0;
  bool capture_log = false;  // read stderr with next_log_line() instead of passing it on
};

// `given` (--writer) if not empty, else evring-writer in the folder of this executable
// (/proc/self/exe), where the build puts both. Throws Error(invalid_argument) if that is
// not an executable file, saying how to build it or to pass --writer.
std::filesystem::path find_writer_binary(const std::string& given);

// All members for the parent's thread that started it (ChildProcess's rule).
class WriterProcess {
 public:
  // Forks and execs; returns at once. Throws Error(resource/io) if fork or pipe fails.
  explicit WriterProcess(const WriterLaunch& launch);
  WriterProcess(const WriterProcess&) = delete;
  WriterProcess& operator=(const WriterProcess&) = delete;
  // Stops it like stop() if it still runs, and never throws.
  ~WriterProcess();

  // Waits until a client connects and the writer answering is this process (not a stale
  // segment's). Throws Error(io) if it exits first, on an interrupt or past deadline_ns.
  void wait_until_ready(std::int64_t deadline_ns);

  // capture_log only: the next line the writer printed (without the newline), or nullopt
  // once it closed stderr (it exited). Throws Error(io) past deadline_ns or on an interrupt.
  std::optional<std::string> next_log_line(std::int64_t deadline_ns);

  // SIGTERM, then waits for a clean exit (reading and dropping any log still coming, so the
  // writer never blocks on a full pipe). Throws Error(io) if it exits otherwise or is
  // still running at deadline_ns (then it is killed).
  void stop(std::int64_t deadline_ns);

  harness::ChildProcess& process() noexcept { return process_; }
  const std::string& instance() const noexcept { return instance_; }

 private:
  // Sets log_fd to the pipe's read end when capturing (before the fork returns).
  static harness::ChildProcess spawn(const WriterLaunch& launch, int& log_fd);

  std::string instance_;
  int log_fd_ = -1;  // read end of the writer's stderr, or -1; set before process_
  harness::ChildProcess process_;
  std::string pending_;  // bytes read past the last full line
  bool stopped_ = false;
};

}  // namespace evring::bench
