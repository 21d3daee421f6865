// evring bridge: publishes an instance's events into a NATS JetStream stream, exactly once,
// in seq order (remote/bridge.hpp says how). Runs until SIGINT or SIGTERM.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "bridge.hpp"
#include "cli/program.hpp"
#include "cli/values.hpp"
#include "command.hpp"
#include "exit_status.hpp"
#include "nats_link.hpp"

namespace evring::tools {
namespace {

constexpr const char* kBridgeFooter = R"(Examples:
  evring bridge --name orders --to nats://10.0.0.5:4222
  evring bridge --name orders --to nats://10.0.0.5:4222 --stream ORDERS --window 1024
Then, on another machine:
  evring-reader --name orders --source nats://10.0.0.5:4222 --view bank --id bank-remote
The stream (default EVRING_<name>, subject evring.<name>.events, file storage) is created
if it does not exist; its seq is the evring seq. Stopped or killed, the bridge resumes
where the stream ends; nothing is published twice or skipped. It shows in evring stat as
reader "bridge" with view "bridge", at the last seq the stream confirmed.
Exit status: 0 at SIGINT or SIGTERM, 2 on any error.
)";

struct BridgeFlags {
  remote::BridgeOptions options;
  std::string to;
  std::uint64_t window = 512;
  std::chrono::milliseconds duplicate_window = std::chrono::minutes(2);
};

int run_bridge(BridgeFlags& flags) {
  const remote::NatsUrl url = remote::parse_nats_url(flags.to);
  flags.options.server = url.server;
  if (flags.options.stream.stream.empty()) flags.options.stream.stream = url.stream;
  flags.options.window = flags.window;
  flags.options.stream.duplicate_window_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(flags.duplicate_window).count();
  const std::atomic<bool>& stop = cli::stop_on_signals();
  const auto bridge =
      remote::Bridge::start(flags.options, stderr_log("evring bridge", LogLevel::info));
  bridge->run(stop);
  return kExitOk;
}

}  // namespace

Command add_bridge_command(CLI::App& parent) {
  auto flags = std::make_shared<BridgeFlags>();
  CLI::App* app =
      parent.add_subcommand("bridge", "publish an instance's events into NATS JetStream");
  app->footer(kBridgeFooter);
  app->add_option("--name", flags->options.instance, "instance name")->capture_default_str();
  app->add_option("--to", flags->to, "the NATS server, nats://HOST:PORT[/STREAM]")->required();
  app->add_option("--stream", flags->options.stream.stream,
                  "the JetStream stream (default EVRING_<name>)");
  app->add_option("--subject", flags->options.stream.subject,
                  "the subject of its events (default evring.<name>.events)");
  app->add_option("--replicas", flags->options.stream.replicas,
                  "copies of the stream in a JetStream cluster, when the bridge creates it")
      ->capture_default_str();
  app->add_option("--journal", flags->options.journal,
                  "the writer's journal folder (default: where it says)");
  cli::add_count_option(*app, "--window", flags->window, "publishes in flight, unacked", 1)
      ->capture_default_str();
  cli::add_duration_option(*app, "--ack-timeout", flags->options.ack_timeout,
                           "how long an ack may take before the bridge resends from the journal");
  cli::add_duration_option(*app, "--duplicate-window", flags->duplicate_window,
                           "how long the server remembers message ids, when the bridge creates "
                           "the stream");
  return Command{app, [flags] { return run_bridge(*flags); }};
}

}  // namespace evring::tools
