// evring demo: the first hour in one command. Starts a real evring-writer (bank domain,
// async journal) and three evring-readers (bank, stats, tail to a file) on a fresh instance
// in a temporary folder, drives a workload from two client processes while it shows
// progress, then prints the views' answers (and checks the bank's invariant), evring stat's
// table and the latency percentiles. Every way out (the end, an error, Ctrl-C) stops what it
// started with SIGTERM, so the writer removes its segments, then removes the folder; with
// --keep the instance stays up and the demo prints what to try next.

#include <fmt/format.h>
#include <unistd.h>

#include "command.hpp"
#include "demo_run.hpp"
#include "evring/clock.hpp"
#include "exit_status.hpp"
#include "shm/registry.hpp"

namespace evring::tools {
namespace {

using namespace demo;

constexpr const char* kDemoFooter = R"(Examples:
  evring demo                          # the whole tour, under a minute
  evring demo --commands 50000 --latency-samples 2000   # a shorter one
  evring demo --keep                   # leave the instance running and try it yourself
  evring demo --remote                 # and a reader fed through NATS JetStream (nats-server)
The instance is named demo-<pid> unless --name says otherwise; its journal, checkpoints and
logs go to a fresh folder under --dir (default /tmp). At the end, on error or on Ctrl-C the
demo stops its writer and readers (each removes its segments and socket) and removes that
folder. Exit status 0 on success, 2 on error or interrupt.)";

void check_config(const DemoConfig& config) {
  validate_instance_name(config.instance);
  if (config.commands < kClients || config.commands > 100'000'000) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--commands {}: give 2 to 100000000", config.commands));
  }
  if (config.accounts < 2 || config.accounts > 1'000'000) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--accounts {}: give 2 to 1000000", config.accounts));
  }
  if (config.latency_samples < 1 || config.latency_samples > 10'000'000) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--latency-samples {}: give 1 to 10000000", config.latency_samples));
  }
}

int run_demo(DemoConfig config) {
  if (config.instance.empty()) config.instance = "demo-" + std::to_string(::getpid());
  check_config(config);
  harness::install_interrupt_handlers();
  const std::int64_t started = monotonic_ns();
  try {
    DemoRun run(config);
    run.start();
    run.open_accounts();
    run.run_workload();
    run.measure_latency();
    run.report();
    if (config.keep) {
      run.keep();
      return kExitOk;
    }
  } catch (const Error& e) {
    // ~DemoRun has run: the processes are stopped and the folder removed.
    if (!interrupted()) throw;
    fmt::print(stderr,
               "\nevring demo: interrupted; stopped the writer, readers and clients and removed "
               "instance {} and its folder\n",
               config.instance);
    return kExitError;
  }
  fmt::print(
      "\nstopped the writer and readers, removed instance {} and its folder; {:.1f} s "
      "in all\n",
      config.instance, static_cast<double>(monotonic_ns() - started) / 1e9);
  return kExitOk;
}

}  // namespace

Command add_demo_command(CLI::App& parent) {
  auto config = std::make_shared<DemoConfig>();
  CLI::App* app = parent.add_subcommand(
      "demo",
      "start a writer and three readers on a fresh instance, drive a workload, show the views, "
      "evring stat and latencies, then clean up");
  app->footer(kDemoFooter);
  app->add_option("--name", config->instance, "instance name (default: demo-<pid>)");
  app->add_option("--commands", config->commands, "commands the two clients send in all")
      ->capture_default_str();
  app->add_option("--accounts", config->accounts, "bank accounts to open")->capture_default_str();
  app->add_option("--latency-samples", config->latency_samples,
                  "commands sent one at a time for the latency figures")
      ->capture_default_str();
  app->add_option("--dir", config->dir, "where the demo's temporary folder goes")
      ->capture_default_str();
  app->add_flag("--keep", config->keep,
                "leave the instance running at the end and print what to try next");
  app->add_flag("--remote", config->remote,
                "also start nats-server (JetStream), evring bridge and a bank reader fed from "
                "the stream, shown beside the local one (docs/remote.md)");
  return {app, [config] { return run_demo(*config); }};
}

}  // namespace evring::tools
