// The registry: a small shared segment beside the ring that says who is alive and where.
//
// Ownership, field by field (each group on its own cache lines):
//   WriterStatus       written only by the writer, read by anyone (evring stat).
//   wake_requested,    the readers' doorbell (sync/doorbell.hpp): readers about to sleep
//   wake_bell          raise wake_requested and sleep on wake_bell; the writer reads the
//                      flag after each publish, and lowers it and bumps the bell to wake them.
//   ReaderSlot[i]      written only by the reader that claimed it; read by anyone.
// Claiming and releasing a slot happens under a process-shared robust mutex, so a reader
// that dies holding it cannot wedge the others; a slot whose owner died is reclaimed by the
// next reader that needs one. Readers map this segment read-write (the ring they map
// read-only), so a reader can only hurt rows of this table, never the event stream.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <pthread.h>

#include "shm/layout.hpp"
#include "shm/shared_segment.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/process.hpp"

namespace evring {

inline constexpr std::uint32_t kRegistryLayoutVersion =
    6;  // 3: WriterInfo, 4: its library, 5: wake_bell, 6: command, journal and query counts
inline constexpr std::size_t kMaxReaders = 64;
inline constexpr std::size_t kReaderIdBytes = 48;
inline constexpr std::size_t kReaderViewBytes = 32;

// Written by the writer only, at its heartbeat (~100 ms), from the plain counters it keeps
// in its own memory: a command costs no store here. Relaxed everywhere: lone counters for
// stat, which order nothing else.
struct alignas(kFalseSharingRange) WriterStatus {
  std::atomic<std::int64_t> heartbeat_ns;   // monotonic_ns(), refreshed by the writer
  std::atomic<std::uint64_t> events_total;  // refreshed at heartbeat, not per publish
  std::atomic<std::uint64_t> bytes_total;
  std::atomic<std::uint64_t> head_seq;  // last published sequence, at heartbeat
  // Commands of this writer start by outcome; they add up to every command decided.
  std::atomic<std::uint64_t> commands_accepted;
  std::atomic<std::uint64_t> commands_rejected;      // by the domain's rules, or malformed
  std::atomic<std::uint64_t> commands_duplicate;     // a command id seen before: not reapplied
  std::atomic<std::uint64_t> commands_failed;        // the domain failed, the journal had no room
  std::atomic<std::uint64_t> journal_bytes_written;  // records appended, headers included
  std::atomic<std::uint64_t> journal_syncs;          // fdatasync calls
  std::atomic<std::uint64_t> journal_sync_ns;        // time spent in them
};

// A latency histogram's buckets, fixed so that every process agrees on them: bucket i counts
// durations up to kLatencyBoundsNs[i] (and above the one before); the last, anything longer.
inline constexpr std::int64_t kLatencyBoundsNs[] = {
    1'000,      2'500,      5'000,      10'000,      25'000,      50'000,
    100'000,    250'000,    500'000,    1'000'000,   2'500'000,   5'000'000,
    10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000, 1'000'000'000};
inline constexpr std::size_t kLatencyBuckets = std::size(kLatencyBoundsNs) + 1;

// One owner's histogram in its own memory, copied into shared memory now and then.
struct LatencyCounts {
  std::uint64_t buckets[kLatencyBuckets] = {};  // not cumulative
  std::uint64_t sum_ns = 0;

  void record(std::int64_t ns) noexcept {
    std::size_t i = 0;
    while (i + 1 < kLatencyBuckets && ns > kLatencyBoundsNs[i]) ++i;
    ++buckets[i];
    sum_ns += static_cast<std::uint64_t>(ns > 0 ? ns : 0);
  }
};

inline constexpr std::size_t kWriterDomainBytes = 32;
inline constexpr std::size_t kWriterJournalBytes = 512;

// What readers and tools need to know of the writer's set-up: where its journal is (a
// lapped or late reader catches up from it) and which domain's events flow. Written once
// before the segment is `ready`; never changes.
struct WriterInfo {
  char domain[kWriterDomainBytes];    // NUL-terminated; empty if unknown
  char journal[kWriterJournalBytes];  // absolute path; empty: durability none, no journal
  // A plugin domain's library, absolute path (tools load its describe()); empty: built-in.
  char domain_library[kWriterJournalBytes];
  std::uint32_t durability;  // Durability (journal.hpp)
  std::uint32_t reserved;
};

struct alignas(kFalseSharingRange) ReaderSlot {
  // 0 while free. Set under the claim mutex; stored with release after the fields below
  // are filled in, so a stat tool that loads it with acquire sees a complete row.
  std::atomic<std::uint64_t> owner_pid;
  std::uint64_t owner_start_ticks;
  char id[kReaderIdBytes];
  char view[kReaderViewBytes];
  std::uint32_t wait_kind;  // WaitKind
  std::uint32_t reserved0;
  // Progress, written by the owner only; relaxed everywhere: each is a lone counter that
  // orders nothing else, and readers of it (stat) only need an eventually fresh value.
  // position_seq is the exception: a view host stores it with release after
  // position_applied_ns, so that whoever loads the seq with acquire reads the time that
  // seq was applied (evring-bench's command-to-view figure).
  alignas(kCacheLine) std::atomic<std::uint64_t> position_seq;  // last seq delivered
  std::atomic<std::int64_t> position_publish_ns;                // its publish time
  std::atomic<std::int64_t> position_applied_ns;  // when a view applied it, 0: not a view
  std::atomic<std::uint64_t> lapped_count;
  std::atomic<std::uint64_t> missed_count;
  std::atomic<std::uint64_t> replay_count;
  std::atomic<std::int64_t> heartbeat_ns;
  // Queries, copied by the owner from its own counters at its heartbeat (~100 ms), so a
  // query costs no store here; relaxed, as above. On a line of their own: progress above
  // is stored per batch of events, these ten times a second.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> queries_segment;  // replies through shm
  std::atomic<std::uint64_t> queries_socket;                               // replies on the socket
  std::atomic<std::uint64_t> query_latency_sum_ns;
  std::atomic<std::uint64_t> query_latency_buckets[kLatencyBuckets];
};

struct RegistryLayout {
  SegmentPreamble preamble;
  pthread_mutex_t claim_mutex;  // PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST
  WriterInfo info;
  alignas(kFalseSharingRange) WriterStatus writer;
  // The readers' doorbell: 1 while some reader may sleep. The writer lowers it when it
  // wakes them, so a sleeper that is stopped (SIGSTOP) or dead costs the writer one wake,
  // not one per publish. The bell is the futex word the sleepers sleep on.
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> wake_requested;
  std::atomic<std::uint32_t> wake_bell;
  alignas(kFalseSharingRange) ReaderSlot slots[kMaxReaders];
};

static_assert(sizeof(ReaderSlot) % kFalseSharingRange == 0);
static_assert(offsetof(ReaderSlot, position_seq) % kCacheLine == 0);
static_assert(offsetof(ReaderSlot, queries_segment) % kFalseSharingRange == 0);
static_assert(sizeof(WriterStatus) == kFalseSharingRange);
static_assert(offsetof(RegistryLayout, writer) % kFalseSharingRange == 0);
static_assert(offsetof(RegistryLayout, wake_requested) % kFalseSharingRange == 0);
static_assert(offsetof(RegistryLayout, slots) % kFalseSharingRange == 0);

// A row of the registry as a tool sees it.
struct ReaderInfo {
  std::size_t slot = 0;
  std::uint64_t pid = 0;
  bool alive = false;
  std::string id;
  std::string view;
  WaitKind wait = WaitKind::spin;
  std::uint64_t position_seq = 0;
  std::int64_t position_publish_ns = 0;
  std::int64_t position_applied_ns = 0;
  std::uint64_t lapped_count = 0;
  std::uint64_t missed_count = 0;
  std::uint64_t replay_count = 0;
  std::int64_t heartbeat_ns = 0;
  std::uint64_t queries_segment = 0;
  std::uint64_t queries_socket = 0;
  LatencyCounts query_latency;
};

// What one reader registers about itself.
struct ReaderIdentity {
  std::string id;    // shown by evring stat; truncated to kReaderIdBytes - 1
  std::string view;  // e.g. "kv"; truncated to kReaderViewBytes - 1
  WaitKind wait = WaitKind::spin;
};

// A fixed-size text field of a segment: NUL-padded, cut to capacity - 1.
void write_text_field(char* dst, std::size_t capacity, const std::string& src);
std::string read_text_field(const char* src, std::size_t capacity);

// A slot's row, filled for `owner` (its pid stored last, with release) and read back (pid 0:
// free). Registry's slots use them, and so does a slot kept elsewhere (a remote reader's own
// segment, remote/remote_status.hpp).
void fill_slot(ReaderSlot& slot, const ReaderIdentity& identity, const ProcessIdentity& owner);
ReaderInfo read_slot(const ReaderSlot& slot, std::size_t index);

// The slot's owner: its query counts now (relaxed stores; see ReaderSlot).
void publish_query_counts(ReaderSlot& slot, std::uint64_t via_segment, std::uint64_t via_socket,
                          const LatencyCounts& latency);

// Process-local handle on a registry segment.
class Registry {
 public:
  // Writer only: creates the segment (fails if one exists), initializes the mutex and
  // records `info`.
  static Registry create(const std::string& instance, std::uint64_t incarnation, mode_t mode,
                         const WriterInfo& info, gid_t group = kCreatorGroup);
  // Readers and tools: opens an existing one read-write (readers claim slots) or read-only
  // (tools that only look). Throws Error(no_instance) if there is none.
  static Registry open(const std::string& instance, Access access);

  RegistryLayout& layout() const noexcept { return *layout_; }
  const SharedSegment& segment() const noexcept { return segment_; }

  // Any reader process: claims a free slot, or one whose owner has died, and fills in
  // `identity`. Throws Error(resource) when all kMaxReaders slots belong to live readers.
  ReaderSlot& claim_slot(const ReaderIdentity& identity);
  // The slot's owner: frees it for another reader.
  void release_slot(ReaderSlot& slot);
  // Anyone: the rows in use, with liveness checked by pid and start time.
  std::vector<ReaderInfo> readers() const;

 private:
  explicit Registry(SharedSegment segment);

  SharedSegment segment_;
  RegistryLayout* layout_ = nullptr;
};

}  // namespace evring
