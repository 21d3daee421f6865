#include "child_process.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "evring/error.hpp"
#include "exit_status.hpp"

namespace evring::tools {
namespace {

// Set by the signal handler, read by the parent's loops. relaxed: a lone flag that orders
// nothing; the loops only need to see it eventually.
std::atomic<bool> g_interrupted{false};

void on_interrupt(int) {
  g_interrupted.store(true, std::memory_order_relaxed);
}

// In a fresh child: die with the parent, and let Ctrl-C kill it outright (the handler it
// inherited only sets a flag that nothing in the child reads).
void become_dependent_child(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kExitError);  // the parent died before prctl
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

[[noreturn]] void run_child_body(const std::string& role, const std::function<int()>& body) {
  int status = kExitError;
  try {
    status = body();
  } catch (const Error& e) {
    std::fprintf(stderr, "\nevring demo: %s (pid %d): %s\n", role.c_str(), ::getpid(),
                 describe(e).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nevring demo: %s (pid %d): %s\n", role.c_str(), ::getpid(), e.what());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(status);
}

}  // namespace

SharedMapping::SharedMapping(std::size_t bytes) : bytes_(bytes) {
  data_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data_ == MAP_FAILED) {
    data_ = nullptr;
    throw Error(ErrorCode::resource,
                "cannot map " + std::to_string(bytes) + " shared bytes: " + errno_text(errno));
  }
}

SharedMapping::~SharedMapping() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
}

ChildProcess ChildProcess::spawn(std::string role, const std::function<int()>& body) {
  // Flush first, or the child would print the parent's buffered output a second time.
  std::fflush(stdout);
  std::fflush(stderr);
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
  if (pid_ < 0) return exit_status_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_status_ = status;
  }
  return exit_status_;
}

void ChildProcess::kill_and_reap() noexcept {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  exit_status_ = status;
}

std::string ChildProcess::describe_exit(int wait_status) const {
  std::string text = role_ + " process";
  if (WIFEXITED(wait_status)) {
    return text + " exited with status " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    const int signal_number = WTERMSIG(wait_status);
    return text + " was killed by signal " + std::to_string(signal_number) + " (" +
           ::strsignal(signal_number) + ")";
  }
  return text + " ended with wait status " + std::to_string(wait_status);
}

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() noexcept {
  return g_interrupted.load(std::memory_order_relaxed);
}

}  // namespace evring::tools
