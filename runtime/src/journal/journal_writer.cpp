// The journal's writer: recovery of the last segment on open, appends, growth, sync.
#include "journal/journal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "journal/journal_scan.hpp"
#include "journal/segment_file.hpp"
#include "shm/layout.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring {

using namespace journal_file;

struct JournalWriter::State {
  JournalOptions options;
  MappedFile segment;
  std::uint64_t segment_first_seq = 1;
  std::uint64_t segment_limit = 0;  // what `segment` may grow to: its header's segment_bytes
  std::size_t offset = 0;
  std::uint64_t next_seq = 1;
  std::uint64_t history_id = 0;
  JournalActivity activity;
};

namespace {

// fdatasync of the current segment, timed: a sync takes tens of microseconds at least, two
// clock reads are nothing beside it.
void sync_segment(const MappedFile& segment, JournalActivity& activity) {
  const std::int64_t start = monotonic_ns();
  if (::fdatasync(segment.fd()) != 0) throw_file_error("cannot sync", segment.path(), errno);
  ++activity.syncs;
  activity.sync_ns += static_cast<std::uint64_t>(monotonic_ns() - start);
}

}  // namespace

JournalWriter::JournalWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
JournalWriter::JournalWriter(JournalWriter&&) noexcept = default;
JournalWriter& JournalWriter::operator=(JournalWriter&&) noexcept = default;
JournalWriter::~JournalWriter() = default;

JournalWriter JournalWriter::open(const JournalOptions& options, JournalRecovery* recovery) {
  const std::uint64_t largest =
      JournalWriter::record_bytes(kJournalMaxMetaBytes, options.max_payload);
  if (options.segment_bytes < sizeof(JournalSegmentHeader) + 4 * largest) {
    throw Error(ErrorCode::invalid_argument,
                "journal segments of " + std::to_string(options.segment_bytes) +
                    " bytes cannot hold four of the largest records: give "
                    "--journal-segment-bytes at least " +
                    std::to_string(sizeof(JournalSegmentHeader) + 4 * largest) +
                    " (or lower --max-payload)");
  }
  detail::create_folder(options.directory, options.mode, kJournalFolder);
  if (::access(options.directory.c_str(), W_OK | X_OK) != 0) {
    throw_file_error("cannot write to journal folder", options.directory, errno);
  }

  auto state = std::make_unique<State>();
  state->options = options;
  JournalRecovery found;
  const std::vector<fs::path> segments = journal_segments(options.directory);
  if (options.group != kCreatorGroup) {
    // The grant covers the history too: a reader catches up from the first segment.
    detail::grant(options.directory, detail::folder_mode(options.mode), options.group,
                  kJournalFolder);
    for (const fs::path& path : segments) {
      detail::grant(path, options.mode, options.group, kJournalFolder);
    }
  }
  found.segments = segments.size();
  if (segments.empty()) {
    state->history_id = new_history_id();
    state->segment = create_segment(options, 1, state->history_id);
    state->segment_first_seq = 1;
    state->segment_limit = options.segment_bytes;
    state->offset = sizeof(JournalSegmentHeader);
    state->next_seq = 1;
    found.segments = 1;
  } else {
    std::vector<fs::path> unstamped;
    for (const fs::path& path : segments) {
      const MappedFile file(path, false);
      check_segment_header(file, *first_seq_from_name(path));
      const std::uint64_t id = header_of(file).history_id;
      if (id == 0) {
        unstamped.push_back(path);
      } else if (state->history_id == 0) {
        state->history_id = id;
      } else if (id != state->history_id) {
        throw_mixed_histories(path, id, state->history_id);
      }
    }
    if (state->history_id == 0) state->history_id = new_history_id();
    for (const fs::path& path : unstamped) stamp_history(path, state->history_id);
    const std::uint64_t first_of_last = *first_seq_from_name(segments.back());
    found.first_seq = *first_seq_from_name(segments.front());
    state->segment = MappedFile(segments.back(), true);
    state->segment_first_seq = first_of_last;
    // Grown only as records need it, and never past what its header says, which is what
    // its readers expect of it (a writer started with another segment size included).
    state->segment_limit = header_of(state->segment).segment_bytes;
    const RecordRun run = scan_records(state->segment, sizeof(JournalSegmentHeader), first_of_last);
    if (run.damaged()) {
      found.cut_torn_tail = true;
      found.cut_at_offset = run.end_offset;
      found.cut_reason = run.reason();
      found.cut_segment = segments.back();
      // Zero the torn record and anything after it so no scan ever sees it again.
      std::memset(state->segment.data() + run.end_offset, 0,
                  state->segment.size() - run.end_offset);
      if (::fdatasync(state->segment.fd()) != 0) {
        throw_file_error("cannot sync", segments.back(), errno);
      }
    }
    state->offset = run.end_offset;
    state->next_seq = run.next_seq;
  }
  found.last_seq = state->next_seq - 1;
  if (found.last_seq == 0) found.first_seq = 0;
  if (recovery != nullptr) *recovery = found;
  return JournalWriter(std::move(state));
}

std::uint64_t JournalWriter::append(std::uint32_t type, std::span<const std::byte> payload,
                                    std::int64_t publish_ns, std::span<const std::byte> meta) {
  State& s = *state_;
  if (payload.size() > s.options.max_payload) {
    throw Error(ErrorCode::invalid_argument, "event of " + std::to_string(payload.size()) +
                                                 " bytes exceeds the journal's maximum of " +
                                                 std::to_string(s.options.max_payload));
  }
  if (meta.size() > kJournalMaxMetaBytes) {
    throw Error(ErrorCode::invalid_argument,
                "journal metadata of " + std::to_string(meta.size()) + " bytes exceeds the " +
                    std::to_string(kJournalMaxMetaBytes) + " a record can carry: shorten it");
  }
  const std::size_t total = record_bytes(meta.size(), payload.size());
  make_room(total);
  JournalRecordHeader header{0,          static_cast<std::uint32_t>(payload.size()),
                             type,       static_cast<std::uint32_t>(meta.size()),
                             s.next_seq, publish_ns};
  std::byte* at = s.segment.data() + s.offset;
  std::byte* body = at + sizeof header;
  if (!meta.empty()) std::memcpy(body, meta.data(), meta.size());
  if (!payload.empty()) std::memcpy(body + meta.size(), payload.data(), payload.size());
  header.crc = record_crc(header, body);
  // The slot after this record must read as the end, though a crash may have left bytes
  // there (a record whose payload was written but not its header): zero it first. Its
  // commit word through an atomic, since a reader may be looking at it right now.
  if (s.offset + total + sizeof header <= s.segment.size()) {
    std::byte* const next = at + total;
    // relaxed: ordered before this record's commit by the release store below.
    commit_word(next).store(0, std::memory_order_relaxed);
    const JournalRecordHeader free_slot{};
    copy_around_commit_word(next, &free_slot);
  }
  // The header but its commit word, which is 0 in a free slot.
  copy_around_commit_word(at, &header);
  // release: pairs with the acquire load in load_header. A reader that sees this seq also
  // sees the header, the metadata, the payload and the zeroed slot after it.
  commit_word(at).store(header.seq, std::memory_order_release);
  s.offset += total;
  s.activity.bytes_written += total;
  return s.next_seq++;
}

// Header, metadata and payload, padded together.
std::size_t JournalWriter::record_bytes(std::size_t meta_bytes, std::size_t payload_bytes) {
  return sizeof(JournalRecordHeader) + align_up(meta_bytes + payload_bytes, 8);
}

void JournalWriter::make_room(std::size_t bytes) {
  State& s = *state_;
  if (s.offset + bytes <= s.segment.size()) return;
  // Grow: the segment doubles (up to its limit) with its blocks reserved, so a full disk
  // is refused here, before any record is written, never as SIGBUS at a store. A growth
  // that fails leaves the segment as it was.
  const auto grow_to = [&s](std::uint64_t needed) {
    std::uint64_t size = std::max<std::uint64_t>(s.segment.size(), 1);
    while (size < needed) size *= 2;
    s.segment.grow(std::min(size, s.segment_limit));
  };
  if (s.offset + bytes <= s.segment_limit) {
    grow_to(s.offset + bytes);
    return;
  }
  // Roll: the old segment's unused tail stays zero, which readers read as its end. Its
  // records are made durable now, since sync() only reaches the current segment. A new
  // segment that cannot be made (a full disk) leaves the old one current, so a later
  // append, once there is room, continues the sequence without a gap.
  sync_segment(s.segment, s.activity);
  MappedFile next = create_segment(s.options, s.next_seq, s.history_id);
  s.segment = std::move(next);
  s.segment_first_seq = s.next_seq;
  s.segment_limit = s.options.segment_bytes;
  s.offset = sizeof(JournalSegmentHeader);
  // The records may need more than a new segment's first size; more than a whole segment
  // (events of one command) and they roll again as they are appended.
  if (s.offset + bytes > s.segment.size()) {
    grow_to(std::min<std::uint64_t>(s.offset + bytes, s.segment_limit));
  }
}

void JournalWriter::sync() {
  sync_segment(state_->segment, state_->activity);
}

std::uint64_t JournalWriter::next_seq() const noexcept {
  return state_->next_seq;
}
std::uint64_t JournalWriter::last_seq() const noexcept {
  return state_->next_seq - 1;
}
std::uint64_t JournalWriter::history_id() const noexcept {
  return state_->history_id;
}
std::uint64_t JournalWriter::segment_first_seq() const noexcept {
  return state_->segment_first_seq;
}
const fs::path& JournalWriter::directory() const noexcept {
  return state_->options.directory;
}
const JournalActivity& JournalWriter::activity() const noexcept {
  return state_->activity;
}

}  // namespace evring
