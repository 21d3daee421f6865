// Both sides of a reader's query segment (query_segment.hpp has the protocol).
#include "query/query_segment.hpp"

#include <algorithm>
#include <bit>

#include <sched.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "intake/intake_layout.hpp"  // pack_owner
#include "shm/segment_attach.hpp"
#include "sync/doorbell.hpp"
#include "sync/wait_interrupt.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/process.hpp"

namespace evring::query_shm {
namespace {

constexpr std::size_t kMaxWords = 64;
constexpr std::int64_t kSpinBeforeSleepNs = 20'000;  // a reply usually comes sooner
constexpr std::uint32_t kPauseRounds = 64;           // about 3 us of pauses, then yields
constexpr std::int64_t kLivenessProbeNs = 1'000'000;
constexpr std::int64_t kSleepSliceNs = 10'000'000;  // futex timeout between probes

bool owner_alive(std::uint64_t owner) {
  const auto pid = static_cast<pid_t>(owner >> 32);
  const std::uint64_t ticks = process_start_ticks(pid);
  return ticks != 0 && (ticks & 0xffff'ffffu) == (owner & 0xffff'ffffu);
}

void reset_slot(Slot& slot) {
  // relaxed: the slot is nobody's until the owner's release store after this publishes it.
  for (std::atomic<std::uint64_t>* index :
       {&slot.request_serial, &slot.taken_serial, &slot.records_tail, &slot.records_head}) {
    index->store(0, std::memory_order_relaxed);
  }
  for (std::atomic<std::uint32_t>* flag : {&slot.client_sleeping, &slot.closing}) {
    flag->store(0, std::memory_order_relaxed);
  }
}

}  // namespace

// ---- RecordWriter (view thread) ----------------------------------------------------

bool RecordWriter::fits(std::size_t text_bytes) const noexcept {
  // relaxed: our own index; acquire: pairs with the client's release store of its head,
  // so the space it freed is not read by it any more.
  const std::uint64_t tail = slot_.records_tail.load(std::memory_order_relaxed);
  const std::uint64_t head = slot_.records_head.load(std::memory_order_acquire);
  const std::uint64_t bytes = record_bytes(text_bytes);
  const std::uint64_t rest = kRecordRingBytes - (tail & (kRecordRingBytes - 1));
  const std::uint64_t need = bytes + (bytes > rest ? rest : 0);
  return tail + need - head <= kRecordRingBytes;
}

bool RecordWriter::append(RecordHeader header, std::string_view text) noexcept {
  if (!fits(text.size())) return false;
  std::uint64_t tail = slot_.records_tail.load(std::memory_order_relaxed);  // ours
  const std::uint32_t bytes = record_bytes(text.size());
  std::uint64_t at = tail & (kRecordRingBytes - 1);
  if (const std::uint64_t rest = kRecordRingBytes - at; bytes > rest) {
    // A padding record's first 8 bytes (its size and kind) always fit: the rest is a
    // multiple of 8.
    const std::uint32_t padding_bytes = static_cast<std::uint32_t>(rest);
    const auto padding_kind = RecordKind::padding;
    std::memcpy(ring_ + at, &padding_bytes, sizeof padding_bytes);
    std::memcpy(ring_ + at + offsetof(RecordHeader, kind), &padding_kind, sizeof padding_kind);
    tail += rest;
    at = 0;
  }
  header.bytes = bytes;
  header.text_bytes = static_cast<std::uint32_t>(text.size());
  std::memcpy(ring_ + at, &header, sizeof header);
  // An empty text (a record that only says "ask the socket") may have no data pointer.
  if (!text.empty()) std::memcpy(ring_ + at + sizeof header, text.data(), text.size());
  // release: pairs with the client's acquire load; the record is complete when it sees it.
  slot_.records_tail.store(tail + bytes, std::memory_order_release);
  return true;
}

void RecordWriter::publish() noexcept {
  // The doorbell's G1 to G4 (sync/doorbell.hpp): the tail stored above is the condition.
  Doorbell(slot_.client_sleeping, slot_.records_bell).ring();
}

// ---- QuerySegment (the reader) -----------------------------------------------------

std::unique_ptr<QuerySegment> QuerySegment::create(const std::string& instance,
                                                   const std::string& reader_id, mode_t mode,
                                                   gid_t group) {
  const std::string name = segment_name(instance, segment_part(reader_id));
  if (std::optional<SharedSegment> old = SharedSegment::open(name, Access::read_only)) {
    const detail::SegmentVerdict verdict =
        detail::inspect(*old, SegmentKind::query, kLayoutVersion);
    if (verdict.ours && verdict.owner_alive &&
        verdict.state == static_cast<std::uint32_t>(SegmentState::ready)) {
      throw Error(ErrorCode::writer_running,
                  "another evring-reader (pid " + std::to_string(verdict.owner_pid) +
                      ") serves queries in /dev/shm/" + name + ": choose another --id");
    }
  }
  SharedSegment::remove(name);  // a dead reader's
  SharedSegment segment = SharedSegment::create(name, segment_bytes(), mode, group);
  auto& header = *reinterpret_cast<Header*>(segment.data());
  header.slot_count = kQuerySlots;
  header.request_bytes = kRequestBytes;
  header.record_ring_bytes = kRecordRingBytes;
  header.slot_stride = slot_stride();
  header.slots_offset = align_up(sizeof(Header), kFalseSharingRange);
  write_preamble(header.preamble, SegmentKind::query, kLayoutVersion, 0, segment_bytes());
  // release: pairs with a client's acquire load of the state; the header is complete.
  header.preamble.state.store(static_cast<std::uint32_t>(SegmentState::ready),
                              std::memory_order_release);
  return std::unique_ptr<QuerySegment>(new QuerySegment(std::move(segment)));
}

QuerySegment::QuerySegment(SharedSegment segment)
    : segment_(std::move(segment)),
      header_(reinterpret_cast<Header*>(segment_.data())),
      taken_(kQuerySlots, 0) {}

QuerySegment::~QuerySegment() {
  // release: a client that sees it knows nothing more comes (it probes while it waits).
  header_->preamble.state.store(static_cast<std::uint32_t>(SegmentState::closed),
                                std::memory_order_release);
  SharedSegment::remove(segment_.name());
}

bool QuerySegment::next(SlotRequest& out) {
  // acquire: pairs with a client's fetch_or after its claim.
  std::uint64_t mask = header_->active_mask.load(std::memory_order_acquire);
  if (mask == 0) return false;
  // Round robin from next_slot_: rotate so that bit 0 is that slot.
  mask = std::rotr(mask, static_cast<int>(next_slot_));
  while (mask != 0) {
    const unsigned offset = static_cast<unsigned>(std::countr_zero(mask));
    mask &= mask - 1;
    const unsigned slot = (next_slot_ + offset) % kQuerySlots;
    Slot& s = slot_at(segment_.data(), slot);
    // relaxed: a hint to free it soon (free_gone() loads it again with acquire); a client
    // that is done sends nothing more.
    if (s.closing.load(std::memory_order_relaxed) != 0) {
      closed_seen_ = true;
      continue;
    }
    // acquire: pairs with the client's release store; its request is complete.
    const std::uint64_t serial = s.request_serial.load(std::memory_order_acquire);
    if (serial == taken_[slot]) continue;
    taken_[slot] = serial;
    const bool decoded = decode(slot, serial, out);
    // release: the client may reuse the request area once it sees this.
    s.taken_serial.store(serial, std::memory_order_release);
    if (!decoded) continue;
    next_slot_ = (slot + 1) % kQuerySlots;
    return true;
  }
  return false;
}

bool QuerySegment::decode(unsigned slot, std::uint64_t serial, SlotRequest& out) {
  Slot& s = slot_at(segment_.data(), slot);
  const std::byte* area = request_area(s);
  RequestHeader request;
  std::memcpy(&request, area, sizeof request);
  bool ok = request.bytes >= sizeof request && request.bytes <= kRequestBytes &&
            request.word_count >= 1 && request.word_count <= kMaxWords;
  out.words.clear();
  std::size_t at = sizeof request;
  for (std::uint16_t i = 0; ok && i < request.word_count; ++i) {
    std::uint32_t length = 0;
    ok = at + sizeof length <= request.bytes;
    if (!ok) break;
    std::memcpy(&length, area + at, sizeof length);
    at += sizeof length;
    ok = length <= request.bytes - at;
    if (!ok) break;
    out.words.emplace_back(reinterpret_cast<const char*>(area + at), length);
    at += length;
  }
  if (!ok) {
    // Only a client that is not ours writes such a thing; tell it, as the socket would.
    RecordHeader reply{};
    reply.kind = RecordKind::reply;
    reply.status = QueryStatus::error;
    reply.serial = serial;
    RecordWriter writer = records(slot);
    if (writer.append(reply, R"({"as_of_seq":0,"error":"malformed request"})")) writer.publish();
    return false;
  }
  out.slot = slot;
  out.serial = serial;
  out.kind = request.kind;
  out.after_seq = request.after_seq;
  out.timeout_ms = request.timeout_ms;
  return true;
}

void QuerySegment::free_gone(std::vector<unsigned>& freed) {
  closed_seen_ = false;
  for (unsigned i = 0; i < kQuerySlots; ++i) {
    Slot& s = slot_at(segment_.data(), i);
    // acquire: pairs with the claimer's CAS and its release store of `closing`.
    const std::uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    if (s.closing.load(std::memory_order_acquire) == 0 && owner_alive(owner)) continue;
    reset_slot(s);
    taken_[i] = 0;
    // release: the bit goes before the slot is free again.
    header_->active_mask.fetch_and(~(std::uint64_t{1} << i), std::memory_order_release);
    // release: pairs with the next claimer's acquire CAS; it sees the reset slot.
    s.owner.store(0, std::memory_order_release);
    freed.push_back(i);
  }
}

std::optional<QueryCounts> read_query_counts(const std::string& instance,
                                             const std::string& reader_id) {
  std::optional<SharedSegment> segment;
  try {
    segment =
        SharedSegment::open(segment_name(instance, segment_part(reader_id)), Access::read_only);
  } catch (const Error&) {
    return std::nullopt;
  }
  if (!segment || segment->size() < segment_bytes()) return std::nullopt;
  const detail::SegmentVerdict verdict =
      detail::inspect(*segment, SegmentKind::query, kLayoutVersion);
  if (!verdict.ours || !verdict.same_layout) return std::nullopt;
  const auto& header = *reinterpret_cast<const Header*>(segment->data());
  // relaxed: lone counters for a display.
  return QueryCounts{header.queries.load(std::memory_order_relaxed),
                     header.subscriptions.load(std::memory_order_relaxed),
                     header.subscriber_resets.load(std::memory_order_relaxed)};
}

// ---- QuerySlot (a client) ----------------------------------------------------------

struct QuerySlot::State {
  explicit State(SharedSegment mapped) : segment(std::move(mapped)) {}
  SharedSegment segment;
  Header* header = nullptr;
  Slot* slot = nullptr;
  unsigned index = 0;
  std::uint64_t sent = 0;  // the serial of the last request
  std::uint64_t head = 0;  // records consumed (ours)
};

std::optional<QuerySlot> QuerySlot::claim(const std::string& instance,
                                          const std::string& reader_id) {
  std::optional<SharedSegment> segment;
  try {
    segment =
        SharedSegment::open(segment_name(instance, segment_part(reader_id)), Access::read_write);
  } catch (const Error&) {
    return std::nullopt;  // not ours to map (another user): the socket it is
  }
  if (!segment || segment->size() < segment_bytes()) return std::nullopt;
  const detail::SegmentVerdict verdict =
      detail::inspect(*segment, SegmentKind::query, kLayoutVersion);
  if (!verdict.ours || !verdict.same_layout || !verdict.owner_alive ||
      verdict.state != static_cast<std::uint32_t>(SegmentState::ready)) {
    return std::nullopt;
  }
  auto state = std::make_unique<State>(std::move(*segment));
  std::byte* base = state->segment.data();
  state->header = reinterpret_cast<Header*>(base);
  const ProcessIdentity me = ProcessIdentity::self();
  const std::uint64_t owner = detail::pack_owner(me.pid, me.start_ticks);
  for (unsigned i = 0; i < kQuerySlots; ++i) {
    Slot& slot = slot_at(base, i);
    std::uint64_t free = 0;
    // acq_rel: acquire pairs with the reader's release store when it freed the slot (its
    // indices are reset); release orders nothing we wrote, but is free on x86.
    if (!slot.owner.compare_exchange_strong(free, owner, std::memory_order_acq_rel)) continue;
    state->slot = &slot;
    state->index = i;
    // acquire: the slot's indices as the reader reset them (relaxed stores before its
    // release of owner, which the CAS acquired).
    state->sent = slot.request_serial.load(std::memory_order_relaxed);
    state->head = slot.records_head.load(std::memory_order_relaxed);
    // release: the reader looks at the slot only after its acquire load of the mask.
    state->header->active_mask.fetch_or(std::uint64_t{1} << i, std::memory_order_release);
    return QuerySlot(std::move(state));
  }
  return std::nullopt;  // all taken
}

QuerySlot::QuerySlot(std::unique_ptr<State> state) : state_(std::move(state)) {}
QuerySlot::QuerySlot(QuerySlot&&) noexcept = default;
QuerySlot& QuerySlot::operator=(QuerySlot&&) noexcept = default;

QuerySlot::~QuerySlot() {
  // release: the reader frees the slot at its next heartbeat, after its acquire load.
  if (state_) state_->slot->closing.store(1, std::memory_order_release);
}

bool QuerySlot::reader_alive() const {
  const SegmentPreamble& preamble = state_->header->preamble;
  // acquire: pairs with the reader's release store of `closed`.
  if (preamble.state.load(std::memory_order_acquire) !=
      static_cast<std::uint32_t>(SegmentState::ready)) {
    return false;
  }
  return ProcessIdentity{preamble.owner_pid, preamble.owner_start_ticks}.alive();
}

bool QuerySlot::send(RequestKind kind, std::span<const std::string_view> words,
                     std::uint64_t after_seq, std::uint32_t timeout_ms) {
  State& s = *state_;
  std::size_t bytes = sizeof(RequestHeader);
  for (const std::string_view word : words) bytes += sizeof(std::uint32_t) + word.size();
  if (bytes > kRequestBytes || words.size() > kMaxWords) return false;
  // The reader copies a request out before it answers; a watch is answered at once, so
  // this spins only after a request that was not: until the reader took it.
  // acquire: pairs with the reader's release store once it copied the last one out.
  for (std::int64_t probe = 0; s.slot->taken_serial.load(std::memory_order_acquire) != s.sent;) {
    sched_yield();
    if (++probe % 1024 == 0 && !reader_alive()) {
      throw Error(ErrorCode::io, "the reader went away before it took the last request");
    }
  }
  std::byte* area = request_area(*s.slot);
  const RequestHeader header{static_cast<std::uint32_t>(bytes),
                             kind,
                             static_cast<std::uint16_t>(words.size()),
                             timeout_ms,
                             0,
                             after_seq};
  std::memcpy(area, &header, sizeof header);
  std::size_t at = sizeof header;
  for (const std::string_view word : words) {
    const auto length = static_cast<std::uint32_t>(word.size());
    std::memcpy(area + at, &length, sizeof length);
    if (!word.empty()) std::memcpy(area + at + sizeof length, word.data(), word.size());
    at += sizeof length + word.size();
  }
  // release: pairs with the reader's acquire load; the request is complete when it sees it.
  s.slot->request_serial.store(++s.sent, std::memory_order_release);
  Header& h = *s.header;
  WaitInterrupt::trigger_shared(h.pending, h.reader_sleeping);
  // relaxed: the doorbell's fence in ring() orders it before the flag load [SYNC D].
  h.posted.fetch_add(1, std::memory_order_relaxed);
  Doorbell(h.bell_sleeping, h.bell).ring();
  return true;
}

std::uint64_t QuerySlot::sent_serial() const noexcept {
  return state_->sent;
}

const RecordHeader* QuerySlot::wait_record(std::int64_t deadline_ns) {
  State& s = *state_;
  Slot& slot = *s.slot;
  std::byte* ring = record_ring(slot);
  const auto available = [&] {
    // acquire: pairs with the reader's release store; the records before it are complete.
    return slot.records_tail.load(std::memory_order_acquire) != s.head;
  };
  // Pauses first (a spinning reader answers within a microsecond or two), then yields
  // (other clients may share this core: a spinning one would hold it for its whole time
  // slice), then sleeps until the reader rings.
  const std::int64_t start = monotonic_ns();
  std::int64_t next_probe = start + kLivenessProbeNs;
  for (std::uint32_t round = 0;; ++round) {
    while (available()) {
      const auto* record =
          reinterpret_cast<const RecordHeader*>(ring + (s.head & (kRecordRingBytes - 1)));
      if (record->kind != RecordKind::padding) return record;
      consume(*record);
    }
    if (round < kPauseRounds) {
      cpu_relax();
      continue;
    }
    const std::int64_t now = monotonic_ns();
    if (now >= deadline_ns) return nullptr;
    if (now - start < kSpinBeforeSleepNs) {
      sched_yield();
      continue;
    }
    Doorbell bell(slot.client_sleeping, slot.records_bell);
    bell.sleep_unless(available, std::min(deadline_ns - now, kSleepSliceNs));
    bell.leave_single();
    if (now >= next_probe) {
      next_probe = now + kLivenessProbeNs;
      if (!available() && !reader_alive()) {
        throw Error(ErrorCode::io, "the reader stopped or crashed");
      }
    }
  }
}

void QuerySlot::consume(const RecordHeader& record) noexcept {
  State& s = *state_;
  s.head += record.bytes;
  // release: pairs with the reader's acquire load; the space may be reused.
  s.slot->records_head.store(s.head, std::memory_order_release);
}

}  // namespace evring::query_shm
