// Ctrl-C for a parent with children: SIGINT and SIGTERM set a flag instead of killing the
// parent mid-way, so it can unwind, kill its children and remove its segments. The
// children take the default action (ChildProcess::spawn), so a Ctrl-C on a terminal, which
// reaches the whole process group, kills them outright.
#pragma once

#include "evring/error.hpp"

namespace evring::harness {

// Installs the flag-setting handler for SIGINT and SIGTERM. The parent's main thread,
// once, before it forks.
void install_interrupt_handlers();

// Whether SIGINT or SIGTERM arrived since install_interrupt_handlers(). Any thread.
bool interrupted() noexcept;

// Throws Error(io) "interrupted by <signal>" if an interrupt arrived. Any thread.
void throw_if_interrupted();

// Runs `body`; an Error it throws after an interrupt arrived becomes the interrupt's. A
// Ctrl-C also stops the children (same process group), and then their "went away" errors
// would hide the real cause.
template <class Body>
auto blaming_interrupts(Body&& body) {
  try {
    return body();
  } catch (const Error&) {
    throw_if_interrupted();
    throw;
  }
}

// Whether a child's wait status says SIGINT or SIGTERM killed it: the terminal's Ctrl-C,
// which may be seen in a dead child before the parent's own handler has run.
bool killed_by_interrupt(int wait_status) noexcept;

}  // namespace evring::harness
