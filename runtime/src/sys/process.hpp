// Who owns a segment or a slot: a pid plus the process start time, so a recycled pid
// is never mistaken for the process that died.
#pragma once

#include <sys/types.h>
#include <cstdint>

namespace evring {

struct ProcessIdentity {
  std::uint64_t pid = 0;
  std::uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat; 0 where unknown

  // This process. Any thread.
  static ProcessIdentity self();
  // True while that very process runs (pid alive and same start time). Any thread.
  bool alive() const;
};

// Start time of pid in clock ticks since boot, or 0 when the process does not exist.
std::uint64_t process_start_ticks(pid_t pid);

// Watches one process for its exit through a pidfd: a probe is one poll(2) (no /proc
// parsing), and a pidfd can never be fooled by pid reuse. Falls back to
// ProcessIdentity::alive() where the kernel has no pidfd. One thread.
class ProcessWatch {
 public:
  ProcessWatch() = default;
  explicit ProcessWatch(const ProcessIdentity& process);
  ProcessWatch(ProcessWatch&& other) noexcept;
  ProcessWatch& operator=(ProcessWatch&& other) noexcept;
  ~ProcessWatch();

  bool exited() const;

 private:
  ProcessIdentity process_;
  int pidfd_ = -1;
};

}  // namespace evring
