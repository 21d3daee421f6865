// The ring's receiver: R1 to R4 of the protocol (ring_protocol.hpp) over a cursor and a
// data area it is given, read-only. Knows nothing of segments, registries or writers'
// lives: the segment's RingReader adds those (broadcast_ring.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ring/ring_protocol.hpp"

namespace evring {

inline constexpr std::uint32_t kDefaultMaxPayload = 64u << 10;

// One record handed out by a receiver's poll: a view into its private, validated copy,
// valid until the next poll on that receiver (copy what you keep longer).
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
  friend class RingReceiver;

  struct FreeAligned {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte[], FreeAligned> storage_;
  const std::byte* record_ = nullptr;  // the record shown: in storage_ or a receiver's batch
  std::uint32_t max_payload_;
};

// Where a receiver starts.
enum class RingStart {
  live,      // the next record published after it starts
  earliest,  // the oldest record still in the ring (first_seq if none was overwritten)
};

// Used by one thread; any number of receivers on one ring.
class RingReceiver {
 public:
  // How long a lapped receiver keeps looking for a consistent newest record before it
  // calls the cursor damaged. A live writer can be caught mid-publish, and preempted there
  // for a scheduler's time slice or more, so the default is generous; a fuzzer, whose
  // cursor is damaged on purpose and whose writer never moves, sets it to 0 (a few looks).
  static constexpr std::int64_t kDefaultDamagedAfterNs = 1'000'000'000;

  // `data` as the transmitter's; cursor and data outlive the receiver. `first_seq`: the
  // ring's first record's. `name` says whose ring it is in errors ("instance \"x\"").
  RingReceiver(const RingCursor& cursor, std::span<const std::byte> data, std::uint32_t max_payload,
               std::uint64_t first_seq, RingStart start, std::string name,
               std::int64_t damaged_after_ns = kDefaultDamagedAfterNs);
  RingReceiver(RingReceiver&&) noexcept;
  RingReceiver& operator=(RingReceiver&&) noexcept;
  ~RingReceiver();

  // Never blocks: empty, record (`out` holds it) or lapped. Throws Error(corrupt) for a
  // ring no transmitter could have written.
  PollResult poll(RecordBuffer& out);

  // Whether the tail has moved past this receiver's cursor (the re-check before a sleep).
  bool tail_moved() const noexcept {
    // acquire: pairs with W5; a caller that sees it moved polls the record next.
    return cursor_->tail.load(std::memory_order_acquire) != position_;
  }
  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  // The ring position of the next record wanted.
  std::uint64_t position() const noexcept { return position_; }
  // The next sequence number expected (0 before the first record when live).
  std::uint64_t expected_seq() const noexcept { return expected_seq_; }
  // For a live start: the seq of the first record published after the start (the record
  // at the start position has no higher one), so a caller that expects it can tell a lap
  // before its first record.
  std::uint64_t live_start_seq() const noexcept { return live_start_seq_; }
  std::uint64_t lapped_count() const noexcept { return lapped_count_; }
  std::uint64_t missed_count() const noexcept { return missed_count_; }

 private:
  // R2 and R3 up to `tail`, which R1 loaded: one look at the cursor line per batch.
  PollResult refill(std::uint64_t tail);
  PollResult on_lapped();
  void drop_batch() noexcept { batch_read_ = batch_size_ = 0; }
  // Whether a lapped receiver has looked for a consistent cursor long enough to call it
  // damaged; gives the core away between later looks (to a writer preempted mid-publish).
  bool out_of_patience(std::uint32_t attempt, std::int64_t& since_ns) const;
  [[noreturn, gnu::cold, gnu::noinline]] void throw_damaged(const std::string& what) const;
  [[noreturn, gnu::cold, gnu::noinline]] void throw_impossible_length(std::uint64_t position,
                                                                      std::uint32_t length) const;
  // Out of line and cold: poll() stays small and builds no string on its way.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_skipped(std::uint64_t seq) const;

  const RingCursor* cursor_;
  const std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint32_t max_payload_;
  std::string name_;
  std::int64_t damaged_after_ns_;
  std::uint64_t position_ = 0;
  std::uint64_t expected_seq_ = 0;
  std::uint64_t live_start_seq_ = 0;
  std::uint64_t lapped_count_ = 0;
  std::uint64_t missed_count_ = 0;
  // The last validated copy (R2, R3): records [batch_read_, batch_size_) of it are still
  // to be handed out; batch_start_ is the ring position of its first byte.
  RecordBuffer batch_{0};
  std::size_t batch_capacity_ = 0;
  std::size_t batch_read_ = 0;
  std::size_t batch_size_ = 0;
  std::uint64_t batch_start_ = 0;
};

// ---- hot path, inline --------------------------------------------------------------

inline PollResult RingReceiver::poll(RecordBuffer& out) {
  while (batch_read_ == batch_size_) {
    // R1, inline: nothing new costs no call. acquire: pairs with W5 [SYNC B].
    const std::uint64_t tail = cursor_->tail.load(std::memory_order_acquire);
    if (tail == position_) return {PollStatus::empty};
    const PollResult result = refill(tail);
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
  position_ = batch_start_ + batch_read_;
  expected_seq_ = header->seq + 1;
  return {PollStatus::record};
}

}  // namespace evring
