// evring-bench commands: evring-writer as a real process and what its clients get. The
// round trip of one command (submit to reply) per durability, at a fixed rate stamped at
// the intended send time or flat out; commands/s from 1..N pipelining client processes,
// with sync set against one fdatasync per command on the same disk; and how fast the
// writer replays a journal when it starts. Each row gets a fresh writer (its own
// instance and journal), so no row inherits another's state.
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>

#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "journal/journal.hpp"
#include "pacer.hpp"
#include "progress.hpp"
#include "replay_journal.hpp"
#include "ring_processes.hpp"
#include "scratch_folder.hpp"
#include "subcommands.hpp"
#include "sys/latency_recorder.hpp"
#include "writer_process.hpp"

namespace evring::bench {
namespace {

namespace fs = std::filesystem;
using harness::ChildProcess;
using harness::SharedArray;
using harness::throw_if_interrupted;

constexpr std::uint64_t kFloorSamples = 200'000;          // ~50 ms flat out
constexpr std::int64_t kClientSpinNs = 50'000;            // block: spin this long first
constexpr std::int64_t kStartTimeoutNs = 30'000'000'000;  // a writer to take clients
constexpr std::int64_t kStopTimeoutNs = 30'000'000'000;   // a writer to stop cleanly
constexpr std::uint64_t kCheckEvery = 256;                // round trips between looks at the writer
constexpr std::size_t kMaxBaselineSamples = 1'000'000;
constexpr std::uint32_t kBaselineWriteBytes = 64;

// What the issue asks of these figures.
constexpr std::int64_t kRoundTripTargetNs = 2'000;  // p50, async
constexpr double kReplayTargetPerS = 20e6;
constexpr double kSyncTargetRatio = 10;  // sync commands/s over fdatasyncs/s

// Said beside the figures: an fdatasync on tmpfs costs nothing and makes nothing durable.
std::string filesystem_kind(const fs::path& folder) {
  struct statfs info {};
  if (::statfs(folder.c_str(), &info) != 0) return "unknown file system";
  switch (static_cast<unsigned long>(info.f_type)) {
    case EXT4_SUPER_MAGIC:
      return "ext4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case TMPFS_MAGIC:
      return "tmpfs: sync is not durable here";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    default:
      return fmt::format("file system 0x{:x}", static_cast<unsigned long>(info.f_type));
  }
}

// What every row's writer and clients share.
struct Context {
  const CommandsOptions& options;
  fs::path writer_binary;
  fs::path scratch;

  // kv, since a put is never refused: every reply should be `accepted`.
  WriterLaunch launch(Durability durability, WaitKind wait, const std::string& tag) const {
    WriterLaunch launch{writer_binary, unique_instance_name(tag), {}, options.writer_cpu, false};
    launch.args = {"--domain", "kv", "--wait", std::string(to_string(wait)), "--quiet"};
    if (durability == Durability::none) {
      launch.args.push_back("--no-journal");
    } else {
      launch.args.insert(launch.args.end(), {"--journal", (scratch / launch.instance).string(),
                                             "--durability", std::string(to_string(durability))});
    }
    return launch;
  }

  // After a row: its journal goes, so its dirty pages are dropped, not written back
  // while a later row runs.
  void remove_journal(const WriterLaunch& launch) const {
    std::error_code ignored;
    fs::remove_all(scratch / launch.instance, ignored);
  }

  // Before a row: writes back what is dirty on the scratch disk. On ext4 (data=ordered)
  // an fdatasync waits for the other dirty blocks its journal commit carries, so a row
  // after a dirty one would pay for its predecessor.
  void settle_disk() const {
    const int fd = ::open(scratch.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // only a disturbance less taken away
    ::syncfs(fd);
    ::close(fd);
  }
};

// The part of a mode after its colon: "async" of "round-trip:async".
std::string mode_detail(const ResultRow& row) {
  const std::size_t colon = row.mode.find(':');
  return colon == std::string::npos ? row.mode : row.mode.substr(colon + 1);
}

// ---- round trip -----------------------------------------------------------------------

struct RoundTripSetup {
  Durability durability = Durability::async;
  WaitKind wait = WaitKind::spin;
  std::uint64_t warmup = 0;
  std::uint64_t samples = 0;
};

// One client (this process) submits one command at a time and times each reply from the
// command's intended send time.
ResultRow measure_round_trip(const Context& context, const RoundTripSetup& setup) {
  const std::uint64_t rate = context.options.rate;
  context.settle_disk();
  const WriterLaunch launch = context.launch(setup.durability, setup.wait, "rtt");
  WriterProcess writer(launch);
  writer.wait_until_ready(monotonic_ns() + kStartTimeoutNs);
  const std::vector<std::vector<std::byte>> commands = encode_put_commands(0);
  LatencyRecorder recorder(setup.samples);
  std::uint64_t errors = 0;
  const std::uint64_t total = setup.warmup + setup.samples;
  std::int64_t measured_from = 0;
  std::int64_t measured_to = 0;
  {
    Client client = Client::connect(writer.instance(), ClientOptions{setup.wait, kClientSpinNs});
    Progress progress(fmt::format("round trip {}, {} wait, commands", to_string(setup.durability),
                                  to_string(setup.wait)),
                      total);
    const Pacer pacer(rate, monotonic_ns() + 1'000'000);
    for (std::uint64_t index = 0; index < total; ++index) {
      const std::int64_t stamp = pacer.wait_until_due(index);
      if (index == setup.warmup) measured_from = stamp;
      const CommandReply reply = client.submit(commands[index % commands.size()]);
      measured_to = monotonic_ns();
      if (index >= setup.warmup) recorder.record(measured_to - stamp);
      if (!reply.accepted()) ++errors;
      if (index % kCheckEvery == 0) {
        writer.process().check_running();
        throw_if_interrupted();
        progress.update(index);
      }
    }
  }
  writer.stop(monotonic_ns() + kStopTimeoutNs);
  context.remove_journal(launch);

  ResultRow row;
  row.system = "evring-writer";
  row.payload_bytes = commands.front().size();
  row.wait = std::string(to_string(setup.wait));
  row.mode = "round-trip:" + std::string(to_string(setup.durability));
  row.latency = recorder.summarize();
  row.samples = row.latency->samples;
  const double seconds = static_cast<double>(measured_to - measured_from) / 1e9;
  row.msgs_per_s = seconds > 0 ? static_cast<double>(setup.samples) / seconds : 0;
  row.bytes_per_s = row.msgs_per_s * static_cast<double>(row.payload_bytes);
  row.errors = errors;
  return row;
}

// ---- throughput -----------------------------------------------------------------------

// Parent -> clients: 0 until every client is connected, then the time they all start.
struct alignas(kFalseSharingRange) StartLine {
  std::atomic<std::int64_t> go_ns;
};

// One client's report, written by that client only: the counts before `finished`.
struct alignas(kFalseSharingRange) ClientTally {
  ReadyFlag ready;
  std::uint64_t replies;  // accepted or not, received by the end of the run
  std::uint64_t errors;   // replies other than accepted
  std::int64_t last_reply_ns;
  std::atomic<std::uint32_t> finished;
};

struct ThroughputSetup {
  Durability durability = Durability::async;
  unsigned clients = 1;
  unsigned window = 32;
  WaitKind client_wait = WaitKind::spin;
  std::int64_t duration_ns = 0;
};

// Keeps `window` commands in flight until the run's end, counting the replies received
// by then; those still in flight afterwards are taken and not counted.
int run_pipelined_client(const std::string& instance, unsigned index, const ThroughputSetup& setup,
                         const StartLine& start, ClientTally& tally) {
  Client client = Client::connect(instance, ClientOptions{setup.client_wait, kClientSpinNs});
  const std::vector<std::vector<std::byte>> commands = encode_put_commands(index);
  tally.ready.announce();
  const std::int64_t give_up = monotonic_ns() + kStartTimeoutNs;
  std::int64_t go = 0;
  // relaxed: go_ns is a value, not a guard over other data.
  while ((go = start.go_ns.load(std::memory_order_relaxed)) == 0) {
    if (monotonic_ns() > give_up) throw Error(ErrorCode::io, "the parent never said go");
    if (setup.client_wait == WaitKind::spin) {
      cpu_relax();
    } else {
      ::sched_yield();  // the core is shared with another client
    }
  }
  const std::int64_t end = go + setup.duration_ns;
  std::uint64_t sent = 0;
  std::uint64_t replies = 0;
  std::uint64_t errors = 0;
  std::int64_t last = go;
  for (;;) {
    while (client.in_flight() < setup.window) client.send(commands[sent++ % commands.size()]);
    const TicketedReply got = client.receive();
    last = monotonic_ns();
    ++replies;
    if (!got.reply.accepted()) ++errors;
    if (last >= end) break;
  }
  while (client.in_flight() > 0) client.receive();
  tally.replies = replies;
  tally.errors = errors;
  tally.last_reply_ns = last;
  // release: pairs with the parent's acquire load; the counts above are complete.
  tally.finished.store(1, std::memory_order_release);
  return 0;
}

// CPUs for `count` clients: the client CPU, then any other CPU but the writer's, in turn,
// so the writer keeps its core to itself (unless --client-cpu is the writer's).
std::vector<unsigned> client_cpus(unsigned count, const CommandsOptions& options) {
  std::vector<unsigned> order{options.client_cpu};
  for (unsigned cpu = 0; cpu < harness::online_cpus(); ++cpu) {
    if (cpu != options.writer_cpu && cpu != options.client_cpu) order.push_back(cpu);
  }
  std::vector<unsigned> cpus;
  for (unsigned i = 0; i < count; ++i) cpus.push_back(order[i % order.size()]);
  return cpus;
}

// Whether `clients` clients can each have a core of their own, the writer's aside.
bool own_cores(unsigned clients, const CommandsOptions& options) {
  return options.client_cpu != options.writer_cpu && clients < harness::online_cpus();
}

// How a pipelining client waits for replies. sync: block, since replies come an
// fdatasync apart and a client spinning (or yielding, which CFS barely honours) through
// it holds a core the kernel's own disk work (the file system's journal thread) needs.
// Otherwise spin on a core of its own, yield on a shared one.
WaitKind client_wait(Durability durability, unsigned clients, const CommandsOptions& options) {
  if (durability == Durability::sync) return WaitKind::block;
  return own_cores(clients, options) ? WaitKind::spin : WaitKind::yield;
}

ResultRow measure_throughput(const Context& context, const ThroughputSetup& setup) {
  const CommandsOptions& options = context.options;
  // A spinning writer would starve a client on its own core; then it yields.
  const WaitKind writer_wait =
      options.writer_cpu == options.client_cpu ? WaitKind::yield : WaitKind::spin;
  context.settle_disk();
  const WriterLaunch launch = context.launch(setup.durability, writer_wait, "cmds");
  WriterProcess writer(launch);
  writer.wait_until_ready(monotonic_ns() + kStartTimeoutNs);
  SharedArray<StartLine> start;
  SharedArray<ClientTally> tallies(setup.clients);
  const std::vector<unsigned> cpus = client_cpus(setup.clients, options);
  std::vector<ChildProcess> clients;
  clients.reserve(setup.clients);
  std::vector<ChildProcess*> watched{&writer.process()};
  for (unsigned i = 0; i < setup.clients; ++i) {
    clients.push_back(ChildProcess::spawn(fmt::format("client {}", i), [&, i] {
      harness::pin_to_cpu(cpus[i]);
      return run_pipelined_client(writer.instance(), i, setup, *start, tallies[i]);
    }));
    watched.push_back(&clients.back());
  }
  wait_until_all_ready(tallies, setup.clients, watched, monotonic_ns() + kStartTimeoutNs,
                       "the clients to connect");
  const std::int64_t go = monotonic_ns();
  start->go_ns.store(go, std::memory_order_relaxed);  // see the clients' load

  // join() sleeps between looks: this process shares a core with a client.
  const std::int64_t deadline = go + setup.duration_ns + kStopTimeoutNs;
  for (ChildProcess& client : clients) client.join(deadline);
  writer.stop(monotonic_ns() + kStopTimeoutNs);
  context.remove_journal(launch);

  ResultRow row;
  row.system = "evring-writer";
  row.payload_bytes = encode_put_commands(0).front().size();
  row.wait = std::string(to_string(setup.client_wait));
  row.mode = "throughput:" + std::string(to_string(setup.durability));
  row.readers = setup.clients;
  for (unsigned i = 0; i < setup.clients; ++i) {
    // acquire: pairs with the client's release store of `finished`.
    if (tallies[i].finished.load(std::memory_order_acquire) == 0) {
      throw Error(ErrorCode::io, fmt::format("client {} exited without its counts", i));
    }
    const double seconds = static_cast<double>(tallies[i].last_reply_ns - go) / 1e9;
    row.msgs_per_s += static_cast<double>(tallies[i].replies) / seconds;
    row.samples += tallies[i].replies;
    row.errors += tallies[i].errors;
  }
  row.bytes_per_s = row.msgs_per_s * static_cast<double>(row.payload_bytes);
  return row;
}

// What a command log without group commit gets from this disk: append 64 bytes and
// fdatasync, again and again, for `duration_s`, in the folder the journals use.
ResultRow measure_fdatasync(const Context& context, double duration_s) {
  context.settle_disk();
  const fs::path path = context.scratch / "fdatasync-baseline";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ErrorCode::io, "cannot create " + path.string() + ": " + errno_text(errno));
  }
  std::array<char, kBaselineWriteBytes> record{};
  record.fill('r');
  LatencyRecorder recorder(kMaxBaselineSamples);
  Progress progress("one fdatasync per write, writes", 0);
  const std::int64_t start = monotonic_ns();
  const std::int64_t end = start + static_cast<std::int64_t>(duration_s * 1e9);
  std::int64_t now = start;
  while (now < end && recorder.count() < kMaxBaselineSamples) {
    const std::int64_t before = now;
    const bool wrote =
        ::write(fd, record.data(), record.size()) == static_cast<ssize_t>(record.size());
    if (!wrote || ::fdatasync(fd) != 0) {
      const int err = errno;
      ::close(fd);
      throw Error(ErrorCode::io, "write + fdatasync on " + path.string() + ": " + errno_text(err));
    }
    now = monotonic_ns();
    recorder.record(now - before);
    if (recorder.count() % 64 == 0) {
      throw_if_interrupted();
      progress.update(recorder.count());
    }
  }
  ::close(fd);
  fs::remove(path);
  ResultRow row;
  row.system = "fdatasync";
  row.payload_bytes = kBaselineWriteBytes;
  row.wait = "-";
  row.mode = "write+fdatasync";
  row.latency = recorder.summarize();
  row.samples = row.latency->samples;
  row.msgs_per_s = static_cast<double>(row.samples) * 1e9 / static_cast<double>(now - start);
  row.bytes_per_s = row.msgs_per_s * kBaselineWriteBytes;
  return row;
}

// ---- replay ---------------------------------------------------------------------------

struct ReplayFigure {
  std::uint64_t events = 0;
  double seconds = 0;
  double per_cpu_second = 0;  // the writer's own figure, where it gives one
};

// The writer's "replayed N events (seq A to B) in T s: X M events/s" line.
std::optional<ReplayFigure> parse_replay_line(const std::string& line) {
  const std::size_t at = line.find("replayed ");
  if (at == std::string::npos) return std::nullopt;
  unsigned long long events = 0;
  unsigned long long first = 0;
  unsigned long long last = 0;
  double seconds = 0;
  if (std::sscanf(line.c_str() + at, "replayed %llu events (seq %llu to %llu) in %lf s", &events,
                  &first, &last, &seconds) != 4) {
    return std::nullopt;
  }
  double per_cpu_millions = 0;
  const std::size_t cpu = line.find("events/s (", at);
  if (cpu != std::string::npos)
    std::sscanf(line.c_str() + cpu, "events/s (%lf M", &per_cpu_millions);
  return ReplayFigure{events, seconds, per_cpu_millions * 1e6};
}

// After a round, only the segments stay: a snapshot would let the next start skip the
// replay it is there to time.
void keep_only_segments(const fs::path& folder) {
  const std::vector<fs::path> segments = journal_segments(folder);
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (std::find(segments.begin(), segments.end(), entry.path()) == segments.end()) {
      fs::remove_all(entry.path());
    }
  }
}

// Starts a writer on the journal and reads how long its replay took, by its own clock.
ReplayFigure replay_once(const Context& context, const std::string& domain,
                         const fs::path& folder) {
  WriterLaunch launch{
      context.writer_binary, unique_instance_name("replay"), {}, context.options.writer_cpu, true};
  launch.args = {"--domain", domain, "--journal", folder.string(), "--durability", "async"};
  WriterProcess writer(launch);
  std::string log;
  for (;;) {
    // The writer prints progress every second while it replays, so a minute of silence
    // means it is stuck.
    const std::optional<std::string> line = writer.next_log_line(monotonic_ns() + kStartTimeoutNs);
    if (!line) {
      throw Error(ErrorCode::io, "evring-writer exited before replaying the journal:" + log);
    }
    log += "\n  " + *line;
    if (line->find("restored the model") != std::string::npos) {
      throw Error(ErrorCode::corrupt,
                  "evring-writer restored a snapshot instead of replaying "
                  "the whole journal:" +
                      log);
    }
    if (line->find("replaying the journal") != std::string::npos) {
      fmt::print(stderr, "{}\n", *line);  // the writer's own progress
    }
    if (const std::optional<ReplayFigure> figure = parse_replay_line(*line)) {
      writer.stop(monotonic_ns() + kStopTimeoutNs);
      keep_only_segments(folder);
      return *figure;
    }
  }
}

ResultRow measure_replay(const Context& context, const std::string& domain) {
  const CommandsOptions& options = context.options;
  const fs::path folder = context.scratch / ("replay-" + domain);
  const BuiltJournal built =
      build_replay_journal(domain, folder, options.replay_events, options.replay_keys);
  std::vector<double> rates;
  std::vector<double> per_cpu_second;
  for (unsigned round = 0; round < options.replay_rounds; ++round) {
    const ReplayFigure figure = replay_once(context, domain, folder);
    per_cpu_second.push_back(figure.per_cpu_second);
    if (figure.events != built.events) {
      throw Error(ErrorCode::corrupt, fmt::format("evring-writer replayed {} events of the {} "
                                                  "in the journal",
                                                  figure.events, built.events));
    }
    rates.push_back(figure.seconds > 0 ? static_cast<double>(figure.events) / figure.seconds : 0);
  }
  fs::remove_all(folder);  // before the next domain's journal takes the page cache

  ResultRow row;
  row.system = "evring-writer";
  row.payload_bytes = built.payload_bytes / std::max<std::uint64_t>(built.events, 1);
  row.wait = "-";
  row.mode = "replay:" + domain;
  row.readers = 0;
  row.samples = built.events;
  row.msgs_per_s = median(rates);
  // The rate per second of the writer's CPU: apart from the wall clock when others share
  // its core (the writer's own thread CPU time over its replay).
  if (median(per_cpu_second) > 0) row.writer_msgs_per_s = median(per_cpu_second);
  row.bytes_per_s = row.msgs_per_s * static_cast<double>(built.record_bytes) /
                    static_cast<double>(std::max<std::uint64_t>(built.events, 1));
  return row;
}

// ---- report ---------------------------------------------------------------------------

std::vector<std::int64_t> percentiles(const LatencySummary& s) {
  return {s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.max_ns};
}

std::string ratio_text(double numerator, double denominator) {
  return denominator > 0 ? fmt::format("{:.2f}x", numerator / denominator) : "-";
}

void print_round_trip_table(const std::vector<ResultRow>& rows, const ResultRow& floor) {
  TextTable table({"system", "durability", "wait", "p50", "p90", "p99", "p99.9", "max", "samples",
                   "commands/s", "errors"});
  const auto add = [&](const std::string& system, const std::string& durability,
                       const ResultRow& row) {
    std::vector<std::string> cells{system, durability, row.wait};
    for (std::int64_t ns : percentiles(*row.latency)) cells.push_back(format_ns(ns));
    cells.push_back(std::to_string(row.samples));
    cells.push_back(format_count(row.msgs_per_s));
    cells.push_back(std::to_string(row.errors));
    table.add_row(std::move(cells));
  };
  add("floor (one way)", "-", floor);
  for (const ResultRow& row : rows) add(row.system, mode_detail(row), row);
  // A round trip crosses between the cores twice: two one-way floors are its least.
  const std::vector<std::int64_t> floor_ns = percentiles(*floor.latency);
  for (const ResultRow& row : rows) {
    std::vector<std::string> cells{"ratio to 2x floor", mode_detail(row), row.wait};
    const std::vector<std::int64_t> ns = percentiles(*row.latency);
    for (std::size_t i = 0; i < ns.size(); ++i) {
      cells.push_back(
          ratio_text(static_cast<double>(ns[i]), 2.0 * static_cast<double>(floor_ns[i])));
    }
    table.add_row(std::move(cells));
  }
  table.print(stdout);
}

void print_throughput_table(const std::vector<ResultRow>& rows, const ResultRow& baseline,
                            unsigned window) {
  TextTable table({"system", "durability", "clients", "in flight", "client wait", "commands/s",
                   "replies", "errors", "vs one fdatasync per command"});
  table.add_row({"fdatasync", "write 64 B + fdatasync", "1", "1", "-",
                 format_count(baseline.msgs_per_s), std::to_string(baseline.samples), "0",
                 "1.00x"});
  for (const ResultRow& row : rows) {
    const bool sync = mode_detail(row) == "sync";
    table.add_row({row.system, mode_detail(row), std::to_string(row.readers),
                   std::to_string(row.readers * window), row.wait, format_count(row.msgs_per_s),
                   std::to_string(row.samples), std::to_string(row.errors),
                   sync ? ratio_text(row.msgs_per_s, baseline.msgs_per_s) : "-"});
  }
  table.print(stdout);
}

void print_replay_table(const std::vector<ResultRow>& rows) {
  TextTable table(
      {"domain", "events", "event bytes", "events/s", "per CPU second", "journal bytes/s"});
  for (const ResultRow& row : rows) {
    table.add_row({mode_detail(row), std::to_string(row.samples),
                   fmt::format("{} B", row.payload_bytes), format_count(row.msgs_per_s),
                   row.writer_msgs_per_s ? format_count(*row.writer_msgs_per_s) : "-",
                   format_bytes(row.bytes_per_s)});
  }
  table.print(stdout);
}

// Seen on this 2-core VM: with sync, spinning added about a 4 ms scheduler tick to each
// reply while another process kept the disk busy; said only when the rows show it.
void print_sync_spin_note(const std::vector<ResultRow>& round_trips) {
  const auto p50_of = [&](const char* wait) -> std::int64_t {
    for (const ResultRow& row : round_trips) {
      if (mode_detail(row) == "sync" && row.wait == wait) return row.latency->p50_ns;
    }
    return 0;
  };
  const std::int64_t spin = p50_of("spin");
  const std::int64_t block = p50_of("block");
  if (spin == 0 || block == 0 || spin * 2 < block * 3) return;
  fmt::print(
      "note: sync, spin p50 {:.1f}x block's: writer and client spinning hold both cores, which "
      "the kernel's disk work (the file system's journal thread) needs too\n",
      static_cast<double>(spin) / static_cast<double>(block));
}

const char* verdict(bool met) {
  return met ? "met" : "NOT met";
}

void print_targets(const std::vector<ResultRow>& round_trips, const std::vector<ResultRow>& rates,
                   const std::optional<ResultRow>& baseline,
                   const std::vector<ResultRow>& replays) {
  fmt::print("targets:\n");
  for (const ResultRow& row : round_trips) {
    if (mode_detail(row) != "async") continue;
    fmt::print("  round trip p50, async, {} wait: {} (target < {}): {}\n", row.wait,
               format_ns(row.latency->p50_ns), format_ns(kRoundTripTargetNs),
               verdict(row.latency->p50_ns < kRoundTripTargetNs));
  }
  for (const ResultRow& row : replays) {
    fmt::print("  replay, {}: {} events/s (target >= {} events/s): {}\n", mode_detail(row),
               format_count(row.msgs_per_s), format_count(kReplayTargetPerS),
               verdict(row.msgs_per_s >= kReplayTargetPerS));
  }
  if (!baseline) return;
  for (const ResultRow& row : rates) {
    if (mode_detail(row) != "sync") continue;
    const double ratio = row.msgs_per_s / baseline->msgs_per_s;
    fmt::print("  sync, {} client(s): {:.1f}x one fdatasync per command (target >= {:.0f}x): {}\n",
               row.readers, ratio, kSyncTargetRatio, verdict(ratio >= kSyncTargetRatio));
  }
}

std::vector<ResultRow> measure_all(const CommandsOptions& options) {
  // This process is the round trip's client (and sleeps while the throughput clients run).
  harness::pin_to_cpu(options.client_cpu);
  const fs::path binary = find_writer_binary(options.writer_binary);
  const ScratchFolder scratch(options.scratch);
  const Context context{options, binary, scratch.path()};
  fmt::print("commands: {} on CPU {}, client on CPU {}; journals in {} ({})\n", binary.string(),
             options.writer_cpu, options.client_cpu, scratch.path().string(),
             filesystem_kind(scratch.path()));
  fmt::print(
      "each command: a kv put of a {} B value to one of {} keys ({} B encoded), no "
      "command id\n",
      kPutValueBytes, kPutKeys, encode_put_commands(0).front().size());
  if (options.writer_cpu == options.client_cpu) {
    fmt::print("note: writer and client share CPU {}: figures include scheduling\n",
               options.writer_cpu);
  }
  harness::flush_stdio();

  std::vector<ResultRow> rows;
  rows.push_back(measure_floor(options.writer_cpu, kFloorSamples));
  const ResultRow floor = rows.back();
  fmt::print("floor: one cache line CPU {} -> CPU {}, one way, flat out: p50 {}, p99 {}\n",
             options.client_cpu, options.writer_cpu, format_ns(floor.latency->p50_ns),
             format_ns(floor.latency->p99_ns));

  std::vector<ResultRow> round_trips;
  if (options.parts.round_trip) {
    fmt::print("\nround trip: submit to reply, one client process, one command in flight, {}\n",
               options.rate == 0
                   ? std::string("flat out (the next as soon as the reply came)")
                   : fmt::format("{} commands/s, timed from the intended send time", options.rate));
    fmt::print(
        "wait: the writer's --wait for commands and the client's for its reply "
        "(block: spin {} us, then sleep)\n",
        kClientSpinNs / 1000);
    harness::flush_stdio();
    for (Durability durability : options.durabilities) {
      const std::uint64_t samples =
          durability == Durability::sync ? options.sync_samples : options.samples;
      const std::uint64_t warmup =
          options.warmup != 0 ? options.warmup : std::max<std::uint64_t>(100, samples / 20);
      for (WaitKind wait : options.waits) {
        round_trips.push_back(measure_round_trip(context, {durability, wait, warmup, samples}));
      }
    }
    print_round_trip_table(round_trips, floor);
    print_sync_spin_note(round_trips);
    rows.insert(rows.end(), round_trips.begin(), round_trips.end());
  }

  std::vector<ResultRow> rates;
  std::optional<ResultRow> baseline;
  if (options.parts.throughput) {
    fmt::print(
        "\ncommands/s: client processes each keeping {} commands in flight for {:.1f} s; "
        "writer spins on CPU {}; a client spins on a core of its own, yields on a shared one, "
        "blocks with sync\n",
        options.window, options.duration_s, options.writer_cpu);
    for (unsigned clients : options.clients) {
      if (!own_cores(clients, options)) {
        fmt::print(
            "note: {} clients on {} CPU(s) besides the writer's: they share cores and "
            "wait with yield (block with sync)\n",
            clients, harness::online_cpus() - 1);
      }
    }
    harness::flush_stdio();
    baseline = measure_fdatasync(context, options.duration_s);
    rows.push_back(*baseline);
    Progress progress("commands/s, rows", options.durabilities.size() * options.clients.size());
    for (Durability durability : options.durabilities) {
      for (unsigned clients : options.clients) {
        const ThroughputSetup setup{durability, clients, options.window,
                                    client_wait(durability, clients, options),
                                    static_cast<std::int64_t>(options.duration_s * 1e9)};
        rates.push_back(measure_throughput(context, setup));
        progress.update(rates.size());
      }
    }
    progress.finish();
    print_throughput_table(rates, *baseline, options.window);
    rows.insert(rows.end(), rates.begin(), rates.end());
  }

  std::vector<ResultRow> replays;
  if (options.parts.replay) {
    fmt::print(
        "\nreplay: evring-writer started on a journal of {} events (built with the journal "
        "API, in the page cache), its own timing, median of {} starts\n",
        options.replay_events, options.replay_rounds);
    harness::flush_stdio();
    for (const std::string& domain : options.replay_domains) {
      replays.push_back(measure_replay(context, domain));
    }
    print_replay_table(replays);
    rows.insert(rows.end(), replays.begin(), replays.end());
  }

  fmt::print("\n");
  print_targets(round_trips, rates, baseline, replays);
  return rows;
}

}  // namespace

std::vector<ResultRow> run_commands(const CommandsOptions& options) {
  return harness::blaming_interrupts([&] { return measure_all(options); });
}

}  // namespace evring::bench
