#include "ring/broadcast_ring.hpp"

#include <algorithm>

#include "evring/error.hpp"
#include "shm/segment_attach.hpp"

namespace evring {
namespace {

constexpr std::int64_t kLivenessCheckIntervalNs = 50'000'000;  // writer pid probe when idle
// The writer rings the readers' doorbell unfenced (RingWriter::publish, W6): a sleeper it
// missed sleeps this long at most.
constexpr std::int64_t kFutexBackstopNs = 2'000'000;
// block: how long an idle reader spins before it sleeps (about 512 empty polls).
constexpr std::int64_t kSpinBeforeSleepNs = 20'000;

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

namespace {

RingLayout& layout_of(SharedSegment& segment) {
  return *reinterpret_cast<RingLayout*>(segment.data());
}

}  // namespace

RingWriter::RingWriter(std::string instance, SharedSegment ring, Registry registry)
    : instance_(std::move(instance)),
      ring_segment_(std::make_shared<SharedSegment>(std::move(ring))),
      registry_(std::make_shared<Registry>(std::move(registry))),
      layout_(&layout_of(*ring_segment_)),
      transmitter_(
          layout_->cursor,
          std::span(ring_segment_->data() + layout_->config.data_offset, layout_->config.capacity),
          layout_->config.max_payload, layout_->config.first_seq),
      doorbell_(registry_->layout().wake_requested, registry_->layout().wake_bell) {}

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
  transmitter_
      .flush();  // release: readers that load `closed` (acquire) have seen every record before it.
  layout_->preamble.state.store(static_cast<std::uint32_t>(SegmentState::closed),
                                std::memory_order_release);
  SharedSegment::remove(ring_segment_->name());
  SharedSegment::remove(registry_->segment().name());
}

void RingWriter::heartbeat() {
  transmitter_.flush();
  const std::int64_t now = monotonic_ns();
  // relaxed, all: lone values for liveness and display; they order nothing.
  layout_->heartbeat_ns.store(now, std::memory_order_relaxed);
  WriterStatus& status = registry_->layout().writer;
  status.heartbeat_ns.store(now, std::memory_order_relaxed);
  status.events_total.store(next_seq() - layout_->config.first_seq, std::memory_order_relaxed);
  status.bytes_total.store(transmitter_.payload_bytes_total(), std::memory_order_relaxed);
  status.head_seq.store(next_seq() - 1, std::memory_order_relaxed);
}

// ---- reader -----------------------------------------------------------------------------

RingReader RingReader::attach(const RingReaderOptions& options) {
  RingReader reader;
  reader.options_ = options;
  if (options.interrupt) reader.interrupt_ = options.interrupt;
  reader.map_current(options.start == RingStart::earliest);
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

RingReader RingReader::attach_in_process(RingWriter& writer, const RingReaderOptions& options) {
  RingReader reader;
  reader.options_ = options;
  reader.options_.instance = writer.instance();
  reader.adopt(writer.ring_segment_, writer.registry_, options.start == RingStart::earliest);
  return reader;
}

void RingReader::adopt(std::shared_ptr<SharedSegment> ring, std::shared_ptr<Registry> registry,
                       bool from_start) {
  if (slot_ != nullptr) registry_->release_slot(*slot_);
  slot_ = nullptr;
  ring_segment_ = std::move(ring);
  registry_ = std::move(registry);
  layout_ = reinterpret_cast<const RingLayout*>(ring_segment_->data());
  const RingConfig& config = layout_->config;
  receiver_.emplace(
      layout_->cursor, std::span(ring_segment_->data() + config.data_offset, config.capacity),
      config.max_payload, config.first_seq, from_start ? RingStart::earliest : RingStart::live,
      "instance \"" + options_.instance + "\"", options_.damaged_after_ns);
  RegistryLayout& shared = registry_->layout();
  doorbell_.emplace(shared.wake_requested, shared.wake_bell);
  writer_watch_ = ProcessWatch(
      ProcessIdentity{layout_->preamble.owner_pid, layout_->preamble.owner_start_ticks});
  empty_polls_ = 0;
  writer_gone_ = false;
  last_liveness_check_ns_ = monotonic_ns();
  interrupt_->watch(doorbell_->word());
  // Last: whoever sees the slot (a test, a bench, evring stat) may publish at once, and
  // what it publishes is then after this reader's start, never skipped by it.
  if (options_.register_slot) slot_ = &registry_->claim_slot(options_.identity);
}

RingReader::RingReader(RingReader&&) noexcept = default;

RingReader::~RingReader() {
  if (slot_ != nullptr && registry_ != nullptr) registry_->release_slot(*slot_);  // not moved from
}

void RingReader::report_lap() noexcept {
  if (slot_ == nullptr) return;
  // relaxed: lone counters for stat.
  slot_->lapped_count.store(receiver_->lapped_count(), std::memory_order_relaxed);
  slot_->missed_count.store(receiver_->missed_count(), std::memory_order_relaxed);
}

PollStatus RingReader::check_writer() {
  empty_polls_ = 0;
  // acquire: pairs with the release stores of superseded/closed; records published before
  // them were already visible through their commit words.
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
  // a trigger of the interrupt (a query), and look for a new writer when it ends. No flag
  // raised: nobody will ring, and the interrupt bumps the bell's word itself. The bell is
  // read before the interrupt is looked at: a trigger between the two then changes the word
  // and the sleep returns at once, rather than after the look interval.
  const std::uint32_t seen = doorbell_->listen();
  if (!interrupt_->take()) doorbell_->sleep(seen, std::min(timeout_ns, kWriterLookIntervalNs));
  return poll(out);
}

PollResult RingReader::wait_next(RecordBuffer& out, WaitKind wait, std::int64_t timeout_ns) {
  PollResult result = poll(out);
  if (result.status == PollStatus::writer_gone) [[unlikely]]
    return sleep_while_writer_gone(out, timeout_ns);
  if (result.status != PollStatus::empty) return result;  // the common case reads no clock
  IdleStrategy idle(wait, timeout_ns, kSpinBeforeSleepNs);
  for (;;) {
    result = poll(out);
    if (result.status == PollStatus::writer_gone) [[unlikely]]
      return sleep_while_writer_gone(out, idle.remaining_ns());
    if (result.status != PollStatus::empty) return result;
    switch (idle.idle()) {
      case IdleStep::again:
        break;
      case IdleStep::checkpoint:
        if (interrupt_->take()) return result;
        break;
      case IdleStep::timed_out:
        return result;
      case IdleStep::sleep: {
        // The doorbell's hand-shake (sync/doorbell.hpp), a commit as the condition. The
        // writer rings unfenced, so the sleep has the backstop.
        bool interrupted = false;
        doorbell_->sleep_unless(
            [&] { return receiver_->has_news() || (interrupted = interrupt_->take()); },
            std::min(idle.remaining_ns(), kFutexBackstopNs));
        // A sleep is long: look at the writer's health on the next empty poll.
        empty_polls_ = 63;
        interrupted = interrupted || interrupt_->take();
        if (interrupted || idle.past_deadline()) return poll(out);
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
