// evring::Error: every failure a user can meet, with a code the tools map to exit codes
// and a message that says what went wrong and what to do next.
#pragma once

#include <stdexcept>
#include <string>

namespace evring {

enum class ErrorCode {
  invalid_argument,   // a flag, name or size that cannot work
  no_instance,        // nothing by that name (no writer ever started, or it exited)
  writer_running,     // another live writer owns the instance
  writer_gone,        // the writer died; its segment is still there
  incompatible,       // a segment or file of another layout or version
  permission_denied,  // the OS refused access to a segment or file
  resource,           // out of shared memory, disk, slots, ...
  corrupt,            // data that fails validation where it must not
  io,                 // any other system call failure
  plugin_failed,      // a domain or view plugin failed (a poison event, a failed restore)
  history_changed,    // the instance's history started again (journal.hpp, HISTORY)
  timed_out,          // no answer within the time the caller gave
  no_reader,          // the instance has no reader by that id
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// "errno text" for messages, thread-safe.
std::string errno_text(int err);

}  // namespace evring
