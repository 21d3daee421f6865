#include "journal/snapshot_file.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "journal/crc32c.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring {
namespace {

constexpr std::string_view kSnapshotFolder = "snapshot folder";
constexpr std::string_view kSuffix = ".snap";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr std::size_t kSeqDigits = 20;

[[noreturn]] void throw_file_error(const std::string& what, const fs::path& path, int err) {
  detail::throw_file_error(what, path, err, kSnapshotFolder);
}

void check_kind(std::string_view kind) {
  const bool fits = !kind.empty() && kind.size() <= kSnapshotKindBytes;
  const bool plain = std::all_of(kind.begin(), kind.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  if (!fits || !plain) {
    throw Error(ErrorCode::invalid_argument,
                "snapshot kind \"" + std::string(kind) +
                    "\" cannot name a file: use 1 to 16 of a-z, A-Z, 0-9, '_' and '-'");
  }
}

std::string file_name(std::string_view kind, std::uint64_t seq) {
  const std::string digits = std::to_string(seq);
  return std::string(kind) + "-" + std::string(kSeqDigits - digits.size(), '0') + digits +
         std::string(kSuffix);
}

// The seq in `name` if it is the name of a snapshot of `kind`.
std::optional<std::uint64_t> seq_from_name(std::string_view name, std::string_view kind) {
  if (name.size() != kind.size() + 1 + kSeqDigits + kSuffix.size() || !name.starts_with(kind) ||
      name[kind.size()] != '-' || !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  const char* begin = name.data() + kind.size() + 1;
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(begin, begin + kSeqDigits, seq);
  if (ec != std::errc{} || end != begin + kSeqDigits) return std::nullopt;
  return seq;
}

// Whether `name` is a temporary file a write of a `kind` snapshot made and a crash left.
bool is_temp_of(std::string_view name, std::string_view kind) {
  if (name.size() <= 1 + kTempSuffix.size() || name.front() != '.' ||
      !name.ends_with(kTempSuffix)) {
    return false;
  }
  return seq_from_name(name.substr(1, name.size() - 1 - kTempSuffix.size()), kind).has_value();
}

std::uint32_t header_crc(const SnapshotFileHeader& header) {
  return detail::crc32c(0, &header, offsetof(SnapshotFileHeader, header_crc));
}

void write_all(int fd, const void* data, std::size_t bytes, const fs::path& path) {
  const auto* p = static_cast<const std::byte*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_file_error("cannot write", path, errno);
    }
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

// Reads exactly `bytes`; false if the file ends first.
bool read_all(int fd, void* data, std::size_t bytes, const fs::path& path) {
  auto* p = static_cast<std::byte*>(data);
  while (bytes > 0) {
    const ssize_t n = ::read(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_file_error("cannot read", path, errno);
    }
    if (n == 0) return false;
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
  return true;
}

// Closes at scope exit, for the paths that throw.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting what close reports (a write-back error, on some file systems).
  int close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

void remove_file(const fs::path& path, const fs::path& written) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw_file_error("wrote " + written.filename().string() + ", but cannot remove", path, errno);
  }
}

// Removes the snapshots of `kind` beyond the `keep` newest, and the kind's temporary files.
void prune(const fs::path& directory, std::string_view kind, std::size_t keep,
           const fs::path& written) {
  const std::vector<SnapshotInfo> snapshots = list_snapshot_files(directory, kind);
  for (std::size_t i = keep; i < snapshots.size(); ++i) remove_file(snapshots[i].path, written);
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_temp_of(it->path().filename().string(), kind)) remove_file(it->path(), written);
  }
  if (ec)
    throw_file_error("wrote " + written.filename().string() + ", but cannot list", directory,
                     ec.value());
}

}  // namespace

void write_snapshot_file(const fs::path& directory, std::string_view kind, std::uint64_t seq,
                         std::span<const std::byte> body, mode_t mode, std::size_t keep) {
  check_kind(kind);
  if (keep == 0) {
    throw Error(ErrorCode::invalid_argument,
                "keeping 0 snapshots would remove the one just written: keep at least 1");
  }
  detail::create_folder(directory, mode, kSnapshotFolder);

  SnapshotFileHeader header{};
  header.magic = kSnapshotMagic;
  header.format_version = kSnapshotFormatVersion;
  header.header_bytes = sizeof header;
  std::memcpy(header.kind, kind.data(), kind.size());
  header.seq = seq;
  header.body_bytes = body.size();
  header.body_crc = detail::crc32c(0, body.data(), body.size());
  header.header_crc = header_crc(header);

  const fs::path final_path = directory / file_name(kind, seq);
  const fs::path temp_path = directory / ("." + file_name(kind, seq) + std::string(kTempSuffix));
  ::unlink(temp_path.c_str());  // left by a crash while writing this very snapshot
  FileDescriptor fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) throw_file_error("cannot create", temp_path, errno);
  try {
    write_all(fd.get(), &header, sizeof header, temp_path);
    write_all(fd.get(), body.data(), body.size(), temp_path);
    // Durable before the rename, or a crash could leave the new name on an empty file.
    if (::fsync(fd.get()) != 0) throw_file_error("cannot sync", temp_path, errno);
    if (fd.close() != 0) throw_file_error("cannot close", temp_path, errno);
    if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
      throw_file_error("cannot rename", temp_path, errno);
    }
  } catch (...) {
    ::unlink(temp_path.c_str());
    throw;
  }
  detail::fsync_folder(directory, kSnapshotFolder);
  prune(directory, kind, keep, final_path);
}

std::vector<SnapshotInfo> list_snapshot_files(const fs::path& directory, std::string_view kind) {
  check_kind(kind);
  std::vector<SnapshotInfo> found;
  std::error_code ec;
  fs::directory_iterator it(directory, ec);
  if (ec == std::errc::no_such_file_or_directory) return found;
  for (const fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
    const auto seq = seq_from_name(it->path().filename().string(), kind);
    std::error_code gone;  // removed since listed: then it is simply not there
    if (seq && it->is_regular_file(gone)) found.push_back({it->path(), *seq});
  }
  if (ec) throw_file_error("cannot list", directory, ec.value());
  std::sort(found.begin(), found.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.seq > b.seq; });
  return found;
}

std::vector<std::byte> read_snapshot_file(const SnapshotInfo& info, std::string_view kind) {
  check_kind(kind);
  const fs::path& path = info.path;
  const auto named_seq = seq_from_name(path.filename().string(), kind);
  if (!named_seq || *named_seq != info.seq) {
    throw Error(ErrorCode::invalid_argument,
                path.string() + " is not named as the \"" + std::string(kind) +
                    "\" snapshot at seq " + std::to_string(info.seq) +
                    ": read an entry that list_snapshot_files gave for that kind and folder");
  }
  const auto corrupt = [&](const std::string& what) {
    return Error(ErrorCode::corrupt, "snapshot " + path.string() + " " + what +
                                         ": remove it to fall back to an older snapshot, or to "
                                         "replay the journal from the start");
  };

  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_file_error("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_file_error("cannot stat", path, errno);
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  SnapshotFileHeader header{};
  if (file_bytes < sizeof header || !read_all(fd.get(), &header, sizeof header, path)) {
    throw corrupt("is " + std::to_string(file_bytes) + " bytes, shorter than its " +
                  std::to_string(sizeof header) + "-byte header");
  }
  if (header.magic != kSnapshotMagic) {
    throw corrupt("does not start with the snapshot magic (it is not an evring snapshot)");
  }
  if (header.format_version != kSnapshotFormatVersion) {
    throw Error(ErrorCode::incompatible,
                "snapshot " + path.string() + " has format version " +
                    std::to_string(header.format_version) + "; this build reads version " +
                    std::to_string(kSnapshotFormatVersion) +
                    ": use the evring build that wrote it, or remove it to replay the journal");
  }
  if (header.header_bytes != sizeof header || header.header_crc != header_crc(header)) {
    throw corrupt("has a damaged header (checksum mismatch)");
  }
  char expected_kind[kSnapshotKindBytes] = {};
  std::memcpy(expected_kind, kind.data(), kind.size());
  if (std::memcmp(header.kind, expected_kind, kSnapshotKindBytes) != 0) {
    const std::string held(header.kind, strnlen(header.kind, kSnapshotKindBytes));
    throw corrupt("holds a \"" + held + "\" snapshot, not the \"" + std::string(kind) +
                  "\" its name says");
  }
  if (header.seq != info.seq) {
    throw corrupt("holds the state as of seq " + std::to_string(header.seq) + ", not the " +
                  std::to_string(info.seq) + " its name says");
  }
  if (file_bytes != sizeof header + header.body_bytes) {
    throw corrupt("is " + std::to_string(file_bytes) + " bytes where its header says " +
                  std::to_string(sizeof header) + " + " + std::to_string(header.body_bytes) +
                  " (cut short, or bytes added)");
  }
  std::vector<std::byte> body(header.body_bytes);
  if (!read_all(fd.get(), body.data(), body.size(), path)) {
    throw corrupt("was cut short while being read");
  }
  if (detail::crc32c(0, body.data(), body.size()) != header.body_crc) {
    throw corrupt("has a damaged body (checksum mismatch)");
  }
  return body;
}

}  // namespace evring
