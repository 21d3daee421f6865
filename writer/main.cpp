// evring-writer: the one process that owns an instance's command model.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include <sys/stat.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/program.hpp"
#include "cli/values.hpp"
#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/shared_segment.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/log.hpp"
#include "writer.hpp"

namespace {

// --retain-for: ten years is more than any journal is kept live.
constexpr std::chrono::milliseconds kLongestAge = std::chrono::hours(24 * 3650);

constexpr const char* kFooter = R"(Examples:
  evring-writer --name orders --domain bank
  evring-writer --name orders --domain bank --durability sync --journal /var/lib/orders
  evring-writer --name cache --domain kv --no-journal --ring-bytes 16M
  evring-writer --name orders --domain ./libmydomain.so
  evring-writer --name orders --domain bank --socket --socket-mode 0660

Journal: by default under $XDG_STATE_HOME/evring/<name>/journal (or
~/.local/state/evring/<name>/journal), in segment files that start at 64 KiB on disk and
double as records need it, up to --journal-segment-bytes (64M), then roll. Memory: the
ring (--ring-bytes, 16M) and the command intake (8 MiB) in /dev/shm. On start the writer cuts a torn last record (and says
so), restores the newest model snapshot and replays the journal after it, then takes
commands. SIGINT or SIGTERM stops it cleanly: it finishes what it took, syncs the journal,
writes a snapshot and removes the instance's segments.
Retention (--retain, --retain-for): sealed journal segments (never the one being written)
beyond the size, or sealed longer ago than the age, are removed by a low-priority thread,
oldest first, each logged with its seq range and why; but never one that a reader's
checkpoint, a bridge's last acknowledged seq or the newest model snapshot still needs
(their holds: evring journal holds lists them, evring journal release drops a dead one).
With --archive the segments move into that folder compressed (zstd) instead, and readers
and evring tail read them from there; holds do not stop a move.
Socket intake (--socket): for clients that cannot map the shared-memory segments (another
user, a container), the writer also listens on $XDG_RUNTIME_DIR/evring/<name>.sock (or
/tmp/evring-<uid>/<name>.sock, or --socket-path); evring cmd --socket PATH submits there.
Exit status: 0 after a clean stop, 2 on error.)";

// "0660": a file mode, in octal.
mode_t parse_mode(const std::string& text) {
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(text, &used, 8);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value > 07777) {
    throw CLI::ValidationError("mode", "\"" + text + "\" is not a file mode (like 0600 or 0660)");
  }
  return static_cast<mode_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace evring;
  writer::WriterOptions options;
  std::string durability = "async";
  std::string idle_wait = "block";
  std::string journal;
  bool no_journal = false;
  bool quiet = false;
  std::string log_level = "info";
  std::string socket_path;
  std::string socket_mode = "0600";
  std::string group;

  CLI::App app{
      "evring-writer: runs the writer of an evring instance: takes commands, decides "
      "them with the domain, journals and publishes the events."};
  app.footer(kFooter);
  app.add_option("--name", options.instance, "instance name")->capture_default_str();
  app.add_option("--domain", options.domain, "kv, bank, or the path of a domain plugin (.so)")
      ->capture_default_str();
  app.add_option("--domain-config", options.domain_config, "text handed to the domain's create");
  auto* journal_option = app.add_option("--journal", journal, "journal folder");
  app.add_flag("--no-journal", no_journal, "keep no journal (same as --durability none)")
      ->excludes(journal_option);
  app.add_option("--durability", durability,
                 "none, async (survives kill -9) or sync (fdatasync "
                 "before the reply, group commit)")
      ->capture_default_str();
  cli::add_size_option(app, "--ring-bytes", options.ring_bytes,
                       fmt::format("ring size: how far a reader may fall behind before it "
                                   "catches up from the journal; a power of two, at least {} "
                                   "and four of the largest records ({} with the default "
                                   "--max-payload)",
                                   cli::size_text(kMinRingCapacity),
                                   cli::size_text(minimum_ring_capacity(kDefaultMaxPayload))),
                       kMinRingCapacity);
  cli::add_size_option(
      app, "--max-payload", options.max_payload,
      fmt::format("the largest event payload (at most {})", cli::size_text(kMaxEventPayload)), 1);
  cli::add_size_option(app, "--journal-segment-bytes", options.journal_segment_bytes,
                       "the size a journal segment file grows to (from 64K, doubling) before the "
                       "next one starts; at least four of the largest records");
  cli::add_size_option(app, "--retain", options.retain_bytes,
                       "keep at most this many bytes of sealed journal segments (like 10G); "
                       "older ones go unless held");
  cli::add_duration_option(app, "--retain-for", options.retain_for,
                           "remove sealed journal segments sealed longer ago than this (like "
                           "12h, 7d) unless held",
                           std::chrono::milliseconds(1), kLongestAge);
  app.add_option("--archive", options.archive,
                 "move retained-away segments into this folder, compressed (zstd), instead of "
                 "removing them; readers read them there")
      ->type_name("DIR");
  std::chrono::milliseconds retention_interval{5000};
  cli::add_duration_option(app, "--retention-interval", retention_interval,
                           "how often retention looks without a sealed segment (tests)")
      ->group("");
  cli::add_count_option(app, "--snapshot-every", options.snapshot_every,
                        "write a model snapshot every N events (0: only at a clean stop)");
  cli::add_count_option(app, "--duplicate-window", options.duplicate_window,
                        "how many command ids are remembered for duplicate detection");
  app.add_option("--wait", idle_wait, "how the idle writer waits for commands: spin, yield, block")
      ->capture_default_str();
  app.add_flag("--socket", options.socket_intake,
               "also take commands on a Unix socket, for clients that cannot map the "
               "shared-memory segments");
  app.add_option("--socket-path", socket_path,
                 "the socket (implies --socket; default: <runtime folder>/<name>.sock)");
  app.add_option("--socket-mode", socket_mode,
                 "the socket file's mode: who may connect (implies --socket)")
      ->capture_default_str();
  auto* group_option =
      app.add_option("--group", group,
                     "let this group read the ring and the journal and run readers "
                     "(default: the writer's user only)");
  app.add_flag("--group-submit", options.group_submit,
               "let the --group also submit commands (and connect to --socket)")
      ->needs(group_option);
  app.add_option("--log-level", log_level, "error, warn, info or debug (every snapshot)")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "print errors only (--log-level error)");

  if (const auto status = cli::parse_command_line(app, "evring-writer", argc, argv)) return *status;

  return cli::run_program("evring-writer", [&] {
    const LogSink log =
        stderr_log("evring-writer", quiet ? LogLevel::error : parse_log_level(log_level));
    options.durability = no_journal ? Durability::none : parse_durability(durability);
    if (no_journal && durability != "async" && durability != "none") {
      throw Error(ErrorCode::invalid_argument, "--no-journal keeps no journal, so --durability " +
                                                   durability + " cannot hold: drop one of them");
    }
    options.journal = journal;
    options.retention_interval_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(retention_interval).count();
    const bool retains = options.retain_bytes != 0 || options.retain_for.count() != 0;
    if (!options.archive.empty() && !retains) {
      throw Error(ErrorCode::invalid_argument,
                  "--archive says where retained-away segments go, but nothing is retained "
                  "away: add --retain SIZE or --retain-for DURATION");
    }
    if (retains && no_journal) {
      throw Error(ErrorCode::invalid_argument,
                  "--retain and --retain-for limit the journal, and --no-journal keeps none: drop "
                  "one of them");
    }
    options.idle_wait = parse_wait_kind(idle_wait);
    options.socket_mode = parse_mode(socket_mode);
    if (!socket_path.empty() || app.count("--socket-mode") != 0) options.socket_intake = true;
    options.socket_path = socket_path;
    if (!group.empty()) options.group = group_named(group);

    const std::atomic<bool>& stop = cli::stop_on_signals();

    auto writer = writer::Writer::start(options, log);
    writer->run(stop);
    return 0;
  });
}
