// How main.cpp meets the subcommands: each subcommand file adds itself to the command line
// and hands back what to run if the user chose it.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace evring::tools {

struct Command {
  CLI::App* app = nullptr;   // parsed into by CLI11; chosen when *app is true
  std::function<int()> run;  // returns the exit status; throws evring::Error on failure
};

// One per subcommand file.
Command add_bridge_command(CLI::App& parent);
Command add_cmd_command(CLI::App& parent);
Command add_demo_command(CLI::App& parent);
Command add_gateway_command(CLI::App& parent);
Command add_journal_command(CLI::App& parent);
Command add_ls_command(CLI::App& parent);
Command add_query_command(CLI::App& parent);
Command add_rm_command(CLI::App& parent);
Command add_stat_command(CLI::App& parent);
Command add_tail_command(CLI::App& parent);
Command add_watch_command(CLI::App& parent);

}  // namespace evring::tools
