// Where an instance keeps its files when no flag says otherwise.
//   data folder     $XDG_STATE_HOME/evring, else ~/.local/state/evring: journals, snapshots
//   runtime folder  $XDG_RUNTIME_DIR/evring, else /tmp/evring-<uid>: sockets
#pragma once

#include <filesystem>
#include <string>

namespace evring {

std::filesystem::path default_data_folder();
std::filesystem::path default_runtime_folder();
// <data folder>/<instance>/journal
std::filesystem::path default_journal_folder(const std::string& instance);

}  // namespace evring
