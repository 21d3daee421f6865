#include "harness/cpu_pinning.hpp"

#include <sched.h>
#include <unistd.h>

#include <string>

#include "evring/error.hpp"

namespace evring::harness {

unsigned online_cpus() {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return cpus < 1 ? 1u : static_cast<unsigned>(cpus);
}

void pin_to_cpu(unsigned cpu) {
  const unsigned cpus = online_cpus();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (cpu >= cpus || ::sched_setaffinity(0, sizeof set, &set) != 0) {
    throw Error(ErrorCode::invalid_argument, "cannot pin to CPU " + std::to_string(cpu) +
                                                 ": this machine has CPUs 0.." +
                                                 std::to_string(cpus - 1));
  }
}

}  // namespace evring::harness
