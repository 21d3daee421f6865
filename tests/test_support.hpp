// Helpers shared by the tests: unique instance names, waits with a timeout, and payloads
// that a reader can verify from the sequence number alone. Child processes and the memory
// shared with them are the harness's, as in the tools and benchmarks.
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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evring/clock.hpp"
#include "harness/child_process.hpp"
#include "harness/shared_memory.hpp"
#include "shm/shared_segment.hpp"

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

// A forked child, killed and reaped at destruction if still running, so no test leaves a
// process behind. wait_for_exit returns the raw wait status, or -1 (kStillRunning).
using ChildProcess = harness::ChildProcess;

// One T shared with forked children, value-initialized.
template <typename T>
using SharedBlock = harness::SharedArray<T>;

// The state letter of /proc/PID/stat ('R', 'S', 'T' for stopped, 'Z'...), '?' if gone.
char process_state(pid_t pid);

// splitmix64: a well-spread 64-bit hash of x, for choices that follow from an index alone.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Deterministic test payloads: the length and every byte follow from (seq, max_payload).
std::uint32_t payload_length_for(std::uint64_t seq, std::uint32_t max_payload);
void fill_payload(std::uint64_t seq, std::span<std::byte> out);
bool payload_matches(std::uint64_t seq, std::span<const std::byte> payload,
                     std::uint32_t max_payload);

}  // namespace evring::test
