// The headers a reader or tool trusts when it attaches: the ring segment's preamble and
// config (layout.hpp, broadcast_ring.hpp) and the registry's (registry.hpp), from the input.
// The promises: attaching either refuses with an evring::Error or gives a reader that stays
// inside the segment as it polls; listing the registry's readers never crashes.
//
// Input: 1 byte of flags, then the ring segment's first page (preamble, config, cursor),
// "EVSPLIT", then the registry's bytes (its claim mutex is left as the writer made it).
// Flags: bit 0 makes the preamble ours (magic, kind, version, owner = this process, ready)
// so the config behind it is reached; bit 1 does the same for the registry's. Bits 2 to 5
// pick the ring segment's size: 4 KiB << (bits & 7) of data area, plus the header page.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include <unistd.h>

#include "evring/error.hpp"
#include "fuzz_support.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/layout.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "sys/process.hpp"

namespace {

std::string instance() {
  static const std::string name = "fuzz-header-" + std::to_string(::getpid());
  return name;
}

// Makes a preamble one that an opener takes for a live writer's, so the fields behind it
// are what gets judged.
void make_ours(evring::SegmentPreamble& preamble, evring::SegmentKind kind, std::uint32_t version) {
  const evring::ProcessIdentity self = evring::ProcessIdentity::self();
  preamble.magic = evring::kSegmentMagic;
  preamble.kind = kind;
  preamble.layout_version = version;
  preamble.owner_pid = self.pid;
  preamble.owner_start_ticks = self.start_ticks;
  // relaxed: this thread is the only one touching the segment.
  preamble.state.store(static_cast<std::uint32_t>(evring::SegmentState::ready),
                       std::memory_order_relaxed);
}

// Not ours: an opener must not wait for a writer mid-start (a zero magic, a live owner
// still initializing, a segment superseded and about to be replaced), which takes up to
// 2 s and would only make the run slow.
void make_not_waiting(evring::SegmentPreamble& preamble) {
  if (preamble.magic == 0) preamble.magic = 1;
  preamble.owner_pid = 0;
  // relaxed: this thread is the only one touching the segment.
  if (preamble.state.load(std::memory_order_relaxed) ==
      static_cast<std::uint32_t>(evring::SegmentState::superseded)) {
    preamble.state.store(static_cast<std::uint32_t>(evring::SegmentState::closed),
                         std::memory_order_relaxed);
  }
}

// memcpy from a string_view that may be empty (its data() then may be null).
void copy(void* to, std::string_view from, std::size_t bytes) {
  if (bytes != 0) std::memcpy(to, from.data(), bytes);
}

void remove_segments() {
  evring::SharedSegment::remove(evring::segment_name(instance(), "ring"));
  evring::SharedSegment::remove(evring::segment_name(instance(), "registry"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // After instance()'s first call: exit handlers run in reverse, so the name outlives this one.
  instance();
  static const bool cleanup_registered = std::atexit(remove_segments) == 0;
  (void)cleanup_registered;
  const std::uint8_t flags = data[0];
  const auto parts = evring::fuzz::split(evring::fuzz::as_text(data + 1, size - 1), "EVSPLIT", 2);
  const std::string_view ring_bytes = parts[0];
  const std::string_view registry_bytes = parts.size() > 1 ? parts[1] : std::string_view{};
  remove_segments();

  // The registry, made as a writer makes it, then overwritten around its mutex.
  {
    evring::Registry registry = evring::Registry::create(instance(), 1, 0600, evring::WriterInfo{});
    auto* bytes = reinterpret_cast<std::uint8_t*>(&registry.layout());
    const std::size_t mutex_at = offsetof(evring::RegistryLayout, claim_mutex);
    const std::size_t mutex_end = mutex_at + sizeof(pthread_mutex_t);
    const std::size_t n = std::min(registry_bytes.size(), sizeof(evring::RegistryLayout));
    copy(bytes, registry_bytes, std::min(n, mutex_at));
    if (n > mutex_end) copy(bytes + mutex_end, registry_bytes.substr(mutex_end), n - mutex_end);
    if ((flags & 2) != 0) {
      make_ours(registry.layout().preamble, evring::SegmentKind::registry,
                evring::kRegistryLayoutVersion);
    } else {
      make_not_waiting(registry.layout().preamble);
    }
  }
  // The ring: a header page from the input, a data area of zeros.
  const std::size_t ring_size = evring::kRingDataOffset + (std::size_t{4096} << ((flags >> 2) & 7));
  {
    evring::SharedSegment ring =
        evring::SharedSegment::create(evring::segment_name(instance(), "ring"), ring_size, 0600);
    copy(ring.data(), ring_bytes, std::min(ring_bytes.size(), evring::kRingDataOffset));
    auto& preamble = *reinterpret_cast<evring::SegmentPreamble*>(ring.data());
    if ((flags & 1) != 0) {
      make_ours(preamble, evring::SegmentKind::ring, evring::kRingLayoutVersion);
      // The registry must be of the same writer start for a reader to take the pair.
      if ((flags & 2) != 0) {
        const auto registry = evring::Registry::open(instance(), evring::Access::read_write);
        registry.layout().preamble.incarnation = preamble.incarnation;
      }
    } else {
      make_not_waiting(preamble);
    }
  }

  try {
    const evring::Registry registry = evring::Registry::open(instance(), evring::Access::read_only);
    for (const evring::ReaderInfo& row : registry.readers()) {
      EVRING_FUZZ_REQUIRE(
          row.slot < evring::kMaxReaders && row.id.size() < evring::kReaderIdBytes + 1,
          "a registry row is within the table");
    }
  } catch (const evring::Error&) {
  }

  try {
    evring::RingReaderOptions options;
    options.instance = instance();
    options.start = evring::RingStart::earliest;
    options.identity.id = "fuzz";
    evring::RingReader reader = evring::RingReader::attach(options);
    const auto& config =
        reinterpret_cast<const evring::RingLayout*>(reader.ring_segment().data())->config;
    EVRING_FUZZ_REQUIRE(reader.capacity() >= evring::kMinRingCapacity &&
                            evring::is_power_of_two(reader.capacity()) &&
                            config.data_offset >= sizeof(evring::RingLayout) &&
                            config.data_offset + reader.capacity() <= ring_size,
                        "an attached reader's ring lies inside its segment");
    evring::RecordBuffer buffer(reader.max_payload());
    for (int i = 0; i < 8; ++i) {
      if (reader.poll(buffer).status != evring::PollStatus::record) break;
    }
  } catch (const evring::Error&) {
  }
  return 0;
}
