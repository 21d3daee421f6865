#include "sys/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace evring {
namespace {

struct ProcStat {
  bool exists = false;
  char state = '?';
  std::uint64_t start_ticks = 0;
};

// Reads /proc/PID/stat. The command name (field 2) may contain spaces and ')', so fields
// are counted from the last ')'.
ProcStat read_proc_stat(pid_t pid) {
  ProcStat result;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result;
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return result;
  buffer[n] = '\0';
  const char* close_paren = std::strrchr(buffer, ')');
  if (close_paren == nullptr) return result;
  result.exists = true;
  // After ")": " S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice threads itrealvalue starttime" (starttime = field 22).
  const char* p = close_paren + 1;
  int field = 2;
  while (*p != '\0' && field < 22) {
    while (*p == ' ') ++p;
    ++field;
    if (field == 3) result.state = *p;
    if (field == 22) {
      result.start_ticks = std::strtoull(p, nullptr, 10);
      break;
    }
    while (*p != ' ' && *p != '\0') ++p;
  }
  return result;
}

}  // namespace

std::uint64_t process_start_ticks(pid_t pid) {
  const ProcStat stat = read_proc_stat(pid);
  return stat.exists ? stat.start_ticks : 0;
}

ProcessIdentity ProcessIdentity::self() {
  const pid_t pid = ::getpid();
  return {static_cast<std::uint64_t>(pid), process_start_ticks(pid)};
}

bool ProcessIdentity::alive() const {
  if (pid == 0 || pid > static_cast<std::uint64_t>(INT32_MAX)) return false;
  const pid_t p = static_cast<pid_t>(pid);
  if (::kill(p, 0) != 0 && errno != EPERM) return false;
  const ProcStat stat = read_proc_stat(p);
  if (!stat.exists) return true;  // no /proc (or hidden): the signal test is all we have
  // A zombie has exited; only its parent has not reaped it yet.
  if (stat.state == 'Z' || stat.state == 'X') return false;
  return start_ticks == 0 || stat.start_ticks == start_ticks;
}

ProcessWatch::ProcessWatch(const ProcessIdentity& process) : process_(process) {
  const long fd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(process.pid), 0);
  if (fd < 0) return;
  pidfd_ = static_cast<int>(fd);
  // The pid may have been recycled before we opened it: then watch nothing (exited).
  if (!process.alive()) {
    ::close(pidfd_);
    pidfd_ = -1;
    process_ = {};
  }
}

ProcessWatch::ProcessWatch(ProcessWatch&& other) noexcept
    : process_(other.process_), pidfd_(std::exchange(other.pidfd_, -1)) {}

ProcessWatch& ProcessWatch::operator=(ProcessWatch&& other) noexcept {
  if (this != &other) {
    if (pidfd_ >= 0) ::close(pidfd_);
    process_ = other.process_;
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

ProcessWatch::~ProcessWatch() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool ProcessWatch::exited() const {
  if (pidfd_ < 0) return !process_.alive();
  pollfd probe{pidfd_, POLLIN, 0};
  return ::poll(&probe, 1, 0) != 0;  // readable (or an error) once the process has exited
}

}  // namespace evring
