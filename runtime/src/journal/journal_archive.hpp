// The journal's archive: a folder of sealed segments compressed with zstd, named
// journal-<first seq, 20 digits>.evj.zst, where retention (journal_retention.hpp) moves
// them instead of deleting them when the writer runs with --archive. The journal folder
// names its archive in <journal>/archive (one line: the absolute path), so readers and
// tools find it without a flag.
//
// A move never leaves a segment half anywhere: the compressed copy is written under a
// temporary name in the archive (.journal-<seq>.evj.zst.<history>.tmp), made durable, renamed to
// its name, the archive folder made durable, and only then the original unlinked. A crash (kill -9
// at any point) leaves the segment in the journal, in the archive, or in both (the next move of it
// unlinks the original once it finds the archived copy decompresses to the same bytes); a temporary
// is tidied at the writer's start. Archive names carry no instance or history: an archived file of
// the same name that is not a copy of the segment (another writer's, another history's) is never
// replaced and its segment never unlinked.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include <sys/types.h>

#include "journal/segment_file.hpp"

namespace evring {

// Where the journal's archive is, if it has one.
std::optional<std::filesystem::path> read_journal_archive(const std::filesystem::path& journal_dir);
// Records (replaces) <journal>/archive. Throws Error(io) naming the file.
void write_journal_archive(const std::filesystem::path& journal_dir,
                           const std::filesystem::path& archive_dir);

// journal-<first seq>.evj.zst in `archive_dir`.
std::filesystem::path archived_segment_path(const std::filesystem::path& archive_dir,
                                            std::uint64_t first_seq);
// The archived segments, by first seq.
struct ArchivedSegment {
  std::uint64_t first_seq = 0;
  std::uint64_t bytes = 0;  // compressed, on disk
  std::filesystem::path path;
};
std::vector<ArchivedSegment> archived_segments(const std::filesystem::path& archive_dir);

// Where a move may stop, for the fault-injection test (EVRING_ARCHIVE_STOP_AT=<step>: the
// process exits with status 86 at that step, as if killed).
enum class ArchiveStep { written, renamed };

// Moves the sealed segment `segment` (a journal-*.evj) into `archive_dir` as above (creating
// the folder, owner-only plus what `file_mode` grants; the archived file gets `file_mode`
// and, unless kCreatorGroup, `group`, as the journal's files do). Returns the bytes written,
// or nullopt when `stop` was set before it was done (nothing moved). Throws
// Error(resource/permission_denied/io) naming the file, Error(history_changed) when the
// archive holds another segment of that name; the original is then still there.
std::optional<std::uint64_t> archive_segment(const std::filesystem::path& segment,
                                             const std::filesystem::path& archive_dir,
                                             unsigned file_mode, gid_t group,
                                             const std::atomic<bool>& stop);

// Removes temporary files a crash of a move of history `history_id` left in the archive;
// returns how many.
std::size_t tidy_archive(const std::filesystem::path& archive_dir, std::uint64_t history_id);

// The whole segment, decompressed, in an anonymous memory file (memfd): returns its fd
// (the caller closes it), to be mapped like a live segment. Throws Error(corrupt) for a
// file that is not a whole zstd frame, Error(no_instance) when it does not exist (any more).
int open_archived_segment(const std::filesystem::path& path);
// The same, mapped read-only like a live segment, so one scan reads both.
journal_file::MappedFile map_archived_segment(const std::filesystem::path& path);
// Its size decompressed, from the frame header alone (std::nullopt if that is unreadable).
std::optional<std::uint64_t> archived_segment_size(const std::filesystem::path& path);

}  // namespace evring
