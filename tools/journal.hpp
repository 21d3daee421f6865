// What the `evring journal` subcommands share (journal.cpp): their flags, finding the
// journal they work on, and whether a writer holds it. Each subcommand is a file of its
// own: journal_verify.cpp, journal_info.cpp, journal_export.cpp.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "command.hpp"

namespace evring::tools {

struct JournalToolFlags {
  std::string instance = "default";
  std::filesystem::path journal;  // when given, instead of the instance's
  std::uint64_t from = 0;         // 0: from the oldest record on disk
  std::uint64_t to = 0;           // 0: to the newest
  bool json = false;
  bool no_archive = false;  // verify: the live folder only
};

// --name, --journal, --from, --to on `app`, and --json if `json`.
void add_journal_tool_flags(CLI::App& app, JournalToolFlags& flags, bool json);

// The folder of the journal the flags name: --journal's, or for --name the one the
// instance's writer records in its registry, else the instance's default. Error(no_instance)
// saying what to give when there is none, or it holds no segment.
std::filesystem::path journal_folder(const JournalToolFlags& flags);

// The pid of the writer holding <folder>/writer.lock (its flock, as /proc/locks shows it);
// std::nullopt when none does. Never takes the lock: a writer starting now must not fail.
std::optional<pid_t> journal_writer_pid(const std::filesystem::path& folder);

// holds and release (journal_holds.cpp): subcommands of `journal`, added by
// add_journal_command.
Command add_journal_holds_command(CLI::App& journal);
Command add_journal_release_command(CLI::App& journal);

int run_journal_verify(const JournalToolFlags& flags);
int run_journal_info(const JournalToolFlags& flags);
int run_journal_export(const JournalToolFlags& flags);

}  // namespace evring::tools
