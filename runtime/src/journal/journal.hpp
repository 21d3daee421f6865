// The journal: the durable, replayable history of an instance's events. The ring is its
// live tail; the journal is the source of truth.
//
// FORMAT (version 2)
//
// A directory of segment files named journal-<first seq, 20 digits>.evj, each written
// through a shared mapping, so an append is a memcpy into the page cache: it survives
// kill -9 of the writer without a system call. A segment is pre-allocated (zero-filled,
// blocks reserved with posix_fallocate) as it grows: it starts at kJournalSegmentFirstBytes
// and doubles, when a record does not fit, up to the segment_bytes of its header; a record
// that does not fit then starts the next segment. So a small journal costs little disk, a
// full disk is refused at a growth (before the record is written), and a reader whose
// mapping ends before the file does maps it again. Each file starts with a JournalSegmentHeader (64
// bytes); records follow end to end, each a JournalRecordHeader (32 bytes), then `meta_bytes` (0 to
// 255) of metadata, then `payload_bytes` of event payload, padded together to 8 bytes. The metadata
// is the writer's, not the event's: the command id that produced the event, so duplicate detection
// survives a restart. A record's CRC32C covers its header (after the crc field), its metadata and
// its payload. A record's seq (never 0) is its commit word, as a frame's length is in Aeron: the
// writer writes the body and the rest of the header, then the seq last, with a release store; a
// reader loads the seq with acquire and reads the rest only once it is there. A header whose seq
// is 0 marks the end (or, with other bytes set, a record a crash cut before its commit). The writer
// zeroes the header slot after a record before it commits the record, so bytes left past the end
// by a crash can never be read as a record.
//
// Version 1 had no metadata (the field was reserved and zero); its files are refused, not
// converted.
//
// HISTORY. Every journal is one history: a random 64-bit id made when its first segment is
// created, carried in every segment header, and copied by the writer into the ring's config
// and every model snapshot, and by readers into every checkpoint. Seq 5 of one history says
// nothing about seq 5 of another (a journal deleted and started again), so state tagged
// with another history is never restored. A journal written before ids existed (0 in the
// header) is given one by the next writer that opens it.
//
// On open, the writer scans the last segment: the first record that is incomplete or
// fails its CRC is a torn tail (a crash mid-append); it and everything after it are cut
// off, and the report says so. A bad record in any earlier segment is not a torn tail and
// is refused as corruption, never silently dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "evring/error.hpp"
#include "shm/shared_segment.hpp"  // kCreatorGroup

namespace evring {

inline constexpr std::uint64_t kJournalMagic = 0x314C'4E52'4A56'4545ull;  // "EEVJRNL1"
inline constexpr std::uint32_t kJournalFormatVersion = 2;
inline constexpr std::size_t kJournalMaxMetaBytes = 255;
inline constexpr std::uint64_t kDefaultJournalSegmentBytes = 64ull << 20;
// A new segment's size on disk, before it grows (see FORMAT).
inline constexpr std::uint64_t kJournalSegmentFirstBytes = 64ull << 10;

enum class Durability {
  none,   // no journal: a lapped or late reader cannot catch up
  async,  // appended to the page cache before publishing: survives kill -9 of the writer
  sync,   // and made durable with fdatasync before the reply (group commit)
};
// "none", "async" or "sync"; throws Error(invalid_argument) naming the choices.
Durability parse_durability(std::string_view text);
std::string_view to_string(Durability durability);

struct JournalSegmentHeader {
  std::uint64_t magic;
  std::uint32_t format_version;
  std::uint32_t header_bytes;
  std::uint64_t first_seq;
  std::uint64_t segment_bytes;
  std::int64_t created_unix_ns;
  std::uint64_t history_id;  // the same in every segment of a journal (HISTORY above)
  std::uint8_t reserved[12];
  std::uint32_t header_crc;  // CRC32C of the bytes before it
};
static_assert(sizeof(JournalSegmentHeader) == 64);
static_assert(offsetof(JournalSegmentHeader, history_id) == 40);

// A new history id: random, never 0 (which means "none yet").
std::uint64_t new_history_id();
// How an id is shown in messages and files: 16 hex digits.
std::string history_text(std::uint64_t history_id);
// The history of the journal in `directory`: 0 when it holds no segment yet. Throws
// Error(no_instance) when the folder does not exist or is not a folder, and like the
// journal's readers for a segment that is not one of this format.
std::uint64_t journal_history(const std::filesystem::path& directory);

// What <journal>/domain records: the domain whose events the journal holds (its name, the
// first line) and, for a plugin domain, the absolute path of its library (the second line),
// so tools can describe the events with the domain's own describe().
struct DomainRecord {
  std::string name;
  std::string library;  // empty for a built-in domain
};
// std::nullopt when the folder has no domain file, or an empty one.
std::optional<DomainRecord> read_journal_domain(const std::filesystem::path& directory);
// Writes <directory>/domain (mode 0600), replacing it. Throws Error(io) naming the file.
void write_journal_domain(const std::filesystem::path& directory, const DomainRecord& domain);

struct JournalRecordHeader {
  std::uint32_t crc;            // CRC32C of the rest of the header, the metadata and the payload
  std::uint32_t payload_bytes;  // of the event, after the metadata
  std::uint32_t type;
  std::uint32_t meta_bytes;  // metadata before the payload, 0 to kJournalMaxMetaBytes
  std::uint64_t seq;
  std::int64_t publish_ns;
};
static_assert(offsetof(JournalRecordHeader, meta_bytes) == 12);
static_assert(sizeof(JournalRecordHeader) == 32);

struct JournalOptions {
  std::filesystem::path directory;
  std::uint64_t segment_bytes = kDefaultJournalSegmentBytes;
  std::uint32_t max_payload = 64u << 10;  // of an event, not counting its metadata
  mode_t mode = 0600;                     // for the files; the directory gets the same bits plus x
  // A granted group (readers catching up): the folder and every segment file get `mode`
  // exactly and this group, also those of earlier runs.
  gid_t group = kCreatorGroup;
};

// What opening the journal found and did.
struct JournalRecovery {
  std::uint64_t first_seq = 0;  // of the oldest record kept (0 if none)
  std::uint64_t last_seq = 0;   // of the newest record kept (0 if none)
  std::size_t segments = 0;
  bool cut_torn_tail = false;
  std::uint64_t cut_at_offset = 0;  // in the last segment
  std::string cut_reason;           // why the first dropped record was judged torn
  std::filesystem::path cut_segment;
};

// What a JournalWriter did since it was opened, for metrics. Plain counters of its thread.
struct JournalActivity {
  std::uint64_t bytes_written = 0;  // records appended, headers and padding included
  std::uint64_t syncs = 0;          // fdatasync calls: sync() and each segment's last
  std::uint64_t sync_ns = 0;        // time spent in them
};

// One thread of the writer process. Appends records with consecutive sequence numbers.
class JournalWriter {
 public:
  // Opens (creating if needed) the journal in options.directory and recovers its tail.
  // Throws Error(incompatible) for files of another format version, Error(corrupt) for a
  // bad record before the last segment's tail, Error(permission_denied/resource/io) with
  // what to do for the file system's refusals.
  static JournalWriter open(const JournalOptions& options, JournalRecovery* recovery = nullptr);
  JournalWriter(JournalWriter&&) noexcept;
  JournalWriter& operator=(JournalWriter&&) noexcept;
  ~JournalWriter();

  // Appends the record with sequence number next_seq() and returns it; `meta` is stored
  // with it and read back as JournalRecord::meta. Throws Error(invalid_argument) for a
  // payload over max_payload or meta over kJournalMaxMetaBytes, Error(resource) when the
  // disk is full; nothing is appended then.
  std::uint64_t append(std::uint32_t type, std::span<const std::byte> payload,
                       std::int64_t publish_ns, std::span<const std::byte> meta = {});
  // Makes sure records totalling `bytes` (record_bytes() each) fit in the current segment,
  // starting the next one now if they do not, so appends that follow cannot fail for room
  // halfway through: the events of one command are journaled all or none. Throws like a
  // rolling append() (Error(resource) when the disk is full); nothing is appended.
  void make_room(std::size_t bytes);
  // The bytes one record takes in a segment.
  static std::size_t record_bytes(std::size_t meta_bytes, std::size_t payload_bytes);
  // Makes everything appended so far durable (fdatasync). Call once for a batch.
  void sync();
  std::uint64_t next_seq() const noexcept;
  // The newest record's seq (next_seq() - 1), 0 while the journal is empty.
  std::uint64_t last_seq() const noexcept;
  // The journal's history (never 0 once open).
  std::uint64_t history_id() const noexcept;
  // The first seq of the segment being written: it changes when a segment is sealed.
  std::uint64_t segment_first_seq() const noexcept;
  const std::filesystem::path& directory() const noexcept;
  const JournalActivity& activity() const noexcept;

 private:
  struct State;
  explicit JournalWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One record as a journal reader hands it out; `meta` and `payload` point into the
// reader's mapping and are valid until the next call on that reader.
struct JournalRecord {
  std::uint64_t seq = 0;
  std::uint32_t type = 0;
  std::int64_t publish_ns = 0;
  std::span<const std::byte> meta;     // what the writer stored with it; often empty
  std::span<const std::byte> payload;  // the event
};

// The records a replay takes per JournalReader::next_batch(): enough to spread a call's
// cost, few enough that a run's records stay in L1 while they are applied.
inline constexpr std::size_t kReplayBatch = 32;

// A seq that retention removed (journal_retention.hpp) was asked for. The caller adds what
// to do, which depends on who asked (a reader: --from checkpoint, --from live, a JetStream
// --source; evring tail: --from the oldest seq).
class EventsRemoved : public Error {
 public:
  EventsRemoved(std::uint64_t wanted_seq, std::uint64_t oldest_seq, const std::string& message)
      : Error(ErrorCode::invalid_argument, message), wanted_(wanted_seq), oldest_(oldest_seq) {}
  std::uint64_t wanted_seq() const noexcept { return wanted_; }
  std::uint64_t oldest_seq() const noexcept { return oldest_; }

 private:
  std::uint64_t wanted_;
  std::uint64_t oldest_;
};

// Reads the journal from a sequence number on, read-only, while a writer may be appending.
// One thread.
class JournalReader {
 public:
  // Positions the reader at from_seq (1 for the start; a seq past the end waits for it).
  // Seqs older than the oldest live segment are read from the journal's archive, if it has
  // one. Throws Error(no_instance) if the directory holds no journal, Error(invalid_argument)
  // for from_seq 0, EventsRemoved when retention removed from_seq (also from next() when it
  // removes the segment being read and the next is nowhere).
  static JournalReader open(const std::filesystem::path& directory, std::uint64_t from_seq);
  JournalReader(JournalReader&&) noexcept;
  JournalReader& operator=(JournalReader&&) noexcept;
  ~JournalReader();

  // The next record, or false at the current end (call again later for more). Throws
  // Error(corrupt) for a bad record or a cut-short segment that a later segment follows
  // (not a tail).
  bool next(JournalRecord& out);
  // Up to out.size() next records (0 at the current end), all valid until the next call.
  // A replay takes them a run at a time rather than paying a call per record. Throws like
  // next().
  std::size_t next_batch(std::span<JournalRecord> out);
  std::uint64_t next_seq() const noexcept;
  // The history of the segments read (0 for a journal written before ids existed). A
  // segment of another history than the first one read is Error(corrupt).
  std::uint64_t history_id() const noexcept;

 private:
  struct State;
  explicit JournalReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The segment files of a journal directory in sequence order (for tools and tests).
std::vector<std::filesystem::path> journal_segments(const std::filesystem::path& directory);

}  // namespace evring
