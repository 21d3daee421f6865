// evring query: asks one reader's view, through its query socket (evring/query.hpp).
//   answered  prints the reply line as the reader sent it, exit 0
//   stale     (--after not reached within --timeout) prints the reply, exit 4
//   error     (the view refused the words) prints the reply, exit 2
//   no such reader, bad flags, the reader went away: a message on stderr, exit 2
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "command.hpp"
#include "evring/error.hpp"
#include "evring/query.hpp"
#include "exit_status.hpp"

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
  std::string timeout = "5s";
  std::vector<std::string> words;
};

// "500ms", "2s", "1m", or plain milliseconds.
std::chrono::milliseconds parse_duration(const std::string& text) {
  std::uint64_t number = 0;
  const char* const end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, number);
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  }
  // A day is far more than any query needs; it keeps the arithmetic far from overflow.
  constexpr std::uint64_t kMaxMs = 24ull * 3600 * 1000;
  if (ec != std::errc{} || rest == text.data() || scale == 0 || number > kMaxMs / scale) {
    throw Error(ErrorCode::invalid_argument,
                "--timeout \"" + text +
                    "\" is not a duration: write e.g. 500ms, 2s, 1m or plain milliseconds "
                    "(at most 24 hours)");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * scale));
}

int run_query(const QueryFlags& flags) {
  const std::chrono::milliseconds timeout = parse_duration(flags.timeout);
  const std::vector<std::string_view> words(flags.words.begin(), flags.words.end());
  QueryClient client = QueryClient::connect(flags.instance, flags.reader);
  const QueryReply reply = client.query(words, flags.after, timeout);
  fmt::print("{}\n", reply.raw);
  if (reply.stale) {
    fmt::print(stderr,
               "evring query: stale: reader \"{}\" had applied only seq {} when --timeout {} "
               "ran out, not --after {}: try a longer --timeout, or see how far behind it is "
               "with evring stat --name {}\n",
               flags.reader, reply.as_of_seq, flags.timeout, flags.after, flags.instance);
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
  app->add_option("--after", flags->after,
                  "answer once the view has applied this seq (read-your-writes)");
  app->add_option("--timeout", flags->timeout,
                  "how long --after may wait: 500ms, 2s, 1m or plain milliseconds")
      ->capture_default_str();
  app->add_option("words", flags->words, "the query, e.g. balance alice")->required();
  // Words may look like flags: everything after them is a word.
  app->positionals_at_end();
  app->prefix_command(false);
  return Command{app, [flags] { return run_query(*flags); }};
}

}  // namespace evring::tools
