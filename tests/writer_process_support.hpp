// Real evring-writer and evring processes for the tests: started from build/bin with exec,
// their output captured in files of the test's temporary folder, killed by pid on every
// path out.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "test_support.hpp"

namespace evring::test {

// A fresh folder under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& hint);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// Makes `folder` the runtime folder (sockets) of this process and of every process it starts,
// and folder/state their data folder (XDG_RUNTIME_DIR, XDG_STATE_HOME).
void use_private_folders(const std::filesystem::path& folder);

// A fixture for tests that run evring processes: its own temporary folder, which is also
// their private folders (use_private_folders), so no two tests meet.
class ProcessTest : public ::testing::Test {
 protected:
  explicit ProcessTest(const std::string& hint) : dir_(hint) {}
  void SetUp() override;
  const std::filesystem::path& dir() const noexcept { return dir_.path(); }

 private:
  TempDir dir_;
};

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::filesystem::path binary_path(const std::string& name);  // build/bin/<name>

std::string read_file(const std::filesystem::path& path);

// A long-running evring process (a writer or a reader) started from build/bin with exec;
// its stderr goes to <folder>/<log name>.log, over all its starts.
class ServiceProcess {
 public:
  // Starts `binary args...` and waits until ready() (called with the new pid) holds, or
  // throws with its log (also when it exits during the start).
  ServiceProcess(std::string binary, std::filesystem::path folder, std::string log_name,
                 std::vector<std::string> args, std::function<bool(pid_t)> ready);
  ~ServiceProcess();

  void kill9();  // SIGKILL and reap
  // SIGTERM, then waits for its exit; returns the wait status.
  int stop();
  // Starts it again with the same arguments (after kill9 or stop).
  void restart();
  void signal(int signal_number) const;
  pid_t pid() const;
  // Never blocks: the wait status once it has exited.
  std::optional<int> poll_exit();
  std::string log() const;

 private:
  void launch();

  std::string binary_;
  std::filesystem::path folder_;
  std::string log_name_;
  std::vector<std::string> args_;
  std::function<bool(pid_t)> ready_;
  std::unique_ptr<ChildProcess> process_;
};

// evring-writer --name instance --journal folder/journal <extra...> (extra's own --journal
// or --no-journal instead, if it has one): ready once a client connects to it (not to a
// previous start's segments).
class WriterProcess : public ServiceProcess {
 public:
  WriterProcess(const std::string& instance, std::filesystem::path folder,
                std::vector<std::string> extra_args);
  std::filesystem::path journal() const { return journal_; }

 private:
  std::filesystem::path journal_;
};

// evring-reader --name instance --id id --checkpoint-dir folder/<id> <extra...>: ready once
// it answers a query.
class ReaderProcess : public ServiceProcess {
 public:
  ReaderProcess(const std::string& instance, const std::string& id,
                const std::filesystem::path& folder, std::vector<std::string> extra_args);
};

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs build/bin/<binary> (or `binary` itself when it is an absolute path) with args to its
// end (at most `timeout`), capturing its output.
ToolResult run_tool(const std::string& binary, const std::vector<std::string>& args,
                    const std::filesystem::path& scratch,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Connects to the instance, retrying while its writer is (re)starting, up to `timeout`.
Client connect_with_retry(const std::string& instance, std::chrono::milliseconds timeout);

// kv: put k<from>..k<from+count-1>, each a value of `value_bytes`, every one accepted (a
// test failure otherwise); returns the last seq.
std::uint64_t put_values(const std::string& instance, int from, int count, std::size_t value_bytes);

// A tool's output, a line an element.
std::vector<std::string> lines_of(const std::string& text);

// Both succeeded with `events` lines, and each line of `evring journal export` is
// `evring tail --json`'s for the same event plus its command id, if it has one
// (`with_command_ids`: every event must).
void expect_export_equals_tail(const ToolResult& exported, const ToolResult& tail,
                               std::size_t events, bool with_command_ids);

}  // namespace evring::test
