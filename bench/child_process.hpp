// The multi-process plumbing every evring-bench subcommand shares: memory shared across
// fork, pinning to a core, child processes owned by pid, and waiting on a shared flag with
// a deadline (never a bare sleep).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

namespace evring::bench {

// Online CPUs (sysconf), at least 1.
unsigned online_cpus();

// Pins the calling thread to `cpu`; throws Error(invalid_argument) naming the CPUs there are.
void pin_to_cpu(unsigned cpu);

// An anonymous MAP_SHARED mapping made before fork: parent and children see the same T.
// Only for plain data and atomics (no pointers, nothing that allocates).
class SharedMemory {
 public:
  explicit SharedMemory(std::size_t bytes);
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&&) = delete;
  ~SharedMemory();

  void* data() const noexcept { return data_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// `count` value-initialized T in a SharedMemory.
template <class T>
class SharedArray {
  static_assert(std::is_trivially_destructible_v<T>, "lives in memory no destructor runs on");

 public:
  explicit SharedArray(std::size_t count = 1) : memory_(sizeof(T) * count), count_(count) {
    for (std::size_t i = 0; i < count; ++i) new (get() + i) T{};
  }
  T* get() const noexcept { return static_cast<T*>(memory_.data()); }
  T* operator->() const noexcept { return get(); }
  T& operator*() const noexcept { return *get(); }
  T& operator[](std::size_t i) const noexcept { return get()[i]; }
  std::size_t size() const noexcept { return count_; }

 private:
  SharedMemory memory_;
  std::size_t count_;
};

// A forked child, owned by pid: the destructor kills (SIGKILL) and reaps it if it still runs,
// so no error path leaves a spinning process behind.
class ChildProcess {
 public:
  // Forks; the child runs `body` and leaves with _exit(its return value), or _exit(2) after
  // printing an exception's message. It never returns into the caller's stack, so no
  // destructor of the parent's objects (RingWriter removing segments) runs in the child.
  static ChildProcess spawn(const std::string& role, const std::function<int()>& body);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  const std::string& role() const noexcept { return role_; }
  // Throws Error(io) saying how the child ended if it has ended already (any status).
  void check_running();
  // Waits for the child to exit, until deadline_ns (monotonic); kills it past that.
  // Throws Error(io) unless it exited with status 0.
  void join(std::int64_t deadline_ns);
  void stop();      // SIGSTOP
  void resume();    // SIGCONT
  void kill_now();  // SIGKILL and reap

 private:
  ChildProcess(pid_t pid, std::string role) : pid_(pid), role_(std::move(role)) {}
  std::string describe_status(int status) const;

  pid_t pid_ = -1;
  std::string role_;
};

// Waits until `ready()` is true, checking the children are alive and the deadline between
// looks. Gives the core away between looks (sched_yield) since the child may share it.
// Throws Error(io) on a dead child, a passed deadline or an interrupt, naming `what`.
void wait_until(const std::function<bool()>& ready, std::vector<ChildProcess*> children,
                std::int64_t deadline_ns, const std::string& what);

// SIGINT/SIGTERM set a flag instead of killing the harness, so it can unwind, kill its
// children and remove its segments. Install once, in main.
void install_interrupt_handler();
bool interrupted() noexcept;
// Throws Error(io) if an interrupt arrived.
void throw_if_interrupted();

// "bench-<pid>-<tag>-<n>": unique per run and per call, so concurrent runs never meet.
std::string unique_instance_name(const std::string& tag);

// Flushes stdio before fork so a child never prints the parent's buffered output again.
void flush_stdio();

}  // namespace evring::bench
