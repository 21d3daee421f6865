// The evring-bench subcommands. Each measures, prints its table and returns its rows; the
// caller (bench_main.cpp) owns the command line, the machine line and --json.
#pragma once

#include <cstdint>
#include <vector>

#include "evring/broadcast_ring.hpp"
#include "evring/wait_strategy.hpp"
#include "report.hpp"

namespace evring::bench {

struct LatencyOptions {
  std::uint64_t rate = 100'000;  // messages per second; 0 = flat out, one in flight
  std::vector<std::uint32_t> payloads{64};
  std::vector<WaitKind> waits{WaitKind::spin};
  std::uint64_t samples = 800'000;
  std::uint64_t warmup = 0;  // 0: max(10'000, samples / 20)
  unsigned writer_cpu = 0;
  unsigned reader_cpu = 1;
  std::uint64_t ring_bytes = kDefaultRingCapacity;
};

std::vector<ResultRow> run_latency(const LatencyOptions& options);

// The physical floor alone: `samples` messages flat out (one in flight) through one cache
// line, from the calling thread (pinned by the caller) to a process on reader_cpu. What
// moving a line between these two cores costs right now; on a VM it changes when the host
// moves the vCPUs, so every subcommand measures it in the same run as its own figures.
ResultRow measure_floor(unsigned reader_cpu, std::uint64_t samples);

struct ThroughputOptions {
  std::vector<unsigned> readers{1, 2};
  std::vector<std::uint32_t> payloads{64, 1024};
  bool wait_auto = true;  // spin when every process has a core, else yield
  WaitKind wait = WaitKind::spin;
  double duration_s = 1.0;      // per row
  unsigned stopped_rounds = 3;  // 0 skips the stopped-reader comparison
  unsigned writer_cpu = 0;
  unsigned reader_cpu = 1;
  std::uint64_t ring_bytes = kDefaultRingCapacity;
};

std::vector<ResultRow> run_throughput(const ThroughputOptions& options);

}  // namespace evring::bench
