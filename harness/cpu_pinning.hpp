// Which CPUs there are, and keeping a process on one of them (a benchmark's writer and
// readers each on its own core).
#pragma once

namespace evring::harness {

// Online CPUs (sysconf), at least 1. Any thread.
unsigned online_cpus();

// Pins the calling thread to `cpu`. Any thread, typically a child's first statement.
// Throws Error(invalid_argument) naming the CPUs there are.
void pin_to_cpu(unsigned cpu);

}  // namespace evring::harness
