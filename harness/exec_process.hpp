// One of evring's programs (evring-writer, evring-reader) run as a real process by
// evring-bench or the evring demo: fork + exec of the binary beside the running program,
// optionally pinned to one CPU, its stderr passed on, captured line by line, or written to
// a file. Stopped with SIGTERM, since only a clean stop removes its shared-memory segments
// and sockets; SIGKILL comes only past a deadline or on the way out of an error.
#pragma once

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "evring/query_client.hpp"
#include "harness/child_process.hpp"

namespace evring::harness {

struct ExecLaunch {
  std::filesystem::path binary;
  std::vector<std::string> args;  // after the binary's own name
  std::optional<unsigned> cpu;    // pinned to it if set; else where the scheduler likes
  bool capture_log = false;       // read stderr with next_log_line() instead of passing it on
  // If set (and not capture_log): stdout and stderr appended to this file.
  std::filesystem::path log_file;
  // Sent to it when the parent's thread that started it ends; 0: it outlives the parent.
  int parent_death_signal = SIGKILL;
  // In a session of its own (setsid): a Ctrl-C on the terminal reaches only the parent,
  // which stops it with SIGTERM.
  bool own_session = false;
  // What stop() sends for a clean stop (nats-server exits 0 on SIGINT, 1 on SIGTERM).
  int stop_signal = SIGTERM;
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

  // Lets it run on past this object (never stopped, killed or reaped here); its pid.
  pid_t release() noexcept;

  ChildProcess& process() noexcept { return process_; }
  const std::string& name() const noexcept { return name_; }

 private:
  // Sets log_fd to the pipe's read end when capturing (before the fork returns).
  static ChildProcess spawn(const ExecLaunch& launch, int& log_fd);

  std::string name_;  // the binary's file name, for messages
  int log_fd_ = -1;   // read end of its stderr, or -1; set before process_
  ChildProcess process_;
  std::string pending_;  // bytes read past the last full line
  bool stopped_ = false;
  int stop_signal_ = SIGTERM;
};

// Waits until a client connects to `instance` and the writer answering is `writer` (not
// a stale segment's). Throws Error(io) if it exits first, on an interrupt or past
// deadline_ns.
void wait_for_writer(ChildProcess& writer, const std::string& instance, std::int64_t deadline_ns);

// Waits until `reader` (an evring-reader with id `id`) takes query connections: its stream
// is open, so a live reader has fixed where it starts. Throws like wait_for_writer.
QueryClient wait_for_reader_queries(ChildProcess& reader, const std::string& instance,
                                    const std::string& id, std::int64_t deadline_ns);

}  // namespace evring::harness
