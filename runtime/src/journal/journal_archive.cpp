// The journal's archive (journal_archive.hpp): zstd-compressed sealed segments.
#include "journal/journal_archive.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "evring/error.hpp"
#include "journal/segment_file.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring {
namespace {

constexpr std::string_view kArchiveFolder = "--archive folder";
constexpr std::string_view kArchivedSuffix = ".zst";
constexpr std::string_view kTemporarySuffix = ".tmp";
// Fast, and a journal's zero-filled tail and repeated headers compress well at any level.
constexpr int kCompressionLevel = 3;
// What the fault-injection test sees the process exit with at a step (journal_archive.hpp).
constexpr int kStoppedExit = 86;
// The most a zstd frame header takes (ZSTD_FRAMEHEADERSIZE_MAX, behind ZSTD_STATIC_LINKING_ONLY).
constexpr std::size_t kFrameHeaderBytes = 18;

void stop_here_if_asked(ArchiveStep step) {
  const char* at = std::getenv("EVRING_ARCHIVE_STOP_AT");
  if (at == nullptr) return;
  const std::string_view wanted(at);
  if ((step == ArchiveStep::written && wanted == "written") ||
      (step == ArchiveStep::renamed && wanted == "renamed")) {
    ::_exit(kStoppedExit);
  }
}

void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) detail::throw_file_error("cannot open", folder, errno, kArchiveFolder);
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) detail::throw_file_error("cannot sync", folder, err, kArchiveFolder);
}

void write_all(int fd, const void* data, std::size_t bytes, const fs::path& path) {
  const auto* at = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t wrote = ::write(fd, at, bytes);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) detail::throw_file_error("cannot write", path, errno, kArchiveFolder);
    at += wrote;
    bytes -= static_cast<std::size_t>(wrote);
  }
}

// What a frame header says the frame decompresses to; 0 when it does not say.
std::uint64_t frame_content_size(const char* data, std::size_t bytes) {
  const unsigned long long size = ZSTD_getFrameContentSize(data, bytes);
  return size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ? 0 : size;
}

}  // namespace

std::optional<fs::path> read_journal_archive(const fs::path& journal_dir) {
  std::ifstream in(journal_dir / "archive");
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) return std::nullopt;
  return fs::path(line);
}

void write_journal_archive(const fs::path& journal_dir, const fs::path& archive_dir) {
  if (read_journal_archive(journal_dir) == archive_dir) return;
  // Readable by whoever reads the journal: readers look the archive up here.
  journal_file::write_small_file(journal_dir / "archive", archive_dir.string() + '\n', 0644);
}

fs::path archived_segment_path(const fs::path& archive_dir, std::uint64_t first_seq) {
  return archive_dir / (journal_file::segment_file_name(first_seq) + std::string(kArchivedSuffix));
}

std::vector<ArchivedSegment> archived_segments(const fs::path& archive_dir) {
  std::vector<ArchivedSegment> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(archive_dir, ec)) {
    const fs::path& path = entry.path();
    if (path.extension() != kArchivedSuffix) continue;
    // journal-<seq>.evj.zst: the stem is a segment's name.
    const auto first = journal_file::first_seq_from_name(path.stem());
    if (!first || path.filename().string().front() == '.') continue;
    std::error_code size_error;
    const auto bytes = fs::file_size(path, size_error);
    found.push_back({*first, size_error ? 0 : bytes, path});
  }
  std::sort(found.begin(), found.end(), [](const ArchivedSegment& a, const ArchivedSegment& b) {
    return a.first_seq < b.first_seq;
  });
  return found;
}

std::uint64_t archive_segment(const fs::path& segment, const fs::path& archive_dir,
                              unsigned file_mode) {
  const auto first = journal_file::first_seq_from_name(segment);
  if (!first) {
    throw Error(ErrorCode::invalid_argument, segment.string() + " is not a journal segment");
  }
  detail::create_folder(archive_dir, static_cast<mode_t>(file_mode), kArchiveFolder);
  const fs::path target = archived_segment_path(archive_dir, *first);
  std::error_code ec;
  if (fs::exists(target, ec)) {
    // An earlier move stopped after its rename: the archived copy is whole and durable.
    if (::unlink(segment.c_str()) != 0 && errno != ENOENT) {
      journal_file::throw_file_error("cannot remove", segment, errno);
    }
    return 0;
  }
  const journal_file::MappedFile source(segment, false);
  std::vector<char> compressed(ZSTD_compressBound(source.size()));
  const std::size_t bytes = ZSTD_compress(compressed.data(), compressed.size(), source.data(),
                                          source.size(), kCompressionLevel);
  if (ZSTD_isError(bytes)) {
    throw Error(ErrorCode::io,
                "cannot compress " + segment.string() + ": " + ZSTD_getErrorName(bytes));
  }
  const fs::path temporary =
      archive_dir / ("." + target.filename().string() + std::string(kTemporarySuffix));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        static_cast<mode_t>(file_mode));
  if (fd < 0) detail::throw_file_error("cannot create", temporary, errno, kArchiveFolder);
  try {
    write_all(fd, compressed.data(), bytes, temporary);
    if (::fsync(fd) != 0) detail::throw_file_error("cannot sync", temporary, errno, kArchiveFolder);
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  ::close(fd);
  stop_here_if_asked(ArchiveStep::written);
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    detail::throw_file_error("cannot rename", temporary, err, kArchiveFolder);
  }
  sync_folder(archive_dir);
  stop_here_if_asked(ArchiveStep::renamed);
  if (::unlink(segment.c_str()) != 0)
    journal_file::throw_file_error("cannot remove", segment, errno);
  return bytes;
}

std::size_t tidy_archive(const fs::path& archive_dir) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(archive_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.' && name.ends_with(kTemporarySuffix)) {
      std::error_code ignored;
      if (fs::remove(entry.path(), ignored)) ++removed;
    }
  }
  return removed;
}

int open_archived_segment(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::no_instance, "no archived segment " + path.string());
  }
  const std::vector<char> compressed((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
  const std::uint64_t size = frame_content_size(compressed.data(), compressed.size());
  if (size < sizeof(JournalSegmentHeader)) {
    throw Error(ErrorCode::corrupt, "the archived segment " + path.string() +
                                        " is not a whole zstd frame: restore it from a copy");
  }
  const int fd = ::memfd_create("evring-archived-segment", MFD_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::resource, "memfd_create: " + errno_text(errno));
  void* memory = MAP_FAILED;
  if (::ftruncate(fd, static_cast<off_t>(size)) == 0) {
    memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  if (memory == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    throw Error(ErrorCode::resource,
                "no memory to read the archived segment " + path.string() + ": " + errno_text(err));
  }
  const std::size_t got = ZSTD_decompress(memory, size, compressed.data(), compressed.size());
  ::munmap(memory, size);
  if (ZSTD_isError(got) || got != size) {
    ::close(fd);
    throw Error(ErrorCode::corrupt, "the archived segment " + path.string() +
                                        " does not decompress: restore it from a copy");
  }
  return fd;
}

journal_file::MappedFile map_archived_segment(const fs::path& path) {
  const int fd = open_archived_segment(path);
  try {
    journal_file::MappedFile file("/proc/self/fd/" + std::to_string(fd), false);
    ::close(fd);
    return file;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::optional<std::uint64_t> archived_segment_size(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char header[kFrameHeaderBytes];
  in.read(header, sizeof header);
  const std::uint64_t size = frame_content_size(header, static_cast<std::size_t>(in.gcount()));
  return size == 0 ? std::nullopt : std::optional<std::uint64_t>(size);
}

}  // namespace evring
