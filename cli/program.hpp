// How an evring program reads its command line: CLI11 parses, and what CLI11 refuses is
// told as every other error of ours is, with the program's name first, then an example
// from the (sub)command's own footer and where the flags are listed.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace evring::cli {

// Adds --version to `app`: "program (evring) X.Y.Z", the project's version, the first line
// help2man reads for the man pages. parse_command_line adds it itself.
void add_version_flag(CLI::App& app, const std::string& program);

// Parses argv into `app` (named `program`, e.g. "evring-writer"), with --version. Returns
// the exit status when the program must end now: 0 after --help or --version, 2 after a
// parse error (printed on stderr as "program: message", an example and the --help to run).
// nullopt: go on.
std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc,
                                      char** argv);

// SIGINT and SIGTERM ask a long-running program to stop cleanly: they set the flag this
// returns, which its loop polls (a signal also cuts a sleep short). Once, before the loop.
const std::atomic<bool>& stop_on_signals();

// Runs a program's body and returns its exit status; an error it throws is told on stderr
// as "program: message" ("program: unexpected error: ..." for one not of ours), status 2.
int run_program(const std::string& program, const std::function<int()>& body);

}  // namespace evring::cli
