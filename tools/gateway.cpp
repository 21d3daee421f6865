// evring gateway: serves an instance's command subject on a NATS server, so clients on
// other machines submit commands (evring cmd --via); remote/gateway.hpp has the wire.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/program.hpp"
#include "command.hpp"
#include "exit_status.hpp"
#include "gateway.hpp"
#include "nats_link.hpp"

namespace evring::tools {
namespace {

constexpr const char* kGatewayFooter = R"(Examples:
  evring gateway --name orders --to nats://10.0.0.5:4222
Then, on another machine:
  evring cmd --via nats://10.0.0.5:4222 --name orders --id req-42 deposit alice 100
Requests come on evring.<name>.commands; each is submitted to the writer on this machine
and answered with its seq or its rejection. A command id (--id) makes a retry apply once.
Several gateways of one instance share the requests (a queue group).
Exit status: 0 at SIGINT or SIGTERM, 2 on any error.
)";

}  // namespace

Command add_gateway_command(CLI::App& parent) {
  auto options = std::make_shared<remote::GatewayOptions>();
  auto to = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand(
      "gateway", "serve an instance's commands to other machines through NATS request/reply");
  app->footer(kGatewayFooter);
  app->add_option("--name", options->instance, "instance name")->capture_default_str();
  app->add_option("--to", *to, "the NATS server, nats://HOST:PORT")->required();
  app->add_option("--subject", options->subject,
                  "the command subject (default evring.<name>.commands)");
  return Command{app, [options, to] {
                   options->server = remote::parse_nats_url(*to).server;
                   const std::atomic<bool>& stop = cli::stop_on_signals();
                   const auto gateway = remote::Gateway::start(
                       *options, stderr_log("evring gateway", LogLevel::info));
                   gateway->run(stop);
                   return kExitOk;
                 }};
}

}  // namespace evring::tools
