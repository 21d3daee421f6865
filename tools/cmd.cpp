// evring cmd: submits one command, as words of text the writer's domain parses.
//   accepted   prints seq=<n>, exit 0
//   duplicate  prints seq=<the original's> (and a note on stderr), exit 0
//   rejected   prints rejected: <reason>, exit 3
//   malformed, or no such instance / writer not running: a message on stderr, exit 2
// Through the writer's shared-memory intake, or its Unix socket (--socket PATH; also, by
// itself, when the segments refuse us and the instance's default socket exists).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/values.hpp"
#include "command.hpp"
#include "evring/client.hpp"
#include "evring/command.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"
#include "exit_status.hpp"
#include "gateway.hpp"

namespace evring::tools {
namespace {

constexpr const char* kCmdFooter = R"(Examples:
  evring cmd --name orders open alice
  evring cmd --name orders deposit alice 100
  evring cmd --name orders --id transfer-42 transfer alice bob 25
  evring cmd --name cache put greeting "hello world"
  evring cmd --socket /run/user/1000/evring/orders.sock deposit alice 100
  evring cmd --via nats://10.0.0.5:4222 --name orders --id req-7 deposit alice 100
  evring cmd --name cache --value-file ./blob.txt put blob   # the file is the last word
  printf 'a b' | evring cmd --name cache --value-file - put spaced
Flags come before the words: every word after the first is the command's.
A command id (--id) makes a retry safe: a command whose id the writer has seen recently
is not applied again; it answers with the seq of the first. --timeout (default 5s) bounds
the wait for the writer's answer; a command that timed out may still be applied, so
resubmit it with the same --id (without one a retry may apply it twice).
A command is at most 16 KiB of text in all (words and --value-file together).
Exit status: 0 accepted, 3 rejected by the domain, 2 malformed, timed out or any other error.
)";

struct CmdFlags {
  std::string instance = "default";
  std::string id;
  std::string socket;  // submit through this socket instead of shared memory
  std::string via;     // submit through this NATS server's gateway (nats://HOST:PORT)
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  std::string value_file;  // its contents are the last word; "-": standard input
  std::vector<std::string> words;
};

// The whole of `path` ("-": standard input), refused past the command size limit.
std::string read_value(const std::string& path) {
  std::string value;
  std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                "--value-file " + path + ": cannot open it: " + errno_text(errno));
  }
  char buffer[4096];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, file)) != 0;) {
    value.append(buffer, got);
    if (value.size() > kMaxCommandBytes) break;
  }
  const bool failed = std::ferror(file) != 0;
  if (file != stdin) std::fclose(file);
  if (failed) throw Error(ErrorCode::io, "--value-file " + path + ": cannot read it");
  if (value.size() > kMaxCommandBytes) {
    throw Error(ErrorCode::invalid_argument,
                "--value-file " + path + " holds more than a command may (" +
                    std::to_string(kMaxCommandBytes >> 10) +
                    " KiB in all): store large values elsewhere and submit a reference");
  }
  return value;
}

CommandReply submit(const CmdFlags& flags, std::span<const std::string_view> words) {
  const auto through_socket = [&](const std::filesystem::path& path) {
    SocketClient socket = SocketClient::connect(path);
    socket.set_reply_timeout(flags.timeout);
    return socket.submit_text(words, flags.id);
  };
  if (!flags.socket.empty()) return through_socket(flags.socket);
  if (!flags.via.empty()) {
    return remote::submit_via_nats(flags.via, flags.instance, words, flags.id, flags.timeout);
  }
  std::optional<Client> client;
  ClientOptions options;
  options.reply_timeout_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(flags.timeout).count();
  try {
    client.emplace(Client::connect(flags.instance, options));
  } catch (const Error& e) {
    // The segments are another user's (mode 0600): the writer's socket may let us in.
    const std::filesystem::path path = default_socket_path(flags.instance);
    std::error_code ec;
    if (e.code() != ErrorCode::permission_denied || !std::filesystem::exists(path, ec)) throw;
    try {
      return through_socket(path);
    } catch (const Error& refused) {
      if (refused.code() == ErrorCode::timed_out) throw;
      throw e;  // the socket did not help either: the first refusal says more
    }
  }
  return client->submit_text(words, flags.id);
}

int run_cmd(const CmdFlags& flags) {
  std::vector<std::string_view> words(flags.words.begin(), flags.words.end());
  const std::string value = flags.value_file.empty() ? std::string() : read_value(flags.value_file);
  if (!flags.value_file.empty()) words.push_back(value);
  const CommandReply reply = submit(flags, words);
  switch (reply.status) {
    case ReplyStatus::accepted:
      fmt::print("seq={}\n", reply.seq);
      return kExitOk;
    case ReplyStatus::duplicate:
      fmt::print("seq={}\n", reply.seq);
      fmt::print(stderr,
                 "evring cmd: duplicate: command id \"{}\" was accepted before as seq {}; "
                 "nothing was applied again\n",
                 flags.id, reply.seq);
      return kExitOk;
    case ReplyStatus::rejected:
      break;
  }
  if (reply.code == RejectCode::malformed) {
    fmt::print(stderr, "evring cmd: malformed command: {}\n", reply.reason);
    return kExitError;
  }
  fmt::print("rejected: {}\n", reply.reason);
  return kExitRejected;
}

}  // namespace

Command add_cmd_command(CLI::App& parent) {
  auto flags = std::make_shared<CmdFlags>();
  CLI::App* app = parent.add_subcommand("cmd", "submit one command to an instance's writer");
  app->footer(kCmdFooter);
  app->add_option("--name", flags->instance, "instance name")->capture_default_str();
  app->add_option("--id", flags->id, "command id, for safe retries (at most 64 bytes)");
  app->add_option("--socket", flags->socket,
                  "submit through this Unix socket of a writer started with --socket (for "
                  "users who cannot map its shared memory)");
  app->add_option("--via", flags->via,
                  "submit through evring gateway on this NATS server (nats://HOST:PORT), from "
                  "another machine");
  cli::add_duration_option(*app, "--timeout", flags->timeout,
                           "how long to wait for the writer's answer (a command that timed out "
                           "may still be applied: resubmit it with the same --id)");
  app->add_option("--value-file", flags->value_file,
                  "a file (- for standard input) whose contents are the command's last word");
  app->add_option("words", flags->words, "the command, e.g. deposit alice 100")->required();
  // Words may look like flags (negative amounts): everything after them is a word.
  app->positionals_at_end();
  app->prefix_command(false);
  return Command{app, [flags] { return run_cmd(*flags); }};
}

}  // namespace evring::tools
