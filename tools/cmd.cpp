// evring cmd: submits one command, as words of text the writer's domain parses.
//   accepted   prints seq=<n>, exit 0
//   duplicate  prints seq=<the original's> (and a note on stderr), exit 0
//   rejected   prints rejected: <reason>, exit 3
//   malformed, or no such instance / writer not running: a message on stderr, exit 2
// Through the writer's shared-memory intake, or its Unix socket (--socket PATH; also, by
// itself, when the segments refuse us and the instance's default socket exists).
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

#include "command.hpp"
#include "evring/client.hpp"
#include "evring/command.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"
#include "exit_status.hpp"

namespace evring::tools {
namespace {

constexpr const char* kCmdFooter = R"(Examples:
  evring cmd --name orders open alice
  evring cmd --name orders deposit alice 100
  evring cmd --name orders --id transfer-42 transfer alice bob 25
  evring cmd --name cache put greeting "hello world"
  evring cmd --socket /run/user/1000/evring/orders.sock deposit alice 100
A command id (--id) makes a retry safe: a command whose id the writer has seen recently
is not applied again; it answers with the seq of the first.
Exit status: 0 accepted, 3 rejected by the domain, 2 malformed or any other error.
)";

struct CmdFlags {
  std::string instance = "default";
  std::string id;
  std::string socket;  // submit through this socket instead of shared memory
  std::vector<std::string> words;
};

CommandReply submit(const CmdFlags& flags, std::span<const std::string_view> words) {
  if (!flags.socket.empty()) {
    return SocketClient::connect(flags.socket).submit_text(words, flags.id);
  }
  std::optional<Client> client;
  try {
    client.emplace(Client::connect(flags.instance));
  } catch (const Error& e) {
    // The segments are another user's (mode 0600): the writer's socket may let us in.
    const std::filesystem::path path = default_socket_path(flags.instance);
    std::error_code ec;
    if (e.code() != ErrorCode::permission_denied || !std::filesystem::exists(path, ec)) throw;
    std::optional<SocketClient> socket;
    try {
      socket.emplace(SocketClient::connect(path));
    } catch (const Error&) {
      throw e;  // the socket did not help either: the first refusal says more
    }
    return socket->submit_text(words, flags.id);
  }
  return client->submit_text(words, flags.id);
}

int run_cmd(const CmdFlags& flags) {
  const std::vector<std::string_view> words(flags.words.begin(), flags.words.end());
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
  app->add_option("words", flags->words, "the command, e.g. deposit alice 100")->required();
  // Words may look like flags (negative amounts): everything after them is a word.
  app->positionals_at_end();
  app->prefix_command(false);
  return Command{app, [flags] { return run_cmd(*flags); }};
}

}  // namespace evring::tools
