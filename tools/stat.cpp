// evring stat: a live view of an instance, like top. Everything comes from the instance's
// registry segment (writer status and info, one row per reader) and a read-only look at
// its ring's config and cursor; stat claims no reader slot and never writes to either.
// Remote readers (evring-reader --source nats://...) have no registry on their machine:
// each keeps its own status segment (remote/remote_status.hpp), listed beside the local
// rows, or alone when the instance has no writer here.
//   one shot    samples twice 200 ms apart (for the rates) and prints one snapshot
//   --watch     refreshes in place every --interval until Ctrl-C, fitted to the terminal's
//               width (TIOCGWINSZ, else $COLUMNS, else 80)
//   --json      one JSON object per snapshot (per line with --watch)
//   --prometheus  the Prometheus text exposition format, from one sample (no wait)
//   --serve ADDR:PORT  the same over HTTP at /metrics, a fresh sample per scrape, until
//               SIGINT or SIGTERM (stat_serve.hpp); the instance need not be running
// No such instance, bad flags: a message on stderr, exit 2. A writer that died with its
// segments still there is shown dead, not refused.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"
#include "harness/interrupt.hpp"
#include "stat.hpp"
#include "stat_render.hpp"
#include "stat_serve.hpp"
#include "stat_snapshot.hpp"

namespace evring::tools {
namespace {

using namespace stat;

constexpr const char* kStatFooter = R"(Examples:
  evring stat --name orders                  # one snapshot (rates over 200 ms)
  evring stat --name orders --watch          # refresh every second until Ctrl-C
  evring stat --name orders --watch --interval 250ms
  evring stat --name orders --json | jq '.readers[] | {id, lag_events}'
  evring stat --name orders --prometheus > /var/lib/node_exporter/evring_orders.prom
  evring stat --name orders --serve 127.0.0.1:9464   # Prometheus scrapes /metrics
What it shows:
  writer   alive (process running, heartbeat under 3 s old), stalled (process there,
           heartbeat older), dead (process gone, segments left behind) or closed;
           incarnation (bumped at each writer start), head seq, events/s and bytes/s
           (payload bytes) between two samples, the journal's size on disk (its segment
           files: blocks reserved as they grow) or none, durability and domain.
  ring     its size; how many times the writer has gone round it; and its fill: the part
           of the ring holding events the slowest live reader has not read yet, estimated
           from that reader's lag in events times the ring's average record size. At 100%
           the slowest reader is a whole ring behind and catches up from the journal.
  readers  one row each: state (alive, stalled, dead, as for the writer), position (the
           last seq its view applied), lag in events (head - position) and in time (now -
           the publish time of the event at its position; 0 when caught up), lapped and
           replay (catch-ups from the journal) counts, wait strategy, and events/s applied
           between two samples. * marks the slowest live reader, when some reader lags.
  remote   readers of a NATS stream (evring-reader --source nats://...) on this machine,
           with or without the instance's writer here: SOURCE names the server and stream
           (marked unreachable while the server does not answer), LAG counts against the
           stream's last seq, LAG TIME by the server's clock (the time it stored the last
           event delivered to the reader) against this machine's.
--watch fits the terminal's width ($COLUMNS when there is no terminal, else 80): long ids
are cut with "...", and on a narrow one the columns WAIT, REPLAYS, LAPPED, PID and LAG TIME
go first (--json has them all).
--prometheus prints counters and gauges (evring_writer_head_seq{instance="N"},
evring_reader_lag_events{instance="N",reader="ID",view="V"}, ...) from one sample: let
Prometheus compute the rates from the *_total counters. --serve ADDR:PORT serves the same
at http://ADDR:PORT/metrics (ADDR 127.0.0.1, 0.0.0.0, ::1, or none for every interface;
port 0 picks a free one and prints it) until Ctrl-C or SIGTERM, which exit 0; an instance
that is not running is scraped as evring_writer_up 0. docs/metrics.md lists the metrics.
Exit status: 0, or 2 when there is no such instance (neither a writer nor a remote reader
here) or a flag is wrong.
)";

constexpr std::int64_t kOneShotSampleNs = 200'000'000;
constexpr std::int64_t kMinIntervalNs = 50'000'000;

struct StatFlags {
  std::string instance = "default";
  bool watch = false;
  double interval_ms = 1000;
  bool json = false;
  bool prometheus = false;
  std::string serve;  // ADDR:PORT; empty: print
};

// ---- running -------------------------------------------------------------------------------

using harness::interrupted;

// Sleeps in short steps so Ctrl-C ends a watch at once; false if interrupted.
bool pause_for(std::int64_t ns) {
  const std::int64_t until = monotonic_ns() + ns;
  while (!interrupted()) {
    const std::int64_t left = until - monotonic_ns();
    if (left <= 0) return true;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(left, 50'000'000)));
  }
  return false;
}

// Text is fitted to `width` columns.
void print(const StatFlags& flags, const Snapshot& snapshot, std::size_t width) {
  if (flags.prometheus) {
    fmt::print("{}", render_prometheus(snapshot));
  } else if (flags.json) {
    fmt::print("{}\n", render_json(snapshot).dump());
  } else {
    fmt::print("{}", render_text(snapshot, width));
  }
  std::fflush(stdout);
}

// The first lines of each refresh of --watch: the screen cleared, then when and how often.
std::string watch_heading(std::int64_t interval_ns, std::time_t taken, std::size_t width) {
  std::tm local{};
  ::localtime_r(&taken, &local);
  char clock[16] = "";
  std::strftime(clock, sizeof clock, "%H:%M:%S", &local);
  return "\x1b[H\x1b[2J" +  // home, clear
         flow("",
              {"evring stat at " + std::string(clock), "every " + duration_text(interval_ns),
               "(Ctrl-C to stop)"},
              width) +
         "\n";
}

int run_watch(const StatFlags& flags) {
  const auto interval_ns = static_cast<std::int64_t>(flags.interval_ms * 1e6);
  harness::install_interrupt_handlers();
  std::optional<Sample> previous;
  std::int64_t wait_ns = std::min(interval_ns, kOneShotSampleNs);
  while (!interrupted()) {
    std::optional<Sample> current;
    std::string problem;
    try {
      current = take_sample(flags.instance);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::invalid_argument) throw;
      problem = describe(e);  // the instance went away: keep watching for its return
    }
    // Again at each refresh: the terminal may have been resized.
    const std::size_t width = std::max(terminal_width(), kNarrowestWidth);
    if (current && previous && previous->incarnation == current->incarnation) {
      const Snapshot snapshot = make_snapshot(flags.instance, *previous, *current);
      if (!flags.json) fmt::print("{}", watch_heading(interval_ns, snapshot.taken_wall, width));
      print(flags, snapshot, width);
    } else if (!problem.empty()) {
      if (flags.json) {
        fmt::print("{}\n",
                   nlohmann::ordered_json{{"instance", flags.instance}, {"error", problem}}.dump());
      } else {
        fmt::print("{}{}", watch_heading(interval_ns, std::time(nullptr), width),
                   flow("", {problem}, width));
      }
      std::fflush(stdout);
    }
    previous = std::move(current);
    if (!pause_for(wait_ns)) break;
    wait_ns = interval_ns;
  }
  return kExitOk;
}

// Two samples kOneShotSampleNs apart, for the rates.
Snapshot one_shot_snapshot(const std::string& instance) {
  const Sample first = take_sample(instance);
  std::this_thread::sleep_for(std::chrono::nanoseconds(kOneShotSampleNs));
  const Sample last = take_sample(instance);
  return make_snapshot(instance, first, last);
}

int run_stat(const StatFlags& flags) {
  if (!flags.serve.empty()) return serve_metrics(flags.instance, flags.serve);
  if (flags.watch) {
    if (flags.prometheus) {
      throw Error(ErrorCode::invalid_argument,
                  "--watch and --prometheus do not go together: let Prometheus scrape "
                  "evring stat --prometheus at its own interval");
    }
    if (flags.interval_ms * 1e6 < static_cast<double>(kMinIntervalNs) ||
        flags.interval_ms > 3600e3) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("--interval {} ms is out of range: 50ms to 1h", flags.interval_ms));
    }
    return run_watch(flags);
  }
  if (flags.prometheus) {
    const Sample only = take_sample(flags.instance);
    print(flags, make_snapshot(flags.instance, only, only), kNoWidthLimit);
    return kExitOk;
  }
  // On a terminal, fitted to it; into a pipe or a file, whole.
  print(flags, one_shot_snapshot(flags.instance),
        ::isatty(STDOUT_FILENO) ? std::max(terminal_width(), kNarrowestWidth) : kNoWidthLimit);
  return kExitOk;
}

}  // namespace

std::string stat_table(const std::string& instance) {
  return render_text(one_shot_snapshot(instance));
}

Command add_stat_command(CLI::App& parent) {
  auto flags = std::make_shared<StatFlags>();
  CLI::App* app = parent.add_subcommand(
      "stat", "show an instance's writer and readers: liveness, head, positions, lag, rates");
  app->footer(kStatFooter);
  app->add_option("--name", flags->instance, "instance name")->capture_default_str();
  CLI::Option* watch =
      app->add_flag("--watch", flags->watch, "refresh in place every --interval until Ctrl-C");
  app->add_option(
         "--interval", flags->interval_ms,
         "time between refreshes of --watch: 250ms, 2s, 1m or plain milliseconds (default 1s)")
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, double>{{"ms", 1}, {"s", 1000}, {"m", 60'000}},
          CLI::AsNumberWithUnit::DEFAULT, "DURATION"))
      ->option_text("DURATION (with --watch)")
      ->needs(watch);
  CLI::Option* json =
      app->add_flag("--json", flags->json, "print one JSON object (a line per refresh)");
  CLI::Option* prometheus = app->add_flag("--prometheus", flags->prometheus,
                                          "print the Prometheus text exposition format")
                                ->excludes(json);
  app->add_option("--serve", flags->serve,
                  "serve the Prometheus metrics over HTTP at /metrics on ADDR:PORT "
                  "(127.0.0.1:9464, :9464; port 0: any free one) until Ctrl-C")
      ->option_text("ADDR:PORT")
      ->excludes(watch)
      ->excludes(json)
      ->excludes(prometheus);
  return Command{app, [flags] { return run_stat(*flags); }};
}

}  // namespace evring::tools
