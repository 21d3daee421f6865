#include "sys/paths.hpp"

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace evring {
namespace {

std::filesystem::path from_env(const char* name) {
  const char* value = std::getenv(name);
  // The XDG spec: a relative path is invalid and must be ignored.
  if (value == nullptr || value[0] != '/') return {};
  return value;
}

}  // namespace

std::filesystem::path default_data_folder() {
  if (auto state = from_env("XDG_STATE_HOME"); !state.empty()) return state / "evring";
  if (auto home = from_env("HOME"); !home.empty()) return home / ".local" / "state" / "evring";
  return default_runtime_folder() / "state";
}

std::filesystem::path default_runtime_folder() {
  if (auto runtime = from_env("XDG_RUNTIME_DIR"); !runtime.empty()) return runtime / "evring";
  return std::filesystem::path("/tmp") / ("evring-" + std::to_string(::getuid()));
}

std::filesystem::path default_journal_folder(const std::string& instance) {
  return default_data_folder() / instance / "journal";
}

}  // namespace evring
