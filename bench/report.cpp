#include "report.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "evring/error.hpp"
#include "harness/cpu_pinning.hpp"

namespace evring::bench {
namespace {

std::string trim(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

std::string shell_quote(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./=,:+%@").find(c) != std::string_view::npos;
  });
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

bool looks_numeric(const std::string& cell) {
  return !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) || cell == "-");
}

nlohmann::json latency_field(const ResultRow& row, std::int64_t LatencySummary::*field) {
  if (!row.latency) return nullptr;
  return (*row.latency).*field;
}

}  // namespace

MachineInfo probe_machine() {
  MachineInfo machine;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      machine.cpu = trim(line.substr(line.find(':') + 1));
      break;
    }
  }
  if (machine.cpu.empty()) machine.cpu = "unknown";
  machine.cores = harness::online_cpus();
  utsname names{};
  machine.kernel = ::uname(&names) == 0 ? names.release : "unknown";
  return machine;
}

std::string command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i != 0) line += ' ';
    line += shell_quote(argv[i]);
  }
  return line;
}

void write_json(const std::string& path, const MachineInfo& machine, const std::string& command,
                const std::vector<ResultRow>& rows) {
  nlohmann::json results = nlohmann::json::array();
  for (const ResultRow& row : rows) {
    nlohmann::json entry{
        {"system", row.system},
        {"payload_bytes", row.payload_bytes},
        {"wait", row.wait},
        {"mode", row.mode},
        {"readers", row.readers},
        {"p50_ns", latency_field(row, &LatencySummary::p50_ns)},
        {"p90_ns", latency_field(row, &LatencySummary::p90_ns)},
        {"p99_ns", latency_field(row, &LatencySummary::p99_ns)},
        {"p999_ns", latency_field(row, &LatencySummary::p999_ns)},
        {"p9999_ns", latency_field(row, &LatencySummary::p9999_ns)},
        {"max_ns", latency_field(row, &LatencySummary::max_ns)},
        {"samples", row.samples},
        {"msgs_per_s", row.msgs_per_s},
        {"bytes_per_s", row.bytes_per_s},
        {"writer_msgs_per_s",
         row.writer_msgs_per_s ? nlohmann::json(*row.writer_msgs_per_s) : nlohmann::json(nullptr)},
        {"errors", row.errors},
        {"verified", row.verified ? nlohmann::json(*row.verified) : nlohmann::json(nullptr)},
        {"lapped", row.lapped},
        {"missed", row.missed},
    };
    results.push_back(std::move(entry));
  }
  const nlohmann::json document{
      {"machine", {{"cpu", machine.cpu}, {"cores", machine.cores}, {"kernel", machine.kernel}}},
      {"command", command},
      {"results", std::move(results)},
  };
  std::ofstream file(path);
  file << document.dump(2) << '\n';
  file.close();
  if (!file) {
    throw Error(ErrorCode::io, "cannot write the JSON report to " + path +
                                   ": check the directory exists and is writable");
  }
}

void print_machine(std::FILE* out, const MachineInfo& machine) {
  fmt::print(out, "machine: {}, {} cores, kernel {}\n", machine.cpu, machine.cores, machine.kernel);
}

std::string format_ns(std::int64_t ns) {
  const auto value = static_cast<double>(ns);
  if (ns < 10'000) return fmt::format("{} ns", ns);
  if (ns < 10'000'000) return fmt::format("{:.2f} us", value / 1e3);
  if (ns < 10'000'000'000) return fmt::format("{:.2f} ms", value / 1e6);
  return fmt::format("{:.2f} s", value / 1e9);
}

std::string format_count(double value) {
  if (value >= 1e9) return fmt::format("{:.2f} G", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.2f} M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f} k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

std::string format_bytes(double value) {
  return format_count(value) + "B";
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void TextTable::print(std::FILE* out) const {
  const std::size_t columns = headers_.size();
  std::vector<std::size_t> widths(columns);
  // A column of numbers is right-aligned, header included; the first column never is.
  std::vector<bool> numeric(columns, true);
  numeric[0] = false;
  for (std::size_t c = 0; c < columns; ++c) widths[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size() && c < columns; ++c) {
      widths[c] = std::max(widths[c], row[c].size());
      if (!row[c].empty() && !looks_numeric(row[c])) numeric[c] = false;
    }
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t c = 0; c < columns; ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      if (c != 0) line += "  ";
      line += numeric[c] ? fmt::format("{:>{}}", cell, widths[c])
                         : fmt::format("{:<{}}", cell, widths[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print(out, "{}\n", line);
  };
  print_row(headers_);
  std::size_t total = 2 * (columns - 1);
  for (std::size_t w : widths) total += w;
  fmt::print(out, "{}\n", std::string(total, '-'));
  for (const auto& row : rows_) print_row(row);
}

}  // namespace evring::bench
