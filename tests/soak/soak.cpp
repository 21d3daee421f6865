// evring-soak: the chaos soak. A bank instance (views bank, stats, tail) and a kv instance
// (view kv, twice) run side by side, each with its writer, readers (all three wait
// strategies, from a checkpoint or from the start) and client processes that send commands
// with ids. Meanwhile kill -9, SIGSTOP and SIGCONT hit random processes at random moments,
// writers and readers are stopped cleanly (SIGTERM, SIGINT: each must exit 0), and whatever
// ended is started again. At the end every answer, view, journal and the bank's
// invariant are checked against the model the clients' answers build, and nothing may be
// left over. It prints its seed first (--seed replays the choices; the moments stay
// timing-dependent) and its report last; exit 1 on any violation.
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include <signal.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>

#include "evring/error.hpp"
#include "shm/registry.hpp"
#include "soak.hpp"

namespace fs = std::filesystem;

namespace evring::soak {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kClientsPerInstance = 2;
// 512 KiB is the smallest ring the largest record allows (four of it must fit): a few
// thousand events, so a reader stopped for a few seconds is lapped and catches up from the
// journal.
constexpr const char* kRingBytes = "512K";
// Small journal segments: a crash or a catch-up meets a segment's end often.
constexpr const char* kJournalSegmentBytes = "2M";

struct Settings {
  std::chrono::seconds duration{120};
  std::uint64_t seed = 0;
  double per_second = 1200;  // commands each client sends at most
};

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

// One process the chaos may hit, and how to start it again.
class Member {
 public:
  enum class Kind { writer, reader, client };
  Member(std::string name, Kind kind) : name_(std::move(name)), kind_(kind) {}
  virtual ~Member() = default;
  virtual pid_t pid() const = 0;
  virtual std::optional<int> poll_exit() = 0;
  virtual void kill9() = 0;
  virtual void restart() = 0;
  virtual void signal(int signal_number) = 0;
  // Whether a clean stop (SIGTERM, SIGINT) is part of its life: writers and readers.
  virtual bool stops_cleanly() const { return false; }
  // The end of its log, for a violation's message ("" when its stderr is the soak's).
  virtual std::string last_words() const { return {}; }

  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }
  std::string kind_name() const {
    return kind_ == Kind::writer ? "writer" : kind_ == Kind::reader ? "reader" : "client";
  }
  bool stopped = false;
  bool failed_start = false;  // reported; the next look starts it again
  Clock::time_point resume_at;

 private:
  std::string name_;
  Kind kind_;
};

class ServiceMember : public Member {
 public:
  ServiceMember(std::string name, Kind kind, test::ServiceProcess& process,
                std::function<void()> after_end = {})
      : Member(std::move(name), kind), process_(process), after_end_(std::move(after_end)) {}
  pid_t pid() const override { return process_.pid(); }
  std::optional<int> poll_exit() override { return process_.poll_exit(); }
  void kill9() override {
    process_.kill9();
    if (after_end_) after_end_();
  }
  void restart() override {
    if (after_end_ && process_.poll_exit()) after_end_();
    process_.restart();
  }
  void signal(int signal_number) override { process_.signal(signal_number); }
  bool stops_cleanly() const override { return true; }
  std::string last_words() const override {
    std::string log = process_.log();
    while (!log.empty() && log.back() == '\n') log.pop_back();
    std::size_t from = log.size();
    for (int lines = 0; lines < 3 && from != std::string::npos && from > 0; ++lines) {
      from = log.rfind('\n', from - 1);
    }
    return log.substr(from == std::string::npos ? 0 : from + 1);
  }

 private:
  test::ServiceProcess& process_;
  std::function<void()> after_end_;  // the tail reader moves its output file aside
};

class ClientMember : public Member {
 public:
  ClientMember(std::string name, std::function<int()> body)
      : Member(std::move(name), Kind::client), body_(std::move(body)) {
    restart();
  }
  pid_t pid() const override { return process_->pid(); }
  std::optional<int> poll_exit() override { return process_->poll_exit(); }
  void kill9() override { process_->kill_and_reap(); }
  void restart() override {
    process_.reset();
    process_.emplace(test::ChildProcess::spawn(name(), body_));
  }
  void signal(int signal_number) override { process_->signal(signal_number); }

 private:
  std::function<int()> body_;
  std::optional<test::ChildProcess> process_;
};

// The registry's lapped and replay counts of each live reader, the largest seen per process
// (a reader killed -9 takes its slot's counts with it, so they are sampled often).
void sample_registry(Instance& instance) {
  try {
    const Registry registry = Registry::open(instance.name, Access::read_only);
    for (const ReaderInfo& reader : registry.readers()) {
      if (!reader.alive) continue;
      auto& [lapped, replays] = instance.reader_counts[reader.pid];
      lapped = std::max(lapped, reader.lapped_count);
      replays = std::max(replays, reader.replay_count);
    }
  } catch (const Error&) {
    // No registry while the writer restarts: the next sample sees it.
  }
}

void start_instance(Instance& instance, const std::string& domain, const fs::path& folder,
                    const Settings& settings, const std::atomic<bool>& stop) {
  instance.domain = domain;
  instance.name = test::unique_instance("soak-" + domain);
  instance.folder = folder / domain;
  fs::create_directories(instance.folder);
  instance.writer = std::make_unique<test::WriterProcess>(
      instance.name, instance.folder,
      std::vector<std::string>{"--domain", domain, "--ring-bytes", kRingBytes,
                               "--journal-segment-bytes", kJournalSegmentBytes, "--snapshot-every",
                               "20000", "--duplicate-window", "1000000", "--log-level", "warn"});
  const auto reader = [&](const std::string& id, std::vector<std::string> args) {
    args.insert(args.end(), {"--checkpoint-every", "5000", "--log-level", "warn"});
    instance.readers[id] =
        std::make_unique<test::ReaderProcess>(instance.name, id, instance.folder, args);
  };
  if (domain == "bank") {
    // The one busy-spinning reader of the run (two cores).
    reader("bank", {"--view", "bank", "--wait", "spin", "--from", "checkpoint"});
    reader("stats", {"--view", "stats", "--wait", "block", "--from", "checkpoint"});
    reader("tail", {"--view", "tail", "--wait", "yield", "--from", "checkpoint", "--view-config",
                    "out=" + tail_output(instance).string() + ",domain=bank,flush=64"});
  } else {
    reader("kv", {"--view", "kv", "--wait", "block", "--from", "checkpoint"});
    // Started again from seq 1 each time: the longest catch-up.
    reader("kv-replay", {"--view", "kv", "--wait", "yield", "--from", "start"});
  }
  // Room for every command the pace allows, and some.
  instance.capacity =
      static_cast<std::uint64_t>(settings.per_second *
                                 static_cast<double>(settings.duration.count()) * 1.05) +
      10'000;
  instance.outcomes =
      std::make_unique<test::SharedBlock<test::Outcome>>(kClientsPerInstance * instance.capacity);
  instance.progress =
      std::make_unique<test::SharedBlock<test::ClientProgress>>(kClientsPerInstance);
  for (int c = 0; c < kClientsPerInstance; ++c) {
    test::ChaosClientPlan plan;
    plan.instance = instance.name;
    plan.id_prefix = domain + std::to_string(c) + "-";
    plan.capacity = instance.capacity;
    const std::uint64_t seed = settings.seed;
    if (domain == "bank") {
      plan.command = [seed, c](std::uint64_t i) {
        return bank_command(seed, kClientsPerInstance, c, i);
      };
    } else {
      plan.command = [seed, c](std::uint64_t i) { return kv_command(seed, c, i); };
    }
    plan.per_second = settings.per_second;
    plan.stop = &stop;
    instance.plans.push_back(std::move(plan));
  }
}

std::vector<std::unique_ptr<Member>> members_of(Instance& instance) {
  std::vector<std::unique_ptr<Member>> members;
  members.push_back(std::make_unique<ServiceMember>(instance.domain + " writer",
                                                    Member::Kind::writer, *instance.writer));
  for (auto& [id, process] : instance.readers) {
    std::function<void()> after_end;
    if (id == "tail") {
      after_end = [&instance] {
        const fs::path moved =
            instance.folder / ("tail-" + std::to_string(instance.tail_files.size()) + ".jsonl");
        std::error_code missing;  // a start that wrote nothing
        fs::rename(tail_output(instance), moved, missing);
        if (!missing) instance.tail_files.push_back(moved);
      };
    }
    members.push_back(std::make_unique<ServiceMember>(instance.domain + " reader " + id,
                                                      Member::Kind::reader, *process, after_end));
  }
  for (int c = 0; c < kClientsPerInstance; ++c) {
    members.push_back(std::make_unique<ClientMember>(
        instance.domain + " client " + std::to_string(c), [&instance, c] {
          return test::run_chaos_client(instance.plans[c], (*instance.progress)[c],
                                        &(*instance.outcomes)[c * instance.capacity]);
        }));
  }
  return members;
}

// How long a SIGSTOP lasts: readers long enough, often, to be lapped; writers and clients
// shorter (everything waits for a stopped writer).
std::chrono::milliseconds stop_length(const Member& member, std::mt19937_64& rng) {
  const std::uint64_t longest = member.kind() == Member::Kind::reader ? 10000 : 1500;
  return std::chrono::milliseconds(10 + rng() % longest);
}

void print_report(const Settings& settings, const Report& report, std::chrono::seconds took) {
  std::uint64_t kills = 0;
  for (const auto& [kind, count] : report.kills) kills += count;
  std::printf("\n== evring-soak report (seed %llu, %lld s of chaos, %lld s in all)\n",
              static_cast<unsigned long long>(settings.seed),
              static_cast<long long>(settings.duration.count()),
              static_cast<long long>(took.count()));
  std::printf(
      "kills survived   %llu (writer %llu, reader %llu, client %llu)\n",
      static_cast<unsigned long long>(kills),
      static_cast<unsigned long long>(report.kills.count("writer") ? report.kills.at("writer") : 0),
      static_cast<unsigned long long>(report.kills.count("reader") ? report.kills.at("reader") : 0),
      static_cast<unsigned long long>(report.kills.count("client") ? report.kills.at("client")
                                                                   : 0));
  std::printf("stops            %llu (SIGSTOP, then SIGCONT or kill -9)\n",
              static_cast<unsigned long long>(report.stops));
  const auto clean = [&](const char* kind) {
    return static_cast<unsigned long long>(
        report.clean_stops.count(kind) ? report.clean_stops.at(kind) : 0);
  };
  std::printf(
      "clean stops      %llu (SIGTERM or SIGINT, exit 0, started again: writer %llu, "
      "reader %llu)\n",
      clean("writer") + clean("reader"), clean("writer"), clean("reader"));
  std::printf(
      "commands         %llu: %llu accepted, %llu duplicate answers, %llu rejected; "
      "%llu client reconnects\n",
      static_cast<unsigned long long>(report.commands),
      static_cast<unsigned long long>(report.answers.accepted),
      static_cast<unsigned long long>(report.answers.duplicates),
      static_cast<unsigned long long>(report.answers.rejected),
      static_cast<unsigned long long>(report.reconnects));
  std::printf("events           %llu (journal, both instances)\n",
              static_cast<unsigned long long>(report.events));
  std::printf("laps             %llu (readers lapped by the writer)\n",
              static_cast<unsigned long long>(report.laps));
  std::printf("catch-ups        %llu (journal replays by readers)\n",
              static_cast<unsigned long long>(report.catch_ups));
  std::printf("violations       %zu\n", report.violations.size());
  for (std::size_t i = 0; i < report.violations.size() && i < 30; ++i) {
    std::printf("  %s\n", report.violations[i].c_str());
  }
  std::printf("== %s\n", report.violations.empty() ? "soak passed" : "soak FAILED");
}

int run(const Settings& settings) {
  const auto started = Clock::now();
  std::printf("evring-soak: seed %llu (--seed %llu replays it), %lld s of chaos\n",
              static_cast<unsigned long long>(settings.seed),
              static_cast<unsigned long long>(settings.seed),
              static_cast<long long>(settings.duration.count()));
  std::fflush(stdout);
  test::TempDir folder("soak");
  test::use_private_folders(folder.path());
  test::SharedBlock<std::atomic<bool>> stop(1);
  Instance bank, kv;
  std::vector<std::unique_ptr<test::InstanceCleanup>> cleanups;
  Report report;
  std::vector<std::unique_ptr<Member>> members;
  for (auto [instance, domain] : {std::pair{&bank, "bank"}, std::pair{&kv, "kv"}}) {
    start_instance(*instance, domain, folder.path(), settings, stop[0]);
    cleanups.push_back(std::make_unique<test::InstanceCleanup>(instance->name));
    for (auto& member : members_of(*instance)) members.push_back(std::move(member));
  }

  std::mt19937_64 rng(settings.seed);
  const auto chaos_end = Clock::now() + settings.duration;
  auto next_progress = Clock::now() + std::chrono::seconds(30);
  // A start that fails (the process exits during it) is a violation, not the run's end: the
  // next look starts it again.
  const auto restart = [&](Member& member) {
    try {
      member.restart();
      member.failed_start = false;
    } catch (const std::exception& e) {
      const std::string what = e.what();
      report.violations.push_back(member.name() + " could not start again: " +
                                  what.substr(what.size() > 600 ? what.size() - 600 : 0));
      member.failed_start = true;
    }
  };
  // Starts again what ended by itself (a violation: only the soak may end a process). At the
  // end the clients finish by themselves, and are waited for instead.
  const auto revive = [&](bool clients) {
    for (auto& member : members) {
      if (member->kind() == Member::Kind::client && !clients) continue;
      if (const auto status = member->poll_exit()) {
        if (!member->failed_start) {
          const std::string words = member->last_words();
          report.violations.push_back(member->name() + " " + describe(*status) + " by itself" +
                                      (words.empty() ? "" : ":\n    " + words));
        }
        member->stopped = false;
        restart(*member);
      }
    }
  };
  while (Clock::now() < chaos_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 280));  // the next moment
    const auto now = Clock::now();
    for (auto& member : members) {
      if (member->stopped && now >= member->resume_at) {
        member->signal(SIGCONT);
        member->stopped = false;
      }
    }
    revive(true);
    sample_registry(bank);
    sample_registry(kv);
    Member& target = *members[rng() % members.size()];
    const std::uint64_t dice = rng() % 100;
    if (dice < 25) {
      target.kill9();
      target.stopped = false;
      ++report.kills[target.kind_name()];
      restart(target);
    } else if (dice < 35 && target.stops_cleanly()) {
      // A clean stop must end it with exit 0 within the deadline, and its successor must
      // pick up where it left: its readers (or its view) follow, nothing is lost.
      const int signal_number = rng() % 2 == 0 ? SIGTERM : SIGINT;
      if (target.stopped) target.signal(SIGCONT);
      target.stopped = false;
      target.signal(signal_number);
      std::optional<int> status;
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      while (!(status = target.poll_exit()) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (!status) {
        report.violations.push_back(target.name() + " did not stop within 30 s of " +
                                    (signal_number == SIGTERM ? "SIGTERM" : "SIGINT"));
        target.kill9();
      } else if (*status != 0) {
        const std::string words = target.last_words();
        report.violations.push_back(target.name() + " " + describe(*status) + " after " +
                                    (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
                                    (words.empty() ? "" : ":\n    " + words));
      }
      ++report.clean_stops[target.kind_name()];
      restart(target);
    } else if (!target.stopped) {
      target.signal(SIGSTOP);
      target.stopped = true;
      target.resume_at = now + stop_length(target, rng);
      ++report.stops;
    }
    if (now >= next_progress) {
      next_progress += std::chrono::seconds(30);
      std::uint64_t kills = 0;
      for (const auto& [kind, count] : report.kills) kills += count;
      std::printf("  %4lld s: %llu kills, %llu stops\n",
                  static_cast<long long>(
                      std::chrono::duration_cast<std::chrono::seconds>(now - started).count()),
                  static_cast<unsigned long long>(kills),
                  static_cast<unsigned long long>(report.stops));
      std::fflush(stdout);
    }
  }

  // The end: everything runs again, the clients finish what they have in flight.
  // relaxed: the clients poll the flag; it publishes nothing else.
  stop[0].store(true, std::memory_order_relaxed);
  for (auto& member : members) {
    if (member->stopped) member->signal(SIGCONT);
    member->stopped = false;
  }
  revive(false);
  const auto clients_deadline = Clock::now() + std::chrono::minutes(2);
  for (auto& member : members) {
    if (member->kind() != Member::Kind::client) continue;
    std::optional<int> status;
    while (!(status = member->poll_exit()) && Clock::now() < clients_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!status) {
      report.violations.push_back(member->name() + " did not finish its commands in 2 minutes");
    } else if (*status != 0) {
      report.violations.push_back(member->name() + " " + describe(*status));
    }
  }
  sample_registry(bank);
  sample_registry(kv);
  for (Instance* instance : {&bank, &kv}) {
    for (const auto& [pid, counts] : instance->reader_counts) {
      report.laps += counts.first;
      report.catch_ups += counts.second;
    }
    for (int c = 0; c < kClientsPerInstance; ++c) {
      report.commands += (*instance->progress)[c].sent.load(std::memory_order_relaxed);
      report.reconnects += (*instance->progress)[c].reconnects.load(std::memory_order_relaxed);
    }
    check_views(*instance, report);
  }
  // Clean stops: readers first (a checkpoint each), then the writers (segments removed).
  for (Instance* instance : {&bank, &kv}) {
    for (auto& [id, reader] : instance->readers) {
      const int status = reader->stop();
      if (status != 0)
        report.violations.push_back(instance->domain + " reader " + id + " " + describe(status) +
                                    " at SIGTERM");
    }
    const fs::path last_tail = tail_output(*instance);
    if (fs::exists(last_tail)) {
      instance->tail_files.push_back(instance->folder / "tail-last.jsonl");
      fs::rename(last_tail, instance->tail_files.back());
    }
    const int status = instance->writer->stop();
    if (status != 0)
      report.violations.push_back(instance->domain + " writer " + describe(status) + " at SIGTERM");
    check_journal(*instance, report);
  }
  check_leftovers({&bank, &kv}, report);
  print_report(settings, report,
               std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started));
  return report.violations.empty() ? 0 : 1;
}

}  // namespace
}  // namespace evring::soak

int main(int argc, char** argv) {
  evring::soak::Settings settings;
  settings.seed = std::random_device{}();
  std::string duration = "120";
  CLI::App app{
      "evring-soak: writers, readers and clients under kill -9, SIGSTOP, SIGCONT, SIGTERM and "
      "SIGINT; "
      "checks answers, views, journals and the bank's invariant at the end"};
  app.add_option("--duration", duration, "seconds of chaos (e.g. 120, or 30m)")
      ->capture_default_str();
  app.add_option("--seed", settings.seed, "replays a run's choices (printed at the start)");
  app.add_option("--rate", settings.per_second, "commands per second per client (4 clients)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
    const bool minutes = !duration.empty() && duration.back() == 'm';
    const long long count =
        std::stoll(minutes ? duration.substr(0, duration.size() - 1) : duration);
    settings.duration = std::chrono::seconds(minutes ? count * 60 : count);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception&) {
    std::fprintf(stderr, "evring-soak: --duration %s: give seconds (120) or minutes (30m)\n",
                 duration.c_str());
    return 2;
  }
  try {
    return evring::soak::run(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evring-soak: %s\n", e.what());
    return 2;
  }
}
