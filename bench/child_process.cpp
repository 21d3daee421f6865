#include "child_process.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "evring/clock.hpp"
#include "evring/error.hpp"

namespace evring::bench {
namespace {

// Written by the signal handler, read by the harness loops. relaxed: a lone flag that
// orders nothing; the loops only need to see it eventually.
std::atomic<int> g_interrupt_signal{0};

void on_interrupt(int signal_number) {
  g_interrupt_signal.store(signal_number, std::memory_order_relaxed);
}

}  // namespace

unsigned online_cpus() {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return cpus < 1 ? 1u : static_cast<unsigned>(cpus);
}

void pin_to_cpu(unsigned cpu) {
  const unsigned cpus = online_cpus();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (cpu >= cpus || ::sched_setaffinity(0, sizeof set, &set) != 0) {
    throw Error(ErrorCode::invalid_argument,
                "cannot pin to CPU " + std::to_string(cpu) + ": this machine has CPUs 0.." +
                    std::to_string(cpus - 1) + " (choose --writer-cpu/--reader-cpu among them)");
  }
}

SharedMemory::SharedMemory(std::size_t bytes) : bytes_(bytes) {
  data_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE,
                 -1, 0);
  if (data_ == MAP_FAILED) {
    data_ = nullptr;
    throw Error(ErrorCode::resource,
                "cannot map " + std::to_string(bytes) + " shared bytes: " + errno_text(errno));
  }
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(other.bytes_) {}

SharedMemory::~SharedMemory() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
}

ChildProcess ChildProcess::spawn(const std::string& role, const std::function<int()>& body) {
  flush_stdio();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(ErrorCode::resource, "fork for the " + role + ": " + errno_text(errno));
  if (pid == 0) {
    int status = 2;
    try {
      status = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "evring-bench: %s (pid %d): %s\n", role.c_str(), ::getpid(), e.what());
    }
    std::fflush(stderr);
    std::fflush(stdout);
    ::_exit(status);
  }
  return ChildProcess(pid, role);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), role_(std::move(other.role_)) {}

ChildProcess::~ChildProcess() {
  kill_now();
}

std::string ChildProcess::describe_status(int status) const {
  const std::string who = "the " + role_ + " (pid " + std::to_string(pid_) + ")";
  if (WIFEXITED(status)) {
    // A child that fails prints why on stderr before it exits (ChildProcess::spawn).
    return who + " exited with status " + std::to_string(WEXITSTATUS(status)) +
           (WEXITSTATUS(status) != 0 ? " (its message is above)" : "");
  }
  if (WIFSIGNALED(status)) {
    return who + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  return who + " ended with wait status " + std::to_string(status);
}

void ChildProcess::check_running() {
  if (pid_ <= 0) throw Error(ErrorCode::io, "the " + role_ + " is no longer running");
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) {
    std::string message = describe_status(status) + " before the run ended";
    pid_ = -1;
    throw Error(ErrorCode::io, message);
  }
}

void ChildProcess::join(std::int64_t deadline_ns) {
  if (pid_ <= 0) return;
  for (;;) {
    int status = 0;
    const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) {
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      const std::string message = describe_status(status);
      pid_ = -1;
      if (!clean) throw Error(ErrorCode::io, message);
      return;
    }
    if (monotonic_ns() > deadline_ns || interrupted()) {
      const std::string who = "the " + role_ + " (pid " + std::to_string(pid_) + ")";
      kill_now();
      throw Error(ErrorCode::io, who + " did not finish in time and was killed; is the " +
                                     "machine overloaded? try fewer --samples or readers");
    }
    // A child that is finishing its report needs the core more than we do.
    ::sched_yield();
  }
}

void ChildProcess::stop() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void ChildProcess::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void ChildProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void wait_until(const std::function<bool()>& ready, std::vector<ChildProcess*> children,
                std::int64_t deadline_ns, const std::string& what) {
  for (std::uint64_t looks = 0;; ++looks) {
    if (ready()) return;
    // waitpid is a syscall: look at the children's health every 64 looks only.
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

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() noexcept {
  return g_interrupt_signal.load(std::memory_order_relaxed) != 0;
}

void throw_if_interrupted() {
  if (interrupted()) {
    throw Error(ErrorCode::io, std::string("interrupted by ") +
                                   ::strsignal(g_interrupt_signal.load(std::memory_order_relaxed)) +
                                   "; children killed and segments removed");
  }
}

std::string unique_instance_name(const std::string& tag) {
  static unsigned counter = 0;
  return "bench-" + std::to_string(::getpid()) + "-" + tag + "-" + std::to_string(counter++);
}

void flush_stdio() {
  std::fflush(stdout);
  std::fflush(stderr);
}

}  // namespace evring::bench
