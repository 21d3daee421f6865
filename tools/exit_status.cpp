#include "exit_status.hpp"

namespace evring::tools {
namespace {

const char* kind_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid argument";
    case ErrorCode::no_instance:
      return "no such instance";
    case ErrorCode::writer_running:
      return "instance in use";
    case ErrorCode::writer_gone:
      return "writer not running";
    case ErrorCode::incompatible:
      return "incompatible segment";
    case ErrorCode::permission_denied:
      return "permission denied";
    case ErrorCode::resource:
      return "out of resources";
    case ErrorCode::corrupt:
      return "corrupt data";
    case ErrorCode::io:
      return "system error";
    case ErrorCode::plugin_failed:
      return "plugin failed";
    case ErrorCode::history_changed:
      return "history changed";
    case ErrorCode::timed_out:
      return "timed out";
    case ErrorCode::no_reader:
      return "no such reader";
  }
  return "error";
}

// Remedies that the runtime's message cannot know, because they depend on the machine.
const char* hint_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::permission_denied:
      return "an instance is its writer's user's only, unless the writer grants a group "
             "(--group, --group-submit; docs/writer.md, \"Access\")";
    case ErrorCode::resource:
      return "check free space in /dev/shm (df -h /dev/shm) and remove /dev/shm/evring.* "
             "objects of instances that no longer run";
    case ErrorCode::corrupt:
      // Disk damage as often as a bug: send the user to the tool that tells them apart.
      return "evring journal verify --name N (or --journal DIR) names the first bad record; "
             "if the disk is sound, this is a bug in evring: please report it with the "
             "command you ran";
    default:
      return nullptr;
  }
}

}  // namespace

std::string describe(const Error& error) {
  std::string text = std::string(kind_of(error.code())) + ": " + error.what();
  if (const char* hint = hint_for(error.code())) text += "\n  hint: " + std::string(hint);
  return text;
}

}  // namespace evring::tools
