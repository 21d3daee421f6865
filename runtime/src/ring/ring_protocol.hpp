// The event ring's protocol: a single-producer, multi-consumer broadcast buffer of
// variable-length records over a plain span of memory. One transmitter
// (ring_transmitter.hpp); any number of receivers (ring_receiver.hpp), each reading every
// record. Nothing here maps, names or creates memory, nor makes a system call, so a test can
// run the protocol on a std::array; the shared-memory segment that holds a ring in
// production, and who may attach to it, is broadcast_ring.hpp's business.
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
// Transmitter (one thread of one process), publishing a record of aligned length L at tail T:
//   W1 end = T + L, plus the padding if the record must wrap
//   W2 if end > the intent announced last: announce intent = end + slack with
//      tail_intent.store(intent, relaxed); atomic_thread_fence(release)       [SYNC A]
//      (announcing a slack of capacity/16 ahead makes this store rare, so the line it
//      lives on stays put; receivers just count as lapped a little earlier)
//   W3 write the padding record (if any), the header and the payload
//   W4 latest.store(start of this record, relaxed)
//   W5 tail.store(end, release)                                               [SYNC B]
//   W6 (the segment's writer) ring the readers' doorbell, unfenced (doorbell.hpp)
// Receiver, at its private cursor C (the start of the next record it wants):
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
// or a later one. The transmitter reads nothing receivers write (W6's flag is the
// doorbell's, and it never waits on it), so no receiver can stop it: a slow receiver is
// lapped, never waited for.
// This is the protocol of Aeron's broadcast buffer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shm/layout.hpp"

namespace evring {

inline constexpr std::uint32_t kRecordAlignment = 8;
inline constexpr std::uint32_t kPaddingType = 0xFFFF'FFFFu;  // never a user type
inline constexpr std::uint64_t kMinRingCapacity = 4096;

struct RecordHeader {
  std::uint32_t length;     // header + payload, before alignment
  std::uint32_t type;       // user's event type; kPaddingType for padding
  std::uint64_t seq;        // 1, 2, 3, ... without gaps; 0 in padding
  std::int64_t publish_ns;  // monotonic_ns() when published
};
static_assert(sizeof(RecordHeader) == 24);
static_assert(sizeof(RecordHeader) % kRecordAlignment == 0);

// Written by the transmitter on every publish; read by receivers once per batch. The fields
// share one line on purpose: the writer updates them together, so one line moves per
// publish instead of three. tail_intent has a line of its own: it changes rarely (W2),
// and a receiver's look at it must not take the hot line away from the writer.
struct alignas(kFalseSharingRange) RingCursor {
  std::atomic<std::uint64_t> tail;      // position published up to [SYNC B]
  std::atomic<std::uint64_t> latest;    // start of the newest record (resync point)
  std::atomic<std::uint64_t> head_seq;  // seq of the newest record
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> tail_intent;  // [SYNC A]
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(offsetof(RingCursor, tail_intent) % kFalseSharingRange == 0);

constexpr std::uint64_t aligned_record_length(std::uint64_t payload_bytes) {
  return align_up(sizeof(RecordHeader) + payload_bytes, kRecordAlignment);
}

// The smallest ring that holds four of the largest records: a power of two, at least
// kMinRingCapacity.
constexpr std::uint64_t minimum_ring_capacity(std::uint64_t max_payload) {
  std::uint64_t capacity = kMinRingCapacity;
  while (capacity / 4 < aligned_record_length(max_payload)) capacity *= 2;
  return capacity;
}

enum class PollStatus {
  empty,           // nothing new yet
  record,          // the buffer holds the next record, copied and validated
  lapped,          // the writer overwrote records before they were read; see PollResult
  writer_gone,     // (a segment's reader) the writer exited or died, and no new writer
                   // has replaced it yet
  writer_replaced  // (a segment's reader) a new writer took over the instance: reattach()
};

struct PollResult {
  PollStatus status = PollStatus::empty;
  // lapped: how many sequence numbers were skipped, and the next one the ring will give.
  std::uint64_t missed = 0;
  std::uint64_t resume_seq = 0;
};

}  // namespace evring
