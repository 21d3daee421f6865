// The ring's transmitter: W1 to W6 of the protocol (ring_protocol.hpp) over a cursor and a
// data area it is given. No system call; the segment's RingWriter rings the doorbell (W7).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ring/ring_protocol.hpp"
#include "ring/shared_copy.hpp"

namespace evring {

// One record of a batch to publish.
struct OutgoingRecord {
  std::uint32_t type = 0;
  std::span<const std::byte> payload;
};

// Used by one thread only (the writer's).
class RingTransmitter {
 public:
  // `data`: the data area, a power of two of at least kMinRingCapacity bytes, 8-aligned,
  // holding four records of max_payload, zeroed (a fresh mapping is). The cursor starts at 0
  // (a fresh ring); the first record gets first_seq. Both outlive the transmitter.
  RingTransmitter(RingCursor& cursor, std::span<std::byte> data, std::uint32_t max_payload,
                  std::uint64_t first_seq) noexcept
      : cursor_(&cursor),
        data_(data.data()),
        capacity_(data.size()),
        mask_(data.size() - 1),
        intent_slack_(data.size() / 16),
        cursor_stride_(std::min<std::uint64_t>(kCursorStride, data.size() / 8)),
        max_payload_(max_payload),
        next_seq_(first_seq) {}

  // Publishes one record and returns its sequence number. Never waits: receivers that fall
  // a whole ring behind are lapped. Throws Error(invalid_argument) for a payload over
  // max_payload().
  std::uint64_t publish(std::uint32_t type, std::span<const std::byte> payload,
                        std::int64_t publish_ns);
  // Publishes the records in order, with one commit for all (W5): a receiver sees none of
  // them or all. Returns the first one's seq (next_seq() if there are none). Checks every
  // payload before it writes any.
  std::uint64_t publish_batch(std::span<const OutgoingRecord> records, std::int64_t publish_ns);
  // W6 now, if the cursor is behind: for a writer going idle, so stat, late joiners and
  // lapped receivers see its newest record.
  void flush() noexcept {
    if (cursor_tail_ != tail_) store_cursor();
  }

  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  std::uint64_t next_seq() const noexcept { return next_seq_; }
  std::uint64_t tail() const noexcept { return tail_; }
  std::uint64_t payload_bytes_total() const noexcept { return bytes_total_; }

 private:
  // Where the next record goes and what it covers (W1).
  struct Placement {
    std::uint64_t padding_at;  // == record_at when the record does not wrap
    std::uint64_t record_at;
    std::uint64_t end;
  };
  Placement place(std::uint64_t at, std::size_t payload_bytes) const noexcept {
    const std::uint64_t aligned = align_up(sizeof(RecordHeader) + payload_bytes, kRecordAlignment);
    const std::uint64_t to_end = capacity_ - (at & mask_);
    const std::uint64_t record_at = to_end < aligned ? at + to_end : at;
    return {at, record_at, record_at + aligned};
  }
  // W2 for everything up to `end` and the clean ahead at its next boundary.
  void announce(std::uint64_t end) noexcept {
    const std::uint64_t needed = next_boundary(end, capacity_) + sizeof(RecordHeader);
    if (needed > announced_intent_) [[unlikely]] {
      // relaxed store + release fence: the fence orders this store before every data store
      // that follows (in this publish and the next ones up to the announced intent), so a
      // receiver whose copy saw new data also sees this intent or a later one [SYNC A].
      announced_intent_ = needed + intent_slack_;
      cursor_->tail_intent.store(announced_intent_, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_release);
    }
  }
  // W3 for one record, all but its commit word; its padding's header, if any.
  void write_record(const Placement& at, std::uint32_t type, std::span<const std::byte> payload,
                    std::int64_t publish_ns) noexcept;
  // W4 and W5 for a run of records ending at `end` whose first is `first`.
  void commit(const Placement& first, std::uint64_t seq, std::uint64_t end) noexcept {
    // W4. relaxed: the release below orders it before the commit that leads to it.
    detail::store_word(data_ + (next_boundary(end, capacity_) & mask_) + kCommitWordOffset, 0,
                       std::memory_order_relaxed);
    // W5. release: pairs with the receiver's acquire load of this word (R1): the record,
    // the rest of the run and the clean ahead are visible to whoever sees the seq [SYNC B].
    detail::store_word(data_ + (first.record_at & mask_) + kCommitWordOffset, seq,
                       std::memory_order_release);
    if (first.padding_at != first.record_at) commit_padding(first, seq, std::memory_order_release);
  }
  // A padding record's commit word: the seq after it. After that record's own commit, so a
  // receiver that skips the padding finds the record committed (a lap start holds an old
  // lap's seq until then).
  void commit_padding(const Placement& at, std::uint64_t seq, std::memory_order order) noexcept {
    if (at.record_at - at.padding_at < sizeof(RecordHeader)) return;  // headerless rest
    detail::store_word(data_ + (at.padding_at & mask_) + kCommitWordOffset, seq, order);
  }
  // W6 at a stride.
  void advance(std::uint64_t last_record_at, std::uint64_t end) noexcept {
    latest_ = last_record_at;
    tail_ = end;
    if (end - cursor_tail_ >= cursor_stride_) [[unlikely]]
      store_cursor();
  }
  void store_cursor() noexcept {
    // W6. relaxed, relaxed, release: a receiver that loads tail with acquire (R4) sees the
    // latest and head_seq stored before it, or later ones [SYNC C].
    cursor_->latest.store(latest_, std::memory_order_relaxed);
    cursor_->head_seq.store(next_seq_ - 1, std::memory_order_relaxed);
    cursor_->tail.store(tail_, std::memory_order_release);
    cursor_tail_ = tail_;
  }
  // Out of line and cold: publish() stays small and builds no string on its way.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_payload_too_large(std::size_t bytes) const;

  RingCursor* cursor_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t intent_slack_;
  std::uint64_t cursor_stride_;
  std::uint32_t max_payload_;
  // Local copies: the transmitter is the only one that changes these, so it never has to
  // load the shared ones back.
  std::uint64_t tail_ = 0;
  std::uint64_t latest_ = 0;
  std::uint64_t cursor_tail_ = 0;
  std::uint64_t announced_intent_ = 0;
  std::uint64_t next_seq_;
  std::uint64_t bytes_total_ = 0;
};

// ---- hot path, inline --------------------------------------------------------------

inline void RingTransmitter::write_record(const Placement& at, std::uint32_t type,
                                          std::span<const std::byte> payload,
                                          std::int64_t publish_ns) noexcept {
  if (at.record_at - at.padding_at >= sizeof(RecordHeader)) {
    const std::uint32_t fields[2] = {static_cast<std::uint32_t>(at.record_at - at.padding_at),
                                     kPaddingType};
    detail::copy_to_shared(data_ + (at.padding_at & mask_), fields, sizeof fields);
  }
  std::byte* record = data_ + (at.record_at & mask_);
  // The header but its commit word: length and type, then publish_ns.
  const std::uint32_t fields[2] = {
      static_cast<std::uint32_t>(sizeof(RecordHeader) + payload.size()), type};
  detail::copy_to_shared(record, fields, sizeof fields);
  detail::copy_to_shared(record + offsetof(RecordHeader, publish_ns), &publish_ns,
                         sizeof publish_ns);
  if (!payload.empty()) {
    // Whole 8-byte words; the tail of the last word is junk the receiver never hands out.
    const std::size_t full = payload.size() & ~std::size_t{7};
    if (full != 0) detail::copy_to_shared(record + sizeof(RecordHeader), payload.data(), full);
    if (full != payload.size()) {
      std::byte last[8] = {};
      std::memcpy(last, payload.data() + full, payload.size() - full);
      detail::copy_to_shared(record + sizeof(RecordHeader) + full, last, 8);
    }
  }
}

inline std::uint64_t RingTransmitter::publish(std::uint32_t type,
                                              std::span<const std::byte> payload,
                                              std::int64_t publish_ns) {
  if (payload.size() > max_payload_) [[unlikely]] {
    throw_payload_too_large(payload.size());
  }
  const Placement at = place(tail_, payload.size());  // W1
  announce(at.end);                                   // W2
  write_record(at, type, payload, publish_ns);        // W3
  const std::uint64_t seq = next_seq_++;
  commit(at, seq, at.end);  // W4, W5
  advance(at.record_at, at.end);
  bytes_total_ += payload.size();
  return seq;
}

}  // namespace evring
