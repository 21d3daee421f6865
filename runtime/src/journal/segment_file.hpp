// One segment file of a journal folder: its name, its mapping, its header and the scan of
// its records (the format is described in journal.hpp). What the journal's writer
// (journal_writer.cpp), its reader (journal_reader.cpp) and the folder's functions
// (journal.cpp) share; the scan is inline, since a replay runs it once a record.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "journal/crc32c.hpp"
#include "journal/journal.hpp"

namespace evring::journal_file {

inline constexpr std::string_view kSegmentPrefix = "journal-";
inline constexpr std::string_view kSegmentSuffix = ".evj";
// What a file error's remedy names.
inline constexpr std::string_view kJournalFolder = "--journal folder";

[[noreturn]] void throw_file_error(const std::string& what, const std::filesystem::path& path,
                                   int err);

// journal-<first seq, 20 digits>.evj, and back (nullopt for another file's name).
std::string segment_file_name(std::uint64_t first_seq);
std::optional<std::uint64_t> first_seq_from_name(const std::filesystem::path& path);

std::uint32_t header_crc(const JournalSegmentHeader& header);
// `body` is the metadata followed by the payload.
inline std::uint32_t record_crc(const JournalRecordHeader& header, const std::byte* body) {
  const std::uint32_t crc =
      detail::crc32c(0, reinterpret_cast<const std::byte*>(&header) + 4, sizeof header - 4);
  return detail::crc32c(crc, body, std::size_t{header.meta_bytes} + header.payload_bytes);
}

// A whole file mapped with mmap (shared). Process-local.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const std::filesystem::path& path, bool writable);
  MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  // Grows the file to `bytes` with blocks reserved (so later stores cannot hit a full
  // disk as SIGBUS) and maps it again. On failure (a full disk) the file keeps its mapping.
  void grow(std::size_t bytes);
  // Read-only users: maps the file again if another process has grown it since; true if
  // it did (one fstat otherwise).
  bool follow_growth();

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void map(bool writable);

  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::filesystem::path path_;
};

// Maps the segment at `path` read-only, or std::nullopt when it does not exist (any more):
// retention removes sealed segments while readers list and open them. Throws otherwise.
std::optional<MappedFile> map_if_present(const std::filesystem::path& path);

// Checks a segment's header against its file name; throws with what is wrong.
void check_segment_header(const MappedFile& file, std::uint64_t named_first_seq);

inline JournalSegmentHeader header_of(const MappedFile& file) {
  JournalSegmentHeader header;
  std::memcpy(&header, file.data(), sizeof header);
  return header;
}

// Two histories in one folder: throws Error(corrupt) naming both.
[[noreturn]] void throw_mixed_histories(const std::filesystem::path& segment, std::uint64_t found,
                                        std::uint64_t expected);

// The verdict on the bytes at one offset of a segment.
// Trivially copyable, so that a replay's scan of a good record builds no string: a bad
// record's reason is put into words only when asked for.
struct RecordScan {
  enum Kind { found, end, bad } kind = end;
  enum class Damage { none, uncommitted, metadata_too_long, past_the_end, checksum, sequence };
  JournalRecord record;
  std::size_t next_offset = 0;
  Damage damage = Damage::none;  // for `bad`
  std::uint64_t seen = 0;        // metadata_too_long: its bytes; sequence: the seq found
  std::uint64_t expected_seq = 0;

  std::string reason() const;  // cold: only for a bad record
};
// The record header's commit word, as Aeron's frame length: a record exists once its seq
// (never 0) is there. Written last, with release, by JournalWriter::append.
// Records start 8-aligned (a 64-byte segment header, records padded to 8), so seq is too.
inline std::atomic_ref<std::uint64_t> commit_word(std::byte* header) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(header + offsetof(JournalRecordHeader, seq)));
}

// Copies a record header but its commit word: the 16 bytes before seq and the 8 after it.
inline void copy_around_commit_word(void* to, const void* from) {
  static_assert(offsetof(JournalRecordHeader, seq) == 16 && sizeof(JournalRecordHeader) == 32);
  std::memcpy(to, from, 16);
  std::memcpy(static_cast<std::byte*>(to) + 24, static_cast<const std::byte*>(from) + 24, 8);
}

inline bool is_zero(const JournalRecordHeader& header) {
  return header.crc == 0 && header.payload_bytes == 0 && header.type == 0 &&
         header.meta_bytes == 0 && header.seq == 0 && header.publish_ns == 0;
}

inline JournalRecordHeader load_header(const MappedFile& file, std::size_t offset) {
  // A reader maps the segment read-only; an atomic load of an aligned word only reads.
  std::byte* const at = const_cast<std::byte*>(file.data() + offset);
  JournalRecordHeader header;
  // acquire: pairs with the release store of the commit word in JournalWriter::append.
  // Whoever has read a record's seq then sees the rest of its header, its body and the
  // zeroed slot after it, never bytes a crash left there.
  header.seq = commit_word(at).load(std::memory_order_acquire);
  // With seq 0 the rest is either zero (the end) or a record still being written or torn
  // by a crash: scan_record tells them apart.
  copy_around_commit_word(&header, at);
  return header;
}

// The record at `offset` if it is committed, whole and the one due (`expected_seq`), its
// checksum not yet checked: fills `out` and `crc_bytes` (what its CRC covers, from
// offset + 4) and returns the offset after it; 0 when it is not (scan_record says why).
// The scan without its checksum, so that a replay can check a run's checksums at once.
inline std::size_t walk_record(const MappedFile& file, std::size_t offset,
                               std::uint64_t expected_seq, JournalRecord& out,
                               std::uint32_t& stored_crc, std::size_t& crc_bytes) {
  if (offset + sizeof(JournalRecordHeader) > file.size()) return 0;
  const JournalRecordHeader header = load_header(file, offset);
  if (header.seq != expected_seq || header.meta_bytes > kJournalMaxMetaBytes) return 0;
  const std::size_t total = JournalWriter::record_bytes(header.meta_bytes, header.payload_bytes);
  if (offset + total > file.size()) return 0;
  const std::byte* body = file.data() + offset + sizeof header;
  out.seq = header.seq;
  out.type = header.type;
  out.publish_ns = header.publish_ns;
  out.meta = {body, header.meta_bytes};
  out.payload = {body + header.meta_bytes, header.payload_bytes};
  stored_crc = header.crc;
  // In the file the header's fields after the CRC run on into the body: one span.
  crc_bytes =
      sizeof header - sizeof header.crc + std::size_t{header.meta_bytes} + header.payload_bytes;
  return offset + total;
}

// The verdict on the bytes at `offset` when walk_record or the checksum refused them.
// Cold: only at the end of a segment, or at damage.
RecordScan judge_record(const MappedFile& file, std::size_t offset, std::uint64_t expected_seq);

inline RecordScan scan_record(const MappedFile& file, std::size_t offset,
                              std::uint64_t expected_seq) {
  JournalRecord record;
  std::uint32_t stored_crc = 0;
  std::size_t crc_bytes = 0;
  const std::size_t next = walk_record(file, offset, expected_seq, record, stored_crc, crc_bytes);
  if (next != 0 &&
      stored_crc == detail::crc32c(0, file.data() + offset + sizeof stored_crc, crc_bytes)) {
    RecordScan scan;
    scan.kind = RecordScan::found;
    scan.record = record;
    scan.next_offset = next;
    return scan;
  }
  return judge_record(file, offset, expected_seq);
}
// A place in a segment: the offset where the record `seq` is due.
struct Position {
  std::size_t offset = 0;
  std::uint64_t seq = 0;
};

// Moves toward the record `seq` of the segment that starts at `first_seq` by trusting the
// lengths in the headers, without checksums, so skipping is cheap. A damaged length lands
// on a header with the wrong seq, which stops the walk; the last record walked over must
// pass its checksum, which proves the position after it. Where that fails, the segment's
// start: the caller then reads record by record, and meets the damage as a reader would.
Position skip_toward(const MappedFile& file, std::uint64_t first_seq, std::uint64_t seq);

std::int64_t unix_ns();

// Writes (replaces) one of the folder's small text files (domain, archive). Throws
// Error(io) naming it.
void write_small_file(const std::filesystem::path& path, std::string_view text, mode_t mode);

// Creates a segment atomically: written under a temporary name, then renamed, so a reader
// never sees a segment without its header.
MappedFile create_segment(const JournalOptions& options, std::uint64_t first_seq,
                          std::uint64_t history_id);

// A segment written before history ids existed gets the journal's id, in place (the writer
// holds the journal's lock; readers see the old header or the new one, both valid).
void stamp_history(const std::filesystem::path& path, std::uint64_t history_id);

}  // namespace evring::journal_file
