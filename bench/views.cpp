// evring-bench views: evring-writer and evring-reader (kv view) as real processes, and
// what a client of both gets. How long a command takes from submit until the reader's
// view applied it, by the time the reader stamps in its registry slot (same clock), and
// until the client saw the slot say so (beside the reply's round trip, from the same
// commands); a query's round trip over the reader's socket; how fast a new reader
// builds its view from the journal; and a view's event rate under subscriptions and
// queries. Each row gets a fresh writer and reader (their own
// instance, journal and checkpoint folder), so no row inherits another's state.
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/exec_process.hpp"
#include "harness/interrupt.hpp"
#include "progress.hpp"
#include "replay_journal.hpp"
#include "ring_processes.hpp"
#include "scratch_folder.hpp"
#include "shm/registry.hpp"
#include "subcommands.hpp"
#include "sys/latency_recorder.hpp"
#include "writer_process.hpp"

namespace evring::bench {
namespace {

namespace fs = std::filesystem;
using harness::throw_if_interrupted;

constexpr std::uint64_t kFloorSamples = 200'000;            // ~50 ms flat out
constexpr std::int64_t kStartTimeoutNs = 30'000'000'000;    // a process to get ready
constexpr std::int64_t kStopTimeoutNs = 30'000'000'000;     // a process to stop cleanly
constexpr std::int64_t kSampleTimeoutNs = 10'000'000'000;   // one command to show in the view
constexpr std::int64_t kReplayTimeoutNs = 300'000'000'000;  // a writer replaying at start
constexpr std::uint64_t kCheckEvery = 256;    // samples between looks at the processes
constexpr std::uint32_t kClockEvery = 1'024;  // spins between looks at the clock
constexpr auto kSlotRetry = std::chrono::microseconds(200);  // looks at the registry
constexpr unsigned kClientIndex = 0;                         // its keys: c0-key-NNNN
// ClientPoll::sleep. On a 2-core VM, 5 us sleeps fared no better than a yield against a
// spinning reader (milliseconds); 20 us ones got the client back in.
constexpr long kPollSleepNs = 20'000;

// What the issue asks of these figures.
constexpr std::int64_t kVisibleTargetNs = 3'000;  // command to visible in the view, p50
constexpr double kCatchUpTargetPerS = 20e6;       // events/s from the journal into kv

// Where the three processes run.
struct Placement {
  unsigned writer = 0;
  unsigned reader = 1;
  unsigned client = 1;
  // While the writer idles (query and catch-up rows, --wait block): the client's CPU,
  // moved off the reader's onto the writer's when the machine has no third.
  unsigned idle_writer_client = 0;

  ClientPoll poll = ClientPoll::automatic;  // as asked; poll_for() resolves automatic

  bool client_shares() const noexcept { return client == writer || client == reader; }

  // How the client waits in the rows of `wait`. Automatic: spin on a core of its own; on a
  // shared core, yield to a process that yields back (--wait yield), else sleep, since a
  // spinning or block-waiting process would keep the core a whole time slice after a yield.
  ClientPoll poll_for(WaitKind wait) const noexcept {
    if (poll != ClientPoll::automatic) return poll;
    if (!client_shares()) return ClientPoll::spin;
    return wait == WaitKind::yield ? ClientPoll::yield : ClientPoll::sleep;
  }
};

Placement place(const ViewsOptions& options) {
  Placement placement;
  placement.writer = options.writer_cpu;
  placement.reader = options.reader_cpu;
  if (options.client_cpu >= 0) {
    placement.client = static_cast<unsigned>(options.client_cpu);
  } else {
    placement.client = options.reader_cpu;
    for (unsigned cpu = 0; cpu < harness::online_cpus(); ++cpu) {
      if (cpu != options.writer_cpu && cpu != options.reader_cpu) {
        placement.client = cpu;
        break;
      }
    }
  }
  placement.idle_writer_client =
      placement.client == placement.reader ? placement.writer : placement.client;
  placement.poll = options.client_poll;
  return placement;
}

// Core changes along a path of CPUs: the one-way floors it cannot go below.
unsigned crossings(const std::vector<unsigned>& path) {
  unsigned count = 0;
  for (std::size_t i = 1; i < path.size(); ++i) count += path[i] != path[i - 1] ? 1 : 0;
  return count;
}

// What every row's processes share.
struct Context {
  const ViewsOptions& options;
  fs::path writer_binary;
  fs::path reader_binary;
  fs::path scratch;
  Placement cpus;

  WriterLaunch writer(WaitKind wait, const fs::path& journal, const std::string& tag) const {
    WriterLaunch launch{writer_binary, unique_instance_name(tag), {}, cpus.writer, false};
    launch.args = {"--domain",     "kv",    "--wait",  std::string(to_string(wait)),
                   "--durability", "async", "--quiet", "--journal"};
    launch.args.push_back(journal.empty() ? (scratch / launch.instance).string()
                                          : journal.string());
    return launch;
  }

  // After a row: its journal and checkpoints go, so their dirty pages are dropped, not
  // written back while a later row runs.
  void remove(const fs::path& folder) const {
    std::error_code ignored;
    fs::remove_all(folder, ignored);
  }
};

// An evring-reader with the kv view, checkpointing only when it stops, into a folder of
// its own that goes once the process has.
class ReaderProcess {
 public:
  ReaderProcess(const Context& context, const std::string& instance, const std::string& id,
                const std::string& from, WaitKind wait)
      : id_(id),
        checkpoints_(context.scratch),
        exec_(launch(context, instance, id, from, wait, checkpoints_.path())) {}

  // Waits until the reader has claimed its slot in `registry`; the slot, read-only.
  // Throws Error(io) if it exits first, on an interrupt or past deadline_ns.
  const ReaderSlot& wait_for_slot(const Registry& registry, std::int64_t deadline_ns) {
    const auto pid = static_cast<std::uint64_t>(exec_.process().pid());
    std::optional<std::size_t> found;
    harness::wait_until(
        [&] {
          for (const ReaderInfo& info : registry.readers()) {
            if (info.pid == pid && info.id == id_) found = info.slot;
          }
          if (!found) std::this_thread::sleep_for(kSlotRetry);
          return found.has_value();
        },
        {&exec_.process()}, deadline_ns, "evring-reader " + id_ + " to claim its registry slot");
    return registry.layout().slots[*found];
  }

  // Waits until the reader answers queries: its stream is open, so a live reader has
  // fixed where it starts (its slot is claimed before that, so the slot alone does not
  // tell). Throws like wait_for_slot.
  QueryClient wait_for_queries(const std::string& instance, std::int64_t deadline_ns) {
    return harness::wait_for_reader_queries(exec_.process(), instance, id_, deadline_ns);
  }

  void stop(std::int64_t deadline_ns) { exec_.stop(deadline_ns); }
  harness::ChildProcess& process() noexcept { return exec_.process(); }
  // The CPU time the reader has had so far (/proc/PID/schedstat, in ns), for a rate that
  // does not count the time others had its core; std::nullopt where the kernel keeps none.
  std::optional<std::int64_t> cpu_ns() {
    std::ifstream stat(fmt::format("/proc/{}/schedstat", exec_.process().pid()));
    std::int64_t on_cpu = 0;
    if (!(stat >> on_cpu) || on_cpu <= 0) return std::nullopt;
    return on_cpu;
  }
  const std::string& id() const noexcept { return id_; }

 private:
  static harness::ExecLaunch launch(const Context& context, const std::string& instance,
                                    const std::string& id, const std::string& from, WaitKind wait,
                                    const fs::path& checkpoints) {
    harness::ExecLaunch launch;
    launch.binary = context.reader_binary;
    launch.args = {"--name",
                   instance,
                   "--view",
                   "kv",
                   "--id",
                   id,
                   "--from",
                   from,
                   "--wait",
                   std::string(to_string(wait)),
                   "--checkpoint-dir",
                   checkpoints.string(),
                   "--checkpoint-every",
                   "0",
                   "--quiet"};
    launch.cpu = context.cpus.reader;
    return launch;
  }

  std::string id_;
  ScratchFolder checkpoints_;  // before exec_: removed after the process is gone
  harness::ExecProcess exec_;
};

// The seq the reader's view has applied, as its slot says.
std::uint64_t applied_seq(const ReaderSlot& slot) noexcept {
  // relaxed: the reader stores it relaxed (a lone progress value); only the number is
  // used here, never view data it would have to publish.
  return slot.position_seq.load(std::memory_order_relaxed);
}

// When the reader's view applied `seq` (or a later seq, applied with it), by the reader's
// own clock, once its slot shows it; nothing before.
std::optional<std::int64_t> applied_at(const ReaderSlot& slot, std::uint64_t seq) noexcept {
  // acquire: pairs with the reader's release store of the seq, after it stored the time
  // (registry.hpp): the time loaded next is this seq's, not an earlier one's.
  if (slot.position_seq.load(std::memory_order_acquire) < seq) return std::nullopt;
  // relaxed: ordered by the acquire above.
  return slot.position_applied_ns.load(std::memory_order_relaxed);
}

// How the client waits between looks at its reply and the reader's slot.
void idle(ClientPoll poll) noexcept {
  switch (poll) {
    case ClientPoll::sleep: {
      const timespec pause{0, kPollSleepNs};
      ::nanosleep(&pause, nullptr);
      break;
    }
    case ClientPoll::yield:
      ::sched_yield();
      break;
    case ClientPoll::automatic:
    case ClientPoll::spin:
      cpu_relax();
      break;
  }
}

std::string poll_name(ClientPoll poll) {
  switch (poll) {
    case ClientPoll::sleep:
      return fmt::format("sleep {}us", kPollSleepNs / 1000);
    case ClientPoll::yield:
      return "yield";
    case ClientPoll::automatic:
    case ClientPoll::spin:
      break;
  }
  return "spin";
}

// Waits (yielding between looks) until the view has applied `seq`.
void wait_until_applied(const ReaderSlot& slot, std::uint64_t seq, ReaderProcess& reader,
                        std::int64_t deadline_ns) {
  harness::wait_until([&] { return applied_seq(slot) >= seq; }, {&reader.process()}, deadline_ns,
                      fmt::format("evring-reader {} to apply seq {}", reader.id(), seq));
}

// The registry of `writer`'s instance, once the writer takes clients.
Registry open_registry(WriterProcess& writer, std::int64_t deadline_ns) {
  writer.wait_until_ready(deadline_ns);
  return Registry::open(writer.instance(), Access::read_only);
}

// A writer and a live reader of a fresh instance, the reader answering queries and its
// view holding one put already.
struct LiveRow {
  const Context& context;
  WriterLaunch launch;
  WriterProcess writer;
  Registry registry;
  ReaderProcess reader;
  const ReaderSlot& slot;
  QueryClient queries;
  Client client;
  std::uint64_t last_seq = 0;

  LiveRow(const Context& c, WaitKind writer_wait, WaitKind reader_wait, const std::string& tag)
      : context(c),
        launch(c.writer(writer_wait, {}, tag)),
        writer(launch),
        registry(open_registry(writer, monotonic_ns() + kStartTimeoutNs)),
        reader(c, launch.instance, tag + "-reader", "live", reader_wait),
        slot(reader.wait_for_slot(registry, monotonic_ns() + kStartTimeoutNs)),
        queries(reader.wait_for_queries(launch.instance, monotonic_ns() + kStartTimeoutNs)),
        client(Client::connect(launch.instance, ClientOptions{WaitKind::spin, 0})) {
    const CommandReply first = client.submit(encode_put_commands(kClientIndex).front());
    if (!first.accepted()) throw Error(ErrorCode::io, "the writer refused the first kv put");
    last_seq = first.seq;
    wait_until_applied(slot, last_seq, reader, monotonic_ns() + kStartTimeoutNs);
  }

  // Reader first: it would only say the writer went away.
  void stop() {
    reader.stop(monotonic_ns() + kStopTimeoutNs);
    writer.stop(monotonic_ns() + kStopTimeoutNs);
    context.remove(context.scratch / launch.instance);
  }

  void check_running() {
    writer.process().check_running();
    reader.process().check_running();
    throw_if_interrupted();
  }
};

// ---- command to visible in the view ------------------------------------------------

struct VisibleRows {
  ClientPoll poll = ClientPoll::spin;  // how the client waited between looks
  ResultRow reply;                     // submit to reply
  ResultRow applied;  // submit to the view applying it, by the time the reader stamped
  ResultRow visible;  // submit to the client seeing the reader's slot say so
};

// One command in flight: stamp, send, then look at both the reply and the reader's slot
// until each has come; the seq is the last one plus one (this client is the writer's only
// one, and a put is one event), checked against the reply.
VisibleRows measure_visible(const Context& context, WaitKind wait, std::uint64_t warmup,
                            std::uint64_t samples) {
  const ClientPoll poll = context.cpus.poll_for(wait);
  LiveRow row(context, wait, wait, "view");
  const std::vector<std::vector<std::byte>> commands = encode_put_commands(kClientIndex);
  LatencyRecorder replies(samples);
  LatencyRecorder visible(samples);
  LatencyRecorder applied(samples);
  std::uint64_t errors = 0;
  std::int64_t measured_from = 0;
  std::int64_t measured_to = 0;
  {
    Progress progress(fmt::format("command to view, {} wait, commands", to_string(wait)),
                      warmup + samples);
    for (std::uint64_t index = 0; index < warmup + samples; ++index) {
      const std::int64_t stamp = monotonic_ns();
      if (index == warmup) measured_from = stamp;
      row.client.send(commands[index % commands.size()]);
      const std::uint64_t expected = row.last_seq + 1;
      std::int64_t reply_ns = 0;
      std::int64_t visible_ns = 0;
      std::int64_t applied_ns = 0;
      std::uint64_t reply_seq = 0;
      for (std::uint32_t spins = 0; reply_ns == 0 || visible_ns == 0; ++spins) {
        if (reply_ns == 0) {
          if (const std::optional<TicketedReply> got = row.client.try_receive()) {
            reply_ns = monotonic_ns();
            reply_seq = got->reply.seq;
            if (!got->reply.accepted()) ++errors;
          }
        }
        if (visible_ns == 0) {
          if (const std::optional<std::int64_t> at = applied_at(row.slot, expected)) {
            visible_ns = monotonic_ns();
            applied_ns = *at;
          }
        }
        if (reply_ns != 0 && visible_ns != 0) break;
        idle(poll);
        if (spins % kClockEvery != kClockEvery - 1) continue;
        row.check_running();  // and a Ctrl-C, which may have stopped them
        if (monotonic_ns() - stamp > kSampleTimeoutNs) {
          throw Error(
              ErrorCode::io,
              fmt::format("seq {} did not show in evring-reader's slot within {} s "
                          "(it says {})",
                          expected, kSampleTimeoutNs / 1'000'000'000, applied_seq(row.slot)));
        }
      }
      if (reply_seq != expected) {
        // Another client? Then the view's figure is for the wrong seq: not recorded.
        ++errors;
        row.last_seq = reply_seq;
        continue;
      }
      row.last_seq = expected;
      measured_to = std::max(reply_ns, visible_ns);
      if (index >= warmup) {
        replies.record(reply_ns - stamp);
        visible.record(visible_ns - stamp);
        applied.record(applied_ns - stamp);
      }
      if (index % kCheckEvery == 0) {
        row.check_running();
        progress.update(index);
      }
    }
  }
  row.stop();

  VisibleRows rows;
  rows.poll = poll;
  for (ResultRow* out : {&rows.reply, &rows.applied, &rows.visible}) {
    const bool is_reply = out == &rows.reply;
    out->system = is_reply ? "evring-writer" : "evring-reader";
    out->payload_bytes = commands.front().size();
    out->wait = std::string(to_string(wait));
    out->mode = is_reply               ? "command-round-trip"
                : out == &rows.applied ? "command-to-view"
                                       : "command-to-view-seen-by-client";
    out->latency = is_reply               ? replies.summarize()
                   : out == &rows.applied ? applied.summarize()
                                          : visible.summarize();
    out->samples = out->latency->samples;
    const double seconds = static_cast<double>(measured_to - measured_from) / 1e9;
    out->msgs_per_s = seconds > 0 ? static_cast<double>(out->samples) / seconds : 0;
    out->bytes_per_s = out->msgs_per_s * static_cast<double>(out->payload_bytes);
    out->errors = errors;
  }
  return rows;
}

// The measured span of a row's rounds: from the first measured round's start to the last
// round's end.
struct Span {
  std::int64_t from_ns = 0;
  std::int64_t to_ns = 0;
  double per_second(std::uint64_t count) const {
    const double seconds = static_cast<double>(to_ns - from_ns) / 1e9;
    return seconds > 0 ? static_cast<double>(count) / seconds : 0;
  }
};

// warmup + samples rounds of `round(index, stamp)`, which does one (stamp: its start) and
// returns when it ended; progress and a look at the processes every kCheckEvery rounds.
template <class Round>
Span run_rounds(LiveRow& row, const std::string& what, std::uint64_t warmup, std::uint64_t samples,
                Round&& round) {
  Span span;
  Progress progress(what, warmup + samples);
  for (std::uint64_t index = 0; index < warmup + samples; ++index) {
    const std::int64_t stamp = monotonic_ns();
    if (index == warmup) span.from_ns = stamp;
    span.to_ns = round(index, stamp);
    if (index % kCheckEvery == 0) {
      row.check_running();
      progress.update(index);
    }
  }
  return span;
}

// A query row's result: its figures are the caller's.
ResultRow query_row(WaitKind wait, const std::string& key, std::string mode) {
  ResultRow out;
  out.system = "evring-reader";
  out.payload_bytes = key.size();
  out.wait = std::string(to_string(wait));
  out.mode = std::move(mode);
  return out;
}

// ---- query round trip --------------------------------------------------------------

// The writer idles (block) while the client asks `get` of a key the view holds, one
// query in flight; the reader waits per `wait`.
ResultRow measure_query(const Context& context, WaitKind wait, QueryPath path, std::uint64_t warmup,
                        std::uint64_t samples) {
  // Moved before the processes start, so none of them is disturbed mid-row.
  harness::pin_to_cpu(context.cpus.idle_writer_client);
  LiveRow row(context, WaitKind::block, wait, "query");
  if (path == QueryPath::socket) {
    row.queries = QueryClient::connect(row.launch.instance, row.reader.id(), QueryPath::socket);
  }
  const std::string key = fmt::format("c{}-key-0000", kClientIndex);
  LatencyRecorder recorder(samples);
  std::uint64_t errors = 0;
  const Span span =
      run_rounds(row, fmt::format("queries, reader {} wait", to_string(wait)), warmup, samples,
                 [&](std::uint64_t index, std::int64_t stamp) {
                   const QueryReply reply = row.queries.query({"get", key});
                   const std::int64_t end = monotonic_ns();
                   if (index >= warmup) recorder.record(end - stamp);
                   if (reply.stale || reply.error || !reply.result || *reply.result == "null")
                     ++errors;
                   return end;
                 });
  row.stop();
  harness::pin_to_cpu(context.cpus.client);
  ResultRow out = query_row(
      wait, key, path == QueryPath::socket ? "query-round-trip-socket" : "query-round-trip-shm");
  out.latency = recorder.summarize();
  out.samples = out.latency->samples;
  out.msgs_per_s = span.per_second(out.samples);
  out.errors = errors;
  return out;
}

// ---- queries/s from concurrent clients ----------------------------------------------

constexpr unsigned kConcurrentClients = 4;
constexpr std::int64_t kLoadNs = 1'000'000'000;

// kConcurrentClients threads of this process, each with its own QueryClient on `path`,
// ask `get` one in flight each for kLoadNs; the writer idles. The row's rate is the sum.
ResultRow measure_query_load(const Context& context, WaitKind wait, QueryPath path) {
  harness::pin_to_cpu(context.cpus.idle_writer_client);
  LiveRow row(context, WaitKind::block, wait, "load");
  const std::string key = fmt::format("c{}-key-0000", kClientIndex);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> errors{0};
  std::vector<std::thread> clients;
  const std::int64_t start = monotonic_ns();
  for (unsigned i = 0; i < kConcurrentClients; ++i) {
    clients.emplace_back([&] {
      QueryClient client = QueryClient::connect(row.launch.instance, row.reader.id(), path);
      std::uint64_t mine = 0;
      // relaxed: a stop request orders nothing.
      while (!stop.load(std::memory_order_relaxed)) {
        const QueryReply reply = client.query({"get", key});
        if (reply.stale || !reply.result) errors.fetch_add(1, std::memory_order_relaxed);
        ++mine;
      }
      // relaxed: read after join(), which orders it.
      answered.fetch_add(mine, std::memory_order_relaxed);
    });
  }
  while (monotonic_ns() - start < kLoadNs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    row.check_running();
  }
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& client : clients) client.join();
  const std::int64_t elapsed = monotonic_ns() - start;
  row.stop();
  harness::pin_to_cpu(context.cpus.client);
  ResultRow out = query_row(
      wait, key, path == QueryPath::socket ? "queries-4-clients-socket" : "queries-4-clients-shm");
  out.samples = answered.load(std::memory_order_relaxed);
  out.msgs_per_s = static_cast<double>(out.samples) * 1e9 / static_cast<double>(elapsed);
  out.errors = errors.load(std::memory_order_relaxed);
  return out;
}

// ---- command to subscriber ---------------------------------------------------------

struct SubscribeRows {
  ResultRow applied;     // submit to the view applying it, by the reader's own stamp
  ResultRow subscriber;  // submit to the subscriber reading the change line
};

// One put of the watched key in flight: submit it, then read the subscription until its
// change line comes (progress lines are passed over). The writer yields on the core this
// process shares; the reader waits per `wait`.
SubscribeRows measure_subscribe(const Context& context, WaitKind wait, std::uint64_t warmup,
                                std::uint64_t samples) {
  // This process shares the writer's core, not the reader's (a spinning reader would hold
  // it for whole slices); both yield between looks, so neither holds it from the other (a
  // block writer would spin 50 us after each command before it let the subscriber run).
  harness::pin_to_cpu(context.cpus.idle_writer_client);
  LiveRow row(context, WaitKind::yield, wait, "subscribe");
  // The key LiveRow's first put wrote; each put of it changes its version, so its result.
  const std::vector<std::byte> put = encode_put_commands(kClientIndex).front();
  const std::string key = fmt::format("c{}-key-0000", kClientIndex);
  const std::vector<std::string_view> words{"get", key};
  Subscription subscription = Subscription::open(row.launch.instance, row.reader.id(), words);
  if (!subscription.next(std::chrono::seconds(10))) {
    throw Error(ErrorCode::io, "evring-reader sent no snapshot to the subscription");
  }
  LatencyRecorder applied(samples);
  LatencyRecorder seen(samples);
  std::uint64_t errors = 0;
  // Sent, not submitted: the reply and the change line are looked for side by side, so the
  // subscriber's figure does not wait for the reply.
  const auto round = [&](std::uint64_t index, std::int64_t stamp) {
    row.client.send(put);
    const std::uint64_t expected = row.last_seq + 1;
    std::int64_t seen_ns = 0;
    bool replied = false;
    while (seen_ns == 0 || !replied) {
      if (!replied) {
        if (const std::optional<TicketedReply> got = row.client.try_receive()) {
          replied = true;
          if (!got->reply.accepted() || got->reply.seq != expected) ++errors;
        }
      }
      if (seen_ns != 0) continue;
      const std::optional<WatchLine> line = subscription.next(std::chrono::milliseconds(0));
      if (!line) {
        if (monotonic_ns() - stamp > kSampleTimeoutNs) {
          throw Error(ErrorCode::io,
                      fmt::format("seq {} reached no subscriber within 10 s", expected));
        }
        sched_yield();  // to the writer, on this core
        continue;
      }
      if (line->kind == WatchLine::Kind::reset) ++errors;
      if (line->kind == WatchLine::Kind::change && line->seq >= expected) seen_ns = monotonic_ns();
    }
    row.last_seq = expected;
    const std::optional<std::int64_t> at = applied_at(row.slot, expected);
    if (index >= warmup) {
      seen.record(seen_ns - stamp);
      if (at) applied.record(*at - stamp);
    }
    return seen_ns;
  };
  const Span span = run_rounds(row, fmt::format("command to subscriber, {} wait", to_string(wait)),
                               warmup, samples, round);
  row.stop();
  harness::pin_to_cpu(context.cpus.client);
  SubscribeRows rows;
  for (ResultRow* out : {&rows.applied, &rows.subscriber}) {
    out->system = "evring-reader";
    out->payload_bytes = key.size();
    out->wait = std::string(to_string(wait));
    out->mode = out == &rows.applied ? "command-to-view" : "command-to-subscriber";
    out->latency = out == &rows.applied ? applied.summarize() : seen.summarize();
    out->samples = out->latency->samples;
    out->msgs_per_s = span.per_second(out->samples);
    out->errors = errors;
  }
  return rows;
}

// ---- the view's event rate under subscriptions and queries -------------------------

constexpr std::size_t kLoadSubscriptions = 1'000;    // to `get` of one key each
constexpr std::uint64_t kLoadQueriesPerS = 100'000;  // asked, paced
constexpr std::int64_t kPhaseNs = 1'000'000'000;     // each phase's measured span
constexpr unsigned kLoadRounds = 3;
constexpr unsigned kAskers = 8;            // query threads, one query in flight each
constexpr std::size_t kFeedWindow = 64;    // commands in flight from the feeder
constexpr double kSubscribedTarget = 0.7;  // at most 30% down
constexpr double kQueriedTarget = 0.8;     // at most 20% down

// What the reader did over the phases of one kind.
struct LoadPhase {
  std::uint64_t events = 0;    // the reader's view applied
  std::uint64_t accepted = 0;  // the writer accepted
  std::int64_t elapsed_ns = 0;
  std::int64_t reader_cpu_ns = 0;  // the reader process's CPU time (/proc/PID/schedstat)
  double view_per_s() const {
    return elapsed_ns > 0 ? static_cast<double>(events) * 1e9 / static_cast<double>(elapsed_ns) : 0;
  }
  double feed_per_s() const {
    return elapsed_ns > 0 ? static_cast<double>(accepted) * 1e9 / static_cast<double>(elapsed_ns)
                          : 0;
  }
  double cpu_ns_per_event() const {
    return events > 0 ? static_cast<double>(reader_cpu_ns) / static_cast<double>(events) : 0;
  }
};

struct LoadRows {
  LoadPhase alone;
  LoadPhase subscribed;
  LoadPhase queried;
  std::uint64_t lines = 0;  // subscription lines read while subscribed
  std::uint64_t resets = 0;
  std::uint64_t answered = 0;  // queries, while queried
  double queries_per_s() const {
    return queried.elapsed_ns > 0
               ? static_cast<double>(answered) * 1e9 / static_cast<double>(queried.elapsed_ns)
               : 0;
  }
};

// A pipelining client keeps the writer busy from a thread of its own until it goes.
class Feeder {
 public:
  // It shares a core with the writer: both yield, or either would hold it from the other.
  explicit Feeder(const std::string& instance)
      : client_(Client::connect(instance, ClientOptions{WaitKind::yield, 0})),
        thread_([this] { run(client_); }) {}
  ~Feeder() {
    // relaxed: a stop request orders nothing; join() orders the rest.
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
  // relaxed: a progress count, read for a rate.
  std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }

 private:
  void run(Client& client) {
    const std::vector<std::vector<std::byte>> commands = encode_put_commands(kClientIndex);
    std::uint64_t sent = 0;
    // relaxed: see the destructor.
    while (!stop_.load(std::memory_order_relaxed)) {
      while (client.in_flight() < kFeedWindow) client.send(commands[sent++ % commands.size()]);
      // relaxed: see accepted().
      if (client.receive().reply.accepted()) accepted_.fetch_add(1, std::memory_order_relaxed);
    }
    while (client.in_flight() > 0) client.receive();
  }

  Client client_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::thread thread_;
};

// A process's time on a CPU so far, in ns (the first field of /proc/PID/schedstat).
std::int64_t cpu_ns(pid_t pid) {
  std::FILE* file = std::fopen(fmt::format("/proc/{}/schedstat", pid).c_str(), "r");
  if (file == nullptr) return 0;
  long long ns = 0;
  if (std::fscanf(file, "%lld", &ns) != 1) ns = 0;
  std::fclose(file);
  return ns;
}

// Adds kPhaseNs of the reader's work to `into`, while the caller's load runs.
void measure_phase(LiveRow& row, const Feeder& feeder, LoadPhase& into) {
  const pid_t reader = row.reader.process().pid();
  const std::uint64_t view_from = applied_seq(row.slot);
  const std::uint64_t feed_from = feeder.accepted();
  const std::int64_t cpu_from = cpu_ns(reader);
  const std::int64_t from = monotonic_ns();
  while (monotonic_ns() - from < kPhaseNs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    row.check_running();
  }
  into.elapsed_ns += monotonic_ns() - from;
  into.events += applied_seq(row.slot) - view_from;
  into.accepted += feeder.accepted() - feed_from;
  into.reader_cpu_ns += cpu_ns(reader) - cpu_from;
}

// One phase with kLoadSubscriptions subscriptions (one set, read by a thread).
void subscribed_phase(LiveRow& row, const Feeder& feeder, LoadRows& rows) {
  std::vector<SubscriptionSet::Query> watched;
  for (std::size_t key = 0; key < kLoadSubscriptions; ++key) {
    watched.push_back({{"get", fmt::format("c{}-key-{:04}", kClientIndex, key)}, 0});
  }
  SubscriptionSet set = SubscriptionSet::open(row.launch.instance, row.reader.id(), watched);
  std::atomic<bool> stop{false};
  std::thread subscriber([&] {
    // relaxed: a stop request orders nothing; join() orders the counts.
    while (!stop.load(std::memory_order_relaxed)) {
      const std::optional<SubscriptionSet::Line> line = set.next(std::chrono::milliseconds(50));
      if (!line) continue;
      ++rows.lines;
      if (line->line.kind == WatchLine::Kind::reset) ++rows.resets;
    }
  });
  measure_phase(row, feeder, rows.subscribed);
  stop.store(true, std::memory_order_relaxed);
  subscriber.join();
}

// One phase while kAskers threads ask kLoadQueriesPerS queries between them, one in
// flight each (a query's round trip, not the reader, would cap one thread): each
// millisecond the ones due, back to back, then a sleep (a 10 us pace would hold the core
// they share).
void queried_phase(LiveRow& row, const Feeder& feeder, LoadRows& rows) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> answered{0};
  std::vector<std::thread> askers;
  for (unsigned i = 0; i < kAskers; ++i) {
    askers.emplace_back([&] {
      QueryClient client = QueryClient::connect(row.launch.instance, row.reader.id());
      const std::string key = fmt::format("c{}-key-0000", kClientIndex);
      const std::int64_t start = monotonic_ns();
      std::uint64_t mine = 0;
      // relaxed: a stop request orders nothing.
      while (!stop.load(std::memory_order_relaxed)) {
        const auto due = static_cast<std::uint64_t>(monotonic_ns() - start) * kLoadQueriesPerS /
                         kAskers / 1'000'000'000;
        while (mine < due) {
          if (client.query({"get", key}).result) ++mine;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      // relaxed: read after join(), which orders it.
      answered.fetch_add(mine, std::memory_order_relaxed);
    });
  }
  measure_phase(row, feeder, rows.queried);
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& asker : askers) asker.join();
  rows.answered += answered.load(std::memory_order_relaxed);
}

// One writer fed flat out, one kv reader: its rate alone, with kLoadSubscriptions
// subscriptions, and while it answers kLoadQueriesPerS queries, in kLoadRounds rounds of
// the three, so that the machine's other work weighs on each alike.
LoadRows measure_load(const Context& context) {
  fmt::print(
      "\nload: the writer (--wait yield) fed flat out by a pipelining client thread ({} in "
      "flight), one kv reader (--wait block); its view's event rate alone, with {} "
      "subscriptions to `get` of one key each (one SubscriptionSet, read by a thread), and "
      "while {} threads ask {} queries/s (shm, those due each ms back to back); {} rounds of "
      "the three, {} s each; this process's threads share the writer's CPU {}\n",
      kFeedWindow, kLoadSubscriptions, kAskers, format_count(static_cast<double>(kLoadQueriesPerS)),
      kLoadRounds, kPhaseNs / 1'000'000'000.0, context.cpus.idle_writer_client);
  harness::flush_stdio();
  harness::pin_to_cpu(context.cpus.idle_writer_client);
  LiveRow row(context, WaitKind::yield, WaitKind::block, "load-rate");
  LoadRows rows;
  {
    Feeder feeder(row.launch.instance);
    for (unsigned round = 0; round < kLoadRounds; ++round) {
      measure_phase(row, feeder, rows.alone);
      subscribed_phase(row, feeder, rows);
      queried_phase(row, feeder, rows);
    }
  }
  row.stop();
  harness::pin_to_cpu(context.cpus.client);
  return rows;
}

void print_load(const LoadRows& rows) {
  TextTable table(
      {"phase", "view events/s", "writer accepted/s", "ratio to alone", "reader CPU per event"});
  const double alone = rows.alone.view_per_s();
  const auto add = [&](const std::string& phase, const LoadPhase& at) {
    table.add_row({phase, format_count(at.view_per_s()), format_count(at.feed_per_s()),
                   fmt::format("{:.2f}", alone > 0 ? at.view_per_s() / alone : 0),
                   fmt::format("{:.0f} ns", at.cpu_ns_per_event())});
  };
  add("alone", rows.alone);
  add(fmt::format("{} subscriptions", kLoadSubscriptions), rows.subscribed);
  add(fmt::format("{} queries/s", format_count(rows.queries_per_s())), rows.queried);
  table.print(stdout);
  fmt::print("subscription lines read: {} ({} resets)\n", rows.lines, rows.resets);
}

// ---- catch-up from the journal -----------------------------------------------------

struct CatchUpRows {
  ResultRow start;       // spawn to the reader's slot claimed (its stream open)
  ResultRow catch_up;    // slot claimed to the view at the journal's last event
  ResultRow with_start;  // spawn to the view at the journal's last event
  // The events over the CPU time the reader had from its spawn to the last event (start
  // included): on a shared machine, what it would do with a core of its own.
  std::optional<double> per_cpu_second;
};

// A writer on a journal of kv events (idle: block); then, per round, a new reader from
// the journal's start, timed until its slot says it applied the last event.
CatchUpRows measure_catch_up(const Context& context) {
  const ViewsOptions& options = context.options;
  harness::pin_to_cpu(context.cpus.idle_writer_client);
  const fs::path folder = context.scratch / "catch-up-kv";
  const BuiltJournal built =
      build_replay_journal("kv", folder, options.catch_up_events, options.catch_up_keys);
  const WriterLaunch launch = context.writer(WaitKind::block, folder, "catchup");
  WriterProcess writer(launch);
  // The writer replays the whole journal before it takes a client.
  Registry registry = open_registry(writer, monotonic_ns() + kReplayTimeoutNs);
  LatencyRecorder starts(options.catch_up_rounds);
  std::vector<double> rates;
  std::vector<double> with_start;
  std::vector<double> per_cpu_second;
  for (unsigned round = 0; round < options.catch_up_rounds; ++round) {
    const std::int64_t spawned = monotonic_ns();
    ReaderProcess reader(context, launch.instance, fmt::format("catch-up-{}", round), "start",
                         WaitKind::block);
    const ReaderSlot& slot = reader.wait_for_slot(registry, spawned + kStartTimeoutNs);
    const std::int64_t claimed = monotonic_ns();
    Progress progress(fmt::format("catch-up {} of {}, events", round + 1, options.catch_up_rounds),
                      built.events);
    harness::wait_until(
        [&] {
          const std::uint64_t at = applied_seq(slot);
          if (at >= built.events) return true;
          progress.update(at);
          std::this_thread::sleep_for(kSlotRetry);
          return false;
        },
        {&reader.process(), &writer.process()}, claimed + kReplayTimeoutNs,
        fmt::format("evring-reader {} to catch up to seq {}", reader.id(), built.events));
    const std::int64_t done = monotonic_ns();
    const std::optional<std::int64_t> cpu = reader.cpu_ns();
    progress.finish();
    reader.stop(monotonic_ns() + kStopTimeoutNs);
    if (cpu)
      per_cpu_second.push_back(static_cast<double>(built.events) * 1e9 / static_cast<double>(*cpu));
    if (applied_seq(slot) != built.events && applied_seq(slot) != 0) {
      // 0: the slot was released at the stop. Anything else past the journal is a bug.
      throw Error(ErrorCode::corrupt, fmt::format("evring-reader applied seq {} of a journal of {}",
                                                  applied_seq(slot), built.events));
    }
    starts.record(claimed - spawned);
    const auto events = static_cast<double>(built.events);
    rates.push_back(events * 1e9 / static_cast<double>(std::max<std::int64_t>(done - claimed, 1)));
    with_start.push_back(events * 1e9 /
                         static_cast<double>(std::max<std::int64_t>(done - spawned, 1)));
  }
  writer.stop(monotonic_ns() + kStopTimeoutNs);
  context.remove(folder);  // its pages leave the page cache
  harness::pin_to_cpu(context.cpus.client);

  CatchUpRows rows;
  rows.start.system = "evring-reader";
  rows.start.wait = "-";
  rows.start.mode = "reader-start";
  rows.start.readers = 1;
  rows.start.latency = starts.summarize();
  rows.start.samples = rows.start.latency->samples;
  const double record_bytes = static_cast<double>(built.record_bytes) /
                              static_cast<double>(std::max<std::uint64_t>(built.events, 1));
  for (ResultRow* out : {&rows.catch_up, &rows.with_start}) {
    const bool plain = out == &rows.catch_up;
    out->system = "evring-reader";
    out->payload_bytes = built.payload_bytes / std::max<std::uint64_t>(built.events, 1);
    out->wait = "-";
    out->mode = plain ? "catch-up:kv" : "catch-up-with-start:kv";
    out->samples = built.events;
    out->msgs_per_s = median(plain ? rates : with_start);
    out->bytes_per_s = out->msgs_per_s * record_bytes;
  }
  if (!per_cpu_second.empty()) rows.per_cpu_second = median(per_cpu_second);
  return rows;
}

// ---- report ------------------------------------------------------------------------

std::vector<std::int64_t> percentiles(const LatencySummary& s) {
  return {s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.max_ns};
}

// The row's figures over `floors` one-way floors ("-" when the path never leaves a core).
std::vector<std::string> ratio_cells(const ResultRow& row, const ResultRow& floor,
                                     unsigned floors) {
  std::vector<std::string> cells;
  const std::vector<std::int64_t> ns = percentiles(*row.latency);
  const std::vector<std::int64_t> floor_ns = percentiles(*floor.latency);
  for (std::size_t i = 0; i < ns.size(); ++i) {
    const double least = static_cast<double>(floors) * static_cast<double>(floor_ns[i]);
    cells.push_back(least > 0 ? fmt::format("{:.2f}x", static_cast<double>(ns[i]) / least) : "-");
  }
  return cells;
}

// One table row: `measure`, `wait`, `client`, then the latency columns.
std::vector<std::string> latency_cells(const std::string& measure, const std::string& wait,
                                       const std::string& client, const ResultRow& row) {
  std::vector<std::string> cells{measure, wait, client};
  for (std::int64_t ns : percentiles(*row.latency)) cells.push_back(format_ns(ns));
  cells.push_back(std::to_string(row.samples));
  cells.push_back(row.msgs_per_s > 0 ? format_count(row.msgs_per_s) : "-");
  cells.push_back(std::to_string(row.errors));
  return cells;
}

const std::vector<std::string> kLatencyHeaders{
    "measure", "wait", "client", "p50", "p90", "p99", "p99.9", "max", "samples", "per s", "errors"};

void print_visible_table(const std::vector<VisibleRows>& rows, const ResultRow& floor,
                         const Placement& cpus) {
  const unsigned reply_floors = crossings({cpus.client, cpus.writer, cpus.client});
  const unsigned view_floors = crossings({cpus.client, cpus.writer, cpus.reader, cpus.client});
  const unsigned applied_floors = crossings({cpus.client, cpus.writer, cpus.reader});
  TextTable table(kLatencyHeaders);
  table.add_row(latency_cells("floor (one way)", "-", "-", floor));
  for (const VisibleRows& row : rows) {
    const std::string client = poll_name(row.poll);
    table.add_row(latency_cells("reply (round trip)", row.reply.wait, client, row.reply));
    table.add_row(latency_cells("applied in view", row.applied.wait, client, row.applied));
    table.add_row(latency_cells("seen by client", row.visible.wait, client, row.visible));
  }
  for (const VisibleRows& row : rows) {
    const std::string client = poll_name(row.poll);
    std::vector<std::string> cells{fmt::format("reply / {}x floor", reply_floors), row.reply.wait,
                                   client};
    for (std::string& cell : ratio_cells(row.reply, floor, reply_floors)) cells.push_back(cell);
    table.add_row(std::move(cells));
    cells = {fmt::format("applied / {}x floor", applied_floors), row.applied.wait, client};
    for (std::string& cell : ratio_cells(row.applied, floor, applied_floors)) {
      cells.push_back(cell);
    }
    table.add_row(std::move(cells));
    cells = {fmt::format("seen / {}x floor", view_floors), row.visible.wait, client};
    for (std::string& cell : ratio_cells(row.visible, floor, view_floors)) cells.push_back(cell);
    table.add_row(std::move(cells));
  }
  table.print(stdout);
}

void print_query_table(const std::vector<ResultRow>& rows, const ResultRow& floor,
                       const Placement& cpus) {
  const unsigned floors =
      crossings({cpus.idle_writer_client, cpus.reader, cpus.idle_writer_client});
  TextTable table(kLatencyHeaders);
  table.add_row(latency_cells("floor (one way)", "-", "-", floor));
  const auto path = [](const ResultRow& row) {
    return row.mode.ends_with("socket") ? std::string("socket") : std::string("shm");
  };
  for (const ResultRow& row : rows) {
    table.add_row(latency_cells("query (round trip)", row.wait, path(row), row));
  }
  for (const ResultRow& row : rows) {
    std::vector<std::string> cells{fmt::format("query / {}x floor", floors), row.wait, path(row)};
    for (std::string& cell : ratio_cells(row, floor, floors)) cells.push_back(cell);
    table.add_row(std::move(cells));
  }
  table.print(stdout);
}

void print_subscribe_table(const std::vector<SubscribeRows>& rows) {
  TextTable table(kLatencyHeaders);
  for (const SubscribeRows& row : rows) {
    table.add_row(latency_cells("applied in view", row.applied.wait, "-", row.applied));
    table.add_row(latency_cells("seen by subscriber", row.subscriber.wait, "shm", row.subscriber));
  }
  table.print(stdout);
  for (const SubscribeRows& row : rows) {
    const double ratio =
        static_cast<double>(row.subscriber.latency->p50_ns) /
        static_cast<double>(std::max<std::int64_t>(row.applied.latency->p50_ns, 1));
    fmt::print(
        "  command to subscriber p50 / command to view p50, {} wait: {:.2f}x (target <= 2x): {}\n",
        row.subscriber.wait, ratio, ratio <= 2.0 ? "met" : "NOT met");
  }
}

void print_catch_up_table(const CatchUpRows& rows, unsigned rounds) {
  TextTable table({"view", "events", "event bytes", "reader start (median)", "events/s",
                   "events/s with start", "per CPU second", "rounds"});
  table.add_row(
      {"kv", std::to_string(rows.catch_up.samples),
       fmt::format("{} B", rows.catch_up.payload_bytes), format_ns(rows.start.latency->p50_ns),
       format_count(rows.catch_up.msgs_per_s), format_count(rows.with_start.msgs_per_s),
       rows.per_cpu_second ? format_count(*rows.per_cpu_second) : "-", std::to_string(rounds)});
  table.print(stdout);
  fmt::print(
      "(per CPU second: the events over the CPU time the reader had from its spawn to the "
      "last event, /proc/PID/schedstat; apart from the wall-clock rates when others share its "
      "core)\n");
}

const char* verdict(bool met) {
  return met ? "met" : "NOT met";
}

void print_targets(const std::vector<VisibleRows>& visible,
                   const std::optional<CatchUpRows>& catch_up, const std::optional<LoadRows>& load,
                   const Placement& cpus) {
  fmt::print("targets:\n");
  for (const VisibleRows& row : visible) {
    const std::int64_t p50 = row.applied.latency->p50_ns;
    fmt::print(
        "  command to applied in the kv view p50, {} wait, client {}: {} (target < {}): {} (seen "
        "by the client: {})\n",
        row.applied.wait, poll_name(row.poll), format_ns(p50), format_ns(kVisibleTargetNs),
        verdict(p50 < kVisibleTargetNs), format_ns(row.visible.latency->p50_ns));
  }
  if (cpus.client_shares() && !visible.empty()) {
    // Said rather than hidden: on a shared core, handing it over is part of every figure.
    fmt::print(
        "    (the client shares CPU {}: the applied figure includes handing that core over "
        "once, what the client saw also its own waits; the applied time is the reader's own "
        "stamp, on the same clock)\n",
        cpus.client);
  }
  if (load) {
    const double alone = load->alone.view_per_s();
    const double subscribed = alone > 0 ? load->subscribed.view_per_s() / alone : 0;
    const double queried = alone > 0 ? load->queried.view_per_s() / alone : 0;
    fmt::print(
        "  kv view's event rate with {} subscriptions against alone: {:.2f} (target >= {:.2f}): "
        "{}\n",
        kLoadSubscriptions, subscribed, kSubscribedTarget,
        verdict(subscribed >= kSubscribedTarget));
    // Met only at the rate asked: a client that got fewer answered proves nothing of it.
    const bool reached = load->queries_per_s() >= 0.9 * static_cast<double>(kLoadQueriesPerS);
    fmt::print(
        "  kv view's event rate while it answers {} queries/s against alone: {:.2f} (target >= "
        "{:.2f} at {} queries/s): {}{}\n",
        format_count(load->queries_per_s()), queried, kQueriedTarget,
        format_count(static_cast<double>(kLoadQueriesPerS)),
        verdict(reached && queried >= kQueriedTarget),
        reached ? "" : " (the client did not reach the rate asked)");
  }
  if (catch_up) {
    const double rate = catch_up->catch_up.msgs_per_s;
    fmt::print("  catch-up from the journal into kv: {} events/s (target >= {} events/s): {}\n",
               format_count(rate), format_count(kCatchUpTargetPerS),
               verdict(rate >= kCatchUpTargetPerS));
  }
}

// What the client does between looks, and what that does to the figures.
std::string client_poll_text(const Placement& cpus, ClientPoll poll) {
  const std::string shares = cpus.client == cpus.reader   ? "the reader"
                             : cpus.client == cpus.writer ? "the writer"
                                                          : "";
  switch (poll) {
    case ClientPoll::sleep:
      return fmt::format(
          "sleeps {} us between looks (nanosleep, timer slack 1 ns){}. A sched_yield() would "
          "leave a spinning process there the core for its whole time slice (milliseconds), and "
          "a block wait spins a while before it sleeps (the writer 50 us); the sleep lets the "
          "client back in, but puts a floor of about one sleep and a wake-up under these figures",
          kPollSleepNs / 1000,
          shares.empty() ? ""
                         : fmt::format(" on CPU {}, which it shares with {}", cpus.client, shares));
    case ClientPoll::yield:
      return fmt::format(
          "sched_yield() between looks{}, to a process that yields back (--wait yield)",
          shares.empty() ? "" : fmt::format(" on CPU {}, shared with {}", cpus.client, shares));
    case ClientPoll::automatic:
    case ClientPoll::spin:
      break;
  }
  return fmt::format("spins between looks on CPU {}{}", cpus.client,
                     shares.empty() ? ", a core of its own" : ", shared with " + shares);
}

std::vector<ResultRow> measure_all(const ViewsOptions& options) {
  const Placement cpus = place(options);
  const fs::path writer = find_writer_binary(options.writer_binary);
  const fs::path reader =
      harness::find_sibling_binary("evring-reader", options.reader_binary, "--reader");
  const ScratchFolder scratch(options.scratch);
  const Context here{options, writer, reader, scratch.path(), cpus};
  const unsigned cores = harness::online_cpus();
  fmt::print(
      "views: evring-writer on CPU {}, evring-reader (kv view) on CPU {}, client on CPU {}; "
      "journals (durability async) and checkpoints in {}\n",
      cpus.writer, cpus.reader, cpus.client, scratch.path().string());
  if (cores < 3) {
    fmt::print(
        "note: {} cores for 3 processes (writer, reader, client): the client shares CPU {}, so "
        "the command-to-view figures include scheduling and the client's polling (below)\n",
        cores, cpus.client);
  }
  if (cpus.client_shares()) {
    // For the rows where the client sleeps between looks: the default slack (50 us) would stretch
    // each poll's sleep to about 70 us.
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }
  harness::flush_stdio();

  // The floor between the writer's and the reader's cores; this process is then the client.
  harness::pin_to_cpu(cpus.writer);
  std::vector<ResultRow> rows;
  rows.push_back(measure_floor(cpus.reader == cpus.writer ? (cpus.writer + 1) % cores : cpus.reader,
                               kFloorSamples));
  const ResultRow floor = rows.back();
  harness::pin_to_cpu(cpus.client);
  fmt::print("floor: one cache line CPU {} -> CPU {}, one way, flat out: p50 {}, p99 {}\n",
             cpus.writer, cpus.reader, format_ns(floor.latency->p50_ns),
             format_ns(floor.latency->p99_ns));
  const std::uint64_t warmup =
      options.warmup != 0 ? options.warmup : std::max<std::uint64_t>(1'000, options.samples / 20);

  std::vector<VisibleRows> visible;
  if (options.parts.visible) {
    fmt::print(
        "\ncommand to view: one client (this process), one kv put in flight, {} samples after "
        "{} warm-up; per command, the reply and the reader's registry slot reaching its seq, "
        "timed from the send; wait: the writer's and the reader's --wait\n",
        options.samples, warmup);
    for (WaitKind wait : options.waits) {
      fmt::print("client, {} rows: {}\n", to_string(wait),
                 client_poll_text(cpus, cpus.poll_for(wait)));
    }
    harness::flush_stdio();
    for (WaitKind wait : options.waits) {
      visible.push_back(measure_visible(here, wait, warmup, options.samples));
    }
    print_visible_table(visible, floor, cpus);
    for (const VisibleRows& row : visible) {
      rows.push_back(row.reply);
      rows.push_back(row.applied);
      rows.push_back(row.visible);
    }
  }

  std::vector<ResultRow> queries;
  if (options.parts.query) {
    fmt::print(
        "\nquery: `get` of a key in the kv view, one in flight, {} samples after {} warm-up; "
        "the writer idles (--wait block); wait: the reader's --wait; client (CPU {}): shm = "
        "through the reader's query segment (the client spins 20 us, then sleeps), socket = "
        "over its socket (the client blocks in its read)\n",
        options.samples, warmup, cpus.idle_writer_client);
    harness::flush_stdio();
    for (const QueryPath path : {QueryPath::fastest, QueryPath::socket}) {
      for (WaitKind wait : options.waits) {
        queries.push_back(measure_query(here, wait, path, warmup, options.samples));
      }
    }
    print_query_table(queries, floor, cpus);
    rows.insert(rows.end(), queries.begin(), queries.end());
    fmt::print(
        "\nqueries/s: {} client threads (CPU {}), each its own connection, one query in "
        "flight each, for {} s; the writer idles\n",
        kConcurrentClients, cpus.idle_writer_client, kLoadNs / 1'000'000'000);
    harness::flush_stdio();
    TextTable load({"reader wait", "path", "queries", "queries/s", "errors"});
    for (const QueryPath path : {QueryPath::fastest, QueryPath::socket}) {
      for (WaitKind wait : options.waits) {
        const ResultRow loaded = measure_query_load(here, wait, path);
        load.add_row({loaded.wait, path == QueryPath::socket ? "socket" : "shm",
                      std::to_string(loaded.samples), format_count(loaded.msgs_per_s),
                      std::to_string(loaded.errors)});
        rows.push_back(loaded);
      }
    }
    load.print(stdout);
  }

  if (options.parts.subscribe) {
    fmt::print(
        "\nsubscribe: a subscription (evring watch) to `get` of one key; one put of it in "
        "flight, {} samples after {} warm-up, timed from the submit to the view applying it "
        "(the reader's stamp) and to the subscriber (this process, CPU {}) reading its change "
        "line; the writer (--wait yield) shares that core; wait: the reader's --wait\n",
        options.samples, warmup, cpus.idle_writer_client);
    harness::flush_stdio();
    std::vector<SubscribeRows> subscribed;
    for (WaitKind wait : options.waits) {
      subscribed.push_back(measure_subscribe(here, wait, warmup, options.samples));
    }
    print_subscribe_table(subscribed);
    for (const SubscribeRows& row : subscribed) {
      rows.push_back(row.applied);
      rows.push_back(row.subscriber);
    }
  }

  std::optional<CatchUpRows> catch_up;
  if (options.parts.catch_up) {
    fmt::print(
        "\ncatch-up: a new evring-reader --from start on a journal of {} kv events (built with "
        "the journal API, in the page cache) of a running writer; from its registry slot "
        "claimed (its start, shown apart) until the slot says it applied the last event; "
        "median of {} readers\n",
        options.catch_up_events, options.catch_up_rounds);
    harness::flush_stdio();
    catch_up = measure_catch_up(here);
    print_catch_up_table(*catch_up, options.catch_up_rounds);
    rows.push_back(catch_up->start);
    rows.push_back(catch_up->catch_up);
    rows.push_back(catch_up->with_start);
  }

  std::optional<LoadRows> load;
  if (options.parts.load) {
    load = measure_load(here);
    print_load(*load);
  }

  fmt::print("\n");
  print_targets(visible, catch_up, load, cpus);
  return rows;
}

}  // namespace

std::vector<ResultRow> run_views(const ViewsOptions& options) {
  return harness::blaming_interrupts([&] { return measure_all(options); });
}

}  // namespace evring::bench
