#include "journal/journal_folder.hpp"

#include <cerrno>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"

namespace fs = std::filesystem;

namespace evring {

JournalLock::JournalLock(const fs::path& directory) {
  std::error_code ec;
  // Owner-only when new (the journal grants a group, if asked, on its files).
  if (directory.has_parent_path()) fs::create_directories(directory.parent_path(), ec);
  const int made = ec ? ec.value() : (::mkdir(directory.c_str(), 0700) == 0 ? 0 : errno);
  if (made != 0 && made != EEXIST) {
    throw Error(made == EACCES || made == EROFS || made == EPERM ? ErrorCode::permission_denied
                                                                 : ErrorCode::io,
                "cannot create the journal folder " + directory.string() + ": " + errno_text(made) +
                    " (choose a writable --journal folder)");
  }
  const fs::path path = directory / "writer.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    const int err = errno;
    throw Error(err == EACCES || err == EROFS ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot open " + path.string() + ": " + errno_text(err) +
                    " (choose a writable --journal folder)");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    const ssize_t got = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorCode::writer_running,
                "journal " + directory.string() + " is in use by another evring-writer" +
                    (got > 0 ? " (pid " + std::string(holder, static_cast<std::size_t>(got)) + ")"
                             : std::string()) +
                    ": stop it first, or give this one another --journal");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t wrote = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

JournalLock::JournalLock(JournalLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

JournalLock& JournalLock::operator=(JournalLock&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);
}

void check_journal_domain(const fs::path& directory, const DomainRecord& domain) {
  const std::optional<DomainRecord> recorded = read_journal_domain(directory);
  if (recorded && recorded->name != domain.name) {
    throw Error(ErrorCode::incompatible,
                "journal " + directory.string() + " holds events of domain \"" + recorded->name +
                    "\", but this writer runs domain \"" + domain.name + "\": use --domain " +
                    (recorded->library.empty() ? recorded->name : recorded->library) +
                    ", or another --journal");
  }
  if (!recorded || recorded->library != domain.library) write_journal_domain(directory, domain);
}

}  // namespace evring
