#include "writer_process_support.hpp"

#include <fcntl.h>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evring/error.hpp"

namespace fs = std::filesystem;

namespace evring::test {
namespace {

// In a forked child: stdout and stderr to files, then exec. Returns only on failure.
int exec_with_output(const std::string& binary, const std::vector<std::string>& args,
                     const fs::path& out, const fs::path& err) {
  const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0) return 126;
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  const std::string path = binary_path(binary).string();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  std::perror(("exec " + path).c_str());
  return 127;
}

}  // namespace

TempDir::TempDir(const std::string& hint) {
  std::string pattern = "/tmp/evring-test-" + hint + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

fs::path binary_path(const std::string& name) {
  return fs::path(EVRING_BIN_DIR) / name;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

WriterProcess::WriterProcess(std::string instance, fs::path folder,
                             std::vector<std::string> extra_args)
    : instance_(std::move(instance)), folder_(std::move(folder)) {
  args_ = {"--name", instance_, "--journal", (folder_ / "journal").string()};
  args_.insert(args_.end(), extra_args.begin(), extra_args.end());
  launch();
}

WriterProcess::~WriterProcess() {
  if (process_) process_->kill_and_reap();
}

void WriterProcess::launch() {
  ++starts_;
  const fs::path log_path = folder_ / "writer.log";
  process_ = std::make_unique<ChildProcess>(ChildProcess::spawn("evring-writer", [&] {
    return exec_with_output("evring-writer", args_, folder_ / "writer.out", log_path);
  }));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (const auto status = process_->poll_exit()) {
      throw std::runtime_error("evring-writer exited during start (" +
                               process_->describe_exit(*status) + "):\n" + log());
    }
    try {
      Client probe = Client::connect(instance_);
      // Ours, not the previous start's segment.
      if (probe.writer_pid() == static_cast<std::uint64_t>(process_->pid())) return;
    } catch (const Error&) {
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("evring-writer did not become ready in 30 s:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void WriterProcess::kill9() {
  if (process_) process_->kill_and_reap();
}

int WriterProcess::stop() {
  process_->signal(SIGTERM);
  return process_->wait_for_exit(std::chrono::seconds(30));
}

void WriterProcess::restart() {
  launch();
}

pid_t WriterProcess::pid() const {
  return process_->pid();
}

std::string WriterProcess::log() const {
  return read_file(folder_ / "writer.log");
}

ToolResult run_tool(const std::string& binary, const std::vector<std::string>& args,
                    const fs::path& scratch, std::chrono::milliseconds timeout) {
  static int runs = 0;
  const int run = ++runs;
  const fs::path out = scratch / ("tool-" + std::to_string(run) + ".out");
  const fs::path err = scratch / ("tool-" + std::to_string(run) + ".err");
  ChildProcess child =
      ChildProcess::spawn(binary, [&] { return exec_with_output(binary, args, out, err); });
  const int status = child.wait_for_exit(timeout);
  ToolResult result;
  result.out = read_file(out);
  result.err = read_file(err);
  if (status == ChildProcess::kStillRunning) {
    child.kill_and_reap();
    result.exit_code = -1;
  } else {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return result;
}

Client connect_with_retry(const std::string& instance, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      return Client::connect(instance);
    } catch (const Error& e) {
      const bool restarting =
          e.code() == ErrorCode::no_instance || e.code() == ErrorCode::writer_gone;
      if (!restarting || std::chrono::steady_clock::now() > deadline) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace evring::test
