#include "ring/broadcast_ring.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <thread>

#include <sched.h>

#include "shm/segment_attach.hpp"

namespace evring {
namespace {

constexpr std::int64_t kLivenessCheckIntervalNs = 50'000'000;  // writer pid probe when idle
constexpr std::int64_t kFutexBackstopNs = 2'000'000;           // see RingWriter::publish W6
constexpr std::uint32_t kBlockSpinsBeforeSleep = 512;
// A reader copies at most this much per batch (or one largest record): big enough to
// drain a backlog in few trips to the cursor line, small enough to stay in L1/L2.
constexpr std::size_t kReaderBatchBytes = 32 << 10;
// A lapped reader's looks for the newest record that it makes at once; after them it gives
// the core away between looks, for a writer preempted mid-publish, until
// ReaderOptions::damaged_after_ns has passed.
constexpr std::uint32_t kLappedQuickLooks = 64;

// A reader trusts the config to know where the data area is: one that does not fit the
// segment (damaged, or forged by whoever can write /dev/shm) is refused before any read.
void check_ring_config(const SharedSegment& segment, const std::string& instance) {
  const auto fail = [&](const std::string& what) {
    throw Error(ErrorCode::corrupt, "/dev/shm/" + segment.name() + " has a damaged ring header (" +
                                        what + "): restart the writer of instance \"" + instance +
                                        "\"");
  };
  if (segment.size() < sizeof(RingLayout)) fail("the segment is shorter than the header");
  const RingConfig& config = reinterpret_cast<const RingLayout*>(segment.data())->config;
  if (!is_power_of_two(config.capacity) || config.capacity < kMinRingCapacity) {
    fail("capacity " + std::to_string(config.capacity) + " is not a power of two of at least " +
         std::to_string(kMinRingCapacity));
  }
  if (config.data_offset < sizeof(RingLayout) || config.data_offset % kCacheLine != 0 ||
      config.data_offset > segment.size() ||
      config.capacity > segment.size() - config.data_offset) {
    fail("a data area of " + std::to_string(config.capacity) + " bytes at offset " +
         std::to_string(config.data_offset) + " does not fit the segment's " +
         std::to_string(segment.size()) + " bytes");
  }
  if (config.record_alignment != kRecordAlignment || config.first_seq == 0 ||
      aligned_record_length(config.max_payload) > config.capacity / 4) {
    fail("record alignment " + std::to_string(config.record_alignment) + ", largest payload " +
         std::to_string(config.max_payload) + ", first seq " + std::to_string(config.first_seq));
  }
}

// The power of two at or above both `asked` and `minimum`, as --ring-bytes takes it.
std::string suggested_ring_size(std::uint64_t asked, std::uint64_t minimum) {
  std::uint64_t size = minimum;
  while (size < asked) size *= 2;
  return size >= (1u << 20) ? std::to_string(size >> 20) + "M" : std::to_string(size >> 10) + "K";
}

}  // namespace

void validate_ring_options(const RingOptions& options) {
  validate_instance_name(options.instance);
  const std::uint64_t minimum = minimum_ring_capacity(options.max_payload);
  if (!is_power_of_two(options.capacity) || options.capacity < minimum) {
    throw Error(ErrorCode::invalid_argument,
                "ring size " + std::to_string(options.capacity) + " bytes is not a power of two " +
                    "of at least " + std::to_string(minimum) + " (four records of the largest " +
                    "payload, " + std::to_string(options.max_payload) +
                    " bytes): try --ring-bytes " + suggested_ring_size(options.capacity, minimum) +
                    ", or lower --max-payload");
  }
  if (options.first_seq == 0) {
    throw Error(ErrorCode::invalid_argument, "sequence numbers start at 1, not 0");
  }
}

// ---- writer ---------------------------------------------------------------------------

namespace {

[[noreturn]] void throw_writer_running(const std::string& instance, std::uint64_t pid) {
  throw Error(ErrorCode::writer_running, "instance \"" + instance +
                                             "\" already has a writer (pid " + std::to_string(pid) +
                                             "); stop it first, or use another --name");
}

}  // namespace

void ensure_no_live_writer(const std::string& instance) {
  const std::optional<SegmentOrigin> origin = read_segment_origin(segment_name(instance, "ring"));
  if (origin && origin->owner_pid != 0 &&
      ProcessIdentity{origin->owner_pid, origin->owner_start_ticks}.alive()) {
    throw_writer_running(instance, origin->owner_pid);
  }
}

RingWriter::RingWriter(std::string instance, SharedSegment ring, Registry registry)
    : instance_(std::move(instance)),
      ring_segment_(std::make_shared<SharedSegment>(std::move(ring))),
      registry_(std::make_shared<Registry>(std::move(registry))),
      layout_(reinterpret_cast<RingLayout*>(ring_segment_->data())) {
  data_ = ring_segment_->data() + layout_->config.data_offset;
  capacity_ = layout_->config.capacity;
  mask_ = capacity_ - 1;
  max_payload_ = layout_->config.max_payload;
  next_seq_ = layout_->config.first_seq;
  intent_slack_ = capacity_ / 16;
  wake_requested_ = &registry_->layout().wake_requested;
}

RingWriter RingWriter::create(const RingOptions& options) {
  validate_ring_options(options);
  const std::string ring_name = segment_name(options.instance, "ring");
  std::uint64_t previous_incarnation = 0;
  for (int attempt = 0;; ++attempt) {
    if (std::optional<SharedSegment> existing =
            SharedSegment::open(ring_name, Access::read_write)) {
      const detail::SegmentVerdict old =
          detail::inspect(*existing, SegmentKind::ring, kRingLayoutVersion);
      const bool finished = old.state == static_cast<std::uint32_t>(SegmentState::superseded) ||
                            old.state == static_cast<std::uint32_t>(SegmentState::closed);
      if (old.ours && old.owner_alive && !finished) {
        throw_writer_running(options.instance, old.owner_pid);
      }
      if (old.ours) {
        previous_incarnation = old.incarnation;
        // release: readers that load this with acquire (poll's idle check) learn that the
        // instance moved on; nothing else is published by it.
        reinterpret_cast<SegmentPreamble*>(existing->data())
            ->state.store(static_cast<std::uint32_t>(SegmentState::superseded),
                          std::memory_order_release);
      }
      SharedSegment::remove(ring_name);
    }
    try {
      const std::size_t bytes = kRingDataOffset + options.capacity;
      SharedSegment ring = SharedSegment::create(ring_name, bytes, options.mode, options.group);
      const std::uint64_t incarnation = previous_incarnation + 1;
      // The ring's name is ours now; if the registry cannot be made, give the name back
      // rather than leave a ring that stays `initializing`.
      Registry registry = [&] {
        try {
          // Whoever may read the ring may claim a reader slot: write where read is granted.
          const mode_t registry_mode = options.mode | ((options.mode & (S_IRGRP | S_IROTH)) >> 1);
          return Registry::create(options.instance, incarnation, registry_mode, options.writer_info,
                                  options.group);
        } catch (...) {
          SharedSegment::remove(ring_name);
          throw;
        }
      }();
      auto* layout = new (ring.data()) RingLayout{};
      write_preamble(layout->preamble, SegmentKind::ring, kRingLayoutVersion, incarnation, bytes);
      layout->config = RingConfig{options.capacity,    kRingDataOffset,   kRecordAlignment,
                                  options.max_payload, options.first_seq, options.history_id};
      // relaxed: published by the release store of `ready` below.
      layout->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
      // release: pairs with the readers' acquire load of `state` in attach(); a reader that
      // sees `ready` sees the config and the registry that was created before it.
      layout->preamble.state.store(static_cast<std::uint32_t>(SegmentState::ready),
                                   std::memory_order_release);
      return RingWriter(options.instance, std::move(ring), std::move(registry));
    } catch (const Error& e) {
      // Another writer created the ring between our look and our create: look again, and
      // that time refuse with its pid.
      if (e.code() != ErrorCode::writer_running || attempt >= 3) throw;
    }
  }
}

RingWriter::RingWriter(RingWriter&&) noexcept = default;

RingWriter::~RingWriter() {
  if (ring_segment_ == nullptr) return;  // moved from
  // release: readers that load `closed` (acquire) have seen every record before it.
  layout_->preamble.state.store(static_cast<std::uint32_t>(SegmentState::closed),
                                std::memory_order_release);
  SharedSegment::remove(ring_segment_->name());
  SharedSegment::remove(registry_->segment().name());
}

void RingWriter::throw_payload_too_large(std::size_t bytes) const {
  throw Error(ErrorCode::invalid_argument,
              "payload of " + std::to_string(bytes) + " bytes exceeds the ring's maximum of " +
                  std::to_string(max_payload_) + " (raise --max-payload)");
}

void RingWriter::write_padding(std::uint64_t offset, std::uint64_t bytes) {
  if (bytes < sizeof(RecordHeader)) return;  // readers skip a rest this short unannounced
  const RecordHeader padding{static_cast<std::uint32_t>(bytes), kPaddingType, 0, 0};
  detail::copy_to_shared(data_ + offset, &padding, sizeof padding);
}

void RingWriter::heartbeat() {
  const std::int64_t now = monotonic_ns();
  // relaxed, all: lone values for liveness and display; they order nothing.
  layout_->heartbeat_ns.store(now, std::memory_order_relaxed);
  WriterStatus& status = registry_->layout().writer;
  status.heartbeat_ns.store(now, std::memory_order_relaxed);
  status.events_total.store(next_seq_ - layout_->config.first_seq, std::memory_order_relaxed);
  status.bytes_total.store(bytes_total_, std::memory_order_relaxed);
  status.head_seq.store(next_seq_ - 1, std::memory_order_relaxed);
}

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

// ---- reader -----------------------------------------------------------------------------

RingReader RingReader::attach(const ReaderOptions& options) {
  RingReader reader;
  reader.options_ = options;
  if (options.interrupt) reader.interrupt_ = options.interrupt;
  reader.map_current(options.start == StartAt::earliest);
  return reader;
}

void RingReader::map_current(bool from_start) {
  const std::string& instance = options_.instance;
  std::optional<SharedSegment> ring = detail::attach_ready_segment(
      instance, "ring", SegmentKind::ring, kRingLayoutVersion, Access::read_only, "ring");

  check_ring_config(*ring, instance);
  auto registry = std::make_shared<Registry>(Registry::open(instance, Access::read_write));
  if (registry->layout().preamble.incarnation !=
      reinterpret_cast<const RingLayout*>(ring->data())->preamble.incarnation) {
    // The ring and the registry come from different writer starts: one is mid-replacement.
    throw Error(ErrorCode::no_instance,
                "instance \"" + instance + "\" is being restarted: try again in a moment");
  }
  adopt(std::make_shared<SharedSegment>(std::move(*ring)), std::move(registry), from_start);
}

RingReader RingReader::attach_in_process(RingWriter& writer, const ReaderOptions& options) {
  RingReader reader;
  reader.options_ = options;
  reader.options_.instance = writer.instance();
  reader.adopt(writer.ring_segment_, writer.registry_, options.start == StartAt::earliest);
  return reader;
}

void RingReader::adopt(std::shared_ptr<SharedSegment> ring, std::shared_ptr<Registry> registry,
                       bool from_start) {
  if (slot_ != nullptr) registry_->release_slot(*slot_);
  slot_ = nullptr;
  ring_segment_ = std::move(ring);
  registry_ = std::move(registry);
  layout_ = reinterpret_cast<const RingLayout*>(ring_segment_->data());
  data_ = ring_segment_->data() + layout_->config.data_offset;
  capacity_ = layout_->config.capacity;
  mask_ = capacity_ - 1;
  max_payload_ = layout_->config.max_payload;
  batch_capacity_ = std::max<std::size_t>(kReaderBatchBytes, aligned_record_length(max_payload_));
  batch_ = RecordBuffer(max_payload_, batch_capacity_);
  drop_batch();
  writer_watch_ = ProcessWatch(
      ProcessIdentity{layout_->preamble.owner_pid, layout_->preamble.owner_start_ticks});
  if (from_start) {
    cursor_ = 0;
    expected_seq_ = layout_->config.first_seq;
  } else {
    // acquire: pairs with the writer's release store of tail (W5); we start at a record
    // boundary that is fully published.
    cursor_ = layout_->cursor.tail.load(std::memory_order_acquire);
    expected_seq_ = 0;  // learned from the first record
  }
  // relaxed: head_seq is stored before the writer's release of tail (W5), so after the
  // acquire above it is at least the seq of the record before the cursor.
  live_start_seq_ = std::max(layout_->cursor.head_seq.load(std::memory_order_relaxed) + 1,
                             layout_->config.first_seq);
  empty_polls_ = 0;
  writer_gone_ = false;
  last_liveness_check_ns_ = monotonic_ns();
  interrupt_->watch(reinterpret_cast<const std::uint32_t*>(&layout_->cursor.tail));
  // Last: whoever sees the slot (a test, a bench, evring stat) may publish at once, and
  // what it publishes is then after this reader's start, never skipped by it.
  if (options_.register_slot) slot_ = &registry_->claim_slot(options_.identity);
}

void WaitInterrupt::trigger() noexcept {
  // seq_cst (a release would do for take()'s acquire: whatever the caller queued before is
  // visible to the reader once it sees the flag): with watch() and the load below it makes
  // sure a reader that just stopped watching a ring is woken from sleep().
  pending_.store(1, std::memory_order_seq_cst);
  // seq_cst: pairs with watch(); the word belongs to a mapping the reader set up. If the
  // reader has since moved to a new ring and dropped the old mapping, the wake fails with
  // EFAULT, harmlessly; the reader then sees `pending_` within a futex backstop.
  if (const std::uint32_t* word = word_.load(std::memory_order_seq_cst)) {
    futex_wake_shared(const_cast<std::uint32_t*>(word));
  } else {
    futex_wake_shared(reinterpret_cast<std::uint32_t*>(&pending_));
  }
}

void WaitInterrupt::sleep(std::int64_t timeout_ns) noexcept {
  if (take()) return;  // triggered already: the caller has something to do
  // The kernel compares the word with 0 atomically before sleeping: a trigger() that
  // stored 1 first is not slept through, and one after it wakes the sleep.
  futex_wait_shared(reinterpret_cast<const std::uint32_t*>(&pending_), 0, timeout_ns);
}

RingReader::RingReader(RingReader&&) noexcept = default;

RingReader::~RingReader() {
  if (slot_ != nullptr && registry_ != nullptr) registry_->release_slot(*slot_);  // not moved from
}

PollResult RingReader::refill() {
  for (;;) {
    // R1. acquire: pairs with the writer's release store of tail (W5) [SYNC B].
    const std::uint64_t tail = layout_->cursor.tail.load(std::memory_order_acquire);
    if (tail == cursor_) {
      if (++empty_polls_ >= 64 || writer_gone_) [[unlikely]] {
        const PollStatus status = check_writer();
        if (status != PollStatus::empty) return {status};
      }
      return {PollStatus::empty};
    }
    empty_polls_ = 0;
    if (tail - cursor_ > capacity_) [[unlikely]]
      return on_lapped();
    const std::uint64_t offset = cursor_ & mask_;
    if (capacity_ - offset < sizeof(RecordHeader)) {
      cursor_ += capacity_ - offset;  // headerless padding up to the end
      continue;
    }
    // R2. Copy first, judge after (R3): these bytes may be mid-overwrite as we read them.
    const std::size_t bytes = static_cast<std::size_t>(
        std::min<std::uint64_t>({tail - cursor_, capacity_ - offset, batch_capacity_}));
    detail::copy_from_shared(batch_.raw(), data_ + offset, bytes);
    // R3. acquire fence: orders the copy above before the intent load below, pairing with
    // the writer's release fence after its intent store (W2) [SYNC A].
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t intent = layout_->cursor.tail_intent.load(std::memory_order_relaxed);
    if (intent - cursor_ > capacity_) [[unlikely]]
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
        throw_damaged("the record at position " + std::to_string(cursor_ + end) +
                      " has the impossible seq " + std::to_string(header->seq));
      }
      if (header->length < sizeof(RecordHeader) ||
          (!padding && header->length > sizeof(RecordHeader) + std::uint64_t{max_payload_})) {
        throw Error(ErrorCode::corrupt, "ring of instance \"" + options_.instance +
                                            "\" holds a record of impossible length " +
                                            std::to_string(header->length) + " at position " +
                                            std::to_string(cursor_ + end) +
                                            ": the ring is corrupt; restart its writer");
      }
      const std::size_t aligned = align_up(header->length, kRecordAlignment);
      if (end + aligned > bytes) {
        // Cut by the batch size: the next batch has it. A batch has room for the largest
        // record (and padding is shorter than one), so a first record that does not fit
        // runs past the tail or the end of the data area, where no writer puts one.
        if (end == 0) {
          throw_damaged("the record at position " + std::to_string(cursor_) + " (" +
                        std::to_string(header->length) +
                        " bytes) runs past the tail or the end of the ring");
        }
        break;
      }
      if (padding) {
        // Padding runs exactly to the end of the data area: skip it if it comes first,
        // else deliver what came before it and let it start the next batch.
        if (offset + end + aligned != capacity_) {
          throw_damaged("the padding at position " + std::to_string(cursor_ + end) +
                        " does not end where the ring's data area does");
        }
        if (end == 0) cursor_ += aligned;
        break;
      }
      end += aligned;
    }
    if (end == 0) {
      if ((cursor_ & mask_) != offset) continue;  // skipped a padding record
      // Not even a header between the cursor and the tail: the writer publishes whole
      // records only.
      throw_damaged("only " + std::to_string(bytes) + " bytes lie between position " +
                    std::to_string(cursor_) + " and the tail, less than a record");
    }
    batch_start_ = cursor_;
    batch_read_ = 0;
    batch_size_ = end;
    return {PollStatus::record};
  }
}

bool RingReader::out_of_patience(std::uint32_t attempt, std::int64_t& since_ns) const {
  if (attempt < kLappedQuickLooks) return false;
  const std::int64_t now = monotonic_ns();
  if (attempt == kLappedQuickLooks) since_ns = now;
  if (now - since_ns >= options_.damaged_after_ns) return true;
  sched_yield();
  return false;
}

PollResult RingReader::on_lapped() {
  drop_batch();
  std::int64_t looking_since_ns = 0;
  for (std::uint32_t attempt = 0;; ++attempt) {
    // latest first, then tail with acquire (pairs with W5): the writer stores latest before
    // tail (W4, W5), so a tail read after it is that record's end or later, and the
    // record's bytes are published. (Read the other way round, a writer that publishes
    // between the two loads leaves latest past the tail read, on a record maybe not
    // complete.) A tail not past latest means the writer raced us: look again; only a
    // damaged cursor stays so, look after look.
    const std::uint64_t latest = layout_->cursor.latest.load(std::memory_order_relaxed);
    const std::uint64_t tail = layout_->cursor.tail.load(std::memory_order_acquire);
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
    const std::uint64_t intent = layout_->cursor.tail_intent.load(std::memory_order_relaxed);
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
    cursor_ = latest;
    expected_seq_ = header.seq;
    ++lapped_count_;
    missed_count_ += missed;
    if (slot_ != nullptr) {
      // relaxed: lone counters for stat.
      slot_->lapped_count.store(lapped_count_, std::memory_order_relaxed);
      slot_->missed_count.store(missed_count_, std::memory_order_relaxed);
    }
    return {PollStatus::lapped, missed, header.seq};
  }
}

void RingReader::throw_skipped(std::uint64_t seq) const {
  throw Error(ErrorCode::corrupt, "ring of instance \"" + options_.instance +
                                      "\" skipped from seq " + std::to_string(expected_seq_) +
                                      " to " + std::to_string(seq) +
                                      ": the ring is corrupt; restart its writer");
}

void RingReader::throw_damaged(const std::string& what) const {
  throw Error(ErrorCode::corrupt, "ring of instance \"" + options_.instance +
                                      "\" is damaged: " + what + "; restart its writer");
}

PollStatus RingReader::check_writer() {
  empty_polls_ = 0;
  // acquire: pairs with the release stores of superseded/closed; records published before
  // them were already visible through tail.
  const auto state = layout_->preamble.state.load(std::memory_order_acquire);
  if (state == static_cast<std::uint32_t>(SegmentState::superseded)) {
    return PollStatus::writer_replaced;
  }
  const std::int64_t now = monotonic_ns();
  if (!writer_gone_) {
    if (state != static_cast<std::uint32_t>(SegmentState::closed)) {
      if (now - last_liveness_check_ns_ < kLivenessCheckIntervalNs) return PollStatus::empty;
      last_liveness_check_ns_ = now;
      // relaxed: our own row's liveness stamp for stat.
      if (slot_ != nullptr) slot_->heartbeat_ns.store(now, std::memory_order_relaxed);
      if (!writer_watch_.exited()) return PollStatus::empty;
    }
    // Stopped cleanly (closed) or died: from now on, look for its successor by name.
    writer_gone_ = true;
    next_successor_look_ns_ = now;
  }
  if (now >= next_successor_look_ns_) {
    next_successor_look_ns_ = now + kWriterLookIntervalNs;
    if (successor_named()) return PollStatus::writer_replaced;
  }
  return PollStatus::writer_gone;
}

bool RingReader::successor_named() const {
  // A writer that stopped cleanly removed the name, and its successor's segment may carry
  // the same incarnation (it found no segment to count from): compare the whole identity
  // of the writer start, not the incarnation alone.
  const std::optional<SegmentOrigin> named = read_segment_origin(ring_segment_->name());
  return named && *named != origin_of(layout_->preamble);
}

PollResult RingReader::sleep_while_writer_gone(RecordBuffer& out, std::int64_t timeout_ns) {
  // Nothing will be published on this ring again: sleep instead of polling, woken early by
  // a trigger of the interrupt (a query), and look for a new writer when it ends.
  if (!interrupt_->take()) {
    // relaxed: the futex compares the value itself; any value of this dead ring will do.
    const auto tail =
        static_cast<std::uint32_t>(layout_->cursor.tail.load(std::memory_order_relaxed));
    futex_wait_shared(reinterpret_cast<const std::uint32_t*>(&layout_->cursor.tail), tail,
                      std::min(timeout_ns, kWriterLookIntervalNs));
  }
  return poll(out);
}

PollResult RingReader::wait_next(RecordBuffer& out, WaitKind wait, std::int64_t timeout_ns) {
  PollResult result = poll(out);
  if (result.status == PollStatus::writer_gone) [[unlikely]]
    return sleep_while_writer_gone(out, timeout_ns);
  if (result.status != PollStatus::empty) return result;  // the common case reads no clock
  const std::int64_t deadline = monotonic_ns() + timeout_ns;
  for (std::uint32_t round = 1;; ++round) {
    result = poll(out);
    if (result.status == PollStatus::writer_gone) [[unlikely]]
      return sleep_while_writer_gone(out, deadline - monotonic_ns());
    if (result.status != PollStatus::empty) return result;
    // A yield can last a whole time slice, so it looks at the clock every round; the
    // spinning strategies every 256 rounds, to keep the clock off their fast loop.
    const bool look_at_clock = wait == WaitKind::yield || (round & 255) == 0;
    if (look_at_clock && (interrupt_->take() || monotonic_ns() >= deadline)) return result;
    switch (wait) {
      case WaitKind::spin:
        cpu_relax();
        break;
      case WaitKind::yield:
        sched_yield();
        break;
      case WaitKind::block: {
        if (round % kBlockSpinsBeforeSleep != 0) {
          cpu_relax();
          break;
        }
        // seq_cst store and load: announce the sleep before the last look at tail, so a
        // writer that publishes after that look sees the request and wakes us (W6).
        registry_->layout().wake_requested.store(1, std::memory_order_seq_cst);
        const std::uint64_t tail = layout_->cursor.tail.load(std::memory_order_seq_cst);
        bool interrupted = interrupt_->take();
        if (tail == cursor_ && !interrupted) {
          const std::int64_t remaining = deadline - monotonic_ns();
          futex_wait_shared(reinterpret_cast<const std::uint32_t*>(&layout_->cursor.tail),
                            static_cast<std::uint32_t>(tail),
                            std::min(remaining, kFutexBackstopNs));
        }
        // A sleep is long: look at the writer's health on the next empty poll.
        empty_polls_ = 63;
        interrupted = interrupted || interrupt_->take();
        if (interrupted || monotonic_ns() >= deadline) return poll(out);
        break;
      }
    }
  }
}

void RingReader::reattach() {
  // Starts at the new ring's first record; expected_seq() then says where its sequence
  // begins, so the caller can compare it with the last one it applied.
  map_current(/*from_start=*/true);
}

}  // namespace evring
