// The --plot chart of `evring-bench compare`: each system's latency percentiles as a curve
// on one log-log chart (x: the percentile, as 1 / (1 - p), so 90%, 99%, 99.9%... are evenly
// spaced; y: latency), one panel per payload size; and beside it the scaling chart. Drawn
// by gnuplot.
#pragma once

#include <string>
#include <vector>

#include "report.hpp"

namespace evring::bench {

// Writes `png_path` from the rows that have latency (the floor goes on every panel).
// Without gnuplot on the PATH it prints a line saying so (and how to add it) and returns.
// Throws Error(io) if gnuplot fails.
void write_percentile_plot(const std::string& png_path, const std::vector<ResultRow>& rows,
                           const std::string& title);

// "out/compare.png" -> "out/compare-scaling.png": where --plot puts the scaling chart.
std::string scaling_plot_path(const std::string& png_path);

// The scaling chart: p50 and MB/s against the payload per system (payload_rows), and the
// worst evring reader's p50, p99, p99.9 against the number of readers (reader_rows).
// Draws nothing without gnuplot (write_percentile_plot has said so already).
void write_scaling_plot(const std::string& png_path, const std::vector<ResultRow>& payload_rows,
                        const std::vector<ResultRow>& reader_rows);

}  // namespace evring::bench
