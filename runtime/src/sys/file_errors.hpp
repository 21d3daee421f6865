// File-system calls shared by the journal and the snapshot files, and the errors they turn
// the OS's refusals into: each names the path, the reason and what the user can change.
// Internal to libevring; any thread.
#pragma once

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"

namespace evring::detail {

// `folder` names where the path came from in the user's words ("--journal folder"), so the
// advice points at the setting to change.
[[noreturn]] inline void throw_file_error(const std::string& what,
                                          const std::filesystem::path& path, int err,
                                          std::string_view folder) {
  const std::string base = what + " " + path.string() + ": " + errno_text(err);
  if (err == EACCES || err == EPERM || err == EROFS) {
    throw Error(ErrorCode::permission_denied, base + " (choose a writable " + std::string(folder) +
                                                  ", or fix its owner and mode)");
  }
  // Out of room: the cause first, since a command's refusal carries this message cut to
  // kMaxReasonBytes, and a path can be long.
  if (err == ENOSPC || err == EDQUOT) {
    throw Error(ErrorCode::resource, errno_text(err) + ": " + what + " " + path.string() +
                                         " (free disk space, or choose another " +
                                         std::string(folder) + ")");
  }
  if (err == EFBIG) {  // over the process's file size limit (ulimit -f), or the file system's
    throw Error(ErrorCode::resource, errno_text(err) + ": " + what + " " + path.string() +
                                         " (raise the file size limit, ulimit -f, or choose "
                                         "another " +
                                         std::string(folder) + ")");
  }
  throw Error(ErrorCode::io, base);
}

// The mode for a folder that holds files of `file_mode`: the same bits, plus search (x)
// wherever read is granted, so whoever may read the files may also reach them.
inline mode_t folder_mode(mode_t file_mode) {
  mode_t mode = file_mode & 0777;
  if (mode & S_IRUSR) mode |= S_IXUSR;
  if (mode & S_IRGRP) mode |= S_IXGRP;
  if (mode & S_IROTH) mode |= S_IXOTH;
  return mode;
}

// Creates `directory` (and missing parents) if it does not exist; the last component gets
// folder_mode(file_mode), less the umask. An existing folder keeps its mode.
inline void create_folder(const std::filesystem::path& directory, mode_t file_mode,
                          std::string_view folder) {
  std::error_code ec;
  if (directory.has_parent_path()) {
    std::filesystem::create_directories(directory.parent_path(), ec);
    if (ec) throw_file_error("cannot create the parent of", directory, ec.value(), folder);
  }
  if (::mkdir(directory.c_str(), folder_mode(file_mode)) != 0 && errno != EEXIST) {
    throw_file_error("cannot create", directory, errno, folder);
  }
}

// Gives `path` (a file or folder of ours) exactly `mode` and, unless kCreatorGroup, `group`:
// a grant, whatever the umask and whatever an earlier run left.
inline void grant(const std::filesystem::path& path, mode_t mode, gid_t group,
                  std::string_view folder) {
  if (::chmod(path.c_str(), mode & 07777) != 0) {
    throw_file_error("cannot set the mode of", path, errno, folder);
  }
  if (group != static_cast<gid_t>(-1) &&
      ::chown(path.c_str(), static_cast<uid_t>(-1), group) != 0) {
    const int err = errno;
    throw Error(err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot give " + path.string() + " to group " + std::to_string(group) + ": " +
                    errno_text(err) + " (the writer's user must be a member of that group)");
  }
}

// Makes the folder's entries (a created or renamed file) durable.
inline void fsync_folder(const std::filesystem::path& directory, std::string_view folder) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_file_error("cannot open", directory, errno, folder);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_file_error("cannot sync", directory, err, folder);
}

}  // namespace evring::detail
