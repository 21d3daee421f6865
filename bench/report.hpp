// What evring-bench reports and how: the machine, one row per measured system and
// setting, an aligned text table and the --json file. Shared by every subcommand, so a
// peer added later (iceoryx, a pipe, ...) lands in the same table and the same JSON.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "sys/latency_recorder.hpp"

namespace evring::bench {

struct MachineInfo {
  std::string cpu;     // "model name" of /proc/cpuinfo
  unsigned cores = 0;  // online CPUs
  std::string kernel;  // uname -r
};
MachineInfo probe_machine();

// One measured configuration of one system.
struct ResultRow {
  std::string system;  // "evring", "floor", later the peers
  std::uint64_t payload_bytes = 0;
  std::string wait;  // the reader's wait strategy: spin, yield, block
  std::string mode;  // e.g. "rate", "flat-out", "throughput", "no-reader", "stopped-reader"
  unsigned readers = 1;
  std::optional<LatencySummary> latency;    // absent where latency was not measured
  std::uint64_t samples = 0;                // latency samples, or records per reader
  double msgs_per_s = 0;                    // achieved rate (per reader for throughput)
  double bytes_per_s = 0;                   // payload bytes per second, same basis
  std::optional<double> writer_msgs_per_s;  // the writer's own publish rate
  std::uint64_t errors = 0;                 // payload mismatches and sequence gaps
  std::optional<std::uint64_t> verified;    // payloads checked byte for byte and right
  std::uint64_t lapped = 0;                 // times a reader was lapped
  std::uint64_t missed = 0;                 // records those laps skipped
};

// The command line as typed (arguments shell-quoted where needed).
std::string command_line(int argc, char** argv);

// Writes {"machine", "command", "results"}; throws Error(io) naming the file on failure.
void write_json(const std::string& path, const MachineInfo& machine, const std::string& command,
                const std::vector<ResultRow>& rows);

void print_machine(std::FILE* out, const MachineInfo& machine);

// "850 ns", "1.23 us", "4.56 ms"
std::string format_ns(std::int64_t ns);
// "31.2 M" (per second is the column's unit)
std::string format_count(double value);
// "2.95 GB" (decimal units)
std::string format_bytes(double value);

// The middle value (the upper one of an even count); `values` is not empty. For figures
// taken over several rounds on a shared machine, where one round can be disturbed.
double median(std::vector<double> values);

// Columns padded to their widest cell; numbers right-aligned, words left-aligned.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::FILE* out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace evring::bench
