// evring demo: the ring on its own. Forks one writer and two readers on a fresh instance,
// drives a few seconds of traffic, shows progress, then what each reader saw and how long
// records took from the writer to it. Every exit path kills the children and removes the
// instance's segments.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "command.hpp"
#include "demo_board.hpp"
#include "demo_payload.hpp"
#include "demo_roles.hpp"
#include "evring/broadcast_ring.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/shared_segment.hpp"
#include "exit_status.hpp"
#include "harness/child_process.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"

namespace evring::tools {
namespace {

using harness::ChildProcess;
using harness::interrupted;

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::int64_t kStartDeadlineNs = 5 * kSecondNs;  // a child to create or attach
constexpr std::int64_t kFinishGraceNs = 10 * kSecondNs;   // readers to drain after the end
constexpr std::int64_t kLookIntervalNs = 10'000'000;      // parent's pace between looks
constexpr std::array<const char*, 2> kSegmentParts{"ring", "registry"};

constexpr const char* kDemoFooter = R"(Example:
  evring demo --seconds 5 --rate 200000 --wait block
The instance is named demo-<pid> unless --name says otherwise; its segments are removed at
the end, also on error or Ctrl-C. Exit status 0 on success, 2 on error.)";

// Ctrl-C: not an error of evring's, but the demo did not finish either.
struct Interrupted {};

// A child's body, whose evring::Error is printed as the evring command prints one (kind and
// hint), on a line of its own after the progress line; the harness would print the bare
// message.
int run_child(const std::string& role, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::fprintf(stderr, "\nevring demo: %s (pid %d): %s\n", role.c_str(), ::getpid(),
                 describe(e).c_str());
    return kExitError;
  }
}

// The demo's processes and the instance they made. The destructor kills the children
// still running and removes the segments our writer created, on every path out.
class DemoRun {
 public:
  DemoRun(const DemoConfig& config, DemoBoard& board) : config_(config), board_(board) {}
  DemoRun(const DemoRun&) = delete;
  DemoRun& operator=(const DemoRun&) = delete;
  ~DemoRun();

  void start_writer();
  void start_readers();
  void run_traffic();
  void join_children();

 private:
  void wait_until(const std::function<bool()>& done, std::int64_t deadline_ns,
                  const std::string& what, const std::function<void()>& every_second = {});
  void check_children();
  void print_progress(std::int64_t started_ns);
  bool all_readers_in(Phase phase) const;
  void remove_our_segments() noexcept;

  const DemoConfig& config_;
  DemoBoard& board_;
  std::optional<ChildProcess> writer_;
  std::vector<ChildProcess> readers_;
  pid_t writer_pid_ = -1;
  bool progress_line_open_ = false;  // a terminal line refreshed with \r, not yet ended
};

DemoRun::~DemoRun() {
  if (progress_line_open_) fmt::print("\n");  // so what follows starts on its own line
  for (ChildProcess& reader : readers_) reader.kill_and_reap();
  if (writer_) writer_->kill_and_reap();
  remove_our_segments();
}

// Only segments whose preamble names our writer: with --name an instance in use by
// another writer makes ours fail at create, and its segments must survive that.
void DemoRun::remove_our_segments() noexcept {
  if (writer_pid_ < 0) return;
  for (const char* part : kSegmentParts) {
    try {
      const std::string name = segment_name(config_.instance, part);
      const std::optional<SharedSegment> segment = SharedSegment::open(name, Access::read_only);
      if (!segment || segment->size() < sizeof(SegmentPreamble)) continue;
      const auto* preamble = reinterpret_cast<const SegmentPreamble*>(segment->data());
      if (preamble->owner_pid == static_cast<std::uint64_t>(writer_pid_)) {
        SharedSegment::remove(name);
      }
    } catch (const Error&) {
      // Cleanup is best effort: a segment we cannot open is not one we could remove.
    }
  }
}

void DemoRun::start_writer() {
  writer_.emplace(ChildProcess::spawn("writer", [&] {
    return run_child("writer", [&] { return run_demo_writer(config_, board_); });
  }));
  writer_pid_ = writer_->pid();
  wait_until(
      // acquire: pairs with the writer's release store of ready.
      [&] { return board_.writer.phase.load(std::memory_order_acquire) != Phase::starting; },
      monotonic_ns() + kStartDeadlineNs, "the writer to create the ring");
}

void DemoRun::start_readers() {
  for (std::size_t i = 0; i < kDemoReaders; ++i) {
    const std::string role = demo_reader_id(i);
    readers_.push_back(ChildProcess::spawn(role, [this, i, role] {
      return run_child(role, [&] { return run_demo_reader(config_, i, board_); });
    }));
  }
  wait_until([&] { return all_readers_in(Phase::ready); }, monotonic_ns() + kStartDeadlineNs,
             "the readers to attach");
  // release: pairs with the writer's acquire load; every reader is attached by now.
  board_.parent.go.store(true, std::memory_order_release);
}

void DemoRun::run_traffic() {
  const std::int64_t started = monotonic_ns();
  const auto traffic_ns = static_cast<std::int64_t>(config_.seconds * 1e9);
  wait_until([&] { return all_readers_in(Phase::finished); }, started + traffic_ns + kFinishGraceNs,
             "the readers to read every record", [&] { print_progress(started); });
}

void DemoRun::join_children() {
  wait_until(
      [&] {
        bool all_exited = writer_->poll_exit().has_value();
        for (ChildProcess& reader : readers_) all_exited &= reader.poll_exit().has_value();
        return all_exited;
      },
      monotonic_ns() + kStartDeadlineNs, "the writer and readers to exit");
}

bool DemoRun::all_readers_in(Phase phase) const {
  return std::all_of(
      std::begin(board_.readers), std::end(board_.readers),
      // acquire: pairs with the reader's release store of its phase.
      [&](const ReaderBoard& r) { return r.phase.load(std::memory_order_acquire) >= phase; });
}

// Looks every 10 ms (a wait with a deadline, not a bare sleep): done, a child failed,
// Ctrl-C, or the deadline passed; the last three throw.
void DemoRun::wait_until(const std::function<bool()>& done, std::int64_t deadline_ns,
                         const std::string& what, const std::function<void()>& every_second) {
  std::int64_t next_second = monotonic_ns() + kSecondNs;
  for (;;) {
    if (interrupted()) throw Interrupted{};
    check_children();
    if (done()) return;
    const std::int64_t now = monotonic_ns();
    if (now > deadline_ns) {
      throw Error(ErrorCode::io, "timed out waiting for " + what +
                                     ": the machine may be overloaded; try a lower --rate");
    }
    if (every_second && now >= next_second) {
      every_second();
      next_second += kSecondNs;
    }
    const timespec pause{0, kLookIntervalNs};
    nanosleep(&pause, nullptr);  // returns early on Ctrl-C, which is what we want
  }
}

// A child that exited with status 0 has finished its part; any other end is a failure
// (the child printed why, if it could). Ctrl-C on a terminal reaches the children too, and
// one may be seen dead of it before our own handler has run.
void DemoRun::check_children() {
  auto check = [](ChildProcess& child) {
    const std::optional<int> status = child.poll_exit();
    if (status && harness::killed_by_interrupt(*status)) throw Interrupted{};
    if (status && *status != 0) throw Error(ErrorCode::io, child.describe_exit(*status));
  };
  if (writer_) check(*writer_);
  for (ChildProcess& reader : readers_) check(reader);
}

// One line, refreshed in place on a terminal: published, and each reader's position/lag.
void DemoRun::print_progress(std::int64_t started_ns) {
  // relaxed, all: display counters. Positions first: a reader is never ahead of the count
  // of published records read after it, so the lag shown is never negative.
  std::array<std::uint64_t, kDemoReaders> positions{};
  for (std::size_t i = 0; i < kDemoReaders; ++i) {
    positions[i] = board_.readers[i].position_seq.load(std::memory_order_relaxed);
  }
  const std::uint64_t published = board_.writer.published.load(std::memory_order_relaxed);
  std::string line = fmt::format("[{:4.1f} s] published {}",
                                 static_cast<double>(monotonic_ns() - started_ns) / 1e9, published);
  for (std::size_t i = 0; i < kDemoReaders; ++i) {
    // Short enough for an 80-column terminal, where a wrapped line would not refresh.
    line += fmt::format(" | reader-{} at {}, lag {}", i + 1, positions[i],
                        published - std::min(published, positions[i]));
  }
  if (isatty(STDOUT_FILENO)) {
    fmt::print("\r{}\x1b[K", line);
    progress_line_open_ = true;
  } else {
    fmt::print("{}\n", line);
  }
  std::fflush(stdout);
}

std::string megabytes(std::uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

// Ring sizes are powers of two: 16 MiB reads better than 16.8 MB.
std::string binary_size(std::uint64_t bytes) {
  return bytes >= (1u << 20) ? fmt::format("{} MiB", bytes >> 20)
                             : fmt::format("{} KiB", bytes >> 10);
}

std::string microseconds(std::int64_t ns) {
  return fmt::format("{:.2f}", static_cast<double>(ns) / 1e3);
}

// Returns the number of checksum errors seen by all readers (0 on a healthy ring).
std::uint64_t print_report(const DemoConfig& config, const DemoBoard& board) {
  const std::uint64_t published = board.writer.published.load(std::memory_order_relaxed);
  fmt::print("\nwriter published {} records in {:.1f} s on instance {}\n\n", published,
             config.seconds, config.instance);
  fmt::print("{:<14} {:>10} {:>10} {:>15} {:>7} {:>7}\n", "reader", "records", "bytes",
             "checksum errors", "lapped", "missed");
  std::uint64_t checksum_errors = 0;
  for (std::size_t i = 0; i < kDemoReaders; ++i) {
    const ReaderBoard& r = board.readers[i];
    // relaxed, all: the reader finished (acquire, in all_readers_in) before we got here.
    const std::uint64_t records = r.records.load(std::memory_order_relaxed);
    checksum_errors += r.checksum_errors.load(std::memory_order_relaxed);
    fmt::print("{:<14} {:>10} {:>10} {:>15} {:>7} {:>7}\n", demo_reader_id(i), records,
               megabytes(r.bytes.load(std::memory_order_relaxed)),
               r.checksum_errors.load(std::memory_order_relaxed),
               r.lapped.load(std::memory_order_relaxed),
               published > records ? published - records : 0);
  }

  fmt::print("\nwriter -> reader latency in microseconds (wait {}; publish_ns vs receipt)\n",
             to_string(config.wait));
  fmt::print("{:<14} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "reader", "p50", "p90", "p99", "p99.9",
             "max");
  for (std::size_t i = 0; i < kDemoReaders; ++i) {
    const LatencySummary& l = board.readers[i].latency;
    fmt::print("{:<14} {:>9} {:>9} {:>9} {:>9} {:>9}", demo_reader_id(i), microseconds(l.p50_ns),
               microseconds(l.p90_ns), microseconds(l.p99_ns), microseconds(l.p999_ns),
               microseconds(l.max_ns));
    const std::uint64_t dropped = board.readers[i].latency_dropped;
    fmt::print("{}\n", dropped == 0 ? "" : fmt::format("  ({} samples not kept)", dropped));
  }
  return checksum_errors;
}

void check_config(const DemoConfig& config) {
  validate_instance_name(config.instance);
  RingOptions ring;
  ring.instance = config.instance;
  ring.capacity = config.ring_bytes;
  ring.max_payload = kDemoMaxPayload;
  validate_ring_options(ring);
  if (!(config.seconds > 0 && config.seconds <= 3600)) {
    throw Error(
        ErrorCode::invalid_argument,
        fmt::format("--seconds {}: give a duration above 0 and at most 3600", config.seconds));
  }
}

int run_demo(DemoConfig config) {
  if (config.instance.empty()) config.instance = "demo-" + std::to_string(::getpid());
  check_config(config);
  harness::install_interrupt_handlers();
  harness::SharedArray<DemoBoard> board;

  fmt::print("evring demo: instance {}, 1 writer and {} readers (wait {}), {} for {} s, ring {}\n",
             config.instance, kDemoReaders, to_string(config.wait),
             config.rate == 0 ? std::string("flat out") : fmt::format("{} records/s", config.rate),
             config.seconds, binary_size(config.ring_bytes));
  try {
    DemoRun run(config, *board);
    run.start_writer();
    run.start_readers();
    run.run_traffic();
    run.join_children();
  } catch (const Interrupted&) {
    // ~DemoRun has run: the children are gone and the segments removed.
    fmt::print(stderr,
               "\nevring demo: interrupted; stopped the writer and readers and "
               "removed instance {}\n",
               config.instance);
    return kExitError;
  }

  if (const std::uint64_t errors = print_report(config, *board); errors != 0) {
    throw Error(ErrorCode::corrupt,
                fmt::format("readers received {} records whose bytes were not what the writer "
                            "published",
                            errors));
  }
  return kExitOk;
}

}  // namespace

Command add_demo_command(CLI::App& parent) {
  auto config = std::make_shared<DemoConfig>();
  auto wait = std::make_shared<std::string>(to_string(config->wait));
  CLI::App* app = parent.add_subcommand(
      "demo", "run a writer and two readers on a fresh instance and show what the readers saw");
  app->footer(kDemoFooter);
  app->add_option("--name", config->instance, "instance name (default: demo-<pid>)");
  app->add_option("--seconds", config->seconds, "how long the writer publishes")
      ->capture_default_str();
  app->add_option("--rate", config->rate, "records per second; 0 = as fast as possible")
      ->capture_default_str();
  app->add_option("--wait", *wait, "how idle readers wait: spin, yield or block")
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  app->add_option("--ring-bytes", config->ring_bytes,
                  "ring data size, a power of two (suffixes K, M: 16M)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  return {app, [config, wait] {
            config->wait = parse_wait_kind(*wait);
            return run_demo(*config);
          }};
}

}  // namespace evring::tools
