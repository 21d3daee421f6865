// evring-bench latency: one-way writer -> reader latency between two pinned processes,
// for the evring ring and for the physical floor (one cache line bounced between the same
// two cores) in the same run, with the same clock and the same pacing (latency_trial.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "latency_trial.hpp"
#include "machine_stalls.hpp"
#include "subcommands.hpp"

namespace evring::bench {
namespace {

using harness::flush_stdio;
using harness::pin_to_cpu;

constexpr std::int64_t kStallLookNs = 1'000'000'000;

// ---- report ----------------------------------------------------------------------------

void print_latency_table(const std::vector<ResultRow>& rows, const ResultRow& floor) {
  TextTable table({"system", "payload", "wait", "p50", "p90", "p99", "p99.9", "p99.99", "max",
                   "samples", "msgs/s", "errors", "lapped"});
  for (const ResultRow& row : rows) {
    std::vector<std::string> cells{row.system, fmt::format("{} B", row.payload_bytes), row.wait};
    for (std::int64_t ns : percentiles(*row.latency)) cells.push_back(format_ns(ns));
    cells.push_back(std::to_string(row.samples));
    cells.push_back(format_count(row.msgs_per_s));
    cells.push_back(std::to_string(row.errors));
    cells.push_back(std::to_string(row.lapped));
    table.add_row(std::move(cells));
  }
  const std::vector<std::int64_t> floor_ns = percentiles(*floor.latency);
  for (const ResultRow& row : rows) {
    if (row.system == "floor") continue;
    std::vector<std::string> cells{"ratio evring/floor", fmt::format("{} B", row.payload_bytes),
                                   row.wait};
    const std::vector<std::int64_t> ns = percentiles(*row.latency);
    for (std::size_t i = 0; i < ns.size(); ++i) {
      cells.push_back(floor_ns[i] > 0 ? fmt::format("{:.2f}x", static_cast<double>(ns[i]) /
                                                                   static_cast<double>(floor_ns[i]))
                                      : "-");
    }
    table.add_row(std::move(cells));
  }
  table.print(stdout);
}

}  // namespace

ResultRow measure_floor(unsigned reader_cpu, std::uint64_t samples) {
  const Trial trial{"floor", kFloorMessageBytes, WaitKind::spin, 0, 10'000, samples};
  return run_ring_or_floor_trial(trial, reader_cpu, kDefaultRingCapacity);
}

std::vector<ResultRow> run_latency(const LatencyOptions& options) {
  pin_to_cpu(options.writer_cpu);
  if (options.writer_cpu == options.reader_cpu) {
    fmt::print("note: writer and reader share CPU {}: latency includes scheduling\n",
               options.writer_cpu);
  }
  const std::uint64_t warmup = default_warmup(options.warmup, options.samples, 10'000);
  fmt::print(
      "one-way latency, writer on CPU {}, reader on CPU {}, {}, {} samples after {} "
      "warm-up\n",
      options.writer_cpu, options.reader_cpu,
      options.rate == 0 ? std::string("flat out (one message in flight)")
                        : fmt::format("{} msgs/s, stamped at the intended send time", options.rate),
      options.samples, warmup);
  flush_stdio();

  std::vector<ResultRow> rows;
  Trial floor_trial{"floor", kFloorMessageBytes, WaitKind::spin, options.rate,
                    warmup,  options.samples};
  rows.push_back(run_ring_or_floor_trial(floor_trial, options.reader_cpu, options.ring_bytes));
  const ResultRow floor_row = rows.back();
  for (std::uint32_t payload : options.payloads) {
    for (WaitKind wait : options.waits) {
      Trial trial{"evring", payload, wait, options.rate, warmup, options.samples};
      rows.push_back(run_ring_or_floor_trial(trial, options.reader_cpu, options.ring_bytes));
    }
  }
  print_latency_table(rows, floor_row);

  // Afterwards, so it cannot disturb the trials: what the machine itself took away.
  const MachineStalls stalls = measure_machine_stalls(options.reader_cpu, kStallLookNs);
  fmt::print(
      "machine stalls (a pinned thread spinning on the clock; gaps > {} ns):\n  {}\n  "
      "{}\nat a fixed rate each stall delays every message due during it, on any "
      "transport: the tail percentiles above cannot be lower than these allow\n",
      kStallThresholdNs, describe(options.writer_cpu, stalls.writer_cpu),
      describe(options.reader_cpu, stalls.reader_cpu));
  return rows;
}

}  // namespace evring::bench
