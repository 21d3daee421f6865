// evring demo's parts, shared by its files: the configuration, the client processes'
// workload (demo_workload.cpp), and DemoRun, the instance it starts, drives and cleans up
// (demo_run.cpp), measures and reports on (demo_report.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evring/client.hpp"
#include "harness/child_process.hpp"
#include "harness/exec_process.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "shm/layout.hpp"
#include "sys/latency_recorder.hpp"

namespace evring::tools::demo {

using harness::ChildProcess;
using harness::ExecLaunch;
using harness::ExecProcess;
using harness::interrupted;
using harness::throw_if_interrupted;

inline constexpr std::int64_t kSecondNs = 1'000'000'000;
inline constexpr std::int64_t kStartDeadlineNs = 15 * kSecondNs;  // a writer or reader to come up
inline constexpr std::int64_t kStopDeadlineNs = 10 * kSecondNs;   // one to stop cleanly
inline constexpr std::int64_t kProgressEveryNs = 100'000'000;     // a terminal's progress line
inline constexpr std::int64_t kProgressLineEveryNs = kSecondNs;   // a log's (not a terminal)
inline constexpr std::size_t kWindow = 32;                        // commands in flight per client
inline constexpr std::size_t kClients = 2;
inline constexpr std::int64_t kMaxAmount = 500;
inline constexpr auto kQueryTimeout = std::chrono::seconds(30);

struct DemoConfig {
  std::string instance;
  std::uint64_t commands = 300'000;
  std::uint32_t accounts = 1'000;
  std::uint64_t latency_samples = 20'000;
  std::string dir = "/tmp";
  bool keep = false;
  bool remote = false;  // also a NATS server, the bridge and a bank reader fed from it
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

std::string account_name(std::uint32_t i);

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
int run_client(const DemoConfig& config, unsigned index, std::uint64_t quota, ClientBoard& board);

// One of the demo's evring programs: its process and where its messages go.
struct Service {
  std::string id;  // "writer", "bank-1", ...
  std::filesystem::path log;
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
  Service& start_service(const std::string& id, const std::filesystem::path& binary,
                         std::vector<std::string> args, int stop_signal = SIGTERM);
  void start_reader(const std::string& view, std::vector<std::string> extra,
                    const std::string& id_suffix = "1");
  // --remote: nats-server (JetStream, its store in the folder), evring bridge, and reader
  // bank-remote fed from the stream.
  void start_remote();
  void check_services();
  void print_progress(std::int64_t started_ns, bool final_line);
  void stop_all() noexcept;

  const DemoConfig& config_;
  std::filesystem::path self_;
  std::filesystem::path folder_;
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

}  // namespace evring::tools::demo
