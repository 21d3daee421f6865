// evring query: asks one reader's view, through its query socket (evring/query_client.hpp).
//   answered  prints the reply line as the reader sent it, exit 0
//   stale     (--after not reached within --timeout) prints the reply, exit 4
//   error     (the view refused the words) prints the reply, exit 2
//   no such reader, bad flags, the reader went away: a message on stderr, exit 2
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/values.hpp"
#include "command.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "exit_status.hpp"
#include "shm/registry.hpp"

namespace evring::tools {
namespace {

constexpr const char* kQueryFooter = R"(Examples:
  evring query --name orders --reader bank-1 balance alice
  evring query --name orders --reader bank-1 top 10
  evring query --name cache --reader kv-1 get greeting
  evring query --name orders --reader bank-1 --after 42 --timeout 2s total
With --after SEQ (the seq=<n> that evring cmd printed) the reader answers only once its
view has applied SEQ: read-your-writes. If it gets there within --timeout (500ms, 2s, 1m,
or plain milliseconds; default 5s), the reply is as of SEQ or later; if not, the reply is
{"stale": true, "as_of_seq": N}.
The reply is one JSON line: {"as_of_seq": N, "result": ...} or {"as_of_seq": N, "error": ...}.
Exit status: 0 answered, 4 stale, 2 an error reply or any other error.
)";

struct QueryFlags {
  std::string instance = "default";
  std::string reader;
  std::uint64_t after = 0;
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  std::vector<std::string> words;
};

// The writer's head, for a stale reply's message; nullopt when no writer runs.
std::optional<std::uint64_t> writer_head(const std::string& instance) {
  try {
    const Registry registry = Registry::open(instance, Access::read_only);
    // relaxed: an informational snapshot for a message.
    return registry.layout().writer.head_seq.load(std::memory_order_relaxed);
  } catch (const Error&) {
    return std::nullopt;
  }
}

int run_query(const QueryFlags& flags) {
  const std::vector<std::string_view> words(flags.words.begin(), flags.words.end());
  QueryClient client = QueryClient::connect(flags.instance, flags.reader);
  const QueryReply reply = client.query(words, flags.after, flags.timeout);
  fmt::print("{}\n", reply.raw);
  if (reply.stale) {
    const std::optional<std::uint64_t> head = writer_head(flags.instance);
    if (head && *head < flags.after) {
      fmt::print(stderr,
                 "evring query: stale: seq {} has not been written yet (the head of instance "
                 "\"{}\" is seq {}): pass the seq that evring cmd printed\n",
                 flags.after, flags.instance, *head);
    } else {
      fmt::print(stderr,
                 "evring query: stale: reader \"{}\" had applied only seq {} when --timeout {} "
                 "ran out, not --after {}: try a longer --timeout, or see how far behind it is "
                 "with evring stat --name {}\n",
                 flags.reader, reply.as_of_seq, cli::duration_text(flags.timeout), flags.after,
                 flags.instance);
    }
    return kExitStale;
  }
  if (reply.error) {
    fmt::print(stderr, "evring query: the view of reader \"{}\" answered with an error: {}\n",
               flags.reader, *reply.error);
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

Command add_query_command(CLI::App& parent) {
  auto flags = std::make_shared<QueryFlags>();
  CLI::App* app = parent.add_subcommand("query", "ask a reader's view; prints its JSON reply");
  app->footer(kQueryFooter);
  app->add_option("--name", flags->instance, "instance name")->capture_default_str();
  app->add_option("--reader", flags->reader,
                  "the reader's id (evring-reader --id; see evring stat)")
      ->required();
  cli::add_count_option(*app, "--after", flags->after,
                        "answer once the view has applied this seq (read-your-writes)");
  cli::add_duration_option(*app, "--timeout", flags->timeout,
                           "how long --after may wait: 500ms, 2s, 1m, 1h or plain milliseconds");
  app->add_option("words", flags->words, "the query, e.g. balance alice")->required();
  // Words may look like flags: everything after them is a word.
  app->positionals_at_end();
  app->prefix_command(false);
  return Command{app, [flags] { return run_query(*flags); }};
}

}  // namespace evring::tools
