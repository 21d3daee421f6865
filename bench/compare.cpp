// evring-bench compare: evring against the floor and the transports users would otherwise
// pick, in one run, on the same two pinned cores, with the same sizes, pacing and clock.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "evring/error.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "latency_trial.hpp"
#include "machine_stalls.hpp"
#include "peer_trial.hpp"
#include "percentile_plot.hpp"
#include "ring/ring_protocol.hpp"
#include "subcommands.hpp"

namespace evring::bench {
namespace {

using harness::flush_stdio;
using harness::online_cpus;

constexpr std::int64_t kStallLookNs = 1'000'000'000;

std::string payload_label(std::uint64_t bytes) {
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{} KiB", bytes / 1024);
  return fmt::format("{} B", bytes);
}

bool wanted(const std::vector<WaitKind>& waits, WaitKind wait) {
  return std::find(waits.begin(), waits.end(), wait) != waits.end();
}

// The peers' variants the options ask for, in table order; prints a line for each peer
// that cannot be measured. `daemon` keeps RouDi running while the iceoryx rows need it.
std::vector<PeerVariant> choose_peers(const CompareOptions& options,
                                      std::unique_ptr<IceoryxDaemon>& daemon) {
  std::vector<PeerVariant> chosen;
  const std::map<std::string, std::vector<PeerVariant> (*)()> sources{
      {"slot-ring", &slot_ring_variants},
      {"iceoryx", &iceoryx_variants},
      {"boost-message_queue", &message_queue_variants},
      {"unix-socket", &pipe_and_socket_variants},
      {"pipe", &pipe_and_socket_variants},
      {"moodycamel-threads", &moodycamel_variants},
  };
  for (const std::string& system : options.systems) {
    if (system == "iceoryx") {
      const std::string missing = iceoryx_missing_note();
      if (!missing.empty()) {
        fmt::print("{}\n", missing);
        continue;
      }
      try {
        daemon = start_iceoryx_daemon();
      } catch (const Error& e) {
        fmt::print("iceoryx: skipped, {}\n", e.what());
        continue;
      }
    }
    for (PeerVariant& variant : sources.at(system)()) {
      if (variant.system == system && wanted(options.waits, variant.wait)) {
        chosen.push_back(std::move(variant));
      }
    }
  }
  return chosen;
}

std::string ratio(std::int64_t value, std::int64_t base) {
  if (base <= 0) return "-";
  return fmt::format("{:.1f}x", static_cast<double>(value) / static_cast<double>(base));
}

std::string system_label(const ResultRow& row) {
  return row.system == "moodycamel-threads" ? row.system + " (in-process)" : row.system;
}

// The evring row with the same payload and wait as `row`, if measured.
const ResultRow* evring_match(const std::vector<ResultRow>& rows, const ResultRow& row) {
  for (const ResultRow& candidate : rows) {
    if (candidate.system == "evring" && candidate.payload_bytes == row.payload_bytes &&
        candidate.wait == row.wait && candidate.readers == 1) {
      return &candidate;
    }
  }
  return nullptr;
}

void print_main_table(const std::vector<ResultRow>& rows, const ResultRow& floor,
                      const std::map<std::string, std::string>& how) {
  std::vector<std::string> headers{"system", "wait", "payload"};
  for (const char* header : kPercentileHeaders) headers.emplace_back(header);
  for (const char* header : {"msgs/s", "verified", "errors", "missed", "p50 vs evring",
                             "p99.9 vs evring", "p50 vs floor"}) {
    headers.emplace_back(header);
  }
  TextTable table(headers);
  for (const ResultRow& row : rows) {
    std::vector<std::string> cells{
        system_label(row), row.wait,
        row.system == "floor" ? "line" : payload_label(row.payload_bytes)};
    for (std::int64_t ns : percentiles(*row.latency)) cells.push_back(format_ns(ns));
    cells.push_back(format_count(row.msgs_per_s));
    cells.push_back(row.verified ? std::to_string(*row.verified) : "-");
    cells.push_back(std::to_string(row.errors));
    cells.push_back(std::to_string(row.missed));
    const ResultRow* evring = evring_match(rows, row);
    const bool own = row.system == "evring" || row.system == "floor" || evring == nullptr;
    cells.push_back(own ? "-" : ratio(row.latency->p50_ns, evring->latency->p50_ns));
    cells.push_back(own ? "-" : ratio(row.latency->p999_ns, evring->latency->p999_ns));
    cells.push_back(row.system == "floor" ? "-"
                                          : ratio(row.latency->p50_ns, floor.latency->p50_ns));
    table.add_row(std::move(cells));
  }
  table.print(stdout);
  fmt::print("how each reader waits:\n");
  for (const auto& [key, text] : how) fmt::print("  {:<32} {}\n", key, text);
}

// The targets, per payload and wait, against the peer variant with the same wait.
void print_targets(const std::vector<ResultRow>& rows, const ResultRow& floor) {
  struct Target {
    const char* system;
    const char* percentile;
    std::int64_t LatencySummary::*field;
    double factor;
  };
  const Target targets[] = {
      {"iceoryx", "p50", &LatencySummary::p50_ns, 6.0},
      {"iceoryx", "p99.9", &LatencySummary::p999_ns, 3.0},
      {"boost-message_queue", "p50", &LatencySummary::p50_ns, 10.0},
      {"unix-socket", "p50", &LatencySummary::p50_ns, 10.0},
  };
  fmt::print("targets (evring's figure against the same wait's peer figure, same run):\n");
  for (const ResultRow& row : rows) {
    if (row.system != "evring" || row.readers != 1) continue;
    const std::string where = fmt::format("{} {}", row.wait, payload_label(row.payload_bytes));
    const double to_floor =
        static_cast<double>(row.latency->p50_ns) / static_cast<double>(floor.latency->p50_ns);
    // A record of one cache line (40 B payloads) pays one line's transfer, as the floor
    // does; one of two lines (64 B) a little more.
    const double floor_factor = aligned_record_length(row.payload_bytes) <= kCacheLine       ? 1.15
                                : aligned_record_length(row.payload_bytes) <= 2 * kCacheLine ? 1.4
                                                                                             : 2.0;
    fmt::print("  {:<12} evring p50 within {:.2f}x of the floor: {:.2f}x  {}\n", where,
               floor_factor, to_floor, to_floor <= floor_factor ? "met" : "NOT met");
    for (const Target& target : targets) {
      for (const ResultRow& peer : rows) {
        if (peer.system != target.system || peer.wait != row.wait ||
            peer.payload_bytes != row.payload_bytes) {
          continue;
        }
        const double factor =
            static_cast<double>((*peer.latency).*target.field) /
            static_cast<double>(std::max<std::int64_t>(1, (*row.latency).*target.field));
        fmt::print("  {:<12} {} {} >= {:.0f}x evring's: {:.1f}x  {}\n", where, target.system,
                   target.percentile, target.factor, factor,
                   factor >= target.factor ? "met" : "NOT met");
      }
    }
  }
}

void print_payload_scaling(const std::vector<ResultRow>& rows) {
  std::vector<std::string> headers{"system", "payload", "p50", "p99", "p99.9", "msgs/s", "MB/s"};
  TextTable table(headers);
  for (const ResultRow& row : rows) {
    table.add_row({system_label(row), payload_label(row.payload_bytes),
                   format_ns(row.latency->p50_ns), format_ns(row.latency->p99_ns),
                   format_ns(row.latency->p999_ns), format_count(row.msgs_per_s),
                   fmt::format("{:.1f}", row.bytes_per_s / 1e6)});
  }
  table.print(stdout);
}

void print_reader_scaling(const std::vector<ResultRow>& rows) {
  TextTable table({"system", "readers", "wait", "payload", "p50", "p99", "p99.9", "max", "msgs/s",
                   "lapped", "errors"});
  for (const ResultRow& row : rows) {
    table.add_row({row.system, std::to_string(row.readers), row.wait,
                   payload_label(row.payload_bytes), format_ns(row.latency->p50_ns),
                   format_ns(row.latency->p99_ns), format_ns(row.latency->p999_ns),
                   format_ns(row.latency->max_ns), format_count(row.msgs_per_s),
                   std::to_string(row.lapped), std::to_string(row.errors)});
  }
  table.print(stdout);
}

// Trial-by-trial progress on stderr (stdout keeps the tables).
void say_measuring(const std::string& what) {
  fmt::print(stderr, "measuring {}\n", what);
  std::fflush(stderr);
}

// Runs one trial into `rows`. A trial that fails (a deadline overrun on a loaded machine, a
// peer that breaks) is reported and left out, so one bad row does not cost the whole run;
// Ctrl-C still ends it.
template <class Measure>
void measure_into(std::vector<ResultRow>& rows, const std::string& what, const Measure& measure) {
  say_measuring(what);
  try {
    rows.push_back(measure());
  } catch (const Error& e) {
    if (harness::interrupted()) throw;
    fmt::print("{}: failed, left out of the tables: {}\n", what, e.what());
  }
}

}  // namespace

std::vector<ResultRow> run_compare(const CompareOptions& options) {
  harness::pin_to_cpu(options.writer_cpu);
  const std::uint64_t warmup = default_warmup(options.warmup, options.samples, 2'000);
  const std::string pacing =
      options.rate == 0 ? std::string("flat out (one message in flight)")
                        : fmt::format("{} msgs/s, stamped at the intended send time", options.rate);
  fmt::print(
      "one-way latency, writer on CPU {}, reader on CPU {}, {}, {} samples after {} warm-up; "
      "peers carry a 16-byte header (seq, stamp) before the payload; every payload is checked\n",
      options.writer_cpu, options.reader_cpu, pacing, options.samples, warmup);

  std::unique_ptr<IceoryxDaemon> daemon;
  const std::vector<PeerVariant> peers = choose_peers(options, daemon);
  flush_stdio();

  std::vector<ResultRow> rows;
  say_measuring("the floor");
  rows.push_back(run_ring_or_floor_trial(
      {"floor", kFloorMessageBytes, WaitKind::spin, options.rate, warmup, options.samples},
      options.reader_cpu, options.ring_bytes));
  const ResultRow floor = rows.front();
  std::map<std::string, std::string> how;
  how["floor spin"] = "spins on the cache line the writer stores to";
  const std::map<WaitKind, std::string> evring_how{
      {WaitKind::spin, "polls the ring (pause between looks)"},
      {WaitKind::yield, "polls, sched_yield() between looks"},
      {WaitKind::block, "polls briefly, then sleeps on a futex; woken by the writer"}};
  for (WaitKind wait : options.waits) {
    how[fmt::format("evring {}", to_string(wait))] = evring_how.at(wait);
  }
  for (std::uint32_t payload : options.payloads) {
    for (WaitKind wait : options.waits) {
      measure_into(rows, fmt::format("evring {} {}", to_string(wait), payload_label(payload)), [&] {
        return run_ring_or_floor_trial(
            {"evring", payload, wait, options.rate, warmup, options.samples}, options.reader_cpu,
            options.ring_bytes);
      });
    }
    for (const PeerVariant& peer : peers) {
      measure_into(
          rows, fmt::format("{} {} {}", peer.system, to_string(peer.wait), payload_label(payload)),
          [&] {
            return run_peer_trial(
                {peer.system, payload, peer.wait, options.rate, warmup, options.samples}, peer,
                options.writer_cpu, options.reader_cpu);
          });
      how[fmt::format("{} {}", peer.system, to_string(peer.wait))] = peer.how;
    }
  }
  print_main_table(rows, floor, how);
  print_targets(rows, floor);
  if (!options.plot_path.empty()) {
    write_percentile_plot(options.plot_path, rows, fmt::format("one-way latency, {}", pacing));
  }

  // Scaling with the payload: flat out (throughput = one message in flight at a time),
  // each system's spinning variant, the only one that keeps a core to itself.
  std::vector<ResultRow> payload_rows;
  if (!options.scaling_payloads.empty()) {
    const std::uint64_t scaling_warmup =
        std::max<std::uint64_t>(1'000, options.scaling_samples / 10);
    for (std::uint32_t payload : options.scaling_payloads) {
      measure_into(
          payload_rows, fmt::format("payload scaling, evring {}", payload_label(payload)), [&] {
            return run_ring_or_floor_trial(
                {"evring", payload, WaitKind::spin, 0, scaling_warmup, options.scaling_samples},
                options.reader_cpu, options.ring_bytes);
          });
      for (const PeerVariant& peer : peers) {
        if (peer.wait != WaitKind::spin) continue;
        measure_into(payload_rows,
                     fmt::format("payload scaling, {} {}", peer.system, payload_label(payload)),
                     [&] {
                       return run_peer_trial({peer.system, payload, WaitKind::spin, 0,
                                              scaling_warmup, options.scaling_samples},
                                             peer, options.writer_cpu, options.reader_cpu);
                     });
      }
    }
    fmt::print(
        "\nscaling with the payload: flat out, one message in flight (msgs/s = 1 / round "
        "trip), spinning readers, {} samples each\n",
        options.scaling_samples);
    print_payload_scaling(payload_rows);
    for (ResultRow& row : payload_rows) row.mode = "payload-scaling";
  }

  // Scaling with the readers: evring's broadcast at the fixed rate. A spinning reader
  // needs a core of its own; beyond the free cores the readers block instead.
  std::vector<ResultRow> reader_rows;
  if (!options.scaling_readers.empty()) {
    const unsigned free_cores = online_cpus() > 1 ? online_cpus() - 1 : 1;
    const std::uint64_t rate = options.rate == 0 ? 20'000 : options.rate;
    const std::uint32_t payload = options.payloads.front();
    const std::uint64_t scaling_warmup =
        std::max<std::uint64_t>(1'000, options.scaling_samples / 10);
    for (unsigned readers : options.scaling_readers) {
      const WaitKind wait = readers <= free_cores ? WaitKind::spin : WaitKind::block;
      measure_into(reader_rows, fmt::format("evring with {} readers", readers), [&] {
        ResultRow row = run_ring_fanout_trial(
            {"evring", payload, wait, rate, scaling_warmup, options.scaling_samples},
            reader_cpus(readers, options.writer_cpu, options.reader_cpu), options.ring_bytes);
        row.mode = "reader-scaling";
        return row;
      });
    }
    fmt::print(
        "\nscaling with the readers: evring at {} msgs/s, {}, worst reader's percentiles; {} "
        "core(s) besides the writer's, so {} reader(s) spin and the others block{}\n",
        rate, payload_label(payload), free_cores, free_cores,
        free_cores < 8 ? " (a machine with more cores gives each reader its own core)" : "");
    print_reader_scaling(reader_rows);
  }

  if (!options.plot_path.empty()) {
    write_scaling_plot(scaling_plot_path(options.plot_path), payload_rows, reader_rows);
  }

  daemon.reset();  // RouDi goes before the stall look, which wants quiet cores
  const MachineStalls stalls = measure_machine_stalls(options.reader_cpu, kStallLookNs);
  fmt::print("\nmachine stalls (gaps > {} ns in a pinned clock loop): {}; {}\n", kStallThresholdNs,
             describe(options.writer_cpu, stalls.writer_cpu),
             describe(options.reader_cpu, stalls.reader_cpu));
  fmt::print(
      "command round trip and command-to-view latency: `evring-bench commands` and "
      "`evring-bench views` (both run by `make bench`)\n");

  rows.insert(rows.end(), payload_rows.begin(), payload_rows.end());
  rows.insert(rows.end(), reader_rows.begin(), reader_rows.end());
  return rows;
}

}  // namespace evring::bench
