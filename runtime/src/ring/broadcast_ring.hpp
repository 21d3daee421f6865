// The event ring's segment: evring.<instance>.ring in /dev/shm, which holds the ring of
// ring_protocol.hpp for one writer and any number of reader processes, and the lifecycle
// around it: creating it (and replacing a dead writer's), attaching to it, the registry
// slot a reader claims, a writer that dies or is replaced, and waiting for records.
//
// The segment is a RingLayout: the preamble every segment starts with (shm/layout.hpp),
// the ring's config, the writer's heartbeat, the cursor, then from data_offset the data
// area. A RingWriter publishes through a RingTransmitter over it and rings the readers'
// doorbell, whose words are in the registry (shm/registry.hpp): readers that block sleep
// on it (sync/doorbell.hpp). A RingReader polls through a RingReceiver.
//
// Readers map the ring read-only (PROT_READ): no plugin bug can corrupt the stream.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "ring/ring_protocol.hpp"
#include "ring/ring_receiver.hpp"
#include "ring/ring_transmitter.hpp"
#include "shm/layout.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "sync/doorbell.hpp"
#include "sync/wait_interrupt.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/process.hpp"
#include "sys/stamp_clock.hpp"

namespace evring {

// 2: RingConfig::history_id. 3: commit words in the records (ring_protocol.hpp).
inline constexpr std::uint32_t kRingLayoutVersion = 3;
// 16 MiB: room for a burst of ~250k 64-byte events (a reader lapped past it catches up
// from the journal) at a quarter of the memory of 64 MiB. The writer is no slower for it
// (evring-bench throughput, 64 B, no reader, 2-core VM: 34.3 M rec/s at 64 MiB, 38.6 M at
// 16 MiB); a flat-out stream of 1 KiB records laps a reader sooner. --ring-bytes sizes it
// per instance.
inline constexpr std::uint64_t kDefaultRingCapacity = 16ull << 20;
inline constexpr std::size_t kRingDataOffset = 4096;  // data starts page-aligned

// Written once by the creator before the preamble says `ready`; read-only after.
struct RingConfig {
  std::uint64_t capacity;          // bytes of the data area, a power of two
  std::uint64_t data_offset;       // from the segment start
  std::uint32_t record_alignment;  // kRecordAlignment
  std::uint32_t max_payload;       // largest payload a record may carry
  std::uint64_t first_seq;         // sequence number of the ring's first record
  std::uint64_t history_id;        // of the journal the writer continues (journal.hpp)
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

// A reader whose writer is gone (stopped, killed, not started yet) looks for a new one this
// often, and sleeps at most this long in between (a query wakes it sooner): a waiting
// reader costs next to nothing and joins a new writer within a few ms.
inline constexpr std::int64_t kWriterLookIntervalNs = 5'000'000;

// The largest payload a writer may be given (--max-payload): a record's length is 32 bits,
// and every reader keeps a buffer of one.
inline constexpr std::uint64_t kMaxEventPayload = 16ull << 20;

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
    return publish(type, payload, stamp_clock_.now_ns());
  }
  std::uint64_t publish(std::uint32_t type, std::span<const std::byte> payload,
                        std::int64_t publish_ns) {
    const std::uint64_t seq = transmitter_.publish(type, payload, publish_ns);
    ring_doorbell();
    return seq;
  }
  // Writer thread only. Publishes the records in order with one commit and one ring of
  // the doorbell (RingTransmitter::publish_batch); returns the first one's seq.
  std::uint64_t publish_batch(std::span<const OutgoingRecord> records, std::int64_t publish_ns) {
    const std::uint64_t seq = transmitter_.publish_batch(records, publish_ns);
    ring_doorbell();
    return seq;
  }
  // Writer thread only, when it runs out of work: the cursor names the newest record, for
  // stat, late joiners and lapped readers (ring_protocol.hpp, W6).
  void flush() noexcept { transmitter_.flush(); }
  // Writer thread only. Now, for publish_ns: CLOCK_MONOTONIC ns from the TSC where it can
  // (sys/stamp_clock.hpp).
  std::int64_t now_ns() noexcept { return stamp_clock_.now_ns(); }

  // Writer thread only, every ~100 ms: refreshes heartbeats and the registry's totals.
  void heartbeat();

  std::uint64_t capacity() const noexcept { return transmitter_.capacity(); }
  std::uint32_t max_payload() const noexcept { return transmitter_.max_payload(); }
  std::uint64_t incarnation() const noexcept { return layout_->preamble.incarnation; }
  std::uint64_t next_seq() const noexcept { return transmitter_.next_seq(); }
  const std::string& instance() const noexcept { return instance_; }
  Registry& registry() noexcept { return *registry_; }
  // How many futex wakes this writer has made (each costs a system call).
  std::uint64_t wake_calls() const noexcept { return wake_calls_; }

 private:
  RingWriter(std::string instance, SharedSegment ring, Registry registry);

  friend class RingReader;  // attach_in_process shares the writer's mappings

  void ring_doorbell() noexcept {
    // W7. Unfenced: one relaxed load per publish while nobody sleeps; a sleeper caught in
    // the instant before its flag shows is woken by its backstop (RingReader::wait_next).
    if (doorbell_.ring_unfenced()) [[unlikely]] {
      ++wake_calls_;
    }
  }

  std::string instance_;
  std::shared_ptr<SharedSegment> ring_segment_;
  std::shared_ptr<Registry> registry_;
  RingLayout* layout_ = nullptr;
  RingTransmitter transmitter_;
  Doorbell doorbell_;
  StampClock stamp_clock_;
  std::uint64_t wake_calls_ = 0;
};

struct RingReaderOptions {
  std::string instance = "default";
  RingStart start = RingStart::live;
  ReaderIdentity identity{"reader", "", WaitKind::spin};
  bool register_slot = true;  // false for tools that only peek (evring tail)
  // false when the caller stores the slot's position itself (EventStream: the position is
  // what the view applied, which may come from the journal).
  bool report_position = true;
  // The interrupt that cuts wait_next short, when the caller already has one (it outlives
  // this reader: a stream that reattaches); null: the reader makes its own.
  std::shared_ptr<WaitInterrupt> interrupt;
  // RingReceiver::kDefaultDamagedAfterNs; a fuzzer's is 0.
  std::int64_t damaged_after_ns = RingReceiver::kDefaultDamagedAfterNs;
};

// A reader's side: a read-only mapping of the ring and a slot in the registry.
// Used by one thread; any number of readers in any number of processes.
class RingReader {
 public:
  // Throws Error(no_instance) naming the command that starts a writer when there is
  // none, Error(incompatible) for a segment of another layout version, and
  // Error(writer_gone) when the segment's writer is dead.
  static RingReader attach(const RingReaderOptions& options);
  // A reader thread inside the writer's own process, sharing the writer's mapping instead
  // of mapping the ring again (at another address). For in-process consumers and for the
  // ThreadSanitizer stress tests, which can only see races on one address. The writer
  // must outlive the reader.
  static RingReader attach_in_process(RingWriter& writer, const RingReaderOptions& options);
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
  std::uint64_t capacity() const noexcept { return receiver_->capacity(); }
  std::uint32_t max_payload() const noexcept { return receiver_->max_payload(); }
  // The next sequence number this reader expects (0 before the first record when live).
  std::uint64_t expected_seq() const noexcept { return receiver_->expected_seq(); }
  // The newest published seq: exact, from the cursor and the records committed after it.
  std::uint64_t head_seq() const {
    // A writer that restarted and has published nothing yet is still at the seq its
    // journal ends with, not at 0 (a reader restoring a checkpoint compares with it).
    return std::max(receiver_->newest_seq(), layout_->config.first_seq - 1);
  }
  // RingReceiver::live_start_seq. Everything published once the slot is visible comes
  // after it.
  std::uint64_t live_start_seq() const noexcept { return receiver_->live_start_seq(); }
  std::uint64_t lapped_count() const noexcept { return receiver_->lapped_count(); }
  ReaderSlot* slot() const noexcept { return slot_; }
  // For another thread to end a wait_next early (it then returns `empty`).
  const std::shared_ptr<WaitInterrupt>& wait_interrupt() const noexcept { return interrupt_; }
  const SharedSegment& ring_segment() const noexcept { return *ring_segment_; }

 private:
  RingReader() = default;
  void map_current(bool from_start);
  void report_lap() noexcept;
  PollStatus check_writer();
  // Whether the ring's name now holds the segment of another writer start than ours.
  bool successor_named() const;
  PollResult sleep_while_writer_gone(RecordBuffer& out, std::int64_t timeout_ns);

  void adopt(std::shared_ptr<SharedSegment> ring, std::shared_ptr<Registry> registry,
             bool from_start);

  RingReaderOptions options_;
  std::shared_ptr<SharedSegment> ring_segment_;
  std::shared_ptr<Registry> registry_;
  const RingLayout* layout_ = nullptr;
  std::optional<RingReceiver> receiver_;
  std::optional<Doorbell> doorbell_;
  ReaderSlot* slot_ = nullptr;
  std::uint32_t empty_polls_ = 0;
  std::int64_t last_liveness_check_ns_ = 0;
  bool writer_gone_ = false;  // closed or dead: look for a successor, sleep between looks
  std::int64_t next_successor_look_ns_ = 0;
  ProcessWatch writer_watch_;
  std::shared_ptr<WaitInterrupt> interrupt_ = std::make_shared<WaitInterrupt>();
};

// ---- hot path, inline --------------------------------------------------------------

inline PollResult RingReader::poll(RecordBuffer& out) {
  const PollResult result = receiver_->poll(out);
  if (result.status == PollStatus::record) [[likely]] {
    empty_polls_ = 0;
    if (slot_ != nullptr && options_.report_position) {
      // relaxed: a lone progress counter for stat; orders nothing.
      slot_->position_seq.store(out.seq(), std::memory_order_relaxed);
      slot_->position_publish_ns.store(out.publish_ns(), std::memory_order_relaxed);
    }
    return result;
  }
  if (result.status == PollStatus::lapped) {
    empty_polls_ = 0;
    report_lap();
    return result;
  }
  if (++empty_polls_ >= 64 || writer_gone_) [[unlikely]] {
    const PollStatus status = check_writer();
    if (status != PollStatus::empty) return {status};
  }
  return result;
}

}  // namespace evring
