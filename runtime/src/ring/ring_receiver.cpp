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
      name_(std::move(name)),
      damaged_after_ns_(damaged_after_ns),
      batch_capacity_(
          std::max<std::size_t>(kReceiverBatchBytes, aligned_record_length(max_payload))) {
  batch_ = RecordBuffer(max_payload_, batch_capacity_);
  if (start == RingStart::earliest) {
    position_ = 0;
    expected_seq_ = first_seq;
  } else {
    // acquire: pairs with the writer's release store of tail (W5); we start at a record
    // boundary that is fully published.
    position_ = cursor_->tail.load(std::memory_order_acquire);
    expected_seq_ = 0;  // learned from the first record
  }
  // relaxed: head_seq is stored before the writer's release of tail (W5), so after the
  // acquire above it is at least the seq of the record before the cursor.
  live_start_seq_ = std::max(cursor_->head_seq.load(std::memory_order_relaxed) + 1, first_seq);
}

RingReceiver::RingReceiver(RingReceiver&&) noexcept = default;
RingReceiver& RingReceiver::operator=(RingReceiver&&) noexcept = default;
RingReceiver::~RingReceiver() = default;

PollResult RingReceiver::refill(std::uint64_t tail) {
  for (;;) {
    // After skipping padding, the tail R1 saw may be reached: poll() looks again next time.
    if (tail == position_) return {PollStatus::empty};
    if (tail - position_ > capacity_) [[unlikely]]
      return on_lapped();
    const std::uint64_t offset = position_ & mask_;
    if (capacity_ - offset < sizeof(RecordHeader)) {
      position_ += capacity_ - offset;  // headerless padding up to the end
      continue;
    }
    // R2. Copy first, judge after (R3): these bytes may be mid-overwrite as we read them.
    const std::size_t bytes = static_cast<std::size_t>(
        std::min<std::uint64_t>({tail - position_, capacity_ - offset, batch_capacity_}));
    detail::copy_from_shared(batch_.raw(), data_ + offset, bytes);
    // R3. acquire fence: orders the copy above before the intent load below, pairing with
    // the writer's release fence after its intent store (W2) [SYNC A].
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t intent = cursor_->tail_intent.load(std::memory_order_relaxed);
    if (intent - position_ > capacity_) [[unlikely]]
      return on_lapped();

    // The copy is what the writer published: find the whole records in it. Lengths are
    // trustworthy now, so a nonsensical one is corruption, not a race.
    std::size_t end = 0;
    while (end + sizeof(RecordHeader) <= bytes) {
      const auto* header = reinterpret_cast<const RecordHeader*>(batch_.raw() + end);
      const bool padding = header->type == kPaddingType;
      // A record's seq is never 0 (that is "not yet known" to poll) nor the last u64.
      const bool impossible_seq =
          !padding && (header->seq == 0 || header->seq == ~std::uint64_t{0});
      if (impossible_seq) {
        throw_damaged("the record at position " + std::to_string(position_ + end) +
                      " has the impossible seq " + std::to_string(header->seq));
      }
      if (header->length < sizeof(RecordHeader) ||
          (!padding && header->length > sizeof(RecordHeader) + std::uint64_t{max_payload_})) {
        throw_impossible_length(position_ + end, header->length);
      }
      const std::size_t aligned = align_up(header->length, kRecordAlignment);
      if (end + aligned > bytes) {
        // Cut by the batch size: the next batch has it. A batch has room for the largest
        // record (and padding is shorter than one), so a first record that does not fit
        // runs past the tail or the end of the data area, where no writer puts one.
        if (end == 0) {
          throw_damaged("the record at position " + std::to_string(position_) + " (" +
                        std::to_string(header->length) +
                        " bytes) runs past the tail or the end of the ring");
        }
        break;
      }
      if (padding) {
        // Padding runs exactly to the end of the data area: skip it if it comes first,
        // else deliver what came before it and let it start the next batch.
        if (offset + end + aligned != capacity_) {
          throw_damaged("the padding at position " + std::to_string(position_ + end) +
                        " does not end where the ring's data area does");
        }
        if (end == 0) position_ += aligned;
        break;
      }
      end += aligned;
    }
    if (end == 0) {
      if ((position_ & mask_) != offset) continue;  // skipped a padding record
      // Not even a header between the cursor and the tail: the writer publishes whole
      // records only.
      throw_damaged("only " + std::to_string(bytes) + " bytes lie between position " +
                    std::to_string(position_) + " and the tail, less than a record");
    }
    batch_start_ = position_;
    batch_read_ = 0;
    batch_size_ = end;
    return {PollStatus::record};
  }
}

bool RingReceiver::out_of_patience(std::uint32_t attempt, std::int64_t& since_ns) const {
  if (attempt < kLappedQuickLooks) return false;
  const std::int64_t now = monotonic_ns();
  if (attempt == kLappedQuickLooks) since_ns = now;
  if (now - since_ns >= damaged_after_ns_) return true;
  // The one system call of the protocol: a writer preempted between W4 and W5 needs the
  // core this receiver would spin on (two cores, ThreadSanitizer).
  sched_yield();
  return false;
}

PollResult RingReceiver::on_lapped() {
  drop_batch();
  std::int64_t looking_since_ns = 0;
  for (std::uint32_t attempt = 0;; ++attempt) {
    // latest first, then tail with acquire (pairs with W5): the writer stores latest before
    // tail (W4, W5), so a tail read after it is that record's end or later, and the
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
    // acquire fence + intent: the same validation as R3, for this header alone.
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t intent = cursor_->tail_intent.load(std::memory_order_relaxed);
    if (intent - latest > capacity_) {
      // Lapped again while looking: look again. The writer keeps its intent within a
      // record and a slack of `latest`, so failing for damaged_after_ns means a damaged
      // cursor, not a fast writer.
      if (out_of_patience(attempt, looking_since_ns)) {
        throw_damaged("its write intent " + std::to_string(intent) +
                      " stays more than a ring ahead of its newest record " +
                      std::to_string(latest));
      }
      continue;
    }
    const std::uint64_t missed = expected_seq_ == 0 ? 0 : header.seq - expected_seq_;
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
