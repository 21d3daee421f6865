// The bodies of the demo's child processes. Each runs in its own forked process, reports
// through the DemoBoard, and returns its exit status (or throws evring::Error).
#pragma once

#include <cstddef>

#include "demo_board.hpp"

namespace evring::tools {

// Creates the instance's ring, says ready, waits for the parent's go, then publishes
// config.rate records per second for config.seconds. Ending closes the ring, which tells
// the readers the stream is over.
int run_demo_writer(const DemoConfig& config, DemoBoard& board);

// Attaches to the ring, says ready, then reads and checks every record until the writer
// closes the ring; leaves its counts and latency percentiles on the board.
int run_demo_reader(const DemoConfig& config, std::size_t index, DemoBoard& board);

}  // namespace evring::tools
