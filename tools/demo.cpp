// evring demo: the first hour in one command. Starts a real evring-writer (bank domain,
// async journal) and three evring-readers (bank, stats, tail to a file) on a fresh instance
// in a temporary folder, drives a workload from two client processes while it shows
// progress, then prints the views' answers (and checks the bank's invariant), evring stat's
// table and the latency percentiles. Every way out (the end, an error, Ctrl-C) stops what it
// started with SIGTERM, so the writer removes its segments, then removes the folder; with
// --keep the instance stays up and the demo prints what to try next.
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "exit_status.hpp"
#include "harness/child_process.hpp"
#include "harness/exec_process.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "shm/layout.hpp"
#include "shm/registry.hpp"
#include "stat.hpp"
#include "sys/latency_recorder.hpp"

namespace fs = std::filesystem;

namespace evring::tools {
namespace {

using harness::ChildProcess;
using harness::ExecLaunch;
using harness::ExecProcess;
using harness::interrupted;
using harness::throw_if_interrupted;

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::int64_t kStartDeadlineNs = 15 * kSecondNs;  // a writer or reader to come up
constexpr std::int64_t kStopDeadlineNs = 10 * kSecondNs;   // one to stop cleanly
constexpr std::int64_t kProgressEveryNs = 100'000'000;     // a terminal's progress line
constexpr std::int64_t kProgressLineEveryNs = kSecondNs;   // a log's (not a terminal)
constexpr std::size_t kWindow = 32;                        // commands in flight per client
constexpr std::size_t kClients = 2;
constexpr std::int64_t kMaxAmount = 500;
constexpr auto kQueryTimeout = std::chrono::seconds(30);

constexpr const char* kDemoFooter = R"(Examples:
  evring demo                          # the whole tour, under a minute
  evring demo --commands 50000 --latency-samples 2000   # a shorter one
  evring demo --keep                   # leave the instance running and try it yourself
The instance is named demo-<pid> unless --name says otherwise; its journal, checkpoints and
logs go to a fresh folder under --dir (default /tmp). At the end, on error or on Ctrl-C the
demo stops its writer and readers (each removes its segments and socket) and removes that
folder. Exit status 0 on success, 2 on error or interrupt.)";

struct DemoConfig {
  std::string instance;
  std::uint64_t commands = 300'000;
  std::uint32_t accounts = 1'000;
  std::uint64_t latency_samples = 20'000;
  std::string dir = "/tmp";
  bool keep = false;
};

// What one client process reports, in memory shared with the parent. Each field is
// written by its client only.
struct alignas(kFalseSharingRange) ClientBoard {
  // relaxed: display counter for the progress line; the totals below are read only after
  // the client has exited (waitpid orders them).
  std::atomic<std::uint64_t> done;
  std::atomic<std::uint64_t> accepted;
  std::atomic<std::uint64_t> rejected;
  std::atomic<std::int64_t> net;  // accepted deposits minus accepted withdrawals
};

// One bank command in flight: what the client sums if the writer accepts it.
struct Pending {
  std::int64_t net_change = 0;  // +amount for a deposit, -amount for a withdrawal, else 0
};

std::string account_name(std::uint32_t i) {
  return fmt::format("acct-{:04}", i);
}

// Sends `count` commands through `client`, at most kWindow in flight; `make(i, words)`
// fills in command i's words and says what it changes, `done(pending, reply)` takes each
// reply in order. Checks for Ctrl-C between replies.
template <class Make, class Done>
void pipeline(Client& client, std::uint64_t count, Make make, Done done) {
  std::deque<Pending> in_flight;
  std::vector<std::string> words;
  std::vector<std::string_view> views;
  for (std::uint64_t sent = 0; sent < count || !in_flight.empty();) {
    while (sent < count && in_flight.size() < kWindow) {
      words.clear();
      in_flight.push_back(make(sent++, words));
      views.assign(words.begin(), words.end());
      client.send_text(views);
    }
    const TicketedReply reply = client.receive();
    done(in_flight.front(), reply.reply);
    in_flight.pop_front();
    throw_if_interrupted();
  }
}

// A client process's body: `quota` random deposits, withdrawals and transfers.
int run_client(const DemoConfig& config, unsigned index, std::uint64_t quota, ClientBoard& board) {
  Client client = Client::connect(config.instance);
  std::mt19937_64 random(0x5eed + index);
  std::uniform_int_distribution<std::uint32_t> pick_account(0, config.accounts - 1);
  std::uniform_int_distribution<std::int64_t> pick_amount(1, kMaxAmount);
  std::uniform_int_distribution<int> pick_kind(0, 99);
  std::uint64_t done = 0;
  std::uint64_t accepted = 0;
  std::int64_t net = 0;
  pipeline(
      client, quota,
      [&](std::uint64_t, std::vector<std::string>& words) {
        const int kind = pick_kind(random);
        const std::int64_t amount = pick_amount(random);
        const std::string amount_text = std::to_string(amount);
        if (kind < 45) {
          words = {"deposit", account_name(pick_account(random)), amount_text};
          return Pending{amount};
        }
        if (kind < 70) {
          words = {"withdraw", account_name(pick_account(random)), amount_text};
          return Pending{-amount};
        }
        words = {"transfer", account_name(pick_account(random)), account_name(pick_account(random)),
                 amount_text};
        return Pending{0};
      },
      [&](const Pending& pending, const CommandReply& reply) {
        if (reply.accepted()) {
          ++accepted;
          net += pending.net_change;
        }
        // relaxed: a display counter (see ClientBoard).
        board.done.store(++done, std::memory_order_relaxed);
      });
  // relaxed, all: the parent reads them after this process has exited.
  board.accepted.store(accepted, std::memory_order_relaxed);
  board.rejected.store(done - accepted, std::memory_order_relaxed);
  board.net.store(net, std::memory_order_relaxed);
  return kExitOk;
}

std::string file_tail(const fs::path& path, std::size_t max_lines = 20) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string out;
  for (const std::string& line : lines) out += "    " + line + "\n";
  return out.empty() ? "    (nothing)\n" : out;
}

std::string microseconds(std::int64_t ns) {
  return fmt::format("{:.1f}", static_cast<double>(ns) / 1e3);
}

// One of the demo's evring programs: its process and where its messages go.
struct Service {
  std::string id;  // "writer", "bank-1", ...
  fs::path log;
  std::unique_ptr<ExecProcess> exec;
};

// The demo's temporary folder, processes and instance. The destructor stops what still
// runs (unless kept) and removes what it made, on every path out.
class DemoRun {
 public:
  explicit DemoRun(const DemoConfig& config);
  DemoRun(const DemoRun&) = delete;
  DemoRun& operator=(const DemoRun&) = delete;
  ~DemoRun();

  void start();
  void open_accounts();
  void run_workload();
  void measure_latency();
  void report();
  void keep();  // leaves everything running and says what to try next

 private:
  Service& start_service(const std::string& id, const fs::path& binary,
                         std::vector<std::string> args);
  void start_reader(const std::string& view, std::vector<std::string> extra);
  void check_services();
  void print_progress(std::int64_t started_ns, bool final_line);
  void stop_all() noexcept;

  const DemoConfig& config_;
  fs::path self_;
  fs::path folder_;
  std::vector<Service> services_;  // the writer first
  bool writer_up_ = false;         // our writer made the instance's segments
  bool kept_ = false;
  bool progress_line_open_ = false;
  harness::SharedArray<ClientBoard> boards_{kClients};
  std::vector<ChildProcess> clients_;
  std::optional<Client> client_;
  std::uint64_t last_seq_ = 0;
  std::uint64_t parent_commands_ = 0;
  std::int64_t parent_net_ = 0;  // the parent's own accepted deposits
  std::int64_t workload_ns_ = 0;
  LatencySummary round_trip_;
  LatencySummary to_view_;
  LatencySummary writer_to_reader_;
};

DemoRun::DemoRun(const DemoConfig& config) : config_(config) {
  std::error_code ec;
  self_ = fs::read_symlink("/proc/self/exe", ec);
  std::string pattern = (fs::path(config.dir) / "evring-demo-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw Error(ErrorCode::io, "cannot make a temporary folder in " + config.dir + ": " +
                                   errno_text(errno) + " (pass --dir FOLDER)");
  }
  folder_ = pattern;
}

DemoRun::~DemoRun() {
  if (progress_line_open_) fmt::print("\n");
  if (!kept_) stop_all();
}

void DemoRun::stop_all() noexcept {
  client_.reset();
  for (ChildProcess& client : clients_) client.kill_and_reap();
  // Readers first, so none sees its writer go; each stop removes that one's socket.
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    try {
      it->exec->stop(monotonic_ns() + kStopDeadlineNs);
    } catch (const std::exception& e) {
      fmt::print(stderr, "evring demo: {} did not stop cleanly: {}\n", it->id, e.what());
    }
    if (it->id != "writer") {
      std::error_code ignored;
      fs::remove(query_socket_path(config_.instance, it->id), ignored);
    }
  }
  // A writer that stops cleanly removes its segments; one that did not left them. Only
  // when ours made them: with --name, another writer's instance must survive our failure.
  if (writer_up_) {
    std::error_code ec;
    const std::string prefix = "evring." + config_.instance + ".";
    for (const auto& entry : fs::directory_iterator("/dev/shm", ec)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0) {
        std::error_code ignored;
        fs::remove(entry.path(), ignored);
      }
    }
  }
  std::error_code ignored;
  fs::remove_all(folder_, ignored);
}

Service& DemoRun::start_service(const std::string& id, const fs::path& binary,
                                std::vector<std::string> args) {
  ExecLaunch launch;
  launch.binary = binary;
  launch.args = std::move(args);
  launch.log_file = folder_ / (id + ".log");
  // Out of the terminal's reach: Ctrl-C comes to the demo, which stops each with SIGTERM
  // (a clean stop). If the demo itself dies, SIGTERM still comes; --keep: nothing does.
  launch.own_session = true;
  launch.parent_death_signal = config_.keep ? 0 : SIGTERM;
  services_.push_back(Service{id, launch.log_file, std::make_unique<ExecProcess>(launch)});
  return services_.back();
}

void DemoRun::start_reader(const std::string& view, std::vector<std::string> extra) {
  const std::string id = view + "-1";
  std::vector<std::string> args{"--name",
                                config_.instance,
                                "--view",
                                view,
                                "--id",
                                id,
                                "--wait",
                                "block",
                                "--checkpoint-dir",
                                (folder_ / "checkpoints" / id).string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const fs::path binary = harness::find_sibling_binary("evring-reader", "", "");
  Service& reader = start_service(id, binary, std::move(args));
  try {
    harness::wait_for_reader_queries(reader.exec->process(), config_.instance, id,
                                     monotonic_ns() + kStartDeadlineNs);
  } catch (const Error& e) {
    throw_if_interrupted();
    throw Error(e.code(), fmt::format("evring-reader {} did not start: {}\n  its log ({}):\n{}", id,
                                      e.what(), reader.log.string(), file_tail(reader.log)));
  }
  fmt::print("  reader {:<8} pid {:<7} view {}\n", id, reader.exec->process().pid(), view);
}

void DemoRun::start() {
  fmt::print("evring demo: instance {}, folder {}\n", config_.instance, folder_.string());
  const fs::path writer_binary = harness::find_sibling_binary("evring-writer", "", "");
  Service& writer =
      start_service("writer", writer_binary,
                    {"--name", config_.instance, "--domain", "bank", "--journal",
                     (folder_ / "journal").string(), "--durability", "async", "--wait", "block"});
  try {
    harness::wait_for_writer(writer.exec->process(), config_.instance,
                             monotonic_ns() + kStartDeadlineNs);
  } catch (const Error& e) {
    throw_if_interrupted();
    throw Error(e.code(), fmt::format("evring-writer did not start: {}\n  its log ({}):\n{}",
                                      e.what(), writer.log.string(), file_tail(writer.log)));
  }
  writer_up_ = true;
  fmt::print("  writer {:<8} pid {:<7} domain bank, journal async\n", "",
             writer.exec->process().pid());
  start_reader("bank", {});
  start_reader("stats", {});
  // flush=1: each line is in the file as its event is applied, so the `tail -f` that keep()
  // suggests shows a new command's event at once, not after the next 1000.
  start_reader("tail", {"--view-config",
                        "out=" + (folder_ / "events.jsonl").string() + ",domain=bank,flush=1"});
  client_.emplace(Client::connect(config_.instance));
}

// A service that exited is an error; Ctrl-C is an interrupt.
void DemoRun::check_services() {
  throw_if_interrupted();
  for (Service& service : services_) {
    try {
      service.exec->process().check_running();
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{}\n  its log ({}):\n{}", e.what(), service.log.string(),
                                        file_tail(service.log)));
    }
  }
}

void DemoRun::open_accounts() {
  pipeline(
      *client_, config_.accounts,
      [&](std::uint64_t i, std::vector<std::string>& words) {
        words = {"open", account_name(static_cast<std::uint32_t>(i))};
        return Pending{};
      },
      [&](const Pending&, const CommandReply& reply) {
        if (!reply.accepted()) {
          throw Error(ErrorCode::io, "the writer refused to open an account: " + reply.reason);
        }
        last_seq_ = std::max(last_seq_, reply.seq);
        ++parent_commands_;
      });
  fmt::print("opened {} accounts (acct-0000 ...), balance 0 each\n", config_.accounts);
}

void DemoRun::print_progress(std::int64_t started_ns, bool final_line) {
  std::uint64_t done = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    done += boards_[i].done.load(std::memory_order_relaxed);  // relaxed: display counter
  }
  const double seconds = static_cast<double>(monotonic_ns() - started_ns) / 1e9;
  const std::string line =
      fmt::format("  [{:4.1f} s] {:>7} / {} commands   {:>7.0f} commands/s", seconds, done,
                  config_.commands, seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
  if (isatty(STDOUT_FILENO)) {
    fmt::print("\r{}\x1b[K", line);
    progress_line_open_ = !final_line;
    if (final_line) fmt::print("\n");
  } else {
    fmt::print("{}\n", line);
  }
  std::fflush(stdout);
}

void DemoRun::run_workload() {
  fmt::print(
      "workload: {} random deposits, withdrawals and transfers from {} client "
      "processes, {} in flight each\n",
      config_.commands, kClients, kWindow);
  harness::flush_stdio();
  const std::int64_t started = monotonic_ns();
  for (unsigned i = 0; i < kClients; ++i) {
    const std::uint64_t quota = config_.commands / kClients + (i < config_.commands % kClients);
    clients_.push_back(ChildProcess::spawn(fmt::format("client-{}", i + 1), [this, i, quota] {
      return run_client(config_, i, quota, boards_[i]);
    }));
  }
  std::int64_t next_line = started;
  for (;;) {
    check_services();
    bool all_done = true;
    for (ChildProcess& client : clients_) {
      if (const std::optional<int> status = client.poll_exit()) {
        if (*status != 0) throw Error(ErrorCode::io, client.describe_exit(*status));
      } else {
        all_done = false;
      }
    }
    if (all_done) break;
    const std::int64_t now = monotonic_ns();
    if (now >= next_line) {
      print_progress(started, false);
      next_line = now + (isatty(STDOUT_FILENO) ? kProgressEveryNs : kProgressLineEveryNs);
    }
    const timespec pause{0, 20'000'000};
    ::nanosleep(&pause, nullptr);  // returns early on Ctrl-C, which is what we want
  }
  workload_ns_ = monotonic_ns() - started;
  print_progress(started, true);
}

// The bank reader's registry slot, found by its id and pid.
const ReaderSlot& bank_slot(const Registry& registry, const Service& bank) {
  for (const ReaderInfo& info : registry.readers()) {
    if (info.id == bank.id && info.pid == static_cast<std::uint64_t>(bank.exec->process().pid())) {
      return registry.layout().slots[info.slot];
    }
  }
  throw Error(ErrorCode::io, "reader " + bank.id + " has no row in the registry");
}

void DemoRun::measure_latency() {
  const std::uint64_t n = config_.latency_samples;
  fmt::print(
      "latency: {} deposits one at a time from this process, each followed until the "
      "bank view has it\n",
      n);
  harness::flush_stdio();
  const Registry registry = Registry::open(config_.instance, Access::read_only);
  const ReaderSlot& slot = bank_slot(registry, services_[1]);
  LatencyRecorder round_trip(n), to_view(n), writer_to_reader(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::string account = account_name(static_cast<std::uint32_t>(i % config_.accounts));
    const std::int64_t t0 = monotonic_ns();
    const CommandReply reply = client_->submit_text({"deposit", account, "1"});
    const std::int64_t t1 = monotonic_ns();
    if (!reply.accepted()) throw Error(ErrorCode::io, "a deposit was refused: " + reply.reason);
    // Until the bank view has applied it: its seq, and a publish time of this command's
    // (the reader stores the two apart, so a time older than t0 is still the last one's).
    std::int64_t publish_ns = 0;
    for (std::uint64_t looks = 1;; ++looks) {
      // relaxed, both: lone progress values the reader stores relaxed; only the numbers
      // are used, never view data they would have to publish.
      if (slot.position_seq.load(std::memory_order_relaxed) >= reply.seq) {
        publish_ns = slot.position_publish_ns.load(std::memory_order_relaxed);
        if (publish_ns >= t0) break;
      }
      if (looks % 4096 == 0) check_services();
      ::sched_yield();  // two cores, five processes: give the reader the core
    }
    const std::int64_t t2 = monotonic_ns();
    round_trip.record(t1 - t0);
    to_view.record(t2 - t0);
    writer_to_reader.record(t2 - publish_ns);
    parent_net_ += 1;
    ++parent_commands_;
    last_seq_ = std::max(last_seq_, reply.seq);
    if (i % 256 == 0) throw_if_interrupted();
  }
  round_trip_ = round_trip.summarize();
  to_view_ = to_view.summarize();
  writer_to_reader_ = writer_to_reader.summarize();
}

std::string query_result(const std::string& instance, const std::string& reader,
                         std::initializer_list<std::string_view> words, std::uint64_t after) {
  QueryClient client = QueryClient::connect(instance, reader);
  const QueryReply reply = client.query(words, after, kQueryTimeout);
  if (reply.stale || !reply.result) {
    throw Error(ErrorCode::io, fmt::format("reader {} did not answer with a result for seq {}: {}",
                                           reader, after, reply.raw));
  }
  return *reply.result;
}

void DemoRun::report() {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::int64_t net = parent_net_;
  for (std::size_t i = 0; i < kClients; ++i) {
    // relaxed, all: the clients have exited (reaped), which orders their stores before.
    accepted += boards_[i].accepted.load(std::memory_order_relaxed);
    rejected += boards_[i].rejected.load(std::memory_order_relaxed);
    net += boards_[i].net.load(std::memory_order_relaxed);
  }
  const std::uint64_t total_commands = accepted + rejected + parent_commands_;
  fmt::print(
      "\n{} commands in all ({} accepted, {} refused by the domain, mostly for "
      "overdraft); the workload ran at {:.0f} commands/s; last seq {}\n",
      total_commands, accepted + parent_commands_, rejected,
      static_cast<double>(config_.commands) / (static_cast<double>(workload_ns_) / 1e9), last_seq_);

  fmt::print("\nthe views, asked with --after {} (read-your-writes):\n", last_seq_);
  const std::string& instance = config_.instance;
  fmt::print("  bank-1  top 5   {}\n", query_result(instance, "bank-1", {"top", "5"}, last_seq_));
  const std::string total_text = query_result(instance, "bank-1", {"total"}, last_seq_);
  fmt::print("  bank-1  total   {}\n", total_text);
  fmt::print("  stats-1 summary {}\n", query_result(instance, "stats-1", {"summary"}, last_seq_));
  const std::string count_text = query_result(instance, "tail-1", {"count"}, last_seq_);
  const fs::path tail_file = folder_ / "events.jsonl";
  std::ifstream lines(tail_file);
  std::string first_line;
  std::getline(lines, first_line);
  std::uint64_t line_count = first_line.empty() ? 0 : 1;
  for (std::string line; std::getline(lines, line);) ++line_count;
  fmt::print("  tail-1  count   {}: {} lines in {}; the first:\n          {}\n", count_text,
             line_count, tail_file.string(), first_line);

  const auto total = nlohmann::json::parse(total_text).at("total").get<std::int64_t>();
  if (total != net) {
    fmt::print(stderr,
               "\nevring demo: THE INVARIANT DOES NOT HOLD: the bank view's total is {}, but "
               "the clients' accepted deposits minus withdrawals come to {}\n",
               total, net);
    throw Error(ErrorCode::corrupt, "the bank view's total is not the sum of what was accepted");
  }
  fmt::print("  total {} = deposits - withdrawals {} (opening balances 0): the invariant holds\n",
             total, net);

  fmt::print("\nevring stat --name {}\n{}", instance, stat_table(instance));

  fmt::print(
      "\nlatency in microseconds, {} samples (clock: CLOCK_MONOTONIC, shared by all "
      "processes)\n",
      round_trip_.samples);
  fmt::print("  {:<32} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "", "p50", "p90", "p99", "p99.9", "max");
  const auto row = [](std::string_view what, const LatencySummary& s) {
    fmt::print("  {:<32} {:>8} {:>8} {:>8} {:>8} {:>8}\n", what, microseconds(s.p50_ns),
               microseconds(s.p90_ns), microseconds(s.p99_ns), microseconds(s.p999_ns),
               microseconds(s.max_ns));
  };
  row("command round trip", round_trip_);
  row("command to visible in the view", to_view_);
  row("writer to reader (publish->seen)", writer_to_reader_);
  fmt::print(
      "  Here 5 processes (writer, 3 readers, this one) share {} core(s), all waiting by "
      "blocking\n  (futex) when idle: wake-ups and scheduling are in these figures. "
      "evring-bench measures\n  each path on its own pinned cores.\n",
      std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

void DemoRun::keep() {
  kept_ = true;
  std::string pids;
  for (Service& service : services_) {
    pids += " " + std::to_string(service.exec->release());
  }
  const std::string evring = self_.empty() ? std::string("evring") : self_.string();
  const std::string& name = config_.instance;
  // Each line works as printed, in any order: --after and --from name seqs already applied.
  fmt::print(
      "\n--keep: instance {} keeps running (writer and readers bank-1, stats-1, tail-1). Try:\n"
      "  {} cmd --name {} deposit acct-0001 100   # prints seq=<n>\n"
      "  {} query --name {} --reader bank-1 --after {} balance acct-0001   # --after <n> waits "
      "for seq n\n"
      "  {} query --name {} --reader stats-1 summary\n"
      "  {} stat --name {} --watch   # Ctrl-C to stop\n"
      "  {} tail --name {} --from {}   # the last events, then new ones; Ctrl-C to stop\n"
      "  tail -f {}   # what the tail reader writes, a line per event\n"
      "To stop it: kill{}   (SIGTERM: each stops cleanly; the writer removes its segments)\n"
      "then:       rm -r {}\n",
      name, evring, name, evring, name, last_seq_, evring, name, evring, name, evring, name,
      last_seq_ > 2 ? last_seq_ - 2 : 1, (folder_ / "events.jsonl").string(), pids,
      folder_.string());
}

void check_config(const DemoConfig& config) {
  validate_instance_name(config.instance);
  if (config.commands < kClients || config.commands > 100'000'000) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--commands {}: give 2 to 100000000", config.commands));
  }
  if (config.accounts < 2 || config.accounts > 1'000'000) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--accounts {}: give 2 to 1000000", config.accounts));
  }
  if (config.latency_samples < 1 || config.latency_samples > 10'000'000) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--latency-samples {}: give 1 to 10000000", config.latency_samples));
  }
}

int run_demo(DemoConfig config) {
  if (config.instance.empty()) config.instance = "demo-" + std::to_string(::getpid());
  check_config(config);
  harness::install_interrupt_handlers();
  const std::int64_t started = monotonic_ns();
  try {
    DemoRun run(config);
    run.start();
    run.open_accounts();
    run.run_workload();
    run.measure_latency();
    run.report();
    if (config.keep) {
      run.keep();
      return kExitOk;
    }
  } catch (const Error& e) {
    // ~DemoRun has run: the processes are stopped and the folder removed.
    if (!interrupted()) throw;
    fmt::print(stderr,
               "\nevring demo: interrupted; stopped the writer, readers and clients and removed "
               "instance {} and its folder\n",
               config.instance);
    return kExitError;
  }
  fmt::print(
      "\nstopped the writer and readers, removed instance {} and its folder; {:.1f} s "
      "in all\n",
      config.instance, static_cast<double>(monotonic_ns() - started) / 1e9);
  return kExitOk;
}

}  // namespace

Command add_demo_command(CLI::App& parent) {
  auto config = std::make_shared<DemoConfig>();
  CLI::App* app = parent.add_subcommand(
      "demo",
      "start a writer and three readers on a fresh instance, drive a workload, show the views, "
      "evring stat and latencies, then clean up");
  app->footer(kDemoFooter);
  app->add_option("--name", config->instance, "instance name (default: demo-<pid>)");
  app->add_option("--commands", config->commands, "commands the two clients send in all")
      ->capture_default_str();
  app->add_option("--accounts", config->accounts, "bank accounts to open")->capture_default_str();
  app->add_option("--latency-samples", config->latency_samples,
                  "commands sent one at a time for the latency figures")
      ->capture_default_str();
  app->add_option("--dir", config->dir, "where the demo's temporary folder goes")
      ->capture_default_str();
  app->add_flag("--keep", config->keep,
                "leave the instance running at the end and print what to try next");
  return {app, [config] { return run_demo(*config); }};
}

}  // namespace evring::tools
