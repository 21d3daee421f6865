#include "writer_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"

namespace fs = std::filesystem;

namespace evring::bench {
namespace {

constexpr std::int64_t kPollSliceMs = 100;  // between looks at the deadline
constexpr std::int64_t kDestructorStopNs = 5'000'000'000;
constexpr auto kReadyRetry = std::chrono::milliseconds(1);

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

fs::path find_writer_binary(const std::string& given) {
  if (!given.empty()) {
    if (::access(given.c_str(), X_OK) != 0) {
      throw Error(ErrorCode::invalid_argument,
                  "--writer " + given + ": not an executable file (" + errno_text(errno) + ")");
    }
    return given;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path writer = self.parent_path() / "evring-writer";
  if (ec || ::access(writer.c_str(), X_OK) != 0) {
    throw Error(ErrorCode::invalid_argument,
                "no evring-writer beside this evring-bench (looked for " + writer.string() +
                    "): build it (cmake --build BUILD --target evring-writer) or pass --writer "
                    "PATH");
  }
  return writer;
}

harness::ChildProcess WriterProcess::spawn(const WriterLaunch& launch, int& log_fd) {
  int fds[2] = {-1, -1};
  // O_CLOEXEC: no other child we exec inherits the write end and holds EOF off; the
  // dup2 onto the writer's stderr below makes a copy without the flag.
  if (launch.capture_log && ::pipe2(fds, O_CLOEXEC) != 0) {
    throw Error(ErrorCode::resource, "cannot make a pipe for the writer's log: " +
                                         errno_text(errno) + " (too many open files?)");
  }
  std::vector<std::string> words{launch.binary.string(), "--name", launch.instance};
  words.insert(words.end(), launch.args.begin(), launch.args.end());
  harness::ChildProcess child = harness::ChildProcess::spawn("evring-writer", [&] {
    harness::pin_to_cpu(launch.cpu);  // exec keeps the affinity
    if (fds[1] >= 0 && ::dup2(fds[1], STDERR_FILENO) < 0) return 126;
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror(("evring-bench: exec " + words[0]).c_str());
    return 127;
  });
  close_fd(fds[1]);  // the writer holds the only write end now: its exit is our EOF
  log_fd = fds[0];
  return child;
}

WriterProcess::WriterProcess(const WriterLaunch& launch)
    : instance_(launch.instance), process_(spawn(launch, log_fd_)) {}

WriterProcess::~WriterProcess() {
  if (!stopped_ && !process_.poll_exit()) {
    process_.signal(SIGTERM);
    process_.wait_for_exit(std::chrono::nanoseconds(kDestructorStopNs));
  }
  close_fd(log_fd_);
  // ~ChildProcess kills and reaps a writer that ignored SIGTERM.
}

void WriterProcess::wait_until_ready(std::int64_t deadline_ns) {
  for (;;) {
    process_.check_running();
    harness::throw_if_interrupted();
    try {
      const Client probe = Client::connect(instance_);
      if (probe.writer_pid() == static_cast<std::uint64_t>(process_.pid())) return;
    } catch (const Error& e) {
      // Not there yet (or a dead writer's leftover, which ours replaces): look again.
      if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
    }
    if (monotonic_ns() > deadline_ns) {
      throw Error(ErrorCode::io, "evring-writer (pid " + std::to_string(process_.pid()) +
                                     ") took no client before the deadline; see its messages");
    }
    std::this_thread::sleep_for(kReadyRetry);
  }
}

std::optional<std::string> WriterProcess::next_log_line(std::int64_t deadline_ns) {
  for (;;) {
    if (const std::size_t end = pending_.find('\n'); end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return line;
    }
    if (log_fd_ < 0) {
      if (pending_.empty()) return std::nullopt;
      return std::exchange(pending_, {});
    }
    harness::throw_if_interrupted();
    const std::int64_t left_ns = deadline_ns - monotonic_ns();
    if (left_ns <= 0) {
      throw Error(ErrorCode::io, "evring-writer (pid " + std::to_string(process_.pid()) +
                                     ") printed nothing expected before the deadline");
    }
    pollfd ready{log_fd_, POLLIN, 0};
    const int wait_ms = static_cast<int>(std::min(kPollSliceMs, left_ns / 1'000'000 + 1));
    if (::poll(&ready, 1, wait_ms) <= 0) continue;  // timeout or EINTR: look again
    char chunk[4096];
    const ssize_t got = ::read(log_fd_, chunk, sizeof chunk);
    if (got > 0) {
      pending_.append(chunk, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      close_fd(log_fd_);  // EOF: the writer has exited
    }
  }
}

void WriterProcess::stop(std::int64_t deadline_ns) {
  if (stopped_) return;
  stopped_ = true;
  process_.signal(SIGTERM);
  // Kept for the error below: a writer that fails to stop says why in its last lines.
  std::string tail;
  while (log_fd_ >= 0) {
    const std::optional<std::string> line = next_log_line(deadline_ns);
    if (!line) break;
    tail += "\n  " + *line;
  }
  try {
    process_.join(deadline_ns);
  } catch (const Error& e) {
    throw Error(e.code(), e.what() + (tail.empty() ? std::string() : "; its last words:" + tail));
  }
}

}  // namespace evring::bench
