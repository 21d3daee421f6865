// evring demo's figures and answers: latency percentiles, the views' answers checked
// against the clients' sums, evring stat's table, and what to try next with --keep.

#include <sched.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "demo_run.hpp"
#include "evring/clock.hpp"
#include "exit_status.hpp"
#include "shm/registry.hpp"
#include "stat.hpp"

namespace fs = std::filesystem;

namespace evring::tools::demo {
namespace {

std::string microseconds(std::int64_t ns) {
  return fmt::format("{:.1f}", static_cast<double>(ns) / 1e3);
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

}  // namespace

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
  if (config_.remote) {
    const std::string remote_total = query_result(instance, "bank-remote", {"total"}, last_seq_);
    fmt::print("  bank-remote total {}   (fed from NATS JetStream through evring bridge)\n",
               remote_total);
    if (remote_total != total_text) {
      throw Error(ErrorCode::corrupt, "the remote bank view's total differs from the local one's");
    }
  }

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

}  // namespace evring::tools::demo
