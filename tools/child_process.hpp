// The process plumbing of the demo: memory shared across fork, children owned by pid, and
// Ctrl-C turned into a flag so the parent can kill its children and remove its segments.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

namespace evring::tools {

// An anonymous MAP_SHARED mapping made before fork, holding one T that parent and
// children all see. T must be plain data and atomics: no pointers, nothing that allocates.
class SharedMapping {
 public:
  explicit SharedMapping(std::size_t bytes);
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping();

  void* data() const noexcept { return data_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

template <class T>
class SharedArea {
  static_assert(std::is_trivially_destructible_v<T>, "no destructor runs in shared memory");

 public:
  SharedArea() : mapping_(sizeof(T)) { new (mapping_.data()) T{}; }
  T& operator*() const noexcept { return *static_cast<T*>(mapping_.data()); }
  T* operator->() const noexcept { return static_cast<T*>(mapping_.data()); }

 private:
  SharedMapping mapping_;
};

// A forked child, owned by pid. The destructor kills (SIGKILL) and reaps a child that
// still runs, so no error path leaves a process behind.
class ChildProcess {
 public:
  // Forks. The child dies with the parent (PR_SET_PDEATHSIG), takes Ctrl-C with the default
  // action, runs `body` and leaves with _exit(its result), or prints an exception and
  // leaves with _exit(2). It never returns into the caller, so the parent's destructors
  // (which remove segments) never run in a child.
  static ChildProcess spawn(std::string role, const std::function<int()>& body);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  const std::string& role() const noexcept { return role_; }
  // Never blocks: the wait status once the child has exited (reaped then, kept after).
  std::optional<int> poll_exit();
  // SIGKILL, then reap. Idempotent.
  void kill_and_reap() noexcept;
  // "writer (pid 12) exited with status 2", "... was killed by signal 9 (Killed)".
  std::string describe_exit(int wait_status) const;

 private:
  ChildProcess(pid_t pid, std::string role) : pid_(pid), role_(std::move(role)) {}

  pid_t pid_ = -1;  // -1 once reaped
  std::string role_;
  std::optional<int> exit_status_;
};

// SIGINT and SIGTERM set a flag (checked by the parent's loops) instead of killing the
// parent mid-way, so it can stop its children and remove the segments. Call once, early.
void install_interrupt_handlers();
bool interrupted() noexcept;

}  // namespace evring::tools
