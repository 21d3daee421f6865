// evring-reader: one reader process with one view of an instance's events.
#include <atomic>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/program.hpp"
#include "cli/values.hpp"
#include "evring/error.hpp"
#include "reader.hpp"
#include "shm/shared_segment.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/log.hpp"

namespace {

constexpr const char* kFooter = R"(Examples:
  evring-reader --name orders --view bank                 # id bank-1, from its checkpoint
  evring-reader --name orders --view kv --id kv-main --from start --wait spin
  evring-reader --name orders --view tail --view-config out=/tmp/events.jsonl,domain=bank
  evring-reader --name orders --view ./libmyview.so --on-error skip
  evring-reader --name orders --view bank --source nats://10.0.0.5:4222   # on another machine

Then: evring query --name orders --reader bank-1 balance alice

--from checkpoint (the default) restores the reader's newest checkpoint (under
$XDG_STATE_HOME/evring/<name>/readers/<id>) and replays only what came after it; with
none it starts from the journal's first event. --from live starts with the next event.
A lapped reader fetches what it missed from the journal by itself. A view that fails on an
event stops the reader (exit 2) with the seq and the view's message, unless --on-error skip
sets such events aside in a dead-letter file. SIGINT or SIGTERM: checkpoint, then exit 0.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace evring;
  reader::ReaderOptions options;
  std::string from = "checkpoint";
  std::string wait = "block";
  std::string on_error = "stop";
  std::string journal, checkpoint_dir, dead_letter, socket, group;
  bool quiet = false;
  std::string log_level = "info";

  CLI::App app{
      "evring-reader: builds one query view of an evring instance's events and answers "
      "queries on it."};
  app.footer(kFooter);
  app.add_option("--name", options.instance, "instance name")->capture_default_str();
  app.add_option("--view", options.view, "kv, bank, stats, tail, or the path of a view plugin")
      ->capture_default_str();
  app.add_option("--view-config", options.view_config, "text handed to the view's create");
  app.add_option("--id", options.id, "reader id, shown by evring stat (default <view>-<n>)");
  app.add_option("--from", from, "start, live or checkpoint")->capture_default_str();
  app.add_option("--wait", wait, "spin, yield or block")->capture_default_str();
  app.add_option("--journal", journal, "the writer's journal folder (default: where it says)");
  app.add_option("--source", options.source,
                 "read the events from the JetStream stream evring bridge fills, "
                 "nats://HOST:PORT[/STREAM], instead of this machine's instance");
  app.add_option("--checkpoint-dir", checkpoint_dir, "where checkpoints go");
  cli::add_count_option(app, "--checkpoint-every", options.checkpoint_every,
                        "checkpoint every N events (0: only at a clean stop)");
  cli::add_duration_option(app, "--checkpoint-seconds", options.checkpoint_interval,
                           "also checkpoint after this long with new events, e.g. 60s or 5m "
                           "(plain numbers are seconds; 0: never)",
                           std::chrono::seconds(1));
  app.add_option("--on-error", on_error, "stop or skip (to a dead-letter file)")
      ->capture_default_str();
  app.add_option("--dead-letter", dead_letter, "dead-letter file for --on-error skip");
  app.add_option("--socket", socket, "query socket path");
  app.add_option("--group", group,
                 "let this group query the reader too (its socket 0660; default: owner only)");
  app.add_option("--log-level", log_level, "error, warn, info or debug (every checkpoint)")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "print errors only (--log-level error)");

  if (const auto status = cli::parse_command_line(app, "evring-reader", argc, argv)) return *status;
  return cli::run_program("evring-reader", [&] {
    const LogSink log =
        stderr_log("evring-reader", quiet ? LogLevel::error : parse_log_level(log_level));
    if (from == "start") {
      options.from = reader::StartFrom::start;
    } else if (from == "live") {
      options.from = reader::StartFrom::live;
    } else if (from == "checkpoint") {
      options.from = reader::StartFrom::checkpoint;
    } else {
      throw Error(ErrorCode::invalid_argument,
                  "--from " + from + ": choose start, live or checkpoint");
    }
    if (on_error == "stop" || on_error == "skip") {
      options.on_error = on_error == "stop" ? reader::OnError::stop : reader::OnError::skip;
    } else {
      throw Error(ErrorCode::invalid_argument, "--on-error " + on_error + ": choose stop or skip");
    }
    options.wait = parse_wait_kind(wait);
    options.journal = journal;
    options.checkpoint_dir = checkpoint_dir;
    options.dead_letter = dead_letter;
    options.socket = socket;
    if (!group.empty()) options.group = group_named(group);

    const std::atomic<bool>& stop = cli::stop_on_signals();

    auto reader = reader::Reader::start(options, log);
    reader->run(stop);
    return 0;
  });
}
