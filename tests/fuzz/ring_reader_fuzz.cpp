// A ring reader over arbitrary ring memory: the data area and the cursor (tail, intent,
// latest) hold the input's bytes, as a corrupt or hostile segment might. The promises:
// the reader never reads outside the ring, never crashes or hangs, and hands out only
// records of a possible length, with consecutive seqs; anything else is an Error(corrupt).
//
// Input: 1 byte of flags (bit 0: start live, at `latest`; else at the ring's start), then tail,
// intent and latest (8 bytes each, little-endian), then the data area's bytes.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include <unistd.h>

#include "evring/error.hpp"
#include "fuzz_support.hpp"
#include "ring/broadcast_ring.hpp"

namespace {

constexpr std::uint64_t kCapacity = evring::kMinRingCapacity;
constexpr std::uint32_t kMaxPayload = 512;
constexpr int kMaxPolls = 512;

// One ring for the whole run (creating one per input would dominate the time); its name
// is removed when the process exits.
evring::RingWriter& ring() {
  static evring::RingWriter writer = [] {
    evring::RingOptions options;
    options.instance = "fuzz-ring-" + std::to_string(::getpid());
    options.capacity = kCapacity;
    options.max_payload = kMaxPayload;
    return evring::RingWriter::create(options);
  }();
  return writer;
}

std::uint64_t take_u64(const std::uint8_t*& data, std::size_t& size) {
  std::uint64_t value = 0;
  const std::size_t n = std::min<std::size_t>(size, 8);
  std::memcpy(&value, data, n);
  data += n;
  size -= n;
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool live = (data[0] & 1) != 0;
  ++data;
  --size;
  const std::uint64_t tail = take_u64(data, size);
  const std::uint64_t intent = take_u64(data, size);
  const std::uint64_t latest = take_u64(data, size);

  evring::RingWriter& writer = ring();
  evring::ReaderOptions options;
  options.instance = writer.instance();
  options.register_slot = false;
  options.damaged_after_ns = 0;  // the cursor here is damaged on purpose, and never moves
  // A reader in this process shares the writer's read-write mapping; the target writes
  // where only the writer would, to play a corrupt segment.
  std::optional<evring::RingReader> reader;
  reader.emplace(evring::RingReader::attach_in_process(writer, options));
  std::byte* const segment = reader->ring_segment().data();  // the writer's read-write mapping
  auto* layout = reinterpret_cast<evring::RingLayout*>(segment);
  std::byte* area = segment + layout->config.data_offset;
  std::memset(area, 0, kCapacity);
  std::memcpy(area, data, std::min<std::size_t>(size, kCapacity));
  // relaxed, all: this thread is the only one touching the ring. A live reader starts at
  // the tail it sees when it attaches: `latest` here, then the tail moves on.
  layout->cursor.tail.store(live ? latest : tail, std::memory_order_relaxed);
  layout->cursor.tail_intent.store(intent, std::memory_order_relaxed);
  layout->cursor.latest.store(latest, std::memory_order_relaxed);
  options.start = live ? evring::StartAt::live : evring::StartAt::earliest;
  reader.reset();
  reader.emplace(evring::RingReader::attach_in_process(writer, options));
  layout->cursor.tail.store(tail, std::memory_order_relaxed);

  evring::RecordBuffer buffer(kMaxPayload);
  std::uint64_t last_seq = 0;
  try {
    for (int i = 0; i < kMaxPolls; ++i) {
      const evring::PollResult result = reader->poll(buffer);
      if (result.status == evring::PollStatus::record) {
        EVRING_FUZZ_REQUIRE(buffer.header().length >= sizeof(evring::RecordHeader) &&
                                buffer.payload().size() <= kMaxPayload,
                            "a record handed out has a possible length");
        EVRING_FUZZ_REQUIRE(last_seq == 0 || buffer.seq() == last_seq + 1,
                            "records handed out have consecutive seqs");
        last_seq = buffer.seq();
        continue;
      }
      if (result.status != evring::PollStatus::lapped) break;
      last_seq = 0;  // resumes at the newest record, whatever its seq
    }
  } catch (const evring::Error& e) {
    EVRING_FUZZ_REQUIRE(e.code() == evring::ErrorCode::corrupt,
                        "a bad ring is reported as corrupt");
  }
  return 0;
}
