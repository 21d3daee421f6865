// evring demo's instance: its folder, writer, readers and clients, started, driven and
// stopped on every path out.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <fstream>

#include <fmt/format.h>

#include "demo_run.hpp"
#include "evring/clock.hpp"
#include "exit_status.hpp"
#include "local_server.hpp"
#include "nats_link.hpp"
#include "stream_identity.hpp"

namespace fs = std::filesystem;

namespace evring::tools::demo {
namespace {

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

}  // namespace

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
                                std::vector<std::string> args, int stop_signal) {
  ExecLaunch launch;
  launch.binary = binary;
  launch.args = std::move(args);
  launch.log_file = folder_ / (id + ".log");
  // Out of the terminal's reach: Ctrl-C comes to the demo, which stops each with SIGTERM
  // (a clean stop). If the demo itself dies, SIGTERM still comes; --keep: nothing does.
  launch.own_session = true;
  launch.parent_death_signal = config_.keep ? 0 : SIGTERM;
  launch.stop_signal = stop_signal;
  services_.push_back(Service{id, launch.log_file, std::make_unique<ExecProcess>(launch)});
  return services_.back();
}

void DemoRun::start_reader(const std::string& view, std::vector<std::string> extra,
                           const std::string& id_suffix) {
  const std::string id = view + "-" + id_suffix;
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
  if (config_.remote) start_remote();
  client_.emplace(Client::connect(config_.instance));
}

void DemoRun::start_remote() {
  const int port = remote::free_local_port();
  const std::string url = remote::local_url(port);
  Service& server = start_service("nats-server", remote::kNatsServerBinary,
                                  remote::local_server_args(port, folder_ / "jetstream"), SIGINT);
  const std::int64_t deadline = monotonic_ns() + kStartDeadlineNs;
  while (!remote::accepts_connections(port)) {
    server.exec->process().check_running();
    if (monotonic_ns() > deadline) throw Error(ErrorCode::io, "nats-server did not start");
    throw_if_interrupted();
    const timespec pause{0, 10'000'000};
    ::nanosleep(&pause, nullptr);
  }
  fmt::print("  nats    {:<8} pid {:<7} {} (JetStream, file storage)\n", "",
             server.exec->process().pid(), url);
  Service& bridge =
      start_service("bridge", self_, {"bridge", "--name", config_.instance, "--to", url});
  fmt::print("  bridge  {:<8} pid {:<7} the events into stream {}\n", "",
             bridge.exec->process().pid(), remote::default_stream_name(config_.instance));
  // The reader opens the stream, which the bridge makes at its start.
  const std::int64_t stream_deadline = monotonic_ns() + kStartDeadlineNs;
  const auto link = remote::NatsLink::connect(url, remote::LinkOptions{});
  while (!link->stream_info(remote::default_stream_name(config_.instance))) {
    bridge.exec->process().check_running();
    if (monotonic_ns() > stream_deadline) throw Error(ErrorCode::io, "the bridge made no stream");
    throw_if_interrupted();
    const timespec pause{0, 10'000'000};
    ::nanosleep(&pause, nullptr);
  }
  start_reader("bank", {"--source", url}, "remote");
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

}  // namespace evring::tools::demo
