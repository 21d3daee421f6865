// Child processes of a parent that must never leave one behind: forked with a body to run,
// owned by pid, waited for with a deadline (never a bare sleep), killed and reaped on
// every path out.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace evring::harness {

// A forked child, owned by pid. The destructor kills (SIGKILL) and reaps a child that still
// runs, so no error path leaves a process behind. All members are for the parent that
// spawned it, from the thread that did (waitpid reaps only our own children).
class ChildProcess {
 public:
  // What wait_for_exit returns while the child still runs (a wait status is never negative).
  static constexpr int kStillRunning = -1;

  // Forks; the parent's thread that calls it must outlive the child (PR_SET_PDEATHSIG fires
  // when that thread ends). In the child: die with the parent, take SIGINT/SIGTERM with the
  // default action, run `body` and _exit with its result, or print an exception (naming
  // `role`) and _exit(2). The child never returns into the caller's stack, so no destructor
  // of the parent's objects (a RingWriter removing segments, gtest's teardown) runs in it.
  // Throws Error(resource) if fork fails.
  static ChildProcess spawn(std::string role, const std::function<int()>& body);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  // The child's pid, kept after it is reaped (for messages; do not signal it yourself).
  pid_t pid() const noexcept { return pid_; }
  const std::string& role() const noexcept { return role_; }

  // Never blocks: the wait status once the child has exited (reaped then, kept after).
  std::optional<int> poll_exit();
  // Waits up to `timeout` for the child to exit: its wait status, or kStillRunning if it
  // still runs then or an interrupt arrived (interrupt.hpp) meanwhile.
  int wait_for_exit(std::chrono::nanoseconds timeout);
  // Throws Error(io) saying how the child ended if it has ended (any status): for a parent
  // whose child must outlive the run.
  void check_running();
  // Waits for a clean exit until deadline_ns (monotonic_ns). Throws Error(io) if the child
  // ended otherwise, or on an interrupt or past the deadline (then it is killed first).
  void join(std::int64_t deadline_ns);

  // Sends `signal_number`; nothing once the child is reaped (its pid may be another's).
  void signal(int signal_number) const noexcept;
  void stop() const noexcept;    // SIGSTOP
  void resume() const noexcept;  // SIGCONT
  // SIGKILL, then reap. Idempotent.
  void kill_and_reap() noexcept;
  // Lets the child run on past this object: never killed or reaped here (its new parent
  // reaps it once this process exits). Returns its pid.
  pid_t release() noexcept;

  // "the writer (pid 12) exited with status 2 (see its message above)", "... was killed by
  // signal 9 (Killed)".
  std::string describe_exit(int wait_status) const;

 private:
  ChildProcess(pid_t pid, std::string role) : pid_(pid), role_(std::move(role)) {}
  bool reaped() const noexcept { return pid_ < 0 || exit_status_.has_value(); }
  std::string who() const;

  pid_t pid_ = -1;  // -1 only in a moved-from object
  std::string role_;
  std::optional<int> exit_status_;  // set once reaped
};

// Waits until `ready()` is true, checking between looks that each of `children` still runs
// (check_running), that no interrupt arrived and that deadline_ns (monotonic_ns) has not
// passed; throws Error(io) naming `what` otherwise. Gives the core away between looks
// (sched_yield), since a child may share it. For the parent that spawned the children.
void wait_until(const std::function<bool()>& ready, const std::vector<ChildProcess*>& children,
                std::int64_t deadline_ns, const std::string& what);

// Flushes stdout and stderr. spawn does it before fork, or the child would print the
// parent's buffered output again; call it where output must be out before children print.
void flush_stdio();

}  // namespace evring::harness
