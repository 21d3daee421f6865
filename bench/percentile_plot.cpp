#include "percentile_plot.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "evring/error.hpp"
#include "latency_trial.hpp"

namespace evring::bench {
namespace {

// Where each percentile sits on the x axis: 1 / (1 - p); max is drawn one decade past p99.99.
constexpr double kPercentileX[] = {2.0, 10.0, 100.0, 1'000.0, 10'000.0, 100'000.0};

bool gnuplot_on_path() {
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

std::string series_name(const ResultRow& row) {
  return row.system + " " + row.wait;
}

// One colour per system, the same on every panel; blocking readers drawn dashed.
std::string series_style(const ResultRow& row) {
  static const char* const kSystems[] = {
      "floor",       "evring", "iceoryx",           "boost-message_queue",
      "unix-socket", "pipe",   "moodycamel-threads"};
  std::size_t colour = 0;
  while (colour < std::size(kSystems) && row.system != kSystems[colour]) ++colour;
  return fmt::format("linecolor {} dashtype {} pointtype {}", colour + 1,
                     row.wait == "block" ? 2 : 1, row.wait == "block" ? 6 : 7);
}

// Runs gnuplot on `script` (kept in a file beside the PNG while it runs).
void run_gnuplot(const std::string& script, const std::string& png_path) {
  const std::string script_path = png_path + ".gp";
  {
    std::ofstream file(script_path);
    file << script;
    if (!file) throw Error(ErrorCode::io, "cannot write " + script_path);
  }
  const int status = std::system(fmt::format("gnuplot '{}'", script_path).c_str());
  std::filesystem::remove(script_path);
  if (status != 0) {
    throw Error(ErrorCode::io, "gnuplot could not draw " + png_path + " (exit status " +
                                   std::to_string(status) + ")");
  }
  fmt::print("wrote {}\n", png_path);
}

}  // namespace

void write_percentile_plot(const std::string& png_path, const std::vector<ResultRow>& rows,
                           const std::string& title) {
  if (!gnuplot_on_path()) {
    fmt::print("--plot {}: skipped, gnuplot is not installed (apt install gnuplot-nox)\n",
               png_path);
    return;
  }
  std::set<std::uint64_t> payloads;
  for (const ResultRow& row : rows) {
    if (row.latency && row.system != "floor") payloads.insert(row.payload_bytes);
  }
  const ResultRow* floor = nullptr;
  for (const ResultRow& row : rows) {
    if (row.system == "floor") floor = &row;
  }

  std::ostringstream script;
  script << fmt::format(
      "set terminal pngcairo size {},600 font ',9'\nset output '{}'\n"
      "set termoption noenhanced\nset logscale xy\nset grid xtics ytics mytics\n"
      "set key below font ',8' maxrows 4\n"
      "set xtics ('p50' 2, 'p90' 10, 'p99' 100, 'p99.9' 1000, 'p99.99' 10000, 'max' 100000)\n"
      "set ylabel 'one-way latency (us)'\nset format y '%g'\n"
      "set multiplot layout 1,{} title '{}'\n",
      480 * payloads.size(), png_path, payloads.size(), title);
  for (std::uint64_t payload : payloads) {
    std::vector<const ResultRow*> series;
    if (floor != nullptr) series.push_back(floor);
    for (const ResultRow& row : rows) {
      if (row.latency && row.payload_bytes == payload && row.system != "floor" &&
          row.readers == 1 && (row.mode == "rate" || row.mode == "flat-out")) {
        series.push_back(&row);
      }
    }
    script << fmt::format("set title '{} B payload'\nplot ", payload);
    for (std::size_t i = 0; i < series.size(); ++i) {
      script << fmt::format("{}'-' using 1:2 with linespoints lw 2 {} title '{}'",
                            i == 0 ? "" : ", ", series_style(*series[i]), series_name(*series[i]));
    }
    script << "\n";
    for (const ResultRow* row : series) {
      const std::vector<std::int64_t> ns = percentiles(*row->latency);
      for (std::size_t i = 0; i < ns.size(); ++i) {
        script << fmt::format("{} {}\n", kPercentileX[i], static_cast<double>(ns[i]) / 1e3);
      }
      script << "e\n";
    }
  }
  script << "unset multiplot\n";
  run_gnuplot(script.str(), png_path);
}

std::string scaling_plot_path(const std::string& png_path) {
  const std::filesystem::path path(png_path);
  return (path.parent_path() / (path.stem().string() + "-scaling" + path.extension().string()))
      .string();
}

void write_scaling_plot(const std::string& png_path, const std::vector<ResultRow>& payload_rows,
                        const std::vector<ResultRow>& reader_rows) {
  if (!gnuplot_on_path() || (payload_rows.empty() && reader_rows.empty())) return;
  std::vector<std::string> systems;  // in table order
  for (const ResultRow& row : payload_rows) {
    if (std::find(systems.begin(), systems.end(), row.system) == systems.end()) {
      systems.push_back(row.system);
    }
  }
  const auto series = [&](const char* ylabel, const auto& value) {
    std::ostringstream panel;
    panel << fmt::format("set xlabel 'payload (bytes)'\nset ylabel '{}'\nplot ", ylabel);
    for (std::size_t i = 0; i < systems.size(); ++i) {
      ResultRow style;
      style.system = systems[i];
      style.wait = "spin";
      panel << fmt::format("{}'-' using 1:2 with linespoints lw 2 {} title '{}'",
                           i == 0 ? "" : ", ", series_style(style), systems[i]);
    }
    panel << "\n";
    for (const std::string& system : systems) {
      for (const ResultRow& row : payload_rows) {
        if (row.system == system) panel << fmt::format("{} {}\n", row.payload_bytes, value(row));
      }
      panel << "e\n";
    }
    return panel.str();
  };
  std::ostringstream script;
  script << fmt::format(
      "set terminal pngcairo size 1440,560 font ',9'\nset output '{}'\n"
      "set termoption noenhanced\nset grid\nset key below font ',8' maxrows 4\n"
      "set multiplot layout 1,3 title 'scaling: payload (flat out, one message in flight, "
      "spinning readers) and evring readers (at the fixed rate)'\n"
      "set logscale xy\nset format x '%.0s%cB'\nset title 'p50 one-way latency'\n",
      png_path);
  script << series("p50 (us)", [](const ResultRow& row) {
    return static_cast<double>(row.latency->p50_ns) / 1e3;
  });
  script << "set title 'throughput, one in flight'\n";
  script << series("MB/s", [](const ResultRow& row) { return row.bytes_per_s / 1e6; });
  script << "unset logscale x\nset format x '%g'\nset xlabel 'reader processes'\n"
            "set ylabel 'worst reader (us)'\nset title 'evring readers'\nset xtics 1\n"
            "plot '-' using 1:2 with linespoints lw 2 title 'p50', "
            "'-' using 1:2 with linespoints lw 2 title 'p99', "
            "'-' using 1:2 with linespoints lw 2 title 'p99.9'\n";
  for (auto field : {&LatencySummary::p50_ns, &LatencySummary::p99_ns, &LatencySummary::p999_ns}) {
    for (const ResultRow& row : reader_rows) {
      script << fmt::format("{} {}\n", row.readers,
                            static_cast<double>((*row.latency).*field) / 1e3);
    }
    script << "e\n";
  }
  script << "unset multiplot\n";
  run_gnuplot(script.str(), png_path);
}

}  // namespace evring::bench
