// The journal's archive (journal_archive.hpp): zstd-compressed sealed segments.
#include "journal/journal_archive.hpp"

#include <algorithm>
#include <atomic>
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
#include "journal/journal.hpp"
#include "journal/segment_file.hpp"
#include "shm/shared_segment.hpp"
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

namespace {

// True when `archived` decompresses to exactly the bytes of `source`: an earlier move of
// this very segment, stopped after its rename. Anything else (another writer's, another
// history's segment of the same first seq) is not a copy of it.
bool archived_copy_of(const fs::path& archived, const journal_file::MappedFile& source) {
  const int fd = open_archived_segment(archived);
  struct stat st {};
  bool same = ::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) == source.size();
  if (same && source.size() != 0) {
    void* copy = ::mmap(nullptr, source.size(), PROT_READ, MAP_SHARED, fd, 0);
    same = copy != MAP_FAILED && std::memcmp(copy, source.data(), source.size()) == 0;
    if (copy != MAP_FAILED) ::munmap(copy, source.size());
  }
  ::close(fd);
  return same;
}

[[noreturn]] void throw_not_our_copy(const fs::path& segment, const fs::path& archived) {
  throw Error(ErrorCode::history_changed,
              "the archive already holds " + archived.string() +
                  ", which is not a copy of the journal's " + segment.string() +
                  " (another writer's or another history's segment of the same first seq): "
                  "both are kept and retention stops at this segment. Give each instance, and "
                  "each new history of a journal, its own --archive folder");
}

std::string temporary_suffix(std::uint64_t history_id) {
  return "." + history_text(history_id) + std::string(kTemporarySuffix);
}

// Compresses `source` into `fd` a chunk at a time, so a stop asked for is seen within one
// chunk. False when stopped.
bool compress_into(int fd, const journal_file::MappedFile& source, const fs::path& path,
                   const std::atomic<bool>& stop) {
  constexpr std::size_t kChunkBytes = std::size_t{4} << 20;
  const std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> context(ZSTD_createCCtx(),
                                                                     &ZSTD_freeCCtx);
  if (!context) throw Error(ErrorCode::resource, "no memory to compress " + path.string());
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, kCompressionLevel);
  // The frame then records its content size, which open_archived_segment needs.
  ZSTD_CCtx_setPledgedSrcSize(context.get(), source.size());
  std::vector<char> out(ZSTD_CStreamOutSize());
  std::size_t at = 0;
  for (;;) {
    // Relaxed: a flag polled between chunks, ordering nothing else.
    if (stop.load(std::memory_order_relaxed)) return false;
    const std::size_t chunk = std::min(kChunkBytes, source.size() - at);
    const bool last = at + chunk == source.size();
    ZSTD_inBuffer in{source.data() + at, chunk, 0};
    std::size_t left = 0;
    do {
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      left = ZSTD_compressStream2(context.get(), &output, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) {
        throw Error(ErrorCode::io,
                    "cannot compress " + path.string() + ": " + ZSTD_getErrorName(left));
      }
      write_all(fd, out.data(), output.pos, path);
    } while (last ? left != 0 : in.pos < in.size);
    at += chunk;
    if (last) return true;
  }
}

}  // namespace

std::optional<std::uint64_t> archive_segment(const fs::path& segment, const fs::path& archive_dir,
                                             unsigned file_mode, gid_t group,
                                             const std::atomic<bool>& stop) {
  const auto first = journal_file::first_seq_from_name(segment);
  if (!first) {
    throw Error(ErrorCode::invalid_argument, segment.string() + " is not a journal segment");
  }
  const auto mode = static_cast<mode_t>(file_mode);
  detail::create_folder(archive_dir, mode, kArchiveFolder);
  // Like the journal's folder: the group's readers catch up from here too.
  if (group != kCreatorGroup) {
    detail::grant(archive_dir, detail::folder_mode(mode), group, kArchiveFolder);
  }
  const fs::path target = archived_segment_path(archive_dir, *first);
  const journal_file::MappedFile source(segment, false);
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!archived_copy_of(target, source)) throw_not_our_copy(segment, target);
    // An earlier move stopped after its rename: the archived copy is whole and durable.
    if (::unlink(segment.c_str()) != 0 && errno != ENOENT) {
      journal_file::throw_file_error("cannot remove", segment, errno);
    }
    return 0;
  }
  const fs::path temporary =
      archive_dir / ("." + target.filename().string() +
                     temporary_suffix(journal_file::header_of(source).history_id));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) detail::throw_file_error("cannot create", temporary, errno, kArchiveFolder);
  std::uint64_t bytes = 0;
  try {
    // The journal's read mode and group, whatever the umask.
    if (::fchmod(fd, mode) != 0) {
      detail::throw_file_error("cannot set the mode of", temporary, errno, kArchiveFolder);
    }
    if (group != kCreatorGroup && ::fchown(fd, static_cast<uid_t>(-1), group) != 0) {
      detail::throw_file_error("cannot set the group of", temporary, errno, kArchiveFolder);
    }
    if (!compress_into(fd, source, temporary, stop)) {
      ::close(fd);
      ::unlink(temporary.c_str());
      return std::nullopt;
    }
    if (::fsync(fd) != 0) detail::throw_file_error("cannot sync", temporary, errno, kArchiveFolder);
    struct stat st {};
    if (::fstat(fd, &st) == 0) bytes = static_cast<std::uint64_t>(st.st_size);
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

std::size_t tidy_archive(const fs::path& archive_dir, std::uint64_t history_id) {
  // Only this history's: another writer sharing the folder may be moving its own.
  const std::string ours = temporary_suffix(history_id);
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(archive_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.' && name.ends_with(ours)) {
      std::error_code ignored;
      if (fs::remove(entry.path(), ignored)) ++removed;
    }
  }
  return removed;
}

int open_archived_segment(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == EACCES || err == EPERM) {
      detail::throw_file_error("cannot read the archived segment", path, err, kArchiveFolder);
    }
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
