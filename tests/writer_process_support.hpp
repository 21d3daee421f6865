// Real evring-writer and evring processes for the tests: started from build/bin with exec,
// their output captured in files of the test's temporary folder, killed by pid on every
// path out.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

std::filesystem::path binary_path(const std::string& name);  // build/bin/<name>

std::string read_file(const std::filesystem::path& path);

// One evring-writer process. Its stderr goes to <folder>/writer-<n>.log.
class WriterProcess {
 public:
  // Starts `evring-writer --name instance --journal folder/journal <extra...>` and waits
  // until it takes commands (a client connects), or throws with its log.
  WriterProcess(std::string instance, std::filesystem::path folder,
                std::vector<std::string> extra_args);
  ~WriterProcess();

  void kill9();  // SIGKILL and reap
  // SIGTERM, then waits for its exit; returns the wait status.
  int stop();
  // Starts it again with the same arguments (after kill9 or stop).
  void restart();
  pid_t pid() const;
  // Everything it printed to stderr, over all its starts.
  std::string log() const;
  std::filesystem::path journal() const { return folder_ / "journal"; }

 private:
  void launch();

  std::string instance_;
  std::filesystem::path folder_;
  std::vector<std::string> args_;
  std::unique_ptr<ChildProcess> process_;
  int starts_ = 0;
};

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs build/bin/<binary> with args to its end (at most `timeout`), capturing its output.
ToolResult run_tool(const std::string& binary, const std::vector<std::string>& args,
                    const std::filesystem::path& scratch,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Connects to the instance, retrying while its writer is (re)starting, up to `timeout`.
Client connect_with_retry(const std::string& instance, std::chrono::milliseconds timeout);

}  // namespace evring::test
