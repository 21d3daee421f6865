#include "net/unix_socket.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

#include <sys/socket.h>
#include <sys/stat.h>

#include "evring/error.hpp"

namespace fs = std::filesystem;

namespace evring::net {
namespace {

ErrorCode file_error_code(int err) {
  return err == EACCES || err == EPERM || err == EROFS ? ErrorCode::permission_denied
                                                       : ErrorCode::io;
}

std::string in_use_message(const ListenerOptions& options, std::string_view remark = {}) {
  std::string text = options.in_use;
  std::string path = options.path.string();
  path += remark;
  if (const std::size_t at = text.find("{}"); at != std::string::npos) text.replace(at, 2, path);
  return text;
}

// The socket's folder: created 0700 when missing (nobody else needs to list it).
void prepare_folder(const fs::path& folder, const ListenerOptions& options) {
  if (folder.empty()) return;
  std::error_code ec;
  if (fs::is_directory(folder, ec)) return;
  fs::create_directories(folder, ec);
  if (ec) {
    throw Error(file_error_code(ec.value()), "cannot create the " + options.kind + " folder " +
                                                 folder.string() + ": " + ec.message() +
                                                 options.folder_fix);
  }
  fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
}

// A socket file at the path: refused if someone listens on it, removed if its listener is
// gone, refused if it is not a socket at all. True if it removed one.
bool clear_stale_socket(const ListenerOptions& options, const sockaddr_un& address) {
  const fs::path& path = options.path;
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return false;  // nothing there
  if (!S_ISSOCK(info.st_mode)) {
    throw Error(
        ErrorCode::invalid_argument,
        path.string() + " exists and is not a socket: remove it, or " + options.choose_other);
  }
  int err = 0;
  if (connect_unix(address, err).valid()) {
    throw Error(ErrorCode::writer_running, in_use_message(options));
  }
  if (err != ECONNREFUSED) {
    throw Error(err == EACCES || err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot probe the socket file " + path.string() + ": " + errno_text(err) +
                    " (remove it, or " + options.choose_other + ")");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw Error(ErrorCode::io,
                "cannot remove the stale socket file " + path.string() + ": " + errno_text(errno));
  }
  return true;
}

}  // namespace

sockaddr_un unix_address(const fs::path& path, const std::string& kind, const std::string& fix) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  if (text.empty() || text.size() >= sizeof address.sun_path) {
    throw Error(ErrorCode::invalid_argument, kind + " path \"" + text + "\" must be 1 to " +
                                                 std::to_string(sizeof address.sun_path - 1) +
                                                 " bytes long" +
                                                 (fix.empty() ? std::string() : ": " + fix));
  }
  std::memcpy(address.sun_path, text.data(), text.size());
  return address;
}

Fd connect_unix(const sockaddr_un& address, int& err) {
  Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) {
    err = errno;
    return socket;
  }
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    err = errno;
    socket.reset();
  }
  return socket;
}

UnixListener::UnixListener(const ListenerOptions& options) : path_(options.path) {
  const sockaddr_un address = unix_address(path_, options.kind, options.long_path_fix);
  prepare_folder(path_.parent_path(), options);
  replaced_stale_ = clear_stale_socket(options, address);

  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) {
    throw Error(ErrorCode::resource, "socket(AF_UNIX): " + errno_text(errno) +
                                         " (raise the descriptor limit, ulimit -n)");
  }
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    if (err == EADDRINUSE) {
      throw Error(ErrorCode::writer_running, in_use_message(options, " (it just started)"));
    }
    throw Error(file_error_code(err), "cannot bind the " + options.kind + " " + path_.string() +
                                          ": " + errno_text(err) + options.folder_fix);
  }
  // Before listen(): nobody can connect yet, so the umask's mode is never in force.
  struct stat info {};
  if (::chmod(path_.c_str(), options.mode & 07777) != 0 ||
      (options.group != static_cast<gid_t>(-1) &&
       ::chown(path_.c_str(), static_cast<uid_t>(-1), options.group) != 0) ||
      ::stat(path_.c_str(), &info) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    throw Error(err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot set the mode and group of " + path_.string() + ": " + errno_text(err) +
                    (err == EPERM ? " (this user must be a member of the group it grants)" : ""));
  }
  if (::listen(listener.get(), options.backlog) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    throw Error(ErrorCode::io, "cannot listen on " + path_.string() + ": " + errno_text(err));
  }
  dev_ = info.st_dev;
  ino_ = info.st_ino;
  fd_ = std::move(listener);
}

UnixListener::UnixListener(UnixListener&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      dev_(other.dev_),
      ino_(std::exchange(other.ino_, 0)),
      replaced_stale_(other.replaced_stale_) {}

UnixListener& UnixListener::operator=(UnixListener&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    ino_ = std::exchange(other.ino_, 0);
    replaced_stale_ = other.replaced_stale_;
  }
  return *this;
}

void UnixListener::close() noexcept {
  fd_.reset();
  // Only our own file: a successor may have replaced it once we stopped listening.
  struct stat info {};
  if (ino_ != 0 && ::lstat(path_.c_str(), &info) == 0 && info.st_dev == dev_ &&
      info.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
  ino_ = 0;
}

}  // namespace evring::net
