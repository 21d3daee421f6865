// The command intake segment (evring.<instance>.intake): how client processes hand
// commands to the writer and get replies, without any lock a dead client could hold.
//
// PROTOCOL
//
// The segment holds `slot_count` client slots. A client claims a free slot with one CAS of
// `owner` from 0 to its identity, then sets its bit in `active_mask`; the writer polls
// only slots whose bit is set. Each slot is a pair of single-producer single-consumer
// rings:
//   requests  a byte ring the client writes (request_tail) and the writer consumes
//             (request_head). Records are RequestHeader + command id + payload, 8-aligned,
//             never split at the wrap: a record that does not fit the rest is preceded by
//             a padding record (the rest is always a multiple of 8, so a header's first
//             word always fits).
//   replies   a ring of fixed-size ReplyEntry the writer writes (reply_tail) and the
//             client consumes (reply_head). The client never has more commands in flight
//             than the reply ring holds, so the writer never waits for a client.
// Both rings are Lamport queues: the producer writes the data, then stores its tail with
// release; the consumer loads the tail with acquire, reads, then stores its head with
// release (so the producer may reuse the space).
//
// Sleeping: two doorbells (sync/doorbell.hpp, where the hand-shake is proved). An idle
// writer sleeps on {writer_sleeping, doorbell}, which a client rings (fenced) after
// publishing a request; a client waiting for a reply sleeps on {client_sleeping,
// reply_signal}, which the writer rings after storing the reply.
//
// Death: the writer checks the owners of active slots every ~100 ms. A dead client's
// complete requests are still decided (they were submitted); then its slot is reset and
// freed. A client learns of the writer's death from the preamble (superseded or closed)
// or by its pid while it waits.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "evring/command.hpp"
#include "shm/layout.hpp"

namespace evring::detail {

inline constexpr std::uint32_t kIntakeLayoutVersion = 1;
inline constexpr std::uint32_t kIntakeSlots = 64;  // one bit each in active_mask
inline constexpr std::uint32_t kRequestRingBytes = 64u << 10;
inline constexpr std::uint32_t kReplyCapacity = 256;
inline constexpr std::uint16_t kRequestPadding = 0xffff;

struct IntakeConfig {
  std::uint32_t slot_count;
  std::uint32_t request_ring_bytes;  // a power of two
  std::uint32_t reply_capacity;      // a power of two
  std::uint32_t max_command_bytes;
  std::uint64_t slot_stride;
  std::uint64_t slots_offset;
};

struct alignas(kFalseSharingRange) IntakeHeader {
  SegmentPreamble preamble;
  IntakeConfig config;
  // Clients set their slot's bit with fetch_or(release) after claiming it; the writer
  // clears it with fetch_and(release) after resetting the slot.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> active_mask;
  // Written by the writer only when it goes to sleep or wakes; read by clients after each
  // request. The doorbell is written by clients only while the writer sleeps.
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> writer_sleeping;
  std::atomic<std::uint32_t> doorbell;
  // The writer's monotonic_ns(), refreshed every ~100 ms (for tools).
  alignas(kFalseSharingRange) std::atomic<std::int64_t> writer_heartbeat_ns;
};

struct RequestHeader {
  std::uint32_t record_bytes;  // whole record, 8-aligned
  std::uint16_t format;        // CommandFormat, or kRequestPadding
  std::uint16_t id_bytes;
  std::uint32_t payload_bytes;
  std::uint32_t reserved;
  std::uint64_t ticket;  // the client's count of its requests, echoed in the reply
};
static_assert(sizeof(RequestHeader) == 24);

struct ReplyEntry {
  std::uint64_t ticket;
  std::uint64_t seq;
  std::uint32_t status;  // ReplyStatus
  std::uint32_t code;    // RejectCode
  std::uint32_t reason_bytes;
  char reason[kMaxReasonBytes];
  char padding[256 - 28 - kMaxReasonBytes];
};
static_assert(sizeof(ReplyEntry) == 256);

// Slot owner: pid in the high 32 bits, the low 32 bits of its start ticks below, so one
// atomic names the process (and a recycled pid is not mistaken for it).
constexpr std::uint64_t pack_owner(std::uint64_t pid, std::uint64_t start_ticks) {
  return (pid << 32) | (start_ticks & 0xffff'ffffu);
}

struct alignas(kFalseSharingRange) ClientSlot {
  // Claimed by a client (CAS from 0), freed by the writer (store 0 with release after the
  // reset, so the next claimer's acquire CAS sees clean indices).
  std::atomic<std::uint64_t> owner;
  std::atomic<std::uint32_t> closing;     // the client is done: the writer frees the slot
  std::atomic<std::uint32_t> generation;  // bumped by the writer on each free
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> request_tail;  // client
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> request_head;  // writer
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> reply_tail;    // writer
  std::atomic<std::uint32_t> reply_signal;                              // futex, writer
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> reply_head;    // client
  std::atomic<std::uint32_t> client_sleeping;                           // client
  // Then request_ring_bytes of requests, then reply_capacity ReplyEntry.
};

inline constexpr std::size_t kSlotRequestsOffset = sizeof(ClientSlot);

inline std::uint64_t slot_stride(std::uint32_t request_ring_bytes, std::uint32_t reply_capacity) {
  return align_up(sizeof(ClientSlot) + request_ring_bytes + reply_capacity * sizeof(ReplyEntry),
                  kFalseSharingRange);
}

inline ClientSlot& slot_at(std::byte* base, const IntakeConfig& config, std::size_t index) {
  return *reinterpret_cast<ClientSlot*>(base + config.slots_offset + index * config.slot_stride);
}
inline std::byte* slot_requests(ClientSlot& slot) {
  return reinterpret_cast<std::byte*>(&slot) + kSlotRequestsOffset;
}
inline ReplyEntry* slot_replies(ClientSlot& slot, const IntakeConfig& config) {
  return reinterpret_cast<ReplyEntry*>(slot_requests(slot) + config.request_ring_bytes);
}

}  // namespace evring::detail
