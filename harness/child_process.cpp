#include "harness/child_process.hpp"

#include <errno.h>  // program_invocation_short_name
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/interrupt.hpp"

namespace evring::harness {
namespace {

constexpr int kChildFailed = 2;  // a child whose body threw; the tools' "error" status
// Between two looks at a child that has not exited: short, as a test or a bench run waits
// on it, and long enough that a child finishing its report has the core.
constexpr std::chrono::microseconds kExitPollInterval{100};

// In a fresh child: die with the parent, and let Ctrl-C kill it outright (the handler it
// may have inherited only sets a flag that nothing in the child reads).
void become_dependent_child(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kChildFailed);  // the parent died before prctl
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

[[noreturn]] void run_child_body(const std::string& role, const std::function<int()>& body) {
  int status = kChildFailed;
  try {
    status = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s (pid %d): %s\n", program_invocation_short_name, role.c_str(),
                 ::getpid(), e.what());
  }
  flush_stdio();
  ::_exit(status);  // no atexit handlers, no destructors of the parent's objects
}

}  // namespace

ChildProcess ChildProcess::spawn(std::string role, const std::function<int()>& body) {
  flush_stdio();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Error(ErrorCode::resource, "cannot start the " + role + " process: fork: " +
                                         errno_text(errno) + " (too many processes?)");
  }
  if (pid == 0) {
    become_dependent_child(parent);
    run_child_body(role, body);
  }
  return ChildProcess(pid, std::move(role));
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      role_(std::move(other.role_)),
      exit_status_(other.exit_status_) {}

ChildProcess::~ChildProcess() {
  kill_and_reap();
}

std::optional<int> ChildProcess::poll_exit() {
  if (reaped()) return exit_status_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_status_ = status;
  return exit_status_;
}

int ChildProcess::wait_for_exit(std::chrono::nanoseconds timeout) {
  const std::int64_t deadline_ns = monotonic_ns() + timeout.count();
  for (;;) {
    if (const std::optional<int> status = poll_exit()) return *status;
    if (monotonic_ns() > deadline_ns || interrupted()) return kStillRunning;
    std::this_thread::sleep_for(kExitPollInterval);
  }
}

void ChildProcess::check_running() {
  const std::optional<int> status = poll_exit();
  if (!status) return;
  if (killed_by_interrupt(*status))
    throw Error(ErrorCode::io, "interrupted: " + describe_exit(*status));
  throw Error(ErrorCode::io, describe_exit(*status) + " before the run ended");
}

void ChildProcess::join(std::int64_t deadline_ns) {
  const int status = wait_for_exit(
      std::chrono::nanoseconds(std::max<std::int64_t>(0, deadline_ns - monotonic_ns())));
  if (status == kStillRunning) {
    const std::string child = who();
    kill_and_reap();
    throw_if_interrupted();
    throw Error(ErrorCode::io,
                child + " did not finish in time and was killed; is the machine overloaded?");
  }
  if (killed_by_interrupt(status))
    throw Error(ErrorCode::io, "interrupted: " + describe_exit(status));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(ErrorCode::io, describe_exit(status));
  }
}

void ChildProcess::signal(int signal_number) const noexcept {
  if (!reaped()) ::kill(pid_, signal_number);
}

void ChildProcess::stop() const noexcept {
  signal(SIGSTOP);
}

void ChildProcess::resume() const noexcept {
  signal(SIGCONT);
}

void ChildProcess::kill_and_reap() noexcept {
  if (reaped()) return;
  ::kill(pid_, SIGKILL);  // a stopped child dies of it too
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = status;
}

pid_t ChildProcess::release() noexcept {
  return std::exchange(pid_, -1);
}

std::string ChildProcess::who() const {
  return "the " + role_ + " (pid " + std::to_string(pid_) + ")";
}

std::string ChildProcess::describe_exit(int wait_status) const {
  if (WIFEXITED(wait_status)) {
    const int code = WEXITSTATUS(wait_status);
    // A child that fails prints why on stderr before it exits (run_child_body).
    return who() + " exited with status " + std::to_string(code) +
           (code != 0 ? " (see its message above)" : "");
  }
  if (WIFSIGNALED(wait_status)) {
    const int signal_number = WTERMSIG(wait_status);
    return who() + " was killed by signal " + std::to_string(signal_number) + " (" +
           ::strsignal(signal_number) + ")";
  }
  return who() + " ended with wait status " + std::to_string(wait_status);
}

void wait_until(const std::function<bool()>& ready, const std::vector<ChildProcess*>& children,
                std::int64_t deadline_ns, const std::string& what) {
  for (std::uint64_t looks = 0;; ++looks) {
    if (ready()) return;
    // waitpid is a system call: look at the children's health every 64 looks only.
    if ((looks & 63) == 0) {
      for (ChildProcess* child : children) child->check_running();
      throw_if_interrupted();
      if (monotonic_ns() > deadline_ns) {
        throw Error(ErrorCode::io, "timed out waiting for " + what +
                                       "; is the machine overloaded? try again, or with fewer "
                                       "readers");
      }
    }
    ::sched_yield();
  }
}

void flush_stdio() {
  std::fflush(stdout);
  std::fflush(stderr);
}

}  // namespace evring::harness
