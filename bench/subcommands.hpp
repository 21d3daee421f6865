// The evring-bench subcommands. Each measures, prints its table and returns its rows; the
// caller (bench_main.cpp) owns the command line, the machine line and --json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "journal/journal.hpp"
#include "report.hpp"
#include "ring/broadcast_ring.hpp"
#include "sync/wait_strategy.hpp"

namespace evring::bench {

struct LatencyOptions {
  std::uint64_t rate = 100'000;  // messages per second; 0 = flat out, one in flight
  std::vector<std::uint32_t> payloads{64};
  std::vector<WaitKind> waits{WaitKind::spin};
  std::uint64_t samples = 800'000;
  std::uint64_t warmup = 0;  // 0: max(10'000, samples / 20)
  unsigned writer_cpu = 0;
  unsigned reader_cpu = 1;
  std::uint64_t ring_bytes = kDefaultRingCapacity;
};

std::vector<ResultRow> run_latency(const LatencyOptions& options);

// The physical floor alone: `samples` messages flat out (one in flight) through one cache
// line, from the calling thread (pinned by the caller) to a process on reader_cpu. What
// moving a line between these two cores costs right now; on a VM it changes when the host
// moves the vCPUs, so every subcommand measures it in the same run as its own figures.
ResultRow measure_floor(unsigned reader_cpu, std::uint64_t samples);

struct ThroughputOptions {
  std::vector<unsigned> readers{1, 2};
  // 40 B: a record of one cache line (header 24 B), as the slot ring's 56 B slot.
  std::vector<std::uint32_t> payloads{40, 1024};
  bool wait_auto = true;  // spin when every process has a core, else yield
  WaitKind wait = WaitKind::spin;
  double duration_s = 1.0;      // per row
  unsigned stopped_rounds = 3;  // 0 skips the stopped-reader comparison
  // Records per publish_batch (one commit, one stamp, one look at the doorbell); 1: publish().
  unsigned batch = 1;
  unsigned writer_cpu = 0;
  unsigned reader_cpu = 1;
  std::uint64_t ring_bytes = kDefaultRingCapacity;
};

std::vector<ResultRow> run_throughput(const ThroughputOptions& options);

// What `evring-bench commands` measures; each part can be left out.
struct CommandParts {
  bool round_trip = true;
  bool throughput = true;
  bool replay = true;
};

struct CommandsOptions {
  CommandParts parts;
  std::vector<Durability> durabilities{Durability::none, Durability::async, Durability::sync};
  // Round trip: the writer's idle wait, and the client's wait for its reply (the same).
  std::vector<WaitKind> waits{WaitKind::spin, WaitKind::block};
  std::uint64_t rate = 0;  // commands per second; 0 = flat out, one in flight
  std::uint64_t samples = 100'000;
  std::uint64_t sync_samples = 5'000;  // each is an fdatasync
  std::uint64_t warmup = 0;            // 0: max(100, samples / 20)
  // Throughput: client processes, commands in flight per client, seconds per row.
  std::vector<unsigned> clients{1, 2, 4};
  unsigned window = 32;
  double duration_s = 1.0;
  // Replay: events in each journal, starts of the writer per journal (the median counts).
  std::vector<std::string> replay_domains{"bank", "kv"};
  std::uint64_t replay_events = 2'000'000;
  unsigned replay_rounds = 3;
  std::uint32_t replay_keys = 4'096;  // bank accounts, kv keys
  unsigned writer_cpu = 0;
  unsigned client_cpu = 1;
  std::string writer_binary;     // empty: evring-writer beside evring-bench
  std::string scratch = "/tmp";  // the temporary journal folders go under it
};

// Starts evring-writer as a real process per row (a fresh instance and journal each) and
// measures command round trips, commands/s from 1..N client processes against the disk's
// one-fdatasync-per-command rate, and the writer's journal replay rate.
std::vector<ResultRow> run_commands(const CommandsOptions& options);

// What `evring-bench views` measures; each part can be left out.
struct ViewParts {
  bool visible = true;    // command to visible in a reader's kv view, beside its round trip
  bool query = true;      // query round trip, through the query segment and the socket
  bool catch_up = true;   // a new reader's catch-up from the journal
  bool subscribe = true;  // command to a subscriber (evring watch) seeing the change
  bool load = true;       // the view's event rate under subscriptions and queries
};

// How the views client waits between looks at its reply and the reader's slot.
enum class ClientPoll {
  automatic,  // spin on a core of its own, else sleep
  spin,
  yield,  // sched_yield(): a spinning process on the same core keeps it for its time slice
  sleep,  // a short nanosleep, so a spinning process on the same core is preempted after it
};

struct ViewsOptions {
  ViewParts parts;
  // Visible and query rows: the writer's and the reader's --wait, one row each.
  std::vector<WaitKind> waits{WaitKind::spin, WaitKind::yield, WaitKind::block};
  std::uint64_t samples = 20'000;  // per row, commands or queries
  std::uint64_t warmup = 0;        // 0: max(1'000, samples / 20)
  // Catch-up: events in the journal, reader starts (the median counts), kv keys.
  std::uint64_t catch_up_events = 2'000'000;
  unsigned catch_up_rounds = 3;
  std::uint32_t catch_up_keys = 4'096;
  unsigned writer_cpu = 0;
  unsigned reader_cpu = 1;
  int client_cpu = -1;  // -1: a CPU of its own if there is one, else the reader's
  ClientPoll client_poll = ClientPoll::automatic;
  std::string writer_binary;     // empty: evring-writer beside evring-bench
  std::string reader_binary;     // empty: evring-reader beside evring-bench
  std::string scratch = "/tmp";  // the temporary journals and checkpoints go under it
};

// Starts evring-writer and evring-reader (kv view) as real processes per row (a fresh
// instance, journal and checkpoint folder each) and measures how long a command takes to
// show in the view, a query's round trip, and how fast a new reader catches up.
std::vector<ResultRow> run_views(const ViewsOptions& options);

// What `evring-bench compare` measures.
struct CompareOptions {
  // The systems, in table order; "floor" and "evring" are always measured.
  std::vector<std::string> systems{"slot-ring",   "iceoryx", "boost-message_queue",
                                   "unix-socket", "pipe",    "moodycamel-threads"};
  std::vector<WaitKind> waits{WaitKind::spin, WaitKind::block};
  // 40 B: a record of one cache line (header 24 B); 64 B: two.
  std::vector<std::uint32_t> payloads{40, 64, 1024, 16384};
  std::uint64_t rate = 20'000;  // messages per second; 0 = flat out, one in flight
  std::uint64_t samples = 40'000;
  std::uint64_t warmup = 0;  // 0: max(2'000, samples / 20)
  unsigned writer_cpu = 0;
  unsigned reader_cpu = 1;
  std::uint64_t ring_bytes = kDefaultRingCapacity;
  // Scaling: payload sizes (flat out, spinning readers) and evring reader counts (at rate).
  std::vector<std::uint32_t> scaling_payloads{16, 64, 256, 1024, 4096, 16384, 65536};
  std::vector<unsigned> scaling_readers{1, 2, 4, 8};
  std::uint64_t scaling_samples = 10'000;
  std::string plot_path;  // empty: no chart
};

// The floor, evring and the peers (peer_trial.hpp) side by side on the same two cores, the
// same sizes, the same pacing and clock; then how latency and throughput scale with the
// payload and with the number of evring readers.
std::vector<ResultRow> run_compare(const CompareOptions& options);

// What `evring-bench remote` measures (bench/remote.cpp): needs /usr/sbin/nats-server.
struct RemoteOptions {
  std::uint64_t events = 200'000;  // per round, bridged and published plainly
  std::size_t window = 512;        // publishes in flight, both
  unsigned rounds = 3;             // alternating; the medians count
  std::uint64_t round_trips = 2'000;
  std::string writer_binary;     // empty: evring-writer beside evring-bench
  std::string scratch = "/tmp";  // the journal and the server's store go under it
};

std::vector<ResultRow> run_remote(const RemoteOptions& options);

}  // namespace evring::bench
