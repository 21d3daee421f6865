#include "ring/ring_receiver.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sched.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "ring/shared_copy.hpp"

namespace evring {
namespace {

// A receiver copies at most this much per batch (or one largest record): big enough to
// drain a backlog in few trips to the cursor line, small enough to stay in L1/L2.
constexpr std::size_t kReceiverBatchBytes = 32 << 10;
// A lapped receiver's looks for the newest record that it makes at once; after them it
// gives the core away between looks, for a writer preempted mid-publish, until
// damaged_after_ns has passed.
constexpr std::uint32_t kLappedQuickLooks = 64;

}  // namespace

// ---- record buffer ----------------------------------------------------------------------

void RecordBuffer::FreeAligned::operator()(std::byte* p) const noexcept {
  std::free(p);
}

RecordBuffer::RecordBuffer(std::uint32_t max_payload)
    : RecordBuffer(max_payload, aligned_record_length(max_payload)) {}

RecordBuffer::RecordBuffer(std::uint32_t max_payload, std::size_t record_bytes)
    : max_payload_(max_payload) {
  const std::size_t bytes =
      align_up(std::max<std::size_t>(record_bytes, aligned_record_length(max_payload)), kCacheLine);
  void* memory = std::aligned_alloc(kCacheLine, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  std::memset(memory, 0, bytes);
  storage_.reset(static_cast<std::byte*>(memory));
  record_ = storage_.get();
}

// ---- receiver ---------------------------------------------------------------------------

RingReceiver::RingReceiver(const RingCursor& cursor, std::span<const std::byte> data,
                           std::uint32_t max_payload, std::uint64_t first_seq, RingStart start,
                           std::string name, std::int64_t damaged_after_ns)
    : cursor_(&cursor),
      data_(data.data()),
      capacity_(data.size()),
      mask_(data.size() - 1),
      max_payload_(max_payload),
      first_seq_(first_seq),
      name_(std::move(name)),
      damaged_after_ns_(damaged_after_ns),
      batch_capacity_(
          std::max<std::size_t>(kReceiverBatchBytes, aligned_record_length(max_payload))) {
  batch_ = RecordBuffer(max_payload_, batch_capacity_);
  if (start == RingStart::earliest) {
    position_ = 0;
    expected_seq_ = first_seq;
  } else {
    const Frontier frontier = walk_to_frontier();
    position_ = frontier.position;
    expected_seq_ = frontier.seq;
  }
  live_start_seq_ = expected_seq_;
}

RingReceiver::RingReceiver(RingReceiver&&) noexcept = default;
RingReceiver& RingReceiver::operator=(RingReceiver&&) noexcept = default;
RingReceiver::~RingReceiver() = default;

namespace {

// A header's length and type, as read before R2 vouches for them.
struct HeaderFields {
  std::uint32_t length;
  std::uint32_t type;
};

HeaderFields fields_at(const std::byte* header) noexcept {
  HeaderFields fields;
  static_assert(sizeof fields == 8 && offsetof(RecordHeader, type) == 4);
  detail::copy_from_shared(&fields, header, sizeof fields);
  return fields;
}

}  // namespace

PollResult RingReceiver::refill() {
  std::uint64_t at = next_boundary(position_, capacity_);
  std::uint64_t seq = expected_seq_;
  std::uint64_t first = at;  // the batch's first byte, for R2
  std::size_t filled = 0;
  // Caught up (the last look found nothing): the writer is at the next line, so this batch
  // ends at the first line's end (below). Behind it: the whole backlog, a batch at a time.
  const bool at_the_writers_heels = caught_up_;
  caught_up_ = false;
  for (;;) {
    const std::uint64_t offset = at & mask_;
    const std::byte* header = data_ + offset;
    // R1. acquire: pairs with the writer's release of the commit word (W5) [SYNC B]: the
    // record's fields are visible once its seq is.
    const std::uint64_t word =
        detail::load_word(header + kCommitWordOffset, std::memory_order_acquire);
    if (word != seq) {
      if (filled != 0) break;
      position_ = at;
      if (word == 0) return cursor_shows_lap() ? on_lapped() : PollResult{PollStatus::empty};
      // A seq other than the next one is a later lap's, or a ring no writer wrote: the
      // intent tells them apart, since a writer announces a lap before it writes one.
      if (overwritten_since(at)) return on_lapped();
      throw_skipped(word);
    }
    const HeaderFields fields = fields_at(header);
    const std::uint64_t to_end = capacity_ - offset;
    if (fields.type == kPaddingType) {
      // A padding fills the data area's rest after a record that did not fit there. One at
      // the area's start would fill all of it, and be followed by itself: never written.
      if (fields.length != to_end || offset == 0) {
        if (filled != 0) break;  // judged when it comes first
        if (overwritten_since(at)) return on_lapped();
        throw_damaged("the padding at position " + std::to_string(at) +
                      (offset == 0 ? " fills the whole data area"
                                   : " does not end where the ring's data area does"));
      }
      if (filled != 0) break;  // the padding starts the next batch
      at += to_end;
      first = at;
      position_ = at;
      continue;
    }
    const std::uint64_t aligned = align_up(fields.length, kRecordAlignment);
    if (fields.length < sizeof(RecordHeader) ||
        fields.length > sizeof(RecordHeader) + std::uint64_t{max_payload_} || aligned > to_end) {
      if (filled != 0) break;
      if (overwritten_since(at)) return on_lapped();
      throw_impossible_length(at, fields.length);
    }
    if (filled + aligned > batch_capacity_) break;  // the next batch has it
    detail::copy_from_shared(batch_.raw() + filled, header, aligned);
    filled += aligned;
    at += aligned;
    ++seq;
    // A rest too short for a header ends the batch: its records are contiguous.
    if (next_boundary(at, capacity_) != at) break;
    // So does, for a caught-up reader, a record that ends a cache line: the next commit word
    // is on a line the writer may be writing now, and waiting for it would delay this record
    // by a transfer between the cores. The prefetch starts that transfer without waiting on
    // it, for the poll that comes next.
    if (at_the_writers_heels && (at & (kCacheLine - 1)) == 0) {
      __builtin_prefetch(data_ + (at & mask_));
      break;
    }
  }
  // R2.
  if (overwritten_since(first)) return on_lapped();
  batch_start_ = first;
  batch_read_ = 0;
  batch_size_ = filled;
  return {PollStatus::record};
}

RingReceiver::Frontier RingReceiver::walk_to_frontier() const {
  std::int64_t looking_since_ns = 0;
  for (std::uint32_t attempt = 0;; ++attempt) {
    // latest first, then tail with acquire, as on_lapped() reads them.
    const std::uint64_t latest = cursor_->latest.load(std::memory_order_relaxed);
    const std::uint64_t tail = cursor_->tail.load(std::memory_order_acquire);
    Frontier at{0, first_seq_};  // a cursor not stored yet: the ring's start
    if (tail != 0) {
      if (latest >= tail || latest % kRecordAlignment != 0 ||
          capacity_ - (latest & mask_) < sizeof(RecordHeader)) {
        if (out_of_patience(attempt, looking_since_ns)) {
          throw_damaged("its newest record's position " + std::to_string(latest) +
                        " is not a record start before the tail " + std::to_string(tail));
        }
        continue;
      }
      RecordHeader header;
      detail::copy_from_shared(&header, data_ + (latest & mask_), sizeof header);
      at = {latest, header.seq};
    }
    // Past every record committed since: each one's commit word is the seq walked to.
    const std::uint64_t from = at.position;
    while (at.position - from < capacity_) {
      const std::uint64_t boundary = next_boundary(at.position, capacity_);
      const std::byte* header = data_ + (boundary & mask_);
      // acquire: as R1 [SYNC B].
      if (detail::load_word(header + kCommitWordOffset, std::memory_order_acquire) != at.seq) {
        at.position = boundary;
        break;
      }
      const HeaderFields fields = fields_at(header);
      const std::uint64_t to_end = capacity_ - (boundary & mask_);
      const std::uint64_t aligned = align_up(fields.length, kRecordAlignment);
      if (fields.type == kPaddingType ? fields.length != to_end
                                      : fields.length < sizeof(RecordHeader) || aligned > to_end) {
        at.position = boundary;  // the poll that comes to it judges it
        break;
      }
      at.position = boundary + (fields.type == kPaddingType ? to_end : aligned);
      if (fields.type != kPaddingType) ++at.seq;
    }
    if (!overwritten_since(from)) return at;
    if (out_of_patience(attempt, looking_since_ns)) {
      throw_damaged("its write intent " +
                    std::to_string(cursor_->tail_intent.load(std::memory_order_relaxed)) +
                    " stays more than a ring ahead of its newest record " + std::to_string(from));
    }
  }
}

std::uint64_t RingReceiver::newest_seq() const {
  return walk_to_frontier().seq - 1;
}

bool RingReceiver::out_of_patience(std::uint32_t attempt, std::int64_t& since_ns) const {
  if (attempt < kLappedQuickLooks) return false;
  const std::int64_t now = monotonic_ns();
  if (attempt == kLappedQuickLooks) since_ns = now;
  if (now - since_ns >= damaged_after_ns_) return true;
  // The one system call of the protocol: a writer preempted between its stores of latest
  // and tail (W6) needs the core this receiver would spin on (two cores, ThreadSanitizer).
  sched_yield();
  return false;
}

PollResult RingReceiver::on_lapped() {
  drop_batch();
  std::int64_t looking_since_ns = 0;
  for (std::uint32_t attempt = 0;; ++attempt) {
    // latest first, then tail with acquire (pairs with W6's release) [SYNC C]: the writer
    // stores latest before tail, so a tail read after it is that record's end or later, and the
    // record's bytes are published. (Read the other way round, a writer that publishes
    // between the two loads leaves latest past the tail read, on a record maybe not
    // complete.) A tail not past latest means the writer raced us: look again; only a
    // damaged cursor stays so, look after look.
    const std::uint64_t latest = cursor_->latest.load(std::memory_order_relaxed);
    const std::uint64_t tail = cursor_->tail.load(std::memory_order_acquire);
    if (latest >= tail) {
      if (out_of_patience(attempt, looking_since_ns)) {
        throw_damaged("its newest record's position " + std::to_string(latest) +
                      " is not before the tail " + std::to_string(tail));
      }
      continue;
    }
    // The writer starts every record on an aligned offset with room for its header;
    // anything else is a damaged cursor, and reading a header there would run off the end
    // of the data area.
    if (latest % kRecordAlignment != 0 || capacity_ - (latest & mask_) < sizeof(RecordHeader)) {
      throw_damaged("its newest record's position " + std::to_string(latest) +
                    " is not a record start at or before the tail " + std::to_string(tail));
    }
    RecordHeader header;
    detail::copy_from_shared(&header, data_ + (latest & mask_), sizeof header);
    // The same validation as R2, for this header alone.
    if (overwritten_since(latest)) {
      // Lapped again while looking: look again. The writer keeps its intent within a
      // record and a slack of `latest`, so failing for damaged_after_ns means a damaged
      // cursor, not a fast writer.
      if (out_of_patience(attempt, looking_since_ns)) {
        throw_damaged("its write intent " +
                      std::to_string(cursor_->tail_intent.load(std::memory_order_relaxed)) +
                      " stays more than a ring ahead of its newest record " +
                      std::to_string(latest));
      }
      continue;
    }
    if (header.seq < expected_seq_) {
      // A cursor behind this receiver: not a lap after all (the writer moves it on).
      if (out_of_patience(attempt, looking_since_ns)) {
        throw_damaged("its newest record's seq " + std::to_string(header.seq) +
                      " is behind a receiver that was lapped at seq " +
                      std::to_string(expected_seq_));
      }
      continue;
    }
    const std::uint64_t missed = header.seq - expected_seq_;
    position_ = latest;
    expected_seq_ = header.seq;
    ++lapped_count_;
    missed_count_ += missed;
    return {PollStatus::lapped, missed, header.seq};
  }
}

void RingReceiver::throw_skipped(std::uint64_t seq) const {
  throw Error(ErrorCode::corrupt, "ring of " + name_ + " skipped from seq " +
                                      std::to_string(expected_seq_) + " to " + std::to_string(seq) +
                                      ": the ring is corrupt; restart its writer");
}

void RingReceiver::throw_impossible_length(std::uint64_t position, std::uint32_t length) const {
  throw Error(ErrorCode::corrupt, "ring of " + name_ + " holds a record of impossible length " +
                                      std::to_string(length) + " at position " +
                                      std::to_string(position) +
                                      ": the ring is corrupt; restart its writer");
}

void RingReceiver::throw_damaged(const std::string& what) const {
  throw Error(ErrorCode::corrupt,
              "ring of " + name_ + " is damaged: " + what + "; restart its writer");
}

}  // namespace evring
