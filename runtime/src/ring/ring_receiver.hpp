// The ring's receiver: R1, R2 and R4 of the protocol (ring_protocol.hpp) over a cursor and a
// data area it is given, read-only. Knows nothing of segments, registries or writers'
// lives: the segment's RingReader adds those (broadcast_ring.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ring/ring_protocol.hpp"
#include "ring/shared_copy.hpp"

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

  // Whether a poll would find something (the re-check before a sleep): a committed record
  // at this receiver's cursor, records of its batch not yet handed out, or a lap.
  bool has_news() const noexcept {
    return batch_read_ != batch_size_ || commit_word_here() != 0 || cursor_shows_lap();
  }
  // The seq of the newest published record (first_seq - 1 before any): the cursor's, and
  // the records committed after it, looked at one by one.
  std::uint64_t newest_seq() const;
  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  // The ring position of the next record wanted.
  std::uint64_t position() const noexcept { return position_; }
  // The next sequence number expected.
  std::uint64_t expected_seq() const noexcept { return expected_seq_; }
  // The seq of the first record published after the start (for a live start; the seq
  // wanted first otherwise), so a caller can tell a lap before its first record.
  std::uint64_t live_start_seq() const noexcept { return live_start_seq_; }
  std::uint64_t lapped_count() const noexcept { return lapped_count_; }
  std::uint64_t missed_count() const noexcept { return missed_count_; }

 private:
  // Where a walk over committed records stopped: the boundary of the first record not
  // committed yet, and the seq it will have.
  struct Frontier {
    std::uint64_t position;
    std::uint64_t seq;
  };
  // R1 and R2 from the cursor: a batch of the records committed at it, or empty or lapped.
  PollResult refill();
  PollResult on_lapped();
  // The newest record the ring's cursor names (first_seq at 0 when it names none yet),
  // validated as R2 does; then past every record committed after it. Looks again while
  // the writer laps the walk.
  Frontier walk_to_frontier() const;
  std::uint64_t commit_word_here() const noexcept {
    const std::uint64_t at = next_boundary(position_, capacity_);
    // acquire: pairs with the writer's release of this word (W5) [SYNC B].
    return detail::load_word(data_ + (at & mask_) + kCommitWordOffset, std::memory_order_acquire);
  }
  // The cursor's tail a ring or more past this receiver's cursor: lapped, though the commit
  // word here may read 0 (the writer cleaned it ahead of a record a ring later, W4).
  bool cursor_shows_lap() const noexcept {
    // relaxed: a hint; on_lapped() loads it again with acquire before it uses it.
    const std::uint64_t tail = cursor_->tail.load(std::memory_order_relaxed);
    return tail > position_ && tail - position_ >= capacity_;
  }
  // R2: whether the writer may have begun to overwrite `position` (a copy from there, or a
  // header read there, may be torn).
  bool overwritten_since(std::uint64_t position) const noexcept {
    // acquire fence: orders the loads and copies above before the intent load, pairing
    // with the writer's release fence after its intent store (W2) [SYNC A].
    std::atomic_thread_fence(std::memory_order_acquire);
    return cursor_->tail_intent.load(std::memory_order_relaxed) - position > capacity_;
  }
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
  std::uint64_t first_seq_;
  std::string name_;
  std::int64_t damaged_after_ns_;
  std::uint64_t position_ = 0;
  std::uint64_t expected_seq_ = 0;
  std::uint64_t live_start_seq_ = 0;
  std::uint64_t lapped_count_ = 0;
  std::uint64_t missed_count_ = 0;
  // The last validated copy (R1, R2): records [batch_read_, batch_size_) of it are still
  // to be handed out; batch_start_ is the ring position of its first byte.
  RecordBuffer batch_{0};
  std::size_t batch_capacity_ = 0;
  std::size_t batch_read_ = 0;
  std::size_t batch_size_ = 0;
  std::uint64_t batch_start_ = 0;
  bool caught_up_ = false;  // the last look found nothing new (refill: where a batch ends)
};

// ---- hot path, inline --------------------------------------------------------------

inline PollResult RingReceiver::poll(RecordBuffer& out) {
  if (batch_read_ == batch_size_) {
    // R1's first look, inline: nothing new costs no call.
    if (commit_word_here() == 0 && !cursor_shows_lap()) {
      caught_up_ = true;
      return {PollStatus::empty};
    }
    const PollResult result = refill();
    if (result.status != PollStatus::record) return result;
  }
  // Hand out the next record of the validated private copy: no shared memory touched.
  const std::byte* record = batch_.raw() + batch_read_;
  const auto* header = reinterpret_cast<const RecordHeader*>(record);
  const std::uint64_t aligned = align_up(header->length, kRecordAlignment);
  if (header->seq != expected_seq_) [[unlikely]] {
    throw_skipped(header->seq);
  }
  out.record_ = record;
  batch_read_ += aligned;
  position_ = batch_start_ + batch_read_;
  expected_seq_ = header->seq + 1;
  return {PollStatus::record};
}

}  // namespace evring
