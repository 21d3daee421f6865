#include "harness/exec_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
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

namespace evring::harness {
namespace {

constexpr std::int64_t kPollSliceMs = 100;  // between looks at the deadline
constexpr std::int64_t kDestructorStopNs = 5'000'000'000;
constexpr auto kExitPoll = std::chrono::milliseconds(1);
constexpr auto kReadyRetry = std::chrono::milliseconds(1);

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Waits for `child` to exit until deadline_ns, also after an interrupt: unlike
// ChildProcess::wait_for_exit, which returns at once then, so that the SIGKILL that
// follows would leave behind the segments and sockets a clean stop removes.
void wait_for_clean_exit(ChildProcess& child, std::int64_t deadline_ns) noexcept {
  while (!child.poll_exit() && monotonic_ns() < deadline_ns) {
    std::this_thread::sleep_for(kExitPoll);
  }
}

}  // namespace

fs::path find_sibling_binary(const std::string& name, const std::string& given,
                             const std::string& flag) {
  if (!given.empty()) {
    if (::access(given.c_str(), X_OK) != 0) {
      throw Error(ErrorCode::invalid_argument,
                  flag + " " + given + ": not an executable file (" + errno_text(errno) + ")");
    }
    return given;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path binary = self.parent_path() / name;
  if (ec || ::access(binary.c_str(), X_OK) != 0) {
    throw Error(ErrorCode::invalid_argument,
                "no " + name + " beside this program (looked for " + binary.string() +
                    "): build it (cmake --build BUILD --target " + name + ")" +
                    (flag.empty() ? std::string() : " or pass " + flag + " PATH"));
  }
  return binary;
}

ChildProcess ExecProcess::spawn(const ExecLaunch& launch, int& log_fd) {
  int fds[2] = {-1, -1};
  // O_CLOEXEC: no other child we exec inherits the write end and holds EOF off; the
  // dup2 onto the child's stderr below makes a copy without the flag.
  if (launch.capture_log && ::pipe2(fds, O_CLOEXEC) != 0) {
    throw Error(ErrorCode::resource, "cannot make a pipe for the log of " +
                                         launch.binary.filename().string() + ": " +
                                         errno_text(errno) + " (too many open files?)");
  }
  std::vector<std::string> words{launch.binary.string()};
  words.insert(words.end(), launch.args.begin(), launch.args.end());
  ChildProcess child = ChildProcess::spawn(launch.binary.filename().string(), [&] {
    if (launch.cpu) pin_to_cpu(*launch.cpu);  // exec keeps the affinity
    // Replaces the SIGKILL that spawn set; exec keeps it (unless set-user-id).
    if (::prctl(PR_SET_PDEATHSIG, launch.parent_death_signal) != 0) return 126;
    if (launch.own_session && ::setsid() < 0) return 126;
    if (fds[1] >= 0 && ::dup2(fds[1], STDERR_FILENO) < 0) return 126;
    if (fds[1] < 0 && !launch.log_file.empty()) {
      const int log = ::open(launch.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (log < 0 || ::dup2(log, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) {
        std::perror(("cannot open the log " + launch.log_file.string()).c_str());
        return 126;
      }
      ::close(log);
    }
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror(("exec " + words[0]).c_str());
    return 127;
  });
  close_fd(fds[1]);  // the child holds the only write end now: its exit is our EOF
  log_fd = fds[0];
  return child;
}

ExecProcess::ExecProcess(const ExecLaunch& launch)
    : name_(launch.binary.filename().string()),
      process_(spawn(launch, log_fd_)),
      stop_signal_(launch.stop_signal) {}

ExecProcess::~ExecProcess() {
  if (!stopped_ && !process_.poll_exit()) {
    process_.signal(stop_signal_);
    wait_for_clean_exit(process_, monotonic_ns() + kDestructorStopNs);
  }
  close_fd(log_fd_);
  // ~ChildProcess kills and reaps a child that ignored SIGTERM.
}

std::optional<std::string> ExecProcess::next_log_line(std::int64_t deadline_ns) {
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
    throw_if_interrupted();
    const std::int64_t left_ns = deadline_ns - monotonic_ns();
    if (left_ns <= 0) {
      throw Error(ErrorCode::io, name_ + " (pid " + std::to_string(process_.pid()) +
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
      close_fd(log_fd_);  // EOF: the child has exited
    }
  }
}

void ExecProcess::stop(std::int64_t deadline_ns) {
  if (stopped_) return;
  stopped_ = true;
  process_.signal(stop_signal_);
  // Kept for the error below: a child that fails to stop says why in its last lines.
  std::string tail;
  while (log_fd_ >= 0) {
    const std::optional<std::string> line = next_log_line(deadline_ns);
    if (!line) break;
    tail += "\n  " + *line;
  }
  try {
    wait_for_clean_exit(process_, deadline_ns);
    process_.join(deadline_ns);
  } catch (const Error& e) {
    throw Error(e.code(), e.what() + (tail.empty() ? std::string() : "; its last words:" + tail));
  }
}

pid_t ExecProcess::release() noexcept {
  stopped_ = true;
  close_fd(log_fd_);
  return process_.release();
}

void wait_for_writer(ChildProcess& writer, const std::string& instance, std::int64_t deadline_ns) {
  for (;;) {
    writer.check_running();
    throw_if_interrupted();
    try {
      const Client probe = Client::connect(instance);
      if (probe.writer_pid() == static_cast<std::uint64_t>(writer.pid())) return;
    } catch (const Error& e) {
      // Not there yet (or a dead writer's leftover, which ours replaces): look again.
      if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
    }
    if (monotonic_ns() > deadline_ns) {
      throw Error(ErrorCode::io, "evring-writer (pid " + std::to_string(writer.pid()) +
                                     ") took no client before the deadline; see its messages");
    }
    std::this_thread::sleep_for(kReadyRetry);
  }
}

QueryClient wait_for_reader_queries(ChildProcess& reader, const std::string& instance,
                                    const std::string& id, std::int64_t deadline_ns) {
  for (;;) {
    reader.check_running();
    throw_if_interrupted();
    try {
      return QueryClient::connect(instance, id);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::no_reader) throw;  // not listening yet: look again
    }
    if (monotonic_ns() > deadline_ns) {
      throw Error(ErrorCode::io, "evring-reader " + id + " took no query before the deadline");
    }
    std::this_thread::sleep_for(kReadyRetry);
  }
}

}  // namespace evring::harness
