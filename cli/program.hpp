// How an evring program reads its command line: CLI11 parses, and what CLI11 refuses is
// told as every other error of ours is, with the program's name first, then an example
// from the (sub)command's own footer and where the flags are listed.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace evring::cli {

// Parses argv into `app` (named `program`, e.g. "evring-writer"). Returns the exit status
// when the program must end now: 0 after --help, 2 after a parse error (printed on stderr
// as "program: message", an example and the --help to run). nullopt: go on.
std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc,
                                      char** argv);

}  // namespace evring::cli
