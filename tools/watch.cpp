// evring watch: a live subscription to one query of a reader's view (evring/query_client.hpp,
// Subscription). Prints each line the reader sends as it comes; when the reader goes away
// it waits for it to come back and resumes after the last seq it printed (the reader then
// says whether it could, or resets with a fresh snapshot). Ctrl-C ends it with exit 0.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/values.hpp"
#include "command.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "exit_status.hpp"
#include "harness/interrupt.hpp"

namespace evring::tools {
namespace {

constexpr auto kLook = std::chrono::milliseconds(100);   // how often Ctrl-C is looked at
constexpr auto kRetry = std::chrono::milliseconds(200);  // a gone reader: look again after

constexpr const char* kWatchFooter = R"(Examples:
  evring watch --name cache --reader kv-1 get greeting
  evring watch --name orders --reader bank-1 top 10
  evring watch --name cache --reader kv-1 --from 1200 get greeting   # resume after seq 1200
One JSON line for each thing the reader says, as it comes:
  {"as_of_seq": S, "result": R}             the snapshot: the query's result as of seq S
  {"seq": S, "prev_seq": P, "result": R}    the result changed: R as of S, and P is the seq
                                            of the line before (so a gap would show)
  {"progress_seq": S, "prev_seq": P}        no change up to S (at least once a second)
  {"reset": "why", "prev_seq": P}           the chain breaks (the reader restarted, this
                                            watcher read too slowly, --from too far back):
                                            a fresh snapshot follows
With --from SEQ (the last seq a watch printed) it goes on with exactly the changes after
SEQ, or a reset and a fresh snapshot when the reader no longer has them; it waits for the
reader if it is not running. If the reader stops, it waits for it to come back and resumes
the same way.
Needs the reader's shared memory: run as the reader's user, or in its --group.
Exit status: 0 at Ctrl-C, 2 on any error.
)";

struct WatchFlags {
  std::string instance = "default";
  std::string reader;
  std::uint64_t from = 0;
  std::vector<std::string> words;
};

int run_watch(const WatchFlags& flags) {
  harness::install_interrupt_handlers();
  const std::vector<std::string_view> words(flags.words.begin(), flags.words.end());
  // A new watch wants its reader now (a typo in --reader is said at once); a resumed one
  // (--from) waits for it, as after it went away.
  std::optional<Subscription> subscription;
  if (flags.from == 0) subscription = Subscription::open(flags.instance, flags.reader, words, 0);
  std::uint64_t last_seq = flags.from;
  bool said_gone = false;
  if (!subscription) {
    fmt::print(stderr, "evring watch: resuming after seq {} once reader \"{}\" answers\n", last_seq,
               flags.reader);
  }
  while (!harness::interrupted()) {
    if (!subscription) {
      try {
        subscription = Subscription::open(flags.instance, flags.reader, words, last_seq);
        said_gone = false;
      } catch (const Error& e) {
        // A reader just restarted may still hold the slots of clients that went.
        if (e.code() != ErrorCode::no_reader && e.code() != ErrorCode::io &&
            e.code() != ErrorCode::resource) {
          throw;
        }
        std::this_thread::sleep_for(kRetry);
        continue;
      }
    }
    try {
      const std::optional<WatchLine> line = subscription->next(kLook);
      if (!line) continue;
      std::fwrite(line->raw.data(), 1, line->raw.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
      last_seq = subscription->last_seq();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::io) throw;
      subscription.reset();
      if (!said_gone) {
        fmt::print(stderr,
                   "evring watch: reader \"{}\" went away ({}); waiting for it to come back, "
                   "to resume after seq {} (Ctrl-C to stop)\n",
                   flags.reader, e.what(), last_seq);
        said_gone = true;
      }
    }
  }
  return kExitOk;
}

}  // namespace

Command add_watch_command(CLI::App& parent) {
  auto flags = std::make_shared<WatchFlags>();
  CLI::App* app = parent.add_subcommand(
      "watch", "subscribe to a query of a reader's view: its result, then every change");
  app->footer(kWatchFooter);
  app->add_option("--name", flags->instance, "instance name")->capture_default_str();
  app->add_option("--reader", flags->reader,
                  "the reader's id (evring-reader --id; see evring stat)")
      ->required();
  cli::add_count_option(*app, "--from", flags->from,
                        "resume after this seq (the last one a watch printed)");
  app->add_option("words", flags->words, "the query, e.g. get greeting")->required();
  app->positionals_at_end();
  app->prefix_command(false);
  return Command{app, [flags] { return run_watch(*flags); }};
}

}  // namespace evring::tools
