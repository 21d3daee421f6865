// evring: the command-line tool. Parses the command line, runs the chosen subcommand, and
// turns any failure into a message and exit status 2 (exit_status.hpp).
#include <cstdio>
#include <exception>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/program.hpp"
#include "command.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"

namespace {

constexpr const char* kFooter = R"(Examples:
  evring cmd --name orders deposit alice 100   # submit a command: prints seq=<n>
  evring query --name orders --reader bank-1 --after 42 balance alice   # ask a reader's view
  evring watch --name orders --reader bank-1 balance alice   # the result, then each change
  evring stat --name orders --watch    # writer and readers, live: alive, lag, rates
  evring stat --name orders --json     # one snapshot for scripts (or --prometheus)
  evring tail --name orders            # events as they come, until Ctrl-C
  evring tail --name orders --from 1 --count 10 --json   # the first ten, from the journal
  evring demo                      # a writer, 3 readers, 2 clients: views, stat, latency
  evring demo --keep               # ... and leave the instance running to try it yourself
  evring demo --help               # every demo flag
  evring ls                        # this machine's instances: live, stopped, on disk
  evring rm --name orders          # remove a stopped instance's state (start over)
  evring journal verify --name orders   # every CRC and seq of the journal, also offline
  evring journal info --name orders     # its segments, seq ranges, history, writer
  evring journal export --name orders --from 100 --to 200   # records as JSON lines
  evring bridge --name orders --to nats://HOST:4222    # the events into NATS JetStream
  evring gateway --name orders --to nats://HOST:4222   # commands from other machines
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace evring::tools;

  CLI::App app{"evring: the command-line tool of the evring event runtime."};
  app.footer(kFooter);
  app.require_subcommand(1, 1);
  const std::vector<Command> commands{
      add_cmd_command(app),     add_query_command(app),  add_watch_command(app),
      add_stat_command(app),    add_tail_command(app),   add_demo_command(app),
      add_ls_command(app),      add_rm_command(app),     add_bridge_command(app),
      add_gateway_command(app), add_journal_command(app)};

  if (const auto status = evring::cli::parse_command_line(app, "evring", argc, argv)) {
    return *status;
  }

  try {
    for (const Command& command : commands) {
      if (*command.app) return command.run();
    }
    return kExitError;  // unreachable: require_subcommand(1, 1)
  } catch (const evring::Error& e) {
    fmt::print(stderr, "evring: {}\n", describe(e));
  } catch (const std::exception& e) {
    fmt::print(stderr, "evring: unexpected error: {}\n", e.what());
  }
  return kExitError;
}
