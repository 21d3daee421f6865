#include "writer_process_support.hpp"

#include <fcntl.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "evring/error.hpp"
#include "evring/query_client.hpp"

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

void use_private_folders(const fs::path& folder) {
  ::setenv("XDG_RUNTIME_DIR", folder.c_str(), 1);
  ::setenv("XDG_STATE_HOME", (folder / "state").c_str(), 1);
}

void ProcessTest::SetUp() {
  use_private_folders(dir());
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

ServiceProcess::ServiceProcess(std::string binary, fs::path folder, std::string log_name,
                               std::vector<std::string> args, std::function<bool(pid_t)> ready)
    : binary_(std::move(binary)),
      folder_(std::move(folder)),
      log_name_(std::move(log_name)),
      args_(std::move(args)),
      ready_(std::move(ready)) {
  launch();
}

ServiceProcess::~ServiceProcess() {
  if (process_) process_->kill_and_reap();
}

void ServiceProcess::launch() {
  const fs::path log_path = folder_ / (log_name_ + ".log");
  const fs::path out_path = folder_ / (log_name_ + ".out");
  process_ = std::make_unique<ChildProcess>(ChildProcess::spawn(
      binary_, [&] { return exec_with_output(binary_, args_, out_path, log_path); }));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (const auto status = process_->poll_exit()) {
      throw std::runtime_error(binary_ + " exited during start (" +
                               process_->describe_exit(*status) + "):\n" + log());
    }
    if (ready_(process_->pid())) return;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(binary_ + " did not become ready in 30 s:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void ServiceProcess::kill9() {
  if (process_) process_->kill_and_reap();
}

int ServiceProcess::stop() {
  process_->signal(SIGTERM);
  return process_->wait_for_exit(std::chrono::seconds(30));
}

void ServiceProcess::restart() {
  launch();
}
void ServiceProcess::signal(int signal_number) const {
  process_->signal(signal_number);
}
pid_t ServiceProcess::pid() const {
  return process_->pid();
}
std::optional<int> ServiceProcess::poll_exit() {
  return process_->poll_exit();
}
std::string ServiceProcess::log() const {
  return read_file(folder_ / (log_name_ + ".log"));
}

WriterProcess::WriterProcess(const std::string& instance, fs::path folder,
                             std::vector<std::string> extra_args)
    : ServiceProcess(
          "evring-writer", folder, "writer",
          [&] {
            std::vector<std::string> args{"--name", instance};
            const auto has = [&](const char* flag) {
              return std::find(extra_args.begin(), extra_args.end(), flag) != extra_args.end();
            };
            if (!has("--no-journal") && !has("--journal")) {
              args.insert(args.end(), {"--journal", (folder / "journal").string()});
            }
            args.insert(args.end(), extra_args.begin(), extra_args.end());
            return args;
          }(),
          [instance](pid_t pid) {
            try {
              Client probe = Client::connect(instance);
              // Ours, not the previous start's segment.
              return probe.writer_pid() == static_cast<std::uint64_t>(pid);
            } catch (const Error&) {
              return false;
            }
          }),
      journal_([&] {
        const auto given = std::find(extra_args.begin(), extra_args.end(), "--journal");
        return given != extra_args.end() && given + 1 != extra_args.end() ? fs::path(*(given + 1))
                                                                          : folder / "journal";
      }()) {}

ReaderProcess::ReaderProcess(const std::string& instance, const std::string& id,
                             const fs::path& folder, std::vector<std::string> extra_args)
    : ServiceProcess(
          "evring-reader", folder, "reader-" + id,
          [&] {
            std::vector<std::string> args{"--name", instance,           "--id",
                                          id,       "--checkpoint-dir", (folder / id).string()};
            args.insert(args.end(), extra_args.begin(), extra_args.end());
            return args;
          }(),
          [instance, id](pid_t) {
            try {
              // Any answer (an error for these words) means it serves queries.
              QueryClient probe = QueryClient::connect(instance, id);
              probe.query({"__ready__"});
              return true;
            } catch (const Error& e) {
              if (std::getenv("EVRING_TEST_DEBUG")) std::fprintf(stderr, "probe: %s\n", e.what());
              return false;
            }
          }) {}

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

std::uint64_t put_values(const std::string& instance, int from, int count,
                         std::size_t value_bytes) {
  Client client = connect_with_retry(instance, std::chrono::seconds(30));
  const std::string value(value_bytes, 'v');
  std::uint64_t seq = 0;
  for (int i = from; i < from + count; ++i) {
    const CommandReply reply = client.submit_text({"put", "k" + std::to_string(i), value});
    EXPECT_TRUE(reply.accepted()) << reply.reason;
    seq = reply.seq;
  }
  return seq;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void expect_export_equals_tail(const ToolResult& exported, const ToolResult& tail,
                               std::size_t events, bool with_command_ids) {
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  const std::vector<std::string> export_lines = lines_of(exported.out);
  const std::vector<std::string> tail_lines = lines_of(tail.out);
  ASSERT_EQ(export_lines.size(), events);
  ASSERT_EQ(tail_lines.size(), events);
  for (std::size_t i = 0; i < events; ++i) {
    nlohmann::json line = nlohmann::json::parse(export_lines[i]);
    if (with_command_ids) {
      EXPECT_TRUE(line.contains("command_id")) << export_lines[i];
    }
    line.erase("command_id");
    EXPECT_EQ(line, nlohmann::json::parse(tail_lines[i])) << export_lines[i];
  }
}

}  // namespace evring::test
