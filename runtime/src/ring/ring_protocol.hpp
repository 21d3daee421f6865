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
// too short to hold a RecordHeader is padding without a header (both sides know it). The
// record boundary after position P is P itself, or the next lap's start when the rest of
// the data area from P is too short for a header: next_boundary(P).
//
// Every header's `seq` is its COMMIT WORD: the transmitter writes it last, with release,
// and receivers wait on it, at the boundary they are at, instead of on a shared tail. A
// commit word is 0 ("not yet") until its record is complete; a padding record's is the seq
// of the record after it. The shared cursor (tail, latest, head_seq) is written every few
// KiB and when the writer goes idle: it is for late joiners, lapped receivers and stat, not
// for the record stream, so a caught-up receiver pulls one line per record (the record's)
// instead of two.
//
// Transmitter (one thread of one process), publishing records at tail T (one, or a batch):
//   W1 lay them out from T: each record at its boundary, a padding record where one must
//      wrap; end E = after the last; the next boundary N = next_boundary(E)
//   W2 if N + a header > the intent announced last: announce intent = that + slack with
//      tail_intent.store(intent, relaxed); atomic_thread_fence(release)       [SYNC A]
//      (announcing a slack of capacity/16 ahead makes this store rare, so the line it
//      lives on stays put; receivers just count as lapped a little earlier)
//   W3 write every record's header and payload; the commit words of all but the first
//      record (relaxed: they are reached only through the first)
//   W4 CLEAN AHEAD: the commit word at N := 0 (relaxed)
//   W5 the first record's commit word := its seq (release)                    [SYNC B]
//      then that of a padding record before it, if any (release)
//   W6 every kCursorStride bytes, and on flush() (the writer at idle): latest := start of
//      the newest record, head_seq := its seq (relaxed), tail := E (release)  [SYNC C]
//   W7 (the segment's writer) ring the readers' doorbell, unfenced (doorbell.hpp)
// Receiver, at its private cursor C (a record boundary) expecting seq S:
//   R1 w = the commit word at C (acquire)                                     [SYNC B]
//      w == 0: nothing new, unless the cursor's tail is a ring or more past C (R4).
//      w != S: the writer has overwritten C since (R4).
//      w == S: the header and payload at C are this record's: copy it, and go on to the
//      next boundary with S + 1 (a padding record: skip it), up to a batch buffer's size
//   R2 atomic_thread_fence(acquire); intent = tail_intent.load(relaxed)       [SYNC A]
//      intent - (the batch's first position) > capacity: the writer has begun to overwrite
//      bytes just copied; the copy may be torn, so it is thrown away (R4).
//      Otherwise the copy is exactly what the writer published: hand its records out one
//      by one from the private buffer, without touching shared memory.
//   R4 lapped: l = latest.load(relaxed), then t = tail.load(acquire)         [SYNC C]
//      l < t: the record at l is published (W6 stores latest before tail), so its header
//      is copied and validated as in R2; otherwise the writer is mid-W6: look again.
//      Then count the lap, move C to l, and report how many sequence numbers were
//      skipped so the caller can fetch them from the journal.
//
// Why a receiver at a boundary never mistakes old bytes for a record: it got to C either
// from the cursor (W6 names only committed records and, for tail, a boundary already
// cleaned) or past the record before C, whose commit it read with acquire (R1); W4 cleaned
// C before that commit was stored (W5). So at C it reads 0, or this lap's commit, or one of
// a later lap (a seq above S, or 0 again: the cursor's tail then shows the lap, since the
// writer updates it at least every kCursorStride bytes and whenever it goes idle). A
// record's fields are written before its commit (W3, W5), so R1's acquire makes them
// visible.
// Why R2 suffices against a copy torn by a later lap: the writer announces its intent
// before touching any byte (W2's release fence orders the intent store before the data
// stores) and the reader reads the intent after copying (R2's acquire fence orders the
// copy before the intent load). If the copy saw a single overwritten byte, the two fences
// synchronize and R2 must see that intent or a later one. Until R2 has vouched for them,
// a header's length and type may be anything (a lapped receiver reads a later lap's
// payload at C): the receiver bounds its copies by the data area and its buffer, and calls
// a header impossible only after R2 said the copy was good.
// The transmitter reads nothing receivers write (W7's flag is the doorbell's, and it never
// waits on it), so no receiver can stop it: a slow receiver is lapped, never waited for.
// The commit words are those of Aeron's log buffer (its frame length, written last); the
// intent and the lap are those of its broadcast buffer.
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
  std::uint64_t seq;        // 1, 2, 3, ... without gaps: the commit word (see above)
  std::int64_t publish_ns;  // monotonic_ns() when published
};
static_assert(sizeof(RecordHeader) == 24);
static_assert(sizeof(RecordHeader) % kRecordAlignment == 0);
inline constexpr std::size_t kCommitWordOffset = offsetof(RecordHeader, seq);
static_assert(kCommitWordOffset % 8 == 0);

// The transmitter stores the cursor at least this often (W6): a lapped or late receiver
// resumes at most this far behind the newest record.
inline constexpr std::uint64_t kCursorStride = 4096;

// Written by the transmitter every kCursorStride bytes and when the writer goes idle (W6);
// read by late joiners, lapped receivers and stat. The fields share one line on purpose:
// the writer updates them together. tail_intent has a line of its own: it changes rarely
// (W2), and a receiver's look at it must not take the cursor's line away from the writer.
struct alignas(kFalseSharingRange) RingCursor {
  std::atomic<std::uint64_t> tail;      // a boundary everything before which is published
  std::atomic<std::uint64_t> latest;    // start of a published record (resync point)
  std::atomic<std::uint64_t> head_seq;  // seq of the record at latest
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> tail_intent;  // [SYNC A]
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(offsetof(RingCursor, tail_intent) % kFalseSharingRange == 0);

// The record boundary at or after `position`: the next lap's start when the rest of the
// data area cannot hold a header.
constexpr std::uint64_t next_boundary(std::uint64_t position, std::uint64_t capacity) {
  const std::uint64_t to_end = capacity - (position & (capacity - 1));
  return to_end < sizeof(RecordHeader) ? position + to_end : position;
}

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
