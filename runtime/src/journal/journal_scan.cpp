#include "journal/journal_scan.hpp"

#include <algorithm>
#include <array>
#include <span>

#include <cerrno>

#include <unistd.h>

#include "evring/error.hpp"
#include "journal/journal_archive.hpp"

namespace fs = std::filesystem;

namespace evring {

using namespace journal_file;

namespace {

// How often a long scan reports progress: rare enough to cost nothing per record.
constexpr std::size_t kProgressBytes = 8u << 20;

bool all_zero(const std::byte* begin, const std::byte* end) {
  return std::all_of(begin, end, [](std::byte b) { return b == std::byte{0}; });
}

// A segment a check visits: in the journal folder, or in its archive (the .zst).
struct SegmentRef {
  std::uint64_t first_seq = 0;
  fs::path path;
  bool archived = false;
};

// The archived segments older than the oldest live one, then the live ones. The archive is
// listed after the folder: a segment moved between the two listings is then in both (its
// live entry is kept, and read from the archive if it is gone by then), never in neither.
std::vector<SegmentRef> segments_to_check(const fs::path& directory,
                                          const std::optional<fs::path>& archive) {
  std::vector<SegmentRef> live;
  for (fs::path& path : journal_segments(directory)) {
    live.push_back({*first_seq_from_name(path), std::move(path), false});
  }
  std::vector<SegmentRef> all;
  if (archive && !live.empty()) {
    for (const ArchivedSegment& segment : archived_segments(*archive)) {
      if (segment.first_seq < live.front().first_seq) {
        all.push_back({segment.first_seq, segment.path, true});
      }
    }
  }
  all.insert(all.end(), live.begin(), live.end());
  return all;
}

// The bytes a segment holds, for progress: an archived one's decompressed size.
std::uint64_t segment_size(const SegmentRef& segment) {
  if (segment.archived) return archived_segment_size(segment.path).value_or(0);
  std::error_code ec;
  const std::uint64_t bytes = fs::file_size(segment.path, ec);
  return ec ? 0 : bytes;
}

// The checks of one segment in a folder scan: its header, its history, where it starts.
class FolderScan {
 public:
  FolderScan(const JournalCheckOptions& options, JournalCheck& check)
      : options_(options), check_(check) {}

  // False once a fault is recorded in check_ (the scan stops there).
  bool check_segment(const SegmentRef& segment, bool last, std::uint64_t bytes_before,
                     std::uint64_t total) {
    const std::uint64_t first = segment.first_seq;
    std::optional<MappedFile> mapped = open(segment);
    // Gone, with no archived copy: retention removed it since the listing. At the start that
    // is the start moving on; further in, the next segment's check names the gap.
    if (!mapped) return !check_.fault;
    MappedFile& file = *mapped;
    const bool from_archive = file.path() != segment.path;
    const fs::path& path = from_archive ? archived_ : segment.path;
    try {
      check_segment_header(file, first);
    } catch (const Error& e) {
      return fail(JournalFault::Kind::bad_header, path, 0, first, e.what());
    }
    const JournalSegmentHeader header = header_of(file);
    if (check_.segments == 0) {
      check_.history_id = header.history_id;
    } else if (header.history_id != check_.history_id) {
      return fail(JournalFault::Kind::bad_header, path, 0, first,
                  "history " + history_text(header.history_id) +
                      ", the segments before it history " + history_text(check_.history_id) +
                      ": two journals were mixed in one folder");
    }
    if (check_.segments != 0 && first != expected_) {
      return fail(JournalFault::Kind::sequence_gap, path, 0, expected_,
                  first > expected_
                      ? "starts at seq " + std::to_string(first) + " where " +
                            std::to_string(expected_) + " was due: seqs " +
                            std::to_string(expected_) + " to " + std::to_string(first - 1) +
                            " are missing (a segment removed or moved away?)"
                      : "starts at seq " + std::to_string(first) +
                            ", inside the segment before it (which ends at seq " +
                            std::to_string(expected_ - 1) + ")");
    }
    ++check_.segments;
    if (from_archive) ++check_.archived_segments;
    const auto progress = [&](std::size_t offset) {
      if (options_.on_progress) options_.on_progress(bytes_before + offset, total);
    };
    std::size_t offset = sizeof(JournalSegmentHeader);
    std::uint64_t seq = first;
    for (;;) {
      const RecordRun run = scan_records(file, offset, seq, progress, options_.to_seq);
      count(seq, run, offset);
      offset = run.end_offset;
      seq = run.next_seq;
      // The writer may have grown the segment since it was mapped: read on in the new map.
      if (last && seq <= options_.to_seq && file.follow_growth()) continue;
      expected_ = seq;
      if (seq > options_.to_seq) return true;
      if (run.damaged()) return judge_damage(path, run, last);
      if (!last && !all_zero(file.data() + offset, file.data() + file.size())) {
        return fail(JournalFault::Kind::bad_record, path, offset, seq,
                    "no record where seq " + std::to_string(seq) +
                        " was due (a zeroed header), but bytes of records follow it");
      }
      return true;
    }
  }

 private:
  // The segment mapped: live, or decompressed from the archive (a live one retention moved
  // since the listing too; its .zst path is then in archived_). std::nullopt when it is
  // gone from both, or when it does not decompress (then a fault is recorded).
  std::optional<MappedFile> open(const SegmentRef& segment) {
    archived_ = segment.path;
    if (!segment.archived) {
      if (std::optional<MappedFile> live = map_if_present(segment.path)) return live;
      if (!check_.archive) throw_file_error("cannot open", segment.path, ENOENT);
      archived_ = archived_segment_path(*check_.archive, segment.first_seq);
      if (::access(archived_.c_str(), F_OK) != 0) return std::nullopt;
    }
    try {
      return map_archived_segment(archived_);
    } catch (const Error& e) {
      fail(JournalFault::Kind::bad_archive, archived_, 0, segment.first_seq, e.what());
      return std::nullopt;
    }
  }

  void count(std::uint64_t seq, const RecordRun& run, std::size_t offset) {
    if (run.next_seq == seq) return;
    if (check_.records == 0) check_.first_seq = seq;
    check_.records += run.next_seq - seq;
    check_.last_seq = run.next_seq - 1;
    check_.bytes += run.end_offset - offset;
  }

  bool judge_damage(const fs::path& path, const RecordRun& run, bool last) {
    if (!last) {
      return fail(JournalFault::Kind::bad_record, path, run.end_offset, run.next_seq,
                  run.reason() + ", in a sealed segment (a later one follows it)");
    }
    // The live end: the writer writes a record's commit word last (journal.hpp, FORMAT).
    if (options_.writer_running && !run.torn_stub &&
        run.stop.damage == RecordScan::Damage::uncommitted) {
      return true;
    }
    if (options_.writer_running) {
      return fail(JournalFault::Kind::bad_record, path, run.end_offset, run.next_seq,
                  run.reason() + ", in the segment a running writer appends to");
    }
    return fail(JournalFault::Kind::torn_tail, path, run.end_offset, run.next_seq,
                run.reason() + ": a torn tail, which the writer cuts off (from byte " +
                    std::to_string(run.end_offset) + " on) when it next starts");
  }

  bool fail(JournalFault::Kind kind, const fs::path& path, std::uint64_t offset, std::uint64_t seq,
            std::string what) {
    check_.fault = JournalFault{kind, path, offset, seq, std::move(what)};
    return false;
  }

  const JournalCheckOptions& options_;
  JournalCheck& check_;
  std::uint64_t expected_ = 0;  // the seq the next segment must start with
  fs::path archived_;           // the .zst of the segment being checked, when it is one
};

}  // namespace

std::string RecordRun::reason() const {
  return torn_stub ? "record runs past the end of the file" : stop.reason();
}

RecordRun scan_records(const MappedFile& file, std::size_t offset, std::uint64_t seq,
                       const std::function<void(std::size_t)>& on_progress, std::uint64_t to_seq) {
  RecordRun run;
  std::size_t report_at = offset + kProgressBytes;
  // A run of headers is walked first and its checksums computed together (crc32c_each
  // keeps the CPU's crc32 unit busy), as JournalReader::next_batch does; the first record
  // of a run that fails, or where the walk stopped, is judged alone (judge_record).
  std::array<detail::CrcInput, kReplayBatch> covered;
  std::array<std::uint32_t, kReplayBatch> stored;
  std::array<std::uint32_t, kReplayBatch> computed;
  std::array<std::size_t, kReplayBatch> after;
  while (seq <= to_seq) {
    std::size_t walked = 0;
    for (std::size_t at = offset; walked < kReplayBatch && seq + walked <= to_seq; ++walked) {
      JournalRecord record;
      std::size_t crc_bytes = 0;
      at = walk_record(file, at, seq + walked, record, stored[walked], crc_bytes);
      if (at == 0) break;
      covered[walked] = {record.meta.data() - sizeof(JournalRecordHeader) + sizeof stored[0],
                         crc_bytes};
      after[walked] = at;
    }
    detail::crc32c_each(std::span(covered.data(), walked), computed.data());
    std::size_t good = 0;
    while (good < walked && computed[good] == stored[good]) ++good;
    if (good != 0) {
      offset = after[good - 1];
      seq += good;
    }
    if (offset >= report_at && on_progress) {
      on_progress(offset);
      report_at = offset + kProgressBytes;
    }
    if (good == kReplayBatch || seq > to_seq) continue;
    run.stop = judge_record(file, offset, seq);
    if (run.stop.kind != RecordScan::found) break;
    offset = run.stop.next_offset;  // committed since the walk looked
    ++seq;
  }
  if (seq > to_seq) run.stop = RecordScan{};  // stopped where asked: an end
  run.end_offset = offset;
  run.next_seq = seq;
  run.torn_stub = run.stop.kind == RecordScan::end &&
                  offset + sizeof(JournalRecordHeader) > file.size() && offset < file.size() &&
                  !all_zero(file.data() + offset, file.data() + file.size());
  return run;
}

std::string_view to_string(JournalFault::Kind kind) {
  switch (kind) {
    case JournalFault::Kind::bad_header:
      return "bad segment header";
    case JournalFault::Kind::sequence_gap:
      return "sequence gap";
    case JournalFault::Kind::bad_record:
      return "bad record";
    case JournalFault::Kind::torn_tail:
      return "torn tail";
    case JournalFault::Kind::bad_archive:
      return "bad archived segment";
  }
  return "fault";
}

JournalCheck check_journal(const fs::path& directory, const JournalCheckOptions& options) {
  JournalCheck check;
  if (options.archive) check.archive = read_journal_archive(directory);
  const std::vector<SegmentRef> segments = segments_to_check(directory, check.archive);
  if (segments.empty()) {
    throw Error(ErrorCode::no_instance,
                "no journal in " + directory.string() +
                    " (no journal-*.evj segment): give the folder the writer journals to "
                    "(evring-writer --journal)");
  }
  // The segments that hold records from from_seq to to_seq: from the newest one that
  // starts at or before from_seq, up to the last one that starts at or before to_seq.
  std::size_t begin = 0;
  std::size_t end = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].first_seq <= options.from_seq) begin = i;
    if (segments[i].first_seq <= options.to_seq || i == 0) end = i + 1;
  }
  std::vector<std::uint64_t> sizes;
  std::uint64_t total = 0;
  for (std::size_t i = begin; i < end; ++i) total += sizes.emplace_back(segment_size(segments[i]));
  FolderScan scan(options, check);
  std::uint64_t before = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const bool last = i + 1 == segments.size();
    if (!scan.check_segment(segments[i], last, before, total)) break;
    if (check.last_seq >= options.to_seq) break;
    before += sizes[i - begin];
  }
  return check;
}

std::vector<SegmentSummary> summarize_segments(const fs::path& directory) {
  const std::vector<fs::path> paths = journal_segments(directory);
  std::vector<SegmentSummary> summaries;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    SegmentSummary summary;
    summary.path = paths[i];
    summary.first_seq = *first_seq_from_name(paths[i]);
    summary.last = i + 1 == paths.size();
    MappedFile file(paths[i], false);
    check_segment_header(file, summary.first_seq);
    const JournalSegmentHeader header = header_of(file);
    summary.segment_bytes = header.segment_bytes;
    summary.created_unix_ns = header.created_unix_ns;
    summary.history_id = header.history_id;
    if (summary.last) {
      const RecordRun run = scan_records(file, sizeof header, summary.first_seq);
      summary.records = run.records(summary.first_seq);
    } else {
      const std::uint64_t next = *first_seq_from_name(paths[i + 1]);
      summary.records = next > summary.first_seq ? next - summary.first_seq : 0;
    }
    summary.file_bytes = file.size();
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

std::vector<SegmentSummary> summarize_archive(const fs::path& archive_dir,
                                              const std::vector<SegmentSummary>& live) {
  std::vector<SegmentSummary> summaries;
  if (live.empty()) return summaries;
  for (const ArchivedSegment& archived : archived_segments(archive_dir)) {
    if (archived.first_seq >= live.front().first_seq) break;  // a copy of a live one
    SegmentSummary summary;
    summary.path = archived.path;
    summary.first_seq = archived.first_seq;
    summary.file_bytes = archived.bytes;
    summary.segment_bytes = archived_segment_size(archived.path).value_or(0);
    summary.archived = true;
    summaries.push_back(std::move(summary));
  }
  // A sealed segment's records, counted from the next one's first seq (verify finds a gap).
  for (std::size_t i = 0; i < summaries.size(); ++i) {
    const std::uint64_t next =
        i + 1 < summaries.size() ? summaries[i + 1].first_seq : live.front().first_seq;
    summaries[i].records = next - summaries[i].first_seq;
  }
  return summaries;
}

}  // namespace evring
