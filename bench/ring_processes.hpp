// A benchmark ring and the reader processes that tail it: what the latency and throughput
// subcommands share beyond plain fork plumbing (harness/child_process.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/child_process.hpp"
#include "harness/shared_memory.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/layout.hpp"
#include "sync/wait_strategy.hpp"

namespace evring::bench {

// The record type the bench's ring writers publish, and how long a bench child process may
// take to attach before the run gives up on it.
inline constexpr std::uint32_t kBenchRecordType = 1;
inline constexpr std::int64_t kAttachTimeoutNs = 5'000'000'000;

// Set once by a child when it is attached and ready; the parent waits for it.
struct alignas(kFalseSharingRange) ReadyFlag {
  std::atomic<std::uint32_t> ready;

  // release: pairs with is_set()'s acquire; what the child set up before is visible.
  void announce() noexcept { ready.store(1, std::memory_order_release); }
  bool is_set() const noexcept { return ready.load(std::memory_order_acquire) != 0; }
};

// Waits until the first `count` children have each announced tallies[i].ready, while
// checking `children` still run (harness::wait_until). Tally: any struct with a ReadyFlag
// `ready`, one per child, in memory shared with them. For the parent that forked them.
template <class Tally>
void wait_until_all_ready(const harness::SharedArray<Tally>& tallies, std::size_t count,
                          const std::vector<harness::ChildProcess*>& children,
                          std::int64_t deadline_ns, const std::string& what) {
  harness::wait_until(
      [&] {
        for (std::size_t i = 0; i < count; ++i) {
          if (!tallies[i].ready.is_set()) return false;
        }
        return true;
      },
      children, deadline_ns, what);
}

// "bench-<pid>-<tag>-<n>": unique per run and per call, so concurrent runs never meet.
// The parent's thread only (a plain counter).
std::string unique_instance_name(const std::string& tag);

// A ring for one measurement, named "bench-<pid>-<tag>-<n>", large enough for
// `largest_payload`. Its destructor removes the segments, also when unwinding an error.
RingWriter create_bench_ring(const std::string& tag, std::uint64_t ring_bytes,
                             std::uint32_t largest_payload);

// CPUs for `count` readers: reader_cpu first, then the CPUs nobody uses, then the writer's
// (a reader there can only run when the writer is preempted, and will be lapped).
std::vector<unsigned> reader_cpus(unsigned count, unsigned writer_cpu, unsigned reader_cpu);

// Forks a reader process: pins it to `cpu`, attaches to the writer's instance from its
// first record, announces `ready`, then runs `body`, whose return value is the exit status.
harness::ChildProcess spawn_ring_reader(const std::string& role, const RingWriter& writer,
                                        unsigned cpu, WaitKind wait, ReadyFlag& ready,
                                        const std::function<int(RingReader&)>& body);

// The next poll result: polls first (no clock read when a record is there), and only when
// the ring is empty idles per `wait` up to timeout_ns.
inline PollResult next_record(RingReader& reader, RecordBuffer& buffer, WaitKind wait,
                              std::int64_t timeout_ns) {
  const PollResult result = reader.poll(buffer);
  if (result.status != PollStatus::empty) return result;
  return reader.wait_next(buffer, wait, timeout_ns);
}

// Throws Error(corrupt/io) for a poll result a benchmark reader cannot go on from.
void throw_if_writer_lost(const PollResult& result, const std::string& instance);

}  // namespace evring::bench
