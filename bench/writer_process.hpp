// An evring-writer run as a real process for `evring-bench commands` and `views`
// (exec_process.hpp: pinned, stopped with SIGTERM), and the kv commands their clients send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness/child_process.hpp"
#include "harness/exec_process.hpp"

namespace evring::bench {

struct WriterLaunch {
  std::filesystem::path binary;
  std::string instance;
  std::vector<std::string> args;  // after --name INSTANCE
  unsigned cpu = 0;
  bool capture_log = false;  // read stderr with next_log_line() instead of passing it on
};

// `given` (--writer) if not empty, else evring-writer beside evring-bench
// (find_sibling_binary).
std::filesystem::path find_writer_binary(const std::string& given);

// All members for the parent's thread that started it (ChildProcess's rule).
class WriterProcess {
 public:
  // Forks and execs; returns at once. Throws Error(resource/io) if fork or pipe fails.
  explicit WriterProcess(const WriterLaunch& launch);

  // Waits until a client connects and the writer answering is this process (not a stale
  // segment's). Throws Error(io) if it exits first, on an interrupt or past deadline_ns.
  void wait_until_ready(std::int64_t deadline_ns);

  // capture_log only: the next line the writer printed (ExecProcess::next_log_line).
  std::optional<std::string> next_log_line(std::int64_t deadline_ns) {
    return exec_.next_log_line(deadline_ns);
  }

  // SIGTERM, then waits for a clean exit (ExecProcess::stop). The destructor does the
  // same if it still runs, and never throws.
  void stop(std::int64_t deadline_ns) { exec_.stop(deadline_ns); }

  harness::ChildProcess& process() noexcept { return exec_.process(); }
  const std::string& instance() const noexcept { return instance_; }

 private:
  std::string instance_;
  harness::ExecProcess exec_;
};

// What a benchmark client submits: kv puts (never refused, so every reply should be
// `accepted`) of a kPutValueBytes value to one of kPutKeys keys of client `client`'s own,
// encoded once up front so that a measured loop only submits.
inline constexpr std::uint32_t kPutKeys = 4'096;
inline constexpr std::size_t kPutValueBytes = 16;
std::vector<std::vector<std::byte>> encode_put_commands(unsigned client);

}  // namespace evring::bench
