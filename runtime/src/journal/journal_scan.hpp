// Scanning a journal to say WHERE and WHY it is bad: the records of one segment checked
// end to end (what the writer's recovery of its last segment and `evring journal verify`
// share), and the whole folder checked segment by segment: headers, one history, seqs
// that follow on from one segment to the next, every record's CRC32C. Read-only, while a
// writer may be appending: records past its commit point are not there yet. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "journal/segment_file.hpp"

namespace evring {

// The whole records at the start of one segment, and what stopped them.
struct RecordRun {
  std::size_t end_offset = 0;  // after the last whole record
  std::uint64_t next_seq = 0;  // the seq due at end_offset
  journal_file::RecordScan stop;
  // The file ends in less than a record header whose bytes are not all zero: a crash
  // while a record was being written at the very end.
  bool torn_stub = false;

  std::uint64_t records(std::uint64_t first_seq) const { return next_seq - first_seq; }
  // Stopped at something other than the end: damage, or a torn tail in a last segment.
  bool damaged() const { return stop.kind == journal_file::RecordScan::bad || torn_stub; }
  std::string reason() const;  // of a damaged() run
};

// Checks every record of `file`, CRC included, from `offset` (with `seq` due there) until
// one is not whole or not the one due, or after `to_seq` (then an end). `on_progress(offset)`
// is called every few MiB, if given.
RecordRun scan_records(const journal_file::MappedFile& file, std::size_t offset, std::uint64_t seq,
                       const std::function<void(std::size_t)>& on_progress = nullptr,
                       std::uint64_t to_seq = UINT64_MAX);

// What is wrong with a journal, and where: the first fault a scan met.
struct JournalFault {
  enum class Kind {
    bad_header,    // a segment header that is not ours, or damaged, or of another history
    sequence_gap,  // a segment that does not start where the one before it ends
    bad_record,    // a record that fails its checks before the live end
    torn_tail,     // the last segment ends in a torn record, no writer running: the
                   // writer cuts it on its next start (journal.hpp)
    bad_archive,   // an archived segment that does not decompress (damaged, truncated)
  } kind = Kind::bad_record;
  std::filesystem::path segment;
  std::uint64_t offset = 0;  // in the segment file
  std::uint64_t seq = 0;     // the seq due there
  std::string what;
};
std::string_view to_string(JournalFault::Kind kind);

struct JournalCheckOptions {
  std::uint64_t from_seq = 1;         // segments that end before it are passed over
  std::uint64_t to_seq = UINT64_MAX;  // the check stops after this record
  bool writer_running = false;        // an unfinished record at the end is the live end
  bool archive = true;                // also the archived segments, if the journal has any
  // Called every few MiB with the bytes checked so far and the total to check.
  std::function<void(std::uint64_t done, std::uint64_t total)> on_progress;
};

struct JournalCheck {
  std::size_t segments = 0;                      // checked
  std::size_t archived_segments = 0;             // of those, read from the archive
  std::optional<std::filesystem::path> archive;  // the journal's archive folder, if it has one
  std::uint64_t records = 0;
  std::uint64_t first_seq = 0;  // of the first record checked (0 if none)
  std::uint64_t last_seq = 0;   // of the last whole record checked (0 if none)
  std::uint64_t bytes = 0;      // of the records checked, in their segments
  std::uint64_t history_id = 0;
  std::optional<JournalFault> fault;  // the first; nothing after it is checked
};

// Checks the journal in `directory` (Error(no_instance) if it holds no segment).
JournalCheck check_journal(const std::filesystem::path& directory,
                           const JournalCheckOptions& options);

// One segment as `evring journal info` shows it.
struct SegmentSummary {
  std::filesystem::path path;
  std::uint64_t first_seq = 0;
  std::uint64_t records = 0;
  std::uint64_t file_bytes = 0;     // its size (reserved on disk as it grows)
  std::uint64_t segment_bytes = 0;  // what it may grow to (its header)
  std::int64_t created_unix_ns = 0;
  std::uint64_t history_id = 0;
  bool last = false;      // the one a writer appends to; the others are sealed
  bool archived = false;  // in the archive: file_bytes compressed, segment_bytes decompressed,
                          // its header not read (created_unix_ns and history_id 0)
  std::uint64_t last_seq() const { return records == 0 ? 0 : first_seq + records - 1; }
};

// The segments of `directory` in seq order, each header checked (throws like the
// journal's readers for a bad one). Cheap: a sealed segment's records are counted from
// the next one's first seq; only the last one's are walked.
std::vector<SegmentSummary> summarize_segments(const std::filesystem::path& directory);
// The archived segments before the first of `live` (summarize_segments), in seq order, from
// the archive folder's listing and frame headers alone (nothing decompressed).
std::vector<SegmentSummary> summarize_archive(const std::filesystem::path& archive_dir,
                                              const std::vector<SegmentSummary>& live);

}  // namespace evring
