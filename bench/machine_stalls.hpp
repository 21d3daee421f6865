// How much time the machine itself takes away from a pinned, spinning thread (hypervisor
// preemption, interrupts): a thread reads the clock in a loop, and any gap between two
// reads longer than kStallThresholdNs is a stall. At a fixed send rate every stall shows up
// in the latency tail of any transport, the floor included, so the latency report prints
// this beside its table (after jHiccup's idea).
#pragma once

#include <cstdint>
#include <string>

namespace evring::bench {

inline constexpr std::int64_t kStallThresholdNs = 1'000;

struct StallSummary {
  std::int64_t observed_ns = 0;
  std::int64_t stalled_ns = 0;  // sum of the gaps over the threshold
  std::int64_t longest_ns = 0;
  std::uint64_t over_10us = 0;  // gaps longer than 10 us
};

// Looks for `duration_ns` on writer_cpu (the calling thread, already pinned) and
// reader_cpu (a child process) at once.
struct MachineStalls {
  StallSummary writer_cpu;
  StallSummary reader_cpu;
};
MachineStalls measure_machine_stalls(unsigned reader_cpu, std::int64_t duration_ns);

// "CPU 0: stalled 2.2% of 1.0 s, longest 8.04 ms, 470 stalls > 10 us"
std::string describe(unsigned cpu, const StallSummary& stalls);

}  // namespace evring::bench
