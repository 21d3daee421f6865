// The ring's transmitter: W1 to W5 of the protocol (ring_protocol.hpp) over a cursor and a
// data area it is given. No system call; the segment's RingWriter rings the doorbell (W6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ring/ring_protocol.hpp"
#include "ring/shared_copy.hpp"

namespace evring {

// Used by one thread only (the writer's).
class RingTransmitter {
 public:
  // `data`: the data area, a power of two of at least kMinRingCapacity bytes, 8-aligned,
  // holding four records of max_payload. The cursor starts at 0 (a fresh ring); the first
  // record gets first_seq. Both outlive the transmitter.
  RingTransmitter(RingCursor& cursor, std::span<std::byte> data, std::uint32_t max_payload,
                  std::uint64_t first_seq) noexcept
      : cursor_(&cursor),
        data_(data.data()),
        capacity_(data.size()),
        mask_(data.size() - 1),
        intent_slack_(data.size() / 16),
        max_payload_(max_payload),
        next_seq_(first_seq) {}

  // Publishes one record and returns its sequence number. Never waits: receivers that fall
  // a whole ring behind are lapped. Throws Error(invalid_argument) for a payload over
  // max_payload().
  std::uint64_t publish(std::uint32_t type, std::span<const std::byte> payload,
                        std::int64_t publish_ns);

  std::uint64_t capacity() const noexcept { return capacity_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }
  std::uint64_t next_seq() const noexcept { return next_seq_; }
  std::uint64_t tail() const noexcept { return tail_; }
  std::uint64_t payload_bytes_total() const noexcept { return bytes_total_; }

 private:
  void write_padding(std::uint64_t offset, std::uint64_t bytes) noexcept;
  // Out of line and cold: publish() stays small and builds no string on its way.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_payload_too_large(std::size_t bytes) const;

  RingCursor* cursor_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t intent_slack_;
  std::uint32_t max_payload_;
  // Local copies: the transmitter is the only one that changes these, so it never has to
  // load the shared ones back.
  std::uint64_t tail_ = 0;
  std::uint64_t announced_intent_ = 0;
  std::uint64_t next_seq_;
  std::uint64_t bytes_total_ = 0;
};

// ---- hot path, inline --------------------------------------------------------------

inline std::uint64_t RingTransmitter::publish(std::uint32_t type,
                                              std::span<const std::byte> payload,
                                              std::int64_t publish_ns) {
  if (payload.size() > max_payload_) [[unlikely]] {
    throw_payload_too_large(payload.size());
  }
  // W1.
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
    // so a receiver whose copy saw new data also sees this intent or a later one [SYNC A].
    announced_intent_ = end + intent_slack_;
    cursor_->tail_intent.store(announced_intent_, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }

  // W3.
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
    // Whole 8-byte words; the tail of the last word is junk the receiver never hands out.
    const std::size_t full = payload.size() & ~std::size_t{7};
    if (full != 0) detail::copy_to_shared(record + sizeof header, payload.data(), full);
    if (full != payload.size()) {
      std::byte last[8] = {};
      std::memcpy(last, payload.data() + full, payload.size() - full);
      detail::copy_to_shared(record + sizeof header + full, last, 8);
    }
  }

  // W4. relaxed: only read by a lapped receiver after its acquire load of tail (W5 orders
  // it).
  cursor_->latest.store(record_start, std::memory_order_relaxed);
  // relaxed: informational (stat, lag); the record itself carries its seq.
  cursor_->head_seq.store(seq, std::memory_order_relaxed);
  // W5. release: pairs with the receiver's acquire load of tail (R1); everything written
  // above is visible to a receiver that sees this tail [SYNC B].
  cursor_->tail.store(end, std::memory_order_release);
  tail_ = end;
  bytes_total_ += payload.size();
  return seq;
}

}  // namespace evring
