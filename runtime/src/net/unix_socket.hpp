// Unix stream sockets for the two servers of evring (a reader's query socket, the writer's
// command socket) and their clients: the address, the listener with its stale-file check,
// and connecting. Every message names what to do; the words of that advice come from the
// caller, who knows its flags.
#pragma once

#include <filesystem>
#include <string>

#include <sys/types.h>
#include <sys/un.h>

#include "net/fd.hpp"

namespace evring::net {

// The address of `path`; Error(invalid_argument) "<kind> path ... must be 1 to 107 bytes
// long[: fix]" for one that does not fit.
sockaddr_un unix_address(const std::filesystem::path& path, const std::string& kind,
                         const std::string& fix = {});

// A connected, blocking socket, or an invalid Fd and `err` (errno of socket() or connect()).
Fd connect_unix(const sockaddr_un& address, int& err);

struct ListenerOptions {
  std::filesystem::path path;            // the socket file; its folder is created 0700 if missing
  mode_t mode = 0600;                    // of the socket file: who may connect
  gid_t group = static_cast<gid_t>(-1);  // the socket file's group; -1: the creator's
  int backlog = 64;
  // For messages: "query socket"; "another evring-reader listens on {}: choose another
  // --id" ({} is the path), "choose another --id" (for a file in the way), and what to do
  // when the folder or the file cannot be made.
  std::string kind = "socket";
  std::string in_use = "another process listens on {}: choose another path";
  std::string choose_other = "choose another path";
  std::string folder_fix;
  std::string long_path_fix = "choose a shorter path";
};

// A listening, non-blocking socket bound to a file that it removes when it goes (only its
// own: a successor may have replaced a file it left). A socket file whose listener is gone
// (kill -9 leaves it behind) is replaced; a live one is Error(writer_running) with the
// in_use message; something that is not a socket is refused.
class UnixListener {
 public:
  UnixListener() = default;
  explicit UnixListener(const ListenerOptions& options);
  UnixListener(UnixListener&& other) noexcept;
  UnixListener& operator=(UnixListener&& other) noexcept;
  ~UnixListener() { close(); }

  int fd() const noexcept { return fd_.get(); }
  const std::filesystem::path& path() const noexcept { return path_; }
  // Whether it replaced a dead listener's file (for the operator's log).
  bool replaced_stale() const noexcept { return replaced_stale_; }
  // Stops listening and removes the file, if still ours. Idempotent.
  void close() noexcept;

 private:
  Fd fd_;
  std::filesystem::path path_;
  dev_t dev_ = 0;  // the file we bound
  ino_t ino_ = 0;
  bool replaced_stale_ = false;
};

}  // namespace evring::net
