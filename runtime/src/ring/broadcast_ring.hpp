// The event ring: a single-producer, multi-consumer broadcast buffer of variable-length
// records in shared memory. One writer; any number of readers, each reading every record.
//
// PROTOCOL
//
// The data area is `capacity` bytes (a power of two). Positions count bytes from the
// ring's creation and never wrap; a position's offset in the data area is
// position & (capacity - 1). A record is a RecordHeader (24 bytes) and its payload,
// aligned to kRecordAlignment. A record that would run past the end of the data area is
// preceded by a padding record that fills the rest, so every record is contiguous; a rest
// too short to hold a RecordHeader is padding without a header (both sides know it).
//
// Writer (one thread of one process), publishing a record of aligned length L at tail T:
//   W1 end = T + L, plus the padding if the record must wrap
//   W2 if end > the intent announced last: announce intent = end + slack with
//      tail_intent.store(intent, relaxed); atomic_thread_fence(release)       [SYNC A]
//      (announcing a slack of capacity/16 ahead makes this store rare, so the line it
//      lives on stays put; readers just count as lapped a little earlier)
//   W3 write the padding record (if any), the header and the payload
//   W4 latest.store(start of this record, relaxed)
//   W5 tail.store(end, release)                                               [SYNC B]
//   W6 if registry.wake_requested: clear it, futex_wake(tail)
// Reader, at its private cursor C (the start of the next record it wants):
//   R1 t = tail.load(acquire)                                                 [SYNC B]
//      t == C: nothing new.  t - C > capacity: lapped (R4).
//   R2 copy the bytes [C, t) (up to the end of the data area and the size of its batch
//      buffer) into a private batch buffer: every record published so far, in one go
//   R3 atomic_thread_fence(acquire); intent = tail_intent.load(relaxed)       [SYNC A]
//      intent - C > capacity: the writer has begun to overwrite bytes just copied; the
//      copy may be torn, so it is thrown away (R4).
//      Otherwise the copy is exactly what the writer published: hand its records out one
//      by one from the private buffer, without touching shared memory, then C = t.
// One R1 and one R3 per batch rather than per record: the cursor line, which the writer
// rewrites on every publish, moves between the cores once per batch.
//   R4 lapped: l = latest.load(relaxed), then t = tail.load(acquire)         [SYNC B]
//      l < t: the record at l is published (W4 comes before W5), so its header is copied
//      and validated as in R3; otherwise the writer is between W4 and W5: look again.
//      Then count the lap, move C to l, and report how many sequence numbers were
//      skipped so the caller can fetch them from the journal.
//
// Why R3 suffices: the writer announces its intent before touching any byte (W2's release
// fence orders the intent store before the data stores) and the reader reads the intent
// after copying (R3's acquire fence orders the copy before the intent load). If the copy
// saw a single overwritten byte, the two fences synchronize and R3 must see that intent
// or a later one. The only thing the writer reads that readers write is the wake-request
// flag (W6), and it never waits on it, so no reader can stop the writer: a slow reader is
// lapped, never waited for.
// This is the protocol of Aeron's broadcast buffer.
//
// Readers map the ring read-only (PROT_READ): no plugin bug can corrupt the stream.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "ring/shared_copy.hpp"
#include "shm/layout.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "sys/process.hpp"
#include "sys/wait_strategy.hpp"

namespace evring {

// 2: RingConfig::history_id.
inline constexpr std::uint32_t kRingLayoutVersion = 2;
inline constexpr std::uint32_t kRecordAlignment = 8;
inline constexpr std::uint32_t kPaddingType = 0xFFFF'FFFFu;  // never a user type
inline constexpr std::uint64_t kMinRingCapacity = 4096;
// 16 MiB: room for a burst of ~250k 64-byte events (a reader lapped past it catches up
// from the journal) at a quarter of the memory of 64 MiB. The writer is no slower for it
// (evring-bench throughput, 64 B, no reader, 2-core VM: 34.3 M rec/s at 64 MiB, 38.6 M at
// 16 MiB); a flat-out stream of 1 KiB records laps a reader sooner. --ring-bytes sizes it
// per instance.
inline constexpr std::uint64_t kDefaultRingCapacity = 16ull << 20;
inline constexpr std::uint32_t kDefaultMaxPayload = 64u << 10;
inline constexpr std::size_t kRingDataOffset = 4096;  // data starts page-aligned

struct RecordHeader {
  std::uint32_t length;     // header + payload, before alignment
  std::uint32_t type;       // user's event type; kPaddingType for padding
  std::uint64_t seq;        // 1, 2, 3, ... without gaps; 0 in padding
  std::int64_t publish_ns;  // monotonic_ns() when published
};
static_assert(sizeof(RecordHeader) == 24);
static_assert(sizeof(RecordHeader) % kRecordAlignment == 0);

// Written once by the creator before the preamble says `ready`; read-only after.
struct RingConfig {
  std::uint64_t capacity;          // bytes of the data area, a power of two
  std::uint64_t data_offset;       // from the segment start
  std::uint32_t record_alignment;  // kRecordAlignment
  std::uint32_t max_payload;       // largest payload a record may carry
  std::uint64_t first_seq;         // sequence number of the ring's first record
  std::uint64_t history_id;        // of the journal the writer continues (journal.hpp)
};

// Written by the writer on every publish; read by readers once per batch. The fields
// share one line on purpose: the writer updates them together, so one line moves per
// publish instead of three. tail_intent has a line of its own: it changes rarely (W2),
// and a reader's look at it must not take the hot line away from the writer.
struct alignas(kFalseSharingRange) RingCursor {
  std::atomic<std::uint64_t> tail;      // position published up to [SYNC B]
  std::atomic<std::uint64_t> latest;    // start of the newest record (resync point)
  std::atomic<std::uint64_t> head_seq;  // seq of the newest record
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> tail_intent;  // [SYNC A]
};

struct RingLayout {
  SegmentPreamble preamble;
  RingConfig config;
  // Written by the writer every ~100 ms; its own line so it never disturbs the cursor.
  alignas(kFalseSharingRange) std::atomic<std::int64_t> heartbeat_ns;
  alignas(kFalseSharingRange) RingCursor cursor;
};
static_assert(offsetof(RingLayout, config) == sizeof(SegmentPreamble));
static_assert(offsetof(RingLayout, cursor) % kFalseSharingRange == 0);
static_assert(sizeof(RingLayout) <= kRingDataOffset);

constexpr std::uint64_t aligned_record_length(std::uint64_t payload_bytes) {
  return align_up(sizeof(RecordHeader) + payload_bytes, kRecordAlignment);
}
// A reader whose writer is gone (stopped, killed, not started yet) looks for a new one this
// often, and sleeps at most this long in between (a query wakes it sooner): a waiting
// reader costs next to nothing and joins a new writer within a few ms.
inline constexpr std::int64_t kWriterLookIntervalNs = 5'000'000;

// The largest payload a writer may be given (--max-payload): a record's length is 32 bits,
// and every reader keeps a buffer of one.
inline constexpr std::uint64_t kMaxEventPayload = 16ull << 20;

// The smallest ring that holds four of the largest records: a power of two, at least
// kMinRingCapacity.
constexpr std::uint64_t minimum_ring_capacity(std::uint64_t max_payload) {
  std::uint64_t capacity = kMinRingCapacity;
  while (capacity / 4 < aligned_record_length(max_payload)) capacity *= 2;
  return capacity;
}

struct RingOptions {
  std::string instance = "default";
  std::uint64_t capacity = kDefaultRingCapacity;
  std::uint32_t max_payload = kDefaultMaxPayload;
  std::uint64_t first_seq = 1;  // where the journal says the sequence continues
  // Of the ring; the registry gets the same bits plus write wherever read is granted, since
  // readers claim their slots in it (docs/writer.md, "Access").
  mode_t mode = 0600;
  WriterInfo writer_info{};     // recorded in the registry for readers and tools
  gid_t group = kCreatorGroup;  // owner of the ring and registry: a granted group
  // The journal's history; without a journal each writer start is a history of its own.
  std::uint64_t history_id = 0;
};

// Throws Error(invalid_argument) if the options cannot make a working ring, saying why.
void validate_ring_options(const RingOptions& options);

// Throws Error(writer_running), as RingWriter::create would, when a live writer owns the
// instance: for a writer to check before it prepares anything else. Any thread.
void ensure_no_live_writer(const std::string& instance);

// The writer's side. One per instance, used by one thread only.
class RingWriter {
 public:
  // Creates the instance's ring and registry. A live writer on the same instance is an
  // Error(writer_running); segments left by a dead writer (or of another layout version)
  // are marked superseded, so their readers know to reattach, and replaced.
  static RingWriter create(const RingOptions& options);
  RingWriter(RingWriter&&) noexcept;
  // Not assignable: overwriting a live writer would have to close its instance first.
  RingWriter& operator=(RingWriter&&) = delete;
  // Marks the ring closed and removes the segments' names (readers learn it at once).
  ~RingWriter();

  // Writer thread only. Publishes one record and returns its sequence number. Never waits:
  // readers that fall a whole ring behind are lapped. Payload at most max_payload().
  std::uint64_t publish(std::uint32_t type, std::span<const std::byte> payload) {
    return publish(type, payload, monotonic_ns());
  }
  std::uint64_t publish(std::uint32_t type, std::span<const std::byte> payload,
                        std::int64_t publish_ns);

  // Writer thread only, every ~100 ms: refreshes heartbeats and the registry's totals.
  void heartbeat();

  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  std::uint64_t incarnation() const noexcept { return layout_->preamble.incarnation; }
  std::uint64_t next_seq() const noexcept { return next_seq_; }
  const std::string& instance() const noexcept { return instance_; }
  Registry& registry() noexcept { return *registry_; }
  // How many futex wakes this writer has made (each costs a system call).
  std::uint64_t wake_calls() const noexcept { return wake_calls_; }

 private:
  RingWriter(std::string instance, SharedSegment ring, Registry registry);
  void write_padding(std::uint64_t offset, std::uint64_t bytes);
  // Out of line and cold: publish() stays small and builds no string on its way.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_payload_too_large(std::size_t bytes) const;

  friend class RingReader;  // attach_in_process shares the writer's mappings

  std::string instance_;
  std::shared_ptr<SharedSegment> ring_segment_;
  std::shared_ptr<Registry> registry_;
  RingLayout* layout_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t mask_ = 0;
  std::uint32_t max_payload_ = 0;
  // Writer-local copies: the writer is the only one that changes these, so it never has
  // to load the shared ones back.
  std::uint64_t tail_ = 0;
  std::uint64_t announced_intent_ = 0;
  std::uint64_t intent_slack_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t bytes_total_ = 0;
  std::atomic<std::uint32_t>* wake_requested_ = nullptr;
  std::uint64_t wake_calls_ = 0;
};

// One record handed out by RingReader::poll: a view into the reader's private, validated
// copy, valid until the next poll on that reader (copy what you keep longer).
class RecordBuffer {
 public:
  explicit RecordBuffer(std::uint32_t max_payload = kDefaultMaxPayload);
  // Room for `bytes` of records (at least one of max_payload).
  RecordBuffer(std::uint32_t max_payload, std::size_t bytes);

  const RecordHeader& header() const noexcept {
    return *reinterpret_cast<const RecordHeader*>(record_);
  }
  std::uint64_t seq() const noexcept { return header().seq; }
  std::uint32_t type() const noexcept { return header().type; }
  std::int64_t publish_ns() const noexcept { return header().publish_ns; }
  std::span<const std::byte> payload() const noexcept {
    return {record_ + sizeof(RecordHeader), header().length - sizeof(RecordHeader)};
  }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  std::byte* raw() noexcept { return storage_.get(); }

 private:
  friend class RingReader;

  struct FreeAligned {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte[], FreeAligned> storage_;
  const std::byte* record_ = nullptr;  // the record shown: in storage_ or a reader's batch
  std::uint32_t max_payload_;
};

enum class StartAt {
  live,      // the next record published after attaching
  earliest,  // the oldest record still in the ring (first_seq if none was overwritten)
};

enum class PollStatus {
  empty,           // nothing new yet
  record,          // the buffer holds the next record, copied and validated
  lapped,          // the writer overwrote records before they were read; see PollResult
  writer_gone,     // the writer exited or died and no new writer has replaced it yet
  writer_replaced  // a new writer took over the instance: call reattach()
};

struct PollResult {
  PollStatus status = PollStatus::empty;
  // lapped: how many sequence numbers were skipped, and the next one the ring will give.
  std::uint64_t missed = 0;
  std::uint64_t resume_seq = 0;
};

class WaitInterrupt;

struct ReaderOptions {
  std::string instance = "default";
  StartAt start = StartAt::live;
  ReaderIdentity identity{"reader", "", WaitKind::spin};
  bool register_slot = true;  // false for tools that only peek (evring tail)
  // false when the caller stores the slot's position itself (EventStream: the position is
  // what the view applied, which may come from the journal).
  bool report_position = true;
  // The interrupt that cuts wait_next short, when the caller already has one (it outlives
  // this reader: a stream that reattaches); null: the reader makes its own.
  std::shared_ptr<WaitInterrupt> interrupt;
  // How long a lapped reader keeps looking for a consistent newest record before it calls
  // the cursor damaged. A live writer can be caught mid-publish, and preempted there for
  // a scheduler's time slice or more, so the default is generous; a fuzzer, whose cursor is
  // damaged on purpose and whose writer never moves, sets it to 0 (a few looks only).
  std::int64_t damaged_after_ns = 1'000'000'000;
};

// Lets another thread cut a reader's wait_next short: a reader process's query thread, with a
// query for the view to answer. Shared by the reader and that thread; safe to trigger from
// any thread at any time (also while the reader reattaches).
class WaitInterrupt {
 public:
  void trigger() noexcept;
  // Reader thread: whether it was triggered since the last look (and forget it).
  bool take() noexcept {
    // relaxed load first: the common case (not triggered) costs no read-modify-write.
    return pending_.load(std::memory_order_relaxed) != 0 &&
           pending_.exchange(0, std::memory_order_acquire) != 0;
  }
  // Reader thread, at (re)attach: the futex word wait_next sleeps on; nullptr while the
  // reader has no ring (its writer not started yet), when it sleeps in sleep() instead.
  void watch(const std::uint32_t* word) noexcept {
    // seq_cst: pairs with trigger()'s seq_cst store of pending_ and load of word_: either
    // trigger() sees the word the reader now sleeps on, or the reader's sleep sees pending_.
    word_.store(word, std::memory_order_seq_cst);
  }
  // Reader thread, with no ring to wait on: sleeps at most timeout_ns, less if triggered.
  void sleep(std::int64_t timeout_ns) noexcept;

 private:
  std::atomic<std::uint32_t> pending_{0};
  std::atomic<const std::uint32_t*> word_{nullptr};
};

// A reader's side: a read-only mapping of the ring and a slot in the registry.
// Used by one thread; any number of readers in any number of processes.
class RingReader {
 public:
  // Throws Error(no_instance) naming the command that starts a writer when there is
  // none, Error(incompatible) for a segment of another layout version, and
  // Error(writer_gone) when the segment's writer is dead.
  static RingReader attach(const ReaderOptions& options);
  // A reader thread inside the writer's own process, sharing the writer's mapping instead
  // of mapping the ring again (at another address). For in-process consumers and for the
  // ThreadSanitizer stress tests, which can only see races on one address. The writer
  // must outlive the reader.
  static RingReader attach_in_process(RingWriter& writer, const ReaderOptions& options);
  RingReader(RingReader&&) noexcept;
  // Not assignable: overwriting a reader would have to release its registry slot first.
  RingReader& operator=(RingReader&&) = delete;
  ~RingReader();  // frees the registry slot

  // Reader thread only. Never blocks. On `record`, `out` holds the record.
  PollResult poll(RecordBuffer& out);
  // Reader thread only. Polls, idling per `wait` between polls, until something other
  // than `empty` happens or timeout_ns passes (then returns `empty`).
  PollResult wait_next(RecordBuffer& out, WaitKind wait, std::int64_t timeout_ns);
  // After writer_replaced (or writer_gone, to wait for a new writer): maps the instance's
  // current segments and continues from their first record. Throws like attach().
  void reattach();

  std::uint64_t incarnation() const noexcept { return layout_->preamble.incarnation; }
  std::uint64_t history_id() const noexcept { return layout_->config.history_id; }
  std::uint64_t writer_pid() const noexcept { return layout_->preamble.owner_pid; }
  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  // The next sequence number this reader expects (0 before the first record when live).
  std::uint64_t expected_seq() const noexcept { return expected_seq_; }
  std::uint64_t head_seq() const noexcept {
    // relaxed: an informational snapshot (lag), orders nothing.
    const std::uint64_t published = layout_->cursor.head_seq.load(std::memory_order_relaxed);
    // A writer that restarted and has published nothing yet is still at the seq its
    // journal ends with, not at 0 (a reader restoring a checkpoint compares with it).
    return std::max(published, layout_->config.first_seq - 1);
  }
  // For a live start: the seq of the first record published after the attach (the record
  // at the attach cursor has no higher one), so a caller that expects it can tell a lap
  // before its first record. Everything published once the slot is visible comes after it.
  std::uint64_t live_start_seq() const noexcept { return live_start_seq_; }
  std::uint64_t lapped_count() const noexcept { return lapped_count_; }
  ReaderSlot* slot() const noexcept { return slot_; }
  // For another thread to end a wait_next early (it then returns `empty`).
  const std::shared_ptr<WaitInterrupt>& wait_interrupt() const noexcept { return interrupt_; }
  const SharedSegment& ring_segment() const noexcept { return *ring_segment_; }

 private:
  RingReader() = default;
  void map_current(bool from_start);
  PollResult on_lapped();
  // Whether a lapped reader has looked for a consistent cursor long enough to call it
  // damaged (ReaderOptions::damaged_after_ns); yields the core between later looks.
  bool out_of_patience(std::uint32_t attempt, std::int64_t& since_ns) const;
  [[noreturn]] void throw_damaged(const std::string& what) const;
  // Out of line and cold: poll() stays small and builds no string on its way.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_skipped(std::uint64_t seq) const;
  PollResult refill();
  void drop_batch() noexcept { batch_read_ = batch_size_ = 0; }
  PollStatus check_writer();
  // Whether the ring's name now holds the segment of another writer start than ours.
  bool successor_named() const;
  PollResult sleep_while_writer_gone(RecordBuffer& out, std::int64_t timeout_ns);

  void adopt(std::shared_ptr<SharedSegment> ring, std::shared_ptr<Registry> registry,
             bool from_start);

  ReaderOptions options_;
  std::shared_ptr<SharedSegment> ring_segment_;
  std::shared_ptr<Registry> registry_;
  const RingLayout* layout_ = nullptr;
  const std::byte* data_ = nullptr;
  ReaderSlot* slot_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t mask_ = 0;
  std::uint32_t max_payload_ = 0;
  std::uint64_t cursor_ = 0;
  std::uint64_t expected_seq_ = 0;
  std::uint64_t live_start_seq_ = 0;
  std::uint64_t lapped_count_ = 0;
  std::uint64_t missed_count_ = 0;
  std::uint32_t empty_polls_ = 0;
  std::int64_t last_liveness_check_ns_ = 0;
  bool writer_gone_ = false;  // closed or dead: look for a successor, sleep between looks
  std::int64_t next_successor_look_ns_ = 0;
  ProcessWatch writer_watch_;
  std::shared_ptr<WaitInterrupt> interrupt_ = std::make_shared<WaitInterrupt>();
  // The last validated copy (R2, R3): records [batch_read_, batch_size_) of it are still
  // to be handed out; batch_start_ is the ring position of its first byte.
  RecordBuffer batch_{0};
  std::size_t batch_capacity_ = 0;
  std::size_t batch_read_ = 0;
  std::size_t batch_size_ = 0;
  std::uint64_t batch_start_ = 0;
};

// ---- hot paths, inline -------------------------------------------------------------

inline std::uint64_t RingWriter::publish(std::uint32_t type, std::span<const std::byte> payload,
                                         std::int64_t publish_ns) {
  if (payload.size() > max_payload_) [[unlikely]] {
    throw_payload_too_large(payload.size());
  }
  const std::uint64_t record_length = sizeof(RecordHeader) + payload.size();
  const std::uint64_t aligned_length = align_up(record_length, kRecordAlignment);
  std::uint64_t record_start = tail_;
  std::uint64_t offset = record_start & mask_;
  const std::uint64_t to_end = capacity_ - offset;
  const bool wraps = to_end < aligned_length;
  const std::uint64_t end = record_start + aligned_length + (wraps ? to_end : 0);

  if (end > announced_intent_) [[unlikely]] {
    // W2. relaxed store + release fence: the fence orders this store before every data
    // store that follows (in this publish and the next ones up to the announced intent),
    // so a reader whose copy saw new data also sees this intent or a later one [SYNC A].
    announced_intent_ = end + intent_slack_;
    layout_->cursor.tail_intent.store(announced_intent_, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }

  if (wraps) {
    write_padding(offset, to_end);
    record_start += to_end;
    offset = 0;
  }
  const std::uint64_t seq = next_seq_++;
  const RecordHeader header{static_cast<std::uint32_t>(record_length), type, seq, publish_ns};
  std::byte* record = data_ + offset;
  detail::copy_to_shared(record, &header, sizeof header);
  if (!payload.empty()) {
    // Whole 8-byte words; the tail of the last word is junk the reader never hands out.
    const std::size_t full = payload.size() & ~std::size_t{7};
    if (full != 0) detail::copy_to_shared(record + sizeof header, payload.data(), full);
    if (full != payload.size()) {
      std::byte last[8] = {};
      std::memcpy(last, payload.data() + full, payload.size() - full);
      detail::copy_to_shared(record + sizeof header + full, last, 8);
    }
  }

  // W4. relaxed: only read by a lapped reader after its acquire load of tail (W5 orders it).
  layout_->cursor.latest.store(record_start, std::memory_order_relaxed);
  // relaxed: informational (stat, lag); the record itself carries its seq.
  layout_->cursor.head_seq.store(seq, std::memory_order_relaxed);
  // W5. release: pairs with the reader's acquire load of tail (R1); everything written
  // above is visible to a reader that sees this tail [SYNC B].
  layout_->cursor.tail.store(end, std::memory_order_release);
  tail_ = end;
  bytes_total_ += payload.size();

  // W6. relaxed load: a sleeper sets the flag before its last look at tail; a wake missed
  // in the instant between the two is bounded by the sleeper's futex timeout (see
  // RingReader::wait_next), so the writer needs no store-load fence on this path. The
  // exchange (taken only when a reader asked) makes one wake serve every sleeper so far.
  if (wake_requested_->load(std::memory_order_relaxed) != 0) [[unlikely]] {
    if (wake_requested_->exchange(0, std::memory_order_relaxed) != 0) {
      futex_wake_shared(reinterpret_cast<std::uint32_t*>(&layout_->cursor.tail));
      ++wake_calls_;
    }
  }
  return seq;
}

inline PollResult RingReader::poll(RecordBuffer& out) {
  while (batch_read_ == batch_size_) {
    const PollResult result = refill();
    if (result.status != PollStatus::record) return result;
  }
  // Hand out the next record of the validated private copy: no shared memory touched.
  const std::byte* record = batch_.raw() + batch_read_;
  const auto* header = reinterpret_cast<const RecordHeader*>(record);
  const std::uint64_t aligned = align_up(header->length, kRecordAlignment);
  if (expected_seq_ != 0 && header->seq != expected_seq_) [[unlikely]] {
    throw_skipped(header->seq);
  }
  out.record_ = record;
  batch_read_ += aligned;
  cursor_ = batch_start_ + batch_read_;
  expected_seq_ = header->seq + 1;
  if (slot_ != nullptr && options_.report_position) {
    // relaxed: a lone progress counter for stat; orders nothing.
    slot_->position_seq.store(header->seq, std::memory_order_relaxed);
    slot_->position_publish_ns.store(header->publish_ns, std::memory_order_relaxed);
  }
  return {PollStatus::record};
}

}  // namespace evring
