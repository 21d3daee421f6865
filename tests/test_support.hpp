// Helpers shared by the tests: unique instance names, child processes with deadlines,
// and payloads that a reader can verify from the sequence number alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evring/clock.hpp"
#include "evring/shared_segment.hpp"

namespace evring::test {

// A name no other test (or concurrent ctest job) uses: test name, pid, counter.
std::string unique_instance(const std::string& hint);

// Removes the instance's segments at scope exit, whatever the test did.
class InstanceCleanup {
 public:
  explicit InstanceCleanup(std::string instance) : instance_(std::move(instance)) {}
  ~InstanceCleanup();
  InstanceCleanup(const InstanceCleanup&) = delete;
  InstanceCleanup& operator=(const InstanceCleanup&) = delete;

 private:
  std::string instance_;
};

// Polls `done` every 100 µs until it returns true or `timeout` passes.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A forked child running `body`; its return value is the exit code. Killed (SIGKILL) and
// reaped at destruction if still running, so no test leaves a process behind.
class ChildProcess {
 public:
  explicit ChildProcess(const std::function<int()>& body);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // Waits for exit up to `timeout`; returns the raw wait status, or -1 on timeout.
  int wait_for_exit(std::chrono::milliseconds timeout);
  // SIGKILL and reap.
  void kill_and_reap();
  bool exited() const { return reaped_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Memory shared with forked children (MAP_SHARED | MAP_ANONYMOUS), zero-initialized.
template <typename T>
class SharedBlock {
 public:
  SharedBlock() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    value_ = new (p) T{};
  }
  ~SharedBlock() {
    value_->~T();
    ::munmap(value_, sizeof(T));
  }
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  T* operator->() const { return value_; }
  T& operator*() const { return *value_; }

 private:
  T* value_;
};

// The state letter of /proc/PID/stat ('R', 'S', 'T' for stopped, 'Z'...), '?' if gone.
char process_state(pid_t pid);

// Deterministic test payloads: the length and every byte follow from (seq, max_payload).
std::uint32_t payload_length_for(std::uint64_t seq, std::uint32_t max_payload);
void fill_payload(std::uint64_t seq, std::span<std::byte> out);
bool payload_matches(std::uint64_t seq, std::span<const std::byte> payload,
                     std::uint32_t max_payload);

}  // namespace evring::test
