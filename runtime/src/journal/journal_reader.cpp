// The journal's reader: from any seq to the live end, across segments as they grow, and
// from the archive (journal_archive.hpp) for seqs older than the oldest live segment.
#include "journal/journal.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "journal/journal_archive.hpp"
#include "journal/journal_retention.hpp"
#include "journal/segment_file.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring {

using namespace journal_file;

namespace {
// How far ahead of the record walked next_batch asks for the segment's bytes.
constexpr std::size_t kWalkAhead = 2048;
constexpr std::size_t kCacheLine = 64;

// An archive this process may not read looks empty: say so rather than "removed".
void check_archive_readable(const fs::path& path) {
  if (::access(path.c_str(), R_OK | X_OK) == 0) return;
  const int err = errno;
  if (err == EACCES || err == EPERM) {
    throw Error(ErrorCode::permission_denied,
                "cannot read the journal's archive " + path.string() + ": " + errno_text(err) +
                    " (run the reader as the writer's user or its --group, or let it read the "
                    "archive folder)");
  }
}

[[noreturn]] void throw_removed(const fs::path& directory, std::uint64_t seq) {
  if (const auto archive = read_journal_archive(directory)) check_archive_readable(*archive);
  const std::uint64_t oldest = oldest_readable_seq(directory);
  throw EventsRemoved(seq, oldest,
                      "seq " + std::to_string(seq) + " is no longer in the journal in " +
                          directory.string() +
                          " (retention removed it: --retain, --retain-for); the oldest seq on "
                          "disk is " +
                          std::to_string(oldest));
}

}  // namespace

struct JournalReader::State {
  fs::path directory;
  std::optional<fs::path> archive;  // the journal's, if it has one
  bool segment_archived = false;    // `segment` was read from the archive
  MappedFile segment;
  std::uint64_t segment_bytes = 0;  // as its header says; the file may have been cut short
  std::uint64_t segment_first_seq = 0;
  std::size_t offset = 0;
  std::uint64_t next_seq = 1;  // of the record at `offset`
  // open()'s from_seq: the records before it are passed over, also those written after
  // open() when it was asked for a seq past the end.
  std::uint64_t from_seq = 1;
  bool entered_any = false;
  std::uint64_t history_id = 0;  // of the first segment entered

  // Maps the segment that starts at `first_seq`, if it exists yet: live, or, when asked,
  // from the archive. A live one retention moves while this maps it is looked for in the
  // archive, where a move puts it before it unlinks it.
  bool enter(std::uint64_t first_seq, bool look_in_archive) {
    const fs::path path = directory / segment_file_name(first_seq);
    std::optional<MappedFile> found = map_if_present(path);
    if (!found) {
      if (!look_in_archive || !archive) return false;
      const fs::path archived = archived_segment_path(*archive, first_seq);
      if (::access(archived.c_str(), F_OK) != 0) {
        if (errno == EACCES) check_archive_readable(*archive);
        return false;
      }
      found.emplace(map_archived_segment(archived));
    }
    MappedFile file = std::move(*found);
    segment_archived = file.path() != path;
    check_segment_header(file, first_seq);
    const JournalSegmentHeader header = header_of(file);
    if (!entered_any) {
      history_id = header.history_id;
      entered_any = true;
    } else if (header.history_id != history_id && history_id != 0 && header.history_id != 0) {
      throw_mixed_histories(path, header.history_id, history_id);
    }
    segment_bytes = header.segment_bytes;
    segment = std::move(file);
    segment_first_seq = first_seq;
    offset = sizeof(JournalSegmentHeader);
    return true;
  }

  // Scans the record at `offset` of the mapped segment; moves past a found one.
  RecordScan take() {
    RecordScan scan = scan_record(segment, offset, next_seq);
    if (scan.kind == RecordScan::found) {
      offset = scan.next_offset;
      ++next_seq;
    }
    return scan;
  }

  // True when retention moved or removed the segment mapped (or it came from the archive):
  // what follows it is then to be looked for in the archive too.
  bool segment_gone() const {
    struct stat st {};
    return segment_archived || (::fstat(segment.fd(), &st) == 0 && st.st_nlink == 0);
  }

  // The first segment after the current one that starts at or after `seq`, if any.
  std::optional<fs::path> segment_from(std::uint64_t seq) const {
    for (fs::path& path : journal_segments(directory)) {
      const std::uint64_t first = *first_seq_from_name(path);
      if (first >= seq && first != segment_first_seq) return std::move(path);
    }
    return std::nullopt;
  }
};

JournalReader::JournalReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
JournalReader::JournalReader(JournalReader&&) noexcept = default;
JournalReader& JournalReader::operator=(JournalReader&&) noexcept = default;
JournalReader::~JournalReader() = default;

JournalReader JournalReader::open(const fs::path& directory, std::uint64_t from_seq) {
  if (from_seq == 0) {
    throw Error(ErrorCode::invalid_argument,
                "journal sequence numbers start at 1: read from seq 1 for the whole journal");
  }
  auto state = std::make_unique<State>();
  state->directory = directory;
  state->archive = read_journal_archive(directory);
  // Twice: retention may move the segment chosen between the listing and its mapping.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::vector<fs::path> segments = journal_segments(directory);
    if (segments.empty()) {
      throw Error(ErrorCode::no_instance, "no journal in " + directory.string() +
                                              " (is it the writer's --journal folder?)");
    }
    // The newest segment that starts at or before from_seq: live, else archived.
    std::uint64_t first = 0;
    for (const fs::path& path : segments) {
      if (*first_seq_from_name(path) <= from_seq) first = *first_seq_from_name(path);
    }
    if (first == 0 && state->archive) {
      for (const ArchivedSegment& archived : archived_segments(*state->archive)) {
        if (archived.first_seq <= from_seq) first = archived.first_seq;
      }
    }
    if (first == 0) throw_removed(directory, from_seq);
    if (!state->enter(first, true)) continue;
    const Position position = skip_toward(state->segment, first, from_seq);
    state->offset = position.offset;
    state->next_seq = position.seq;
    state->from_seq = from_seq;
    return JournalReader(std::move(state));
  }
  throw_removed(directory, from_seq);
}

bool JournalReader::next(JournalRecord& out) {
  State& s = *state_;
  for (;;) {
    const RecordScan scan = s.take();
    if (scan.kind == RecordScan::found) {
      if (scan.record.seq < s.from_seq) continue;  // where skip_toward could not reach
      out = scan.record;
      return true;
    }
    const bool bad = scan.kind == RecordScan::bad;
    const bool cut_short = s.segment.size() < s.segment_bytes;
    // A segment grows as the writer needs room: mapped before it grew, it may go on past
    // the end of the mapping. Map it again and read on, before judging an end or damage.
    if (cut_short && s.segment.follow_growth()) continue;
    if (!bad) {
      // At this segment's end: a later segment that continues the sequence means this one
      // is complete.
      // (In a segment with no record yet, next_seq names that same segment.)
      if (s.next_seq != s.segment_first_seq) {
        if (s.enter(s.next_seq, false)) continue;
        // Retention took this segment while it was read: the next is in the archive, or
        // gone too.
        if (s.segment_gone()) {
          if (s.enter(s.next_seq, true)) continue;
          throw_removed(s.directory, s.next_seq);
        }
      }
      if (!cut_short) return false;
    }
    // Damage: a bad record, or a file shorter than its header says. At the live end that is
    // a record still being written, or a torn tail the writer cuts when it restarts: wait
    // for it. But once a later segment exists the writer has gone on past it, and waiting
    // would never end. Only damage pays for listing the directory.
    const auto later = s.segment_from(s.next_seq);
    if (!later) return false;  // the live end, still growing: look again next time
    const std::string damage = bad ? scan.reason()
                                   : "the file is cut short to " +
                                         std::to_string(s.segment.size()) + " of " +
                                         std::to_string(s.segment_bytes) + " bytes";
    throw Error(ErrorCode::corrupt,
                "journal segment " + s.segment.path().string() + " is damaged at seq " +
                    std::to_string(s.next_seq) + " (" + damage + ") and " + later->string() +
                    " follows it: this is not a torn tail, and the records up to that segment's "
                    "first are lost; restore the segment from a copy or move the journal away");
  }
}

std::size_t JournalReader::next_batch(std::span<JournalRecord> out) {
  if (out.empty() || !next(out.front())) return 0;
  State& s = *state_;
  // The rest only from the segment already mapped: moving on to another would unmap the
  // records above. The headers are walked first and the run's checksums checked after, all
  // at once (crc32c_each); the run ends before the first record that fails, and nothing
  // past it is handed over. Whatever stops the run (the end, damage) is next()'s to judge
  // next time, as it scans from there again.
  const std::size_t wanted = std::min(out.size(), kReplayBatch);
  std::array<detail::CrcInput, kReplayBatch> covered;
  std::array<std::uint32_t, kReplayBatch> stored;
  std::array<std::size_t, kReplayBatch> offsets;
  std::size_t walked = 0;
  std::size_t offset = s.offset;
  std::size_t asked = offset + kWalkAhead;  // the lines before it, the last call asked for
  // Records before from_seq (where skip_toward could not reach) are next()'s to pass over.
  while (1 + walked < wanted && s.next_seq + walked >= s.from_seq) {
    std::size_t crc_bytes = 0;
    const std::size_t after = walk_record(s.segment, offset, s.next_seq + walked, out[1 + walked],
                                          stored[walked], crc_bytes);
    if (after == 0) break;
    // Each step waits for the header before it (its length says where the next one is),
    // so the walk waits for memory unless the lines ahead are asked for: every line up to
    // kWalkAhead bytes on (the hardware's prefetcher stops at each 4 KiB page).
    for (const std::size_t until = std::min(after + kWalkAhead, s.segment.size()); asked < until;
         asked += kCacheLine) {
      __builtin_prefetch(s.segment.data() + asked);
    }
    offsets[walked] = offset;
    covered[walked] = {s.segment.data() + offset + sizeof(std::uint32_t), crc_bytes};
    offset = after;
    ++walked;
  }
  std::array<std::uint32_t, kReplayBatch> computed;
  detail::crc32c_each(std::span(covered.data(), walked), computed.data());
  std::size_t good = 0;
  while (good < walked && computed[good] == stored[good]) ++good;
  s.offset = good == walked ? offset : offsets[good];
  s.next_seq += good;
  return 1 + good;
}

std::uint64_t JournalReader::next_seq() const noexcept {
  return std::max(state_->next_seq, state_->from_seq);
}

std::uint64_t JournalReader::history_id() const noexcept {
  return state_->history_id;
}

}  // namespace evring
