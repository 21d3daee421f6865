#include "intake/command_intake.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "intake/intake_layout.hpp"
#include "shm/layout.hpp"
#include "shm/segment_attach.hpp"
#include "sync/doorbell.hpp"
#include "sys/process.hpp"

namespace evring {

using detail::ClientSlot;
using detail::IntakeConfig;
using detail::IntakeHeader;
using detail::ReplyEntry;
using detail::RequestHeader;

namespace {

IntakeHeader& header_of(const SharedSegment& segment) {
  return *reinterpret_cast<IntakeHeader*>(segment.data());
}

ClientSlot& slot_of(const SharedSegment& segment, std::uint32_t index) {
  return detail::slot_at(segment.data(), header_of(segment).config, index);
}

bool owner_alive(std::uint64_t owner) {
  const std::uint64_t pid = owner >> 32;
  const std::uint64_t ticks = process_start_ticks(static_cast<pid_t>(pid));
  return ticks != 0 && (ticks & 0xffff'ffffu) == (owner & 0xffff'ffffu);
}

}  // namespace

CommandIntake CommandIntake::create(const IntakeOptions& options) {
  validate_instance_name(options.instance);
  detail::supersede_leftover(options.instance, "intake");
  IntakeConfig config{};
  config.slot_count = detail::kIntakeSlots;
  config.request_ring_bytes = detail::kRequestRingBytes;
  config.reply_capacity = detail::kReplyCapacity;
  config.max_command_bytes = kMaxCommandBytes;
  config.slot_stride = detail::slot_stride(config.request_ring_bytes, config.reply_capacity);
  config.slots_offset = align_up(sizeof(IntakeHeader), kFalseSharingRange);
  const std::uint64_t bytes = config.slots_offset + config.slot_count * config.slot_stride;
  SharedSegment segment =
      SharedSegment::create(segment_name(options.instance, "intake"),
                            static_cast<std::size_t>(bytes), options.mode, options.group);
  auto* header = new (segment.data()) IntakeHeader{};
  write_preamble(header->preamble, SegmentKind::intake, detail::kIntakeLayoutVersion,
                 options.incarnation, bytes);
  header->config = config;
  for (std::uint32_t i = 0; i < config.slot_count; ++i) {
    new (&detail::slot_at(segment.data(), config, i)) ClientSlot{};
  }
  // relaxed: published by the release store of `ready` below.
  header->writer_heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // release: a client that loads `ready` with acquire sees the config and clean slots.
  header->preamble.state.store(static_cast<std::uint32_t>(SegmentState::ready),
                               std::memory_order_release);
  return CommandIntake(std::move(segment));
}

CommandIntake::CommandIntake(SharedSegment segment) : segment_(std::move(segment)) {}
// A moved-from intake must not close the segment it handed on (SharedSegment's move keeps
// the data pointer), hence `open_`.
CommandIntake::CommandIntake(CommandIntake&& other) noexcept
    : segment_(std::move(other.segment_)),
      open_(std::exchange(other.open_, false)),
      cursor_(other.cursor_),
      dead_reclaimed_(other.dead_reclaimed_) {}

CommandIntake& CommandIntake::operator=(CommandIntake&& other) noexcept {
  if (this != &other) {
    close();
    segment_ = std::move(other.segment_);
    open_ = std::exchange(other.open_, false);
    cursor_ = other.cursor_;
    dead_reclaimed_ = other.dead_reclaimed_;
  }
  return *this;
}

CommandIntake::~CommandIntake() {
  close();
}

void CommandIntake::close() noexcept {
  if (!open_) return;
  open_ = false;
  IntakeHeader& header = header_of(segment_);
  // release: a client that sees `closed` with acquire also sees every reply sent before.
  header.preamble.state.store(static_cast<std::uint32_t>(SegmentState::closed),
                              std::memory_order_release);
  // Wake clients asleep on a reply so they notice at once.
  for (std::uint32_t i = 0; i < header.config.slot_count; ++i) {
    ClientSlot& slot = slot_of(segment_, i);
    Doorbell(slot.client_sleeping, slot.reply_signal).wake_all();
  }
  SharedSegment::remove(segment_.name());
}

bool CommandIntake::next(IncomingCommand& out) {
  IntakeHeader& header = header_of(segment_);
  const IntakeConfig& config = header.config;
  // acquire: pairs with a client's fetch_or(release) after its claim; harmless either way,
  // since the slot's indices were reset by this thread before it was freed.
  std::uint64_t mask = header.active_mask.load(std::memory_order_acquire);
  if (mask == 0) return false;
  // Rotate so the search starts at cursor_: each client gets its turn.
  mask = std::rotr(mask, static_cast<int>(cursor_));
  while (mask != 0) {
    const auto skip = static_cast<std::uint32_t>(std::countr_zero(mask));
    const std::uint32_t index = (cursor_ + skip) % 64;
    mask &= mask - 1;
    ClientSlot& slot = slot_of(segment_, index);
    // relaxed: only this thread writes request_head.
    std::uint64_t head = slot.request_head.load(std::memory_order_relaxed);
    // acquire: pairs with the client's release store of request_tail; the request bytes
    // it wrote before are visible.
    const std::uint64_t tail = slot.request_tail.load(std::memory_order_acquire);
    std::byte* ring = detail::slot_requests(slot);
    const std::uint64_t ring_mask = config.request_ring_bytes - 1;
    while (head != tail) {
      const std::uint64_t offset = head & ring_mask;
      const std::uint64_t contiguous = config.request_ring_bytes - offset;
      // A padding record may be as short as 8 bytes: read its first word before the rest.
      RequestHeader request{};
      std::memcpy(&request, ring + offset, 8);
      const bool sane = request.record_bytes >= 8 && request.record_bytes % 8 == 0 &&
                        request.record_bytes <= contiguous && request.record_bytes <= tail - head;
      if (sane && request.format == detail::kRequestPadding) {
        head += request.record_bytes;
        continue;
      }
      if (sane && request.record_bytes >= sizeof request) {
        std::memcpy(&request, ring + offset, sizeof request);
      }
      const bool well_formed =
          sane && request.record_bytes >= sizeof request &&
          request.id_bytes <= kMaxCommandIdBytes &&
          request.payload_bytes <= config.max_command_bytes &&
          sizeof request + request.id_bytes + request.payload_bytes <= request.record_bytes &&
          (request.format == static_cast<std::uint16_t>(CommandFormat::bytes) ||
           request.format == static_cast<std::uint16_t>(CommandFormat::text));
      if (!well_formed) {
        // Only a broken client writes this: drop everything it sent and stop serving it.
        // It cannot corrupt anything else, since each slot is its own ring.
        // release: the space is free for the client; closing lets maintain() free the slot.
        slot.request_head.store(tail, std::memory_order_release);
        slot.closing.store(1, std::memory_order_release);
        head = tail;
        break;
      }
      if (head != slot.request_head.load(std::memory_order_relaxed)) {
        // release: the padding skipped is free for the client again.
        slot.request_head.store(head, std::memory_order_release);
      }
      out.from =
          ReplyAddress{index, slot.generation.load(std::memory_order_relaxed), request.ticket};
      out.format = static_cast<CommandFormat>(request.format);
      const std::byte* body = ring + offset + sizeof request;
      out.id = std::span(body, request.id_bytes);
      out.payload = std::span(body + request.id_bytes, request.payload_bytes);
      out.record_bytes = request.record_bytes;
      cursor_ = (index + 1) % 64;
      return true;
    }
    if (head != slot.request_head.load(std::memory_order_relaxed)) {
      slot.request_head.store(head, std::memory_order_release);
    }
  }
  return false;
}

void CommandIntake::finish(const IncomingCommand& command) {
  ClientSlot& slot = slot_of(segment_, command.from.slot);
  // relaxed load: only this thread writes request_head. release store: pairs with the
  // client's acquire load of request_head before it reuses the space; our reads of the
  // request happened before.
  const std::uint64_t head = slot.request_head.load(std::memory_order_relaxed);
  slot.request_head.store(head + command.record_bytes, std::memory_order_release);
}

void CommandIntake::reply(const ReplyAddress& to, const CommandReply& reply) {
  const IntakeConfig& config = header_of(segment_).config;
  ClientSlot& slot = slot_of(segment_, to.slot);
  // relaxed: generation is written only by this thread.
  if (slot.generation.load(std::memory_order_relaxed) != to.generation) return;
  const std::uint64_t tail = slot.reply_tail.load(std::memory_order_relaxed);
  // acquire: pairs with the client's release of reply_head; it has read the entry we reuse.
  if (tail - slot.reply_head.load(std::memory_order_acquire) >= config.reply_capacity) {
    return;  // a client that overfills its window is broken; it gets no more replies
  }
  ReplyEntry& entry = detail::slot_replies(slot, config)[tail & (config.reply_capacity - 1)];
  entry.ticket = to.ticket;
  entry.seq = reply.seq;
  entry.status = static_cast<std::uint32_t>(reply.status);
  entry.code = static_cast<std::uint32_t>(reply.code);
  std::string_view reason = reply.reason;
  if (reason.size() > kMaxReasonBytes) {
    std::memcpy(entry.reason, reason.data(), kMaxReasonBytes - 3);
    std::memcpy(entry.reason + kMaxReasonBytes - 3, "...", 3);
    entry.reason_bytes = kMaxReasonBytes;
  } else {
    std::memcpy(entry.reason, reason.data(), reason.size());
    entry.reason_bytes = static_cast<std::uint32_t>(reason.size());
  }
  // release: the client that loads reply_tail with acquire sees the whole entry.
  slot.reply_tail.store(tail + 1, std::memory_order_release);
  // Wakes the client if it sleeps on its reply (its re-check is of reply_tail).
  Doorbell(slot.client_sleeping, slot.reply_signal).ring();
}

void CommandIntake::maintain() {
  IntakeHeader& header = header_of(segment_);
  // relaxed: a heartbeat is a lone value for tools.
  header.writer_heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  std::uint64_t mask = header.active_mask.load(std::memory_order_acquire);
  while (mask != 0) {
    const auto index = static_cast<std::uint32_t>(std::countr_zero(mask));
    mask &= mask - 1;
    ClientSlot& slot = slot_of(segment_, index);
    // Whether it is done first, then whether it is drained: a client publishes its last
    // request before it sets `closing` (release), and a dead one publishes nothing more,
    // so once either is seen, the tail read after it (acquire) is final.
    const bool closing = slot.closing.load(std::memory_order_acquire) != 0;
    const bool dead = !closing && !owner_alive(slot.owner.load(std::memory_order_relaxed));
    if (!closing && !dead) continue;
    const bool drained = slot.request_tail.load(std::memory_order_acquire) ==
                         slot.request_head.load(std::memory_order_relaxed);
    if (!drained) continue;  // decide what it submitted first
    if (dead) ++dead_reclaimed_;
    free_slot(index);
  }
}

void CommandIntake::free_slot(std::uint32_t index) {
  IntakeHeader& header = header_of(segment_);
  ClientSlot& slot = slot_of(segment_, index);
  // relaxed stores: all published by the release store of owner = 0 below, which the
  // next claimer's acquire CAS pairs with.
  slot.request_tail.store(0, std::memory_order_relaxed);
  slot.request_head.store(0, std::memory_order_relaxed);
  slot.reply_tail.store(0, std::memory_order_relaxed);
  slot.reply_head.store(0, std::memory_order_relaxed);
  slot.client_sleeping.store(0, std::memory_order_relaxed);
  slot.closing.store(0, std::memory_order_relaxed);
  slot.generation.fetch_add(1, std::memory_order_relaxed);
  header.active_mask.fetch_and(~(std::uint64_t{1} << index), std::memory_order_relaxed);
  slot.owner.store(0, std::memory_order_release);
}

void CommandIntake::sleep(std::int64_t timeout_ns, const std::function<bool()>& also_pending) {
  IntakeHeader& header = header_of(segment_);
  Doorbell doorbell(header.writer_sleeping, header.doorbell);
  const std::uint32_t saved_cursor = cursor_;
  // The last look: every slot's request_tail (acquire), then the other source.
  doorbell.sleep_unless(
      [&] {
        IncomingCommand probe;
        return next(probe) || (also_pending && also_pending());
      },
      timeout_ns);
  cursor_ = saved_cursor;
  doorbell.leave_single();  // the writer is the only sleeper
}

void CommandIntake::wake() noexcept {
  IntakeHeader& header = header_of(segment_);
  // The caller published its command where sleep()'s also_pending sees it: exactly a
  // client's ring.
  Doorbell(header.writer_sleeping, header.doorbell).ring();
}

std::size_t CommandIntake::clients() const noexcept {
  return static_cast<std::size_t>(
      std::popcount(header_of(segment_).active_mask.load(std::memory_order_relaxed)));
}

}  // namespace evring
