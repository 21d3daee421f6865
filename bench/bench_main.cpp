// evring-bench: the command line. Parses flags, runs one subcommand, prints the machine and
// the table, writes --json. Every error exits 2 with a message that says what to do.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/program.hpp"
#include "evring/error.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "report.hpp"
#include "subcommands.hpp"

namespace {

using evring::Error;
using evring::ErrorCode;
using namespace evring::bench;
using evring::harness::online_cpus;

constexpr int kExitError = 2;

constexpr const char* kExamples = R"(Examples:
  evring-bench latency                         # 64 B at 100k msgs/s, spinning reader, vs the floor
  evring-bench latency --rate 0                # flat out: the next message once the last arrived
  evring-bench latency --payload 64,1024,16K --wait spin,block --samples 200000
  evring-bench throughput                      # 1 and 2 readers, 40 B and 1 KiB, the slot ring, stopped reader
  evring-bench throughput --readers 1 --payload 64 --duration 3 --json out.json
  evring-bench commands                        # evring-writer: round trip, commands/s, replay
  evring-bench commands --measure round-trip --durability async --rate 50000
  evring-bench commands --samples 20000 --sync-samples 1000 --replay-events 500000
  evring-bench views                           # writer + kv reader: command to view, queries, catch-up
  evring-bench views --measure visible,query --wait block --samples 50000
  evring-bench views --measure catch-up --catch-up-events 10M --catch-up-rounds 5
  evring-bench compare                         # floor, evring, the slot ring and the peers: 40 B to 16 KiB
  evring-bench compare --samples 200000 --json compare.json --plot compare.png
  evring-bench compare --systems pipe,unix-socket --wait block --payload 64 --no-scaling
  evring-bench remote                          # bridge vs cnats async publisher, gateway round trip
Every subcommand takes --json FILE. Processes are pinned (--writer-cpu, --reader-cpu or
--client-cpu); segments are named bench-<pid>-... and removed at the end, also on error or
Ctrl-C; `commands` and `views` keep their journals in a temporary folder under --dir,
removed likewise.
)";

// A payload must fit four times in the ring (RingOptions' rule); say which flag to change.
void check_payloads(const std::vector<std::uint32_t>& payloads, std::uint64_t ring_bytes) {
  for (std::uint32_t payload : payloads) {
    if (payload == 0) {
      throw Error(ErrorCode::invalid_argument, "--payload 0: give sizes of at least 1 byte");
    }
    if (evring::aligned_record_length(payload) > ring_bytes / 4) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("--payload {} does not fit four times in a ring of {} bytes: lower "
                              "--payload or raise --ring-bytes",
                              payload, ring_bytes));
    }
  }
}

// `other_flag`: the other process's flag, --reader-cpu or --client-cpu.
void check_cpus(unsigned writer_cpu, unsigned other_cpu, const char* other_flag = "--reader-cpu") {
  const unsigned cpus = online_cpus();
  if (writer_cpu >= cpus || other_cpu >= cpus) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--writer-cpu {} / {} {}: this machine has CPUs 0..{}", writer_cpu,
                            other_flag, other_cpu, cpus - 1));
  }
}

// Fails before measuring rather than after: the file is created (empty) now.
void check_writable(const std::string& path, const char* flag = "--json") {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                std::string(flag) + " " + path + ": cannot create it (" +
                    evring::errno_text(errno) + "); check the directory exists and is writable");
  }
  std::fclose(file);
}

void add_common_options(CLI::App& command, std::vector<std::uint32_t>& payloads,
                        unsigned& writer_cpu, unsigned& reader_cpu, std::uint64_t& ring_bytes,
                        std::string& json_path) {
  command
      .add_option("--payload", payloads,
                  "payload bytes, a comma-separated list (suffixes K, M: 16K = 16384)")
      ->delimiter(',')
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  command.add_option("--writer-cpu", writer_cpu, "CPU the writer is pinned to")
      ->capture_default_str();
  command.add_option("--reader-cpu", reader_cpu, "CPU the (first) reader is pinned to")
      ->capture_default_str();
  command.add_option("--ring-bytes", ring_bytes, "ring data size, a power of two (e.g. 1M, 64M)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  command.add_option("--json", json_path, "also write the results to FILE as JSON")
      ->option_text("FILE");
}

// The `commands` subcommand's flags; the lists are turned into options after parsing.
struct CommandsFlags {
  CommandsOptions options;
  std::vector<std::string> measure{"round-trip", "throughput", "replay"};
  std::vector<std::string> durabilities{"none", "async", "sync"};
  std::vector<std::string> waits{"spin", "block"};
  std::string json;
};

CLI::App* add_commands_subcommand(CLI::App& app, CommandsFlags& flags) {
  CommandsOptions& options = flags.options;
  CLI::App* command = app.add_subcommand(
      "commands",
      "evring-writer as a real process: command round trip (submit to reply) from another "
      "process per durability, commands/s from 1..N pipelining client processes (sync "
      "against one fdatasync per command on the same disk), and the writer's journal replay "
      "rate; against the floor");
  command->add_option("--measure", flags.measure, "what to measure, a list")
      ->delimiter(',')
      ->check(CLI::IsMember({"round-trip", "throughput", "replay"}))
      ->capture_default_str();
  command->add_option("--durability", flags.durabilities, "writer durabilities, a list")
      ->delimiter(',')
      ->check(CLI::IsMember({"none", "async", "sync"}))
      ->capture_default_str();
  command
      ->add_option("--wait", flags.waits,
                   "round trip: the writer's and the client's wait, a list of spin, yield, block")
      ->delimiter(',')
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  command
      ->add_option("--rate", options.rate,
                   "round trip: commands per second, timed from the intended send time; 0 = "
                   "flat out, the next once the reply came")
      ->capture_default_str();
  command->add_option("--samples", options.samples, "round trip: measured commands per row")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  command
      ->add_option("--sync-samples", options.sync_samples,
                   "round trip: measured commands per sync row (each is an fdatasync)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}))
      ->capture_default_str();
  command->add_option("--warmup", options.warmup,
                      "round trip: commands sent and not measured first (default: "
                      "max(100, samples/20))");
  command->add_option("--clients", options.clients, "commands/s: client process counts, a list")
      ->delimiter(',')
      ->check(CLI::Range(1u, 32u))
      ->capture_default_str();
  command->add_option("--window", options.window, "commands/s: commands in flight per client")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  command
      ->add_option("--duration", options.duration_s,
                   "commands/s: seconds per row (also the fdatasync baseline's)")
      ->check(CLI::Range(0.05, 600.0))
      ->capture_default_str();
  command->add_option("--replay-domains", options.replay_domains, "replay: domains, a list")
      ->delimiter(',')
      ->check(CLI::IsMember({"bank", "kv"}))
      ->capture_default_str();
  command
      ->add_option("--replay-events", options.replay_events,
                   "replay: events in each journal (suffixes K, M: 2M = 2,000,000)")
      ->transform(CLI::AsSizeValue(true))
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}))
      ->capture_default_str();
  command
      ->add_option("--replay-rounds", options.replay_rounds,
                   "replay: writer starts per journal; the median counts")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str();
  command->add_option("--replay-keys", options.replay_keys, "replay: bank accounts or kv keys")
      ->check(CLI::Range(2u, 10'000'000u))
      ->capture_default_str();
  command->add_option("--writer-cpu", options.writer_cpu, "CPU the writer is pinned to")
      ->capture_default_str();
  command->add_option("--client-cpu", options.client_cpu, "CPU the (first) client is pinned to")
      ->capture_default_str();
  command->add_option("--writer", options.writer_binary,
                      "the evring-writer binary (default: the one beside evring-bench)");
  command
      ->add_option("--dir", options.scratch,
                   "folder for the temporary journals (its disk is the one measured)")
      ->capture_default_str();
  command->add_option("--json", flags.json, "also write the results to FILE as JSON")
      ->option_text("FILE");
  return command;
}

// The parsed lists into options; checks what CLI11 could not.
void finish_commands_options(CommandsFlags& flags) {
  CommandsOptions& options = flags.options;
  const auto wants = [&](const char* part) {
    return std::find(flags.measure.begin(), flags.measure.end(), part) != flags.measure.end();
  };
  options.parts = {wants("round-trip"), wants("throughput"), wants("replay")};
  options.durabilities.clear();
  for (const std::string& durability : flags.durabilities) {
    options.durabilities.push_back(evring::parse_durability(durability));
  }
  options.waits.clear();
  for (const std::string& wait : flags.waits)
    options.waits.push_back(evring::parse_wait_kind(wait));
  check_cpus(options.writer_cpu, options.client_cpu, "--client-cpu");
}

// The `views` subcommand's flags; the lists are turned into options after parsing.
struct ViewsFlags {
  ViewsOptions options;
  std::vector<std::string> measure{"visible", "query", "subscribe", "catch-up", "load"};
  std::vector<std::string> waits{"spin", "yield", "block"};
  std::string client_poll = "auto";
  std::string json;
};

CLI::App* add_views_subcommand(CLI::App& app, ViewsFlags& flags) {
  ViewsOptions& options = flags.options;
  CLI::App* command = app.add_subcommand(
      "views",
      "evring-writer and evring-reader (kv view) as real processes: a command's time until the "
      "reader's view applied it (beside its reply's round trip), a query's round trip over the "
      "reader's query segment and its socket, a subscriber seeing the change, a new reader's "
      "catch-up rate from the journal, and the view's event rate under 1000 subscriptions and "
      "100k queries/s; against the floor");
  command->add_option("--measure", flags.measure, "what to measure, a list")
      ->delimiter(',')
      ->check(CLI::IsMember({"visible", "query", "subscribe", "catch-up", "load"}))
      ->capture_default_str();
  command
      ->add_option("--wait", flags.waits,
                   "visible and query rows: the writer's and the reader's wait, a list of spin, "
                   "yield, block")
      ->delimiter(',')
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  command->add_option("--samples", options.samples, "measured commands or queries per row")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  command->add_option("--warmup", options.warmup,
                      "commands or queries sent and not measured first (default: max(1000, "
                      "samples/20))");
  command
      ->add_option("--catch-up-events", options.catch_up_events,
                   "catch-up: kv events in the journal (suffixes K, M: 2M = 2,000,000)")
      ->transform(CLI::AsSizeValue(true))
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}))
      ->capture_default_str();
  command
      ->add_option("--catch-up-rounds", options.catch_up_rounds,
                   "catch-up: readers started on the journal; the median counts")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str();
  command->add_option("--catch-up-keys", options.catch_up_keys, "catch-up: kv keys")
      ->check(CLI::Range(2u, 10'000'000u))
      ->capture_default_str();
  command->add_option("--writer-cpu", options.writer_cpu, "CPU the writer is pinned to")
      ->capture_default_str();
  command->add_option("--reader-cpu", options.reader_cpu, "CPU the reader is pinned to")
      ->capture_default_str();
  command->add_option("--client-cpu", options.client_cpu,
                      "CPU the client (this process) is pinned to; default: one neither the "
                      "writer nor the reader has, else the reader's");
  command
      ->add_option("--client-poll", flags.client_poll,
                   "command to view: how the client waits between looks at its reply and the "
                   "reader's slot; auto = spin on a core of its own, else yield in --wait yield "
                   "rows and sleep 20 us in the others")
      ->check(CLI::IsMember({"auto", "spin", "yield", "sleep"}))
      ->capture_default_str();
  command->add_option("--writer", options.writer_binary,
                      "the evring-writer binary (default: the one beside evring-bench)");
  command->add_option("--reader", options.reader_binary,
                      "the evring-reader binary (default: the one beside evring-bench)");
  command->add_option("--dir", options.scratch, "folder for the temporary journals")
      ->capture_default_str();
  command->add_option("--json", flags.json, "also write the results to FILE as JSON")
      ->option_text("FILE");
  return command;
}

// The parsed lists into options; checks what CLI11 could not.
void finish_views_options(ViewsFlags& flags) {
  ViewsOptions& options = flags.options;
  const auto wants = [&](const char* part) {
    return std::find(flags.measure.begin(), flags.measure.end(), part) != flags.measure.end();
  };
  options.parts = {wants("visible"), wants("query"), wants("catch-up"), wants("subscribe"),
                   wants("load")};
  options.client_poll = flags.client_poll == "spin"    ? ClientPoll::spin
                        : flags.client_poll == "yield" ? ClientPoll::yield
                        : flags.client_poll == "sleep" ? ClientPoll::sleep
                                                       : ClientPoll::automatic;
  options.waits.clear();
  for (const std::string& wait : flags.waits)
    options.waits.push_back(evring::parse_wait_kind(wait));
  check_cpus(options.writer_cpu, options.reader_cpu);
  if (options.client_cpu >= 0) {
    check_cpus(options.writer_cpu, static_cast<unsigned>(options.client_cpu), "--client-cpu");
  }
}

// The `compare` subcommand's flags; the lists are turned into options after parsing.
struct CompareFlags {
  CompareOptions options;
  std::vector<std::string> waits{"spin", "block"};
  bool no_scaling = false;
  std::string json;
};

CLI::App* add_compare_subcommand(CLI::App& app, CompareFlags& flags) {
  CompareOptions& options = flags.options;
  CLI::App* command = app.add_subcommand(
      "compare",
      "evring against the floor and its peers in one run, on the same two pinned cores: "
      "the naive slot ring (the toy: one-line slots, no journal, no lap detection), "
      "iceoryx (if built with it; RouDi is started and stopped here), Boost.Interprocess "
      "message_queue, a Unix socket, a pipe, and moodycamel::ConcurrentQueue between two "
      "threads (in-process); one-way latency percentiles, msgs/s, ratios to evring and the "
      "floor; then scaling with the payload and the number of readers");
  command
      ->add_option("--systems", options.systems,
                   "peers besides the floor and evring, a list (table order)")
      ->delimiter(',')
      ->check(CLI::IsMember({"slot-ring", "iceoryx", "boost-message_queue", "unix-socket", "pipe",
                             "moodycamel-threads"}))
      ->capture_default_str();
  command
      ->add_option("--wait", flags.waits,
                   "reader waits, a list: spin (polls) and block (sleeps); yield is evring's "
                   "only")
      ->delimiter(',')
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  command
      ->add_option("--payload", options.payloads,
                   "payload bytes, a list (suffixes K, M: 16K = 16384)")
      ->delimiter(',')
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  command
      ->add_option("--rate", options.rate,
                   "messages per second, each timed from its intended send time (no "
                   "coordinated omission); 0 = flat out, one message in flight")
      ->capture_default_str();
  command
      ->add_option("--samples", options.samples,
                   "measured messages per row (p99.99 wants 100,000 or more)")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  command->add_option("--warmup", options.warmup,
                      "messages sent and not measured first (default: max(2000, samples/20))");
  command
      ->add_option("--scaling-payloads", options.scaling_payloads,
                   "payload scaling (flat out, spinning readers): sizes, a list")
      ->delimiter(',')
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  command
      ->add_option("--scaling-readers", options.scaling_readers,
                   "reader scaling (evring, at --rate): reader counts, a list")
      ->delimiter(',')
      ->check(CLI::Range(1u, 60u))
      ->capture_default_str();
  command
      ->add_option("--scaling-samples", options.scaling_samples,
                   "measured messages per scaling row")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  command->add_flag("--no-scaling", flags.no_scaling, "skip both scaling parts");
  command->add_option("--writer-cpu", options.writer_cpu, "CPU every writer is pinned to")
      ->capture_default_str();
  command->add_option("--reader-cpu", options.reader_cpu, "CPU every (first) reader is pinned to")
      ->capture_default_str();
  command->add_option("--ring-bytes", options.ring_bytes, "evring's ring data size, a power of two")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  command->add_option("--json", flags.json, "also write the results to FILE as JSON")
      ->option_text("FILE");
  command
      ->add_option("--plot", options.plot_path,
                   "draw the percentile curves of all systems to FILE.png, and the scaling to "
                   "FILE-scaling.png (needs gnuplot)")
      ->option_text("FILE.png");
  return command;
}

void finish_compare_options(CompareFlags& flags) {
  CompareOptions& options = flags.options;
  options.waits.clear();
  for (const std::string& wait : flags.waits)
    options.waits.push_back(evring::parse_wait_kind(wait));
  if (flags.no_scaling) {
    options.scaling_payloads.clear();
    options.scaling_readers.clear();
  }
  check_cpus(options.writer_cpu, options.reader_cpu);
  check_payloads(options.payloads, options.ring_bytes);
  check_payloads(options.scaling_payloads, options.ring_bytes);
  if (!options.plot_path.empty()) check_writable(options.plot_path, "--plot");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "evring-bench: latency and throughput of the evring shared-memory ring between pinned "
      "processes, of commands to evring-writer and of views in evring-reader, and of the peers "
      "(compare), measured against the physical floor (one "
      "cache line bounced between the same two cores)."};
  app.footer(kExamples);
  app.require_subcommand(1, 1);
  evring::cli::add_version_flag(app, "evring-bench");

  LatencyOptions latency;
  std::vector<std::string> latency_waits{"spin"};
  std::string latency_json;
  CLI::App* latency_command = app.add_subcommand(
      "latency",
      "one-way writer->reader latency across two processes, evring and the floor, at a fixed "
      "send rate (stamped at the intended send time, so stalls are not hidden) or flat out");
  add_common_options(*latency_command, latency.payloads, latency.writer_cpu, latency.reader_cpu,
                     latency.ring_bytes, latency_json);
  latency_command
      ->add_option("--rate", latency.rate,
                   "messages per second; 0 = flat out, the next message as soon as the reader "
                   "acknowledged the last")
      ->capture_default_str();
  latency_command
      ->add_option("--wait", latency_waits, "reader wait strategies, a list of spin, yield, block")
      ->delimiter(',')
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  latency_command
      ->add_option("--samples", latency.samples,
                   "measured messages per row (p99.99 needs well over 10,000)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  latency_command->add_option("--warmup", latency.warmup,
                              "messages sent and not measured first (default: max(10000, "
                              "samples/20))");

  ThroughputOptions throughput;
  std::string throughput_wait = "auto";
  std::string throughput_json;
  CLI::App* throughput_command = app.add_subcommand(
      "throughput",
      "records/s and bytes/s from one writer to 1..N reader processes (each checks sequence "
      "contiguity and counts laps), and the writer's rate with no, a live and a stopped reader");
  add_common_options(*throughput_command, throughput.payloads, throughput.writer_cpu,
                     throughput.reader_cpu, throughput.ring_bytes, throughput_json);
  throughput_command->add_option("--readers", throughput.readers, "reader process counts, a list")
      ->delimiter(',')
      ->check(CLI::Range(1u, 60u))
      ->capture_default_str();
  throughput_command
      ->add_option("--wait", throughput_wait,
                   "reader wait strategy; auto = spin when every process has its own core, "
                   "else yield")
      ->check(CLI::IsMember({"auto", "spin", "yield", "block"}))
      ->capture_default_str();
  throughput_command
      ->add_option("--duration", throughput.duration_s, "seconds the writer publishes per row")
      ->check(CLI::Range(0.01, 600.0))
      ->capture_default_str();
  throughput_command
      ->add_option("--stopped-rounds", throughput.stopped_rounds,
                   "rounds of the no/live/stopped reader comparison (first payload); 0 skips it")
      ->capture_default_str();
  throughput_command
      ->add_option("--batch", throughput.batch,
                   "records per publish: 1 publishes one at a time, N > 1 in batches of N with "
                   "one commit each (as the writer publishes a command's events)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();

  CommandsFlags commands;
  CLI::App* commands_command = add_commands_subcommand(app, commands);

  ViewsFlags views;
  CLI::App* views_command = add_views_subcommand(app, views);

  CompareFlags compare;
  CLI::App* compare_command = add_compare_subcommand(app, compare);

  RemoteOptions remote;
  std::string remote_json;
  CLI::App* remote_command = app.add_subcommand(
      "remote",
      "the bridge into NATS JetStream vs a plain cnats async publisher, a remote "
      "reader's catch-up, a command's round trip through evring gateway");
  remote_command->add_option("--events", remote.events, "events per round")->capture_default_str();
  remote_command->add_option("--window", remote.window, "publishes in flight")
      ->capture_default_str();
  remote_command->add_option("--rounds", remote.rounds, "alternating rounds")
      ->capture_default_str();
  remote_command->add_option("--round-trips", remote.round_trips, "commands per round-trip row")
      ->capture_default_str();
  remote_command->add_option("--dir", remote.scratch, "where the temporary files go")
      ->capture_default_str();
  remote_command->add_option("--json", remote_json, "also write the results here");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr,
                 "evring-bench: %s\nRun 'evring-bench --help' or 'evring-bench %s --help' "
                 "for the flags and examples.\n",
                 e.what(),
                 app.get_subcommands().empty() ? "latency"
                                               : app.get_subcommands().front()->get_name().c_str());
    return kExitError;
  }

  try {
    evring::harness::install_interrupt_handlers();
    // Every flag is checked before the first measurement, so a typo costs no run.
    std::string json_path;
    std::function<std::vector<ResultRow>()> run;
    if (latency_command->parsed()) {
      latency.waits.clear();
      for (const std::string& wait : latency_waits) {
        latency.waits.push_back(evring::parse_wait_kind(wait));
      }
      check_cpus(latency.writer_cpu, latency.reader_cpu);
      check_payloads(latency.payloads, latency.ring_bytes);
      json_path = latency_json;
      run = [&] { return run_latency(latency); };
    } else if (throughput_command->parsed()) {
      throughput.wait_auto = throughput_wait == "auto";
      if (!throughput.wait_auto) throughput.wait = evring::parse_wait_kind(throughput_wait);
      check_cpus(throughput.writer_cpu, throughput.reader_cpu);
      check_payloads(throughput.payloads, throughput.ring_bytes);
      json_path = throughput_json;
      run = [&] { return run_throughput(throughput); };
    } else if (commands_command->parsed()) {
      finish_commands_options(commands);
      json_path = commands.json;
      run = [&] { return run_commands(commands.options); };
    } else if (views_command->parsed()) {
      finish_views_options(views);
      json_path = views.json;
      run = [&] { return run_views(views.options); };
    } else if (compare_command->parsed()) {
      finish_compare_options(compare);
      json_path = compare.json;
      run = [&] { return run_compare(compare.options); };
    } else if (remote_command->parsed()) {
      json_path = remote_json;
      run = [&] { return run_remote(remote); };
    }
    if (!json_path.empty()) check_writable(json_path);

    const MachineInfo machine = probe_machine();
    print_machine(stdout, machine);
    const std::vector<ResultRow> rows = run();
    if (!json_path.empty()) {
      write_json(json_path, machine, command_line(argc, argv), rows);
      fmt::print("wrote {}\n", json_path);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "evring-bench: %s\n", e.what());
    return kExitError;
  }
}
