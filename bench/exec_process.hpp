// One of evring's programs (evring-writer, evring-reader) run as a real process by
// evring-bench: fork + exec of the binary beside evring-bench, pinned to one CPU, its
// stderr either passed on or captured line by line. Stopped with SIGTERM, since only a
// clean stop removes its shared-memory segments and sockets; SIGKILL comes only past a
// deadline or on the way out of an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness/child_process.hpp"

namespace evring::bench {

struct ExecLaunch {
  std::filesystem::path binary;
  std::vector<std::string> args;  // after the binary's own name
  unsigned cpu = 0;
  bool capture_log = false;  // read stderr with next_log_line() instead of passing it on
};

// `given` (the flag `flag`) if not empty, else `name` in the folder of this executable
// (/proc/self/exe), where the build puts them all. Throws Error(invalid_argument) if that
// is not an executable file, saying how to build it or to pass the flag.
std::filesystem::path find_sibling_binary(const std::string& name, const std::string& given,
                                          const std::string& flag);

// All members for the parent's thread that started it (ChildProcess's rule).
class ExecProcess {
 public:
  // Forks and execs; returns at once. Throws Error(resource/io) if fork or pipe fails.
  explicit ExecProcess(const ExecLaunch& launch);
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;
  // Stops it like stop() if it still runs, and never throws.
  ~ExecProcess();

  // capture_log only: the next line it printed (without the newline), or nullopt once it
  // closed stderr (it exited). Throws Error(io) past deadline_ns or on an interrupt.
  std::optional<std::string> next_log_line(std::int64_t deadline_ns);

  // SIGTERM, then waits for a clean exit (reading and dropping any log still coming, so
  // it never blocks on a full pipe). Throws Error(io) if it exits otherwise or is still
  // running at deadline_ns (then it is killed).
  void stop(std::int64_t deadline_ns);

  harness::ChildProcess& process() noexcept { return process_; }
  const std::string& name() const noexcept { return name_; }

 private:
  // Sets log_fd to the pipe's read end when capturing (before the fork returns).
  static harness::ChildProcess spawn(const ExecLaunch& launch, int& log_fd);

  std::string name_;  // the binary's file name, for messages
  int log_fd_ = -1;   // read end of its stderr, or -1; set before process_
  harness::ChildProcess process_;
  std::string pending_;  // bytes read past the last full line
  bool stopped_ = false;
};

}  // namespace evring::bench
