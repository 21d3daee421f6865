#include "machine_stalls.hpp"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "evring/clock.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/shared_memory.hpp"
#include "report.hpp"
#include "shm/layout.hpp"

namespace evring::bench {
namespace {

using harness::ChildProcess;
using harness::SharedArray;

constexpr std::int64_t kStartTimeoutNs = 5'000'000'000;

StallSummary watch_clock(std::int64_t start_ns, std::int64_t duration_ns) {
  while (monotonic_ns() < start_ns) {
  }
  StallSummary stalls;
  const std::int64_t end = start_ns + duration_ns;
  std::int64_t previous = monotonic_ns();
  for (std::int64_t now = previous; now < end; previous = now) {
    now = monotonic_ns();
    const std::int64_t gap = now - previous;
    if (gap > kStallThresholdNs) {
      stalls.stalled_ns += gap;
      stalls.longest_ns = std::max(stalls.longest_ns, gap);
      if (gap > 10'000) ++stalls.over_10us;
    }
  }
  stalls.observed_ns = duration_ns;
  return stalls;
}

// The child's half, written before `finished`.
struct alignas(kFalseSharingRange) ChildStalls {
  StallSummary stalls;
  std::atomic<std::uint32_t> finished;
};

}  // namespace

MachineStalls measure_machine_stalls(unsigned reader_cpu, std::int64_t duration_ns) {
  SharedArray<ChildStalls> child_half;
  // Both sides start at the same instant, so they watch the same stretch of time.
  const std::int64_t start = monotonic_ns() + 20'000'000;
  ChildProcess child = ChildProcess::spawn("stall watcher", [&] {
    harness::pin_to_cpu(reader_cpu);
    child_half->stalls = watch_clock(start, duration_ns);
    // release: pairs with the parent's acquire below; the summary is complete.
    child_half->finished.store(1, std::memory_order_release);
    return 0;
  });
  MachineStalls result;
  result.writer_cpu = watch_clock(start, duration_ns);
  child.join(monotonic_ns() + kStartTimeoutNs);
  // acquire: pairs with the child's release store.
  if (child_half->finished.load(std::memory_order_acquire) != 0) {
    result.reader_cpu = child_half->stalls;
  }
  return result;
}

std::string describe(unsigned cpu, const StallSummary& stalls) {
  const double percent = stalls.observed_ns == 0 ? 0.0
                                                 : 100.0 * static_cast<double>(stalls.stalled_ns) /
                                                       static_cast<double>(stalls.observed_ns);
  return fmt::format("CPU {}: stalled {:.2f}% of {:.1f} s, longest {}, {} stalls > 10 us", cpu,
                     percent, static_cast<double>(stalls.observed_ns) / 1e9,
                     format_ns(stalls.longest_ns), stalls.over_10us);
}

}  // namespace evring::bench
