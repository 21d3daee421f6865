// A reader's query segment (evring.<instance>.query.<reader id>): queries and subscriptions
// through shared memory, for clients of the reader's user (or group); the query socket
// (query_server.hpp) stays for everyone else. The reader creates it, its view thread
// serves it between batches of events, so a query crosses no other thread.
//
// PROTOCOL
//
// The segment holds kQuerySlots client slots. A client claims a free one with a CAS of
// `owner` from 0 to its identity (intake_layout.hpp's pack_owner), then sets its bit in
// `active_mask`; the reader looks only at slots whose bit is set. A slot holds:
//   request   one request at a time: the client writes it into the request area, then
//             stores request_serial (release); the reader loads it (acquire), copies the
//             request out and stores taken_serial (release), after which the client may
//             write the next one.
//   records   a byte ring the reader writes (records_tail) and the client consumes
//             (records_head): a Lamport queue of 8-aligned records, never split at the
//             wrap (a record that does not fit the rest is preceded by a padding record).
//             A query's reply is one record; a subscription's lines are a record each.
//             The ring is the subscriber's bounded buffer: a line that does not fit is not
//             written, and the subscription is reset once there is room again.
//
// Waking the reader: the client stores its request, then
//   1. WaitInterrupt::trigger_shared(pending, reader_sleeping): the reader's interrupt
//      flag lives here (WaitInterrupt::share), so a spinning or yielding reader sees it at
//      its next look, and one asleep without a ring is woken;
//   2. posted += 1 and the query bell's doorbell {bell_sleeping, bell}: a blocking reader
//      sleeps on its ring's bell, which a client cannot reach, so a thread of the reader
//      (readers/query_host.cpp) sleeps on this bell and triggers the interrupt in-process.
// Neither makes a system call while nobody sleeps.
// Waking the client: the doorbell {client_sleeping, records_bell} of its slot, which the
// reader rings (fenced) after a record.
//
// Death: the reader frees the slots of dead or closing clients at its heartbeat. A client
// learns of the reader's death from the preamble's owner while it waits.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <memory>
#include <optional>
#include <vector>

#include <sys/types.h>

#include "shm/layout.hpp"
#include "shm/shared_segment.hpp"

namespace evring::query_shm {

inline constexpr std::uint32_t kLayoutVersion = 1;
inline constexpr std::uint32_t kQuerySlots = 64;  // one bit each in active_mask
inline constexpr std::uint32_t kRequestBytes = 4u << 10;
inline constexpr std::uint32_t kRecordRingBytes = 64u << 10;  // a power of two
// A reply larger than this goes through the socket (the client asks there again).
inline constexpr std::uint32_t kMaxRecordBytes = kRecordRingBytes / 2;

struct alignas(kFalseSharingRange) Header {
  SegmentPreamble preamble;
  std::uint32_t slot_count;
  std::uint32_t request_bytes;
  std::uint32_t record_ring_bytes;
  std::uint32_t reserved;
  std::uint64_t slot_stride;
  std::uint64_t slots_offset;
  // Clients set their slot's bit with fetch_or(release) after claiming it; the reader
  // clears it with fetch_and(release) when it frees the slot.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> active_mask;
  // The reader's WaitInterrupt words (WaitInterrupt::share).
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> pending;
  std::atomic<std::uint32_t> reader_sleeping;
  // The query bell: its thread sleeps while `posted` stays as it saw it.
  alignas(kFalseSharingRange) std::atomic<std::uint32_t> bell_sleeping;
  std::atomic<std::uint32_t> bell;
  std::atomic<std::uint64_t> posted;
  // For evring stat (relaxed: lone counters, written by the view thread only).
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> queries;
  std::atomic<std::uint64_t> subscriptions;      // live now
  std::atomic<std::uint64_t> subscriber_resets;  // overflows of a subscriber's buffer
};

enum class RequestKind : std::uint16_t { query = 1, watch = 2, unwatch = 3 };

// Then word_count words, each a std::uint32_t length and its bytes.
struct RequestHeader {
  std::uint32_t bytes;  // the whole request
  RequestKind kind;
  std::uint16_t word_count;
  std::uint32_t timeout_ms;
  std::uint32_t reserved;
  std::uint64_t after_seq;  // query: answer once applied; watch: resume after (0: snapshot)
};
static_assert(sizeof(RequestHeader) == 24);

enum class RecordKind : std::uint16_t {
  padding = 0,
  reply = 1,      // a query's reply line
  too_large = 2,  // the reply did not fit: ask the socket
  line = 3,       // a subscription's line
};
enum class QueryStatus : std::uint16_t { answered = 0, error = 1, stale = 2 };

// Then text_bytes of the line (the same JSON line the socket sends, without its newline).
struct RecordHeader {
  std::uint32_t bytes;  // the whole record, 8-aligned
  RecordKind kind;
  QueryStatus status;
  std::uint32_t text_bytes;
  std::uint32_t result_offset;  // of the view's JSON in the text (answered)
  std::uint32_t result_bytes;
  std::uint32_t reserved;
  std::uint64_t serial;  // the request it answers
  std::uint64_t as_of_seq;
};
static_assert(sizeof(RecordHeader) == 40);

struct alignas(kFalseSharingRange) Slot {
  // Claimed by a client (CAS from 0), freed by the reader (store 0 with release after the
  // reset, so the next claimer's acquire CAS sees clean indices).
  std::atomic<std::uint64_t> owner;
  std::atomic<std::uint32_t> closing;  // the client is done: the reader frees the slot
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> request_serial;  // client
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> taken_serial;    // reader
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> records_tail;    // reader
  std::atomic<std::uint32_t> records_bell;                                // reader
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> records_head;    // client
  std::atomic<std::uint32_t> client_sleeping;                             // client
  // Then request_bytes of request, then record_ring_bytes of records.
};

inline std::uint64_t slot_stride() {
  return align_up(sizeof(Slot) + kRequestBytes + kRecordRingBytes, kFalseSharingRange);
}
inline std::uint64_t segment_bytes() {
  return align_up(sizeof(Header), kFalseSharingRange) + kQuerySlots * slot_stride();
}
inline Slot& slot_at(std::byte* base, std::size_t index) {
  const auto& header = *reinterpret_cast<const Header*>(base);
  return *reinterpret_cast<Slot*>(base + header.slots_offset + index * header.slot_stride);
}
inline std::byte* request_area(Slot& slot) {
  return reinterpret_cast<std::byte*>(&slot) + sizeof(Slot);
}
inline std::byte* record_ring(Slot& slot) {
  return request_area(slot) + kRequestBytes;
}

// "evring.<instance>.query.<reader id>"'s part.
inline std::string segment_part(const std::string& reader_id) {
  return "query." + reader_id;
}

// The reader's side of a slot's record ring. View thread only.
class RecordWriter {
 public:
  explicit RecordWriter(Slot& slot) noexcept : slot_(slot), ring_(record_ring(slot)) {}
  // Appends one record; false when the ring has no room for it now (the client has not
  // read enough yet). Does not wake the client: publish() does.
  bool append(RecordHeader header, std::string_view text) noexcept;
  // Makes what append() wrote visible and wakes the client if it sleeps.
  void publish() noexcept;
  // Room for a record of text_bytes now, whatever the wrap costs.
  bool fits(std::size_t text_bytes) const noexcept;

 private:
  Slot& slot_;
  std::byte* ring_;
};

inline std::uint32_t record_bytes(std::size_t text_bytes) {
  return static_cast<std::uint32_t>(align_up(sizeof(RecordHeader) + text_bytes, 8));
}

// What a reader's segment says for evring stat.
struct QueryCounts {
  std::uint64_t queries = 0;            // answered through the segment
  std::uint64_t subscriptions = 0;      // live now
  std::uint64_t subscriber_resets = 0;  // overflows of a subscriber's buffer
};
// std::nullopt when the reader has no segment (or it is not ours to map). Any thread.
std::optional<QueryCounts> read_query_counts(const std::string& instance,
                                             const std::string& reader_id);

// A request as the view thread sees it.
struct SlotRequest {
  unsigned slot = 0;
  std::uint64_t serial = 0;
  RequestKind kind = RequestKind::query;
  std::uint64_t after_seq = 0;
  std::uint32_t timeout_ms = 0;
  std::vector<std::string> words;
};

// The reader's side: the segment and its slots. View thread only, but for header(), which
// the reader's query bell thread reads too.
class QuerySegment {
 public:
  // Creates evring.<instance>.query.<reader id> (`mode`, `group` as the query socket's),
  // replacing one a dead reader left. Call after the query socket is bound: a live
  // reader of that id has been refused there.
  static std::unique_ptr<QuerySegment> create(const std::string& instance,
                                              const std::string& reader_id, mode_t mode,
                                              gid_t group);
  ~QuerySegment();  // marks the segment closed and removes its name

  Header& header() const noexcept { return *header_; }
  // The next request of any slot, round robin; false when none waits. A malformed one is
  // answered here with an error reply and not returned.
  bool next(SlotRequest& out);
  RecordWriter records(unsigned slot) noexcept {
    return RecordWriter(slot_at(segment_.data(), slot));
  }
  // At the heartbeat: frees the slots of clients that closed or died, appending them to
  // `freed` (their subscriptions end).
  void free_gone(std::vector<unsigned>& freed);
  // Whether next() passed a slot its client closed (free_gone() then frees it now: a
  // client that connects and closes often would otherwise hold slots until the heartbeat).
  bool closed_seen() const noexcept { return closed_seen_; }

 private:
  explicit QuerySegment(SharedSegment segment);
  bool decode(unsigned slot, std::uint64_t serial, SlotRequest& out);

  SharedSegment segment_;
  Header* header_;
  std::vector<std::uint64_t> taken_;  // per slot: the last serial taken
  unsigned next_slot_ = 0;
  bool closed_seen_ = false;
};

// A client's slot in a reader's query segment. One thread.
class QuerySlot {
 public:
  // Maps the reader's segment and claims a slot; std::nullopt when there is no segment,
  // its reader is gone, this process may not map it, or every slot is taken (the client
  // then uses the socket).
  static std::optional<QuerySlot> claim(const std::string& instance, const std::string& reader_id);
  QuerySlot(QuerySlot&&) noexcept;
  QuerySlot& operator=(QuerySlot&&) noexcept;
  ~QuerySlot();  // closes the slot (the reader frees it)

  // Sends one request (the last one's must have been taken: wait_record() saw its first
  // record, or the request was a watch); false if it does not fit in the request area.
  bool send(RequestKind kind, std::span<const std::string_view> words, std::uint64_t after_seq,
            std::uint32_t timeout_ms);
  // The serial of the last request sent: its records carry it.
  std::uint64_t sent_serial() const noexcept;
  // The next record, waiting until deadline_ns (monotonic); nullptr at the deadline.
  // Throws Error(io) when the reader dies meanwhile. The record stays valid until
  // consume().
  const RecordHeader* wait_record(std::int64_t deadline_ns);
  std::string_view text(const RecordHeader& record) const noexcept {
    return {reinterpret_cast<const char*>(&record + 1), record.text_bytes};
  }
  void consume(const RecordHeader& record) noexcept;
  bool reader_alive() const;

 private:
  struct State;
  explicit QuerySlot(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace evring::query_shm
