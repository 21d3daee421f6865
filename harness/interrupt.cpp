#include "harness/interrupt.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <string>

#include "evring/error.hpp"

namespace evring::harness {
namespace {

// Written by the signal handler, read by the parent's loops. relaxed: a lone flag that
// orders nothing; the loops only need to see it eventually. 0 until a signal arrives.
std::atomic<int> g_interrupt_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "set from a signal handler");

void on_interrupt(int signal_number) {
  g_interrupt_signal.store(signal_number, std::memory_order_relaxed);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigemptyset(&action.sa_mask);
  // No SA_RESTART: a parent asleep in a wait wakes up (EINTR) and looks at the flag.
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() noexcept {
  return g_interrupt_signal.load(std::memory_order_relaxed) != 0;
}

void throw_if_interrupted() {
  const int signal_number = g_interrupt_signal.load(std::memory_order_relaxed);
  if (signal_number != 0) {
    throw Error(ErrorCode::io, std::string("interrupted by ") + ::strsignal(signal_number));
  }
}

bool killed_by_interrupt(int wait_status) noexcept {
  return WIFSIGNALED(wait_status) &&
         (WTERMSIG(wait_status) == SIGINT || WTERMSIG(wait_status) == SIGTERM);
}

}  // namespace evring::harness
