// A ring receiver over arbitrary ring memory: the data area and the cursor (tail, intent,
// latest) hold the input's bytes, as a corrupt or hostile segment might. The promises:
// the receiver never reads outside the ring, never crashes or hangs, and hands out only
// records of a possible length, with consecutive seqs; anything else is an Error(corrupt).
//
// Input: 1 byte of flags (bit 0: start live, from the record at `latest`; else at the ring's
// start; bit 1: a transmitter publishes between polls, over the input's bytes, so records
// written by the protocol meet forged ones), then tail, intent and latest (8 bytes each,
// little-endian), then the data area's bytes.
#include <algorithm>
#include <cstring>
#include <optional>
#include <span>

#include "evring/error.hpp"
#include "fuzz_support.hpp"
#include "ring/ring_receiver.hpp"
#include "ring/ring_transmitter.hpp"

namespace {

constexpr std::uint64_t kCapacity = evring::kMinRingCapacity;
constexpr std::uint32_t kMaxPayload = 512;
constexpr int kMaxPolls = 512;

// The ring is plain memory of this process (the protocol needs no segment): a cursor and a
// data area the input overwrites.
evring::RingCursor cursor{};
alignas(64) std::byte area[kCapacity];

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
  const bool publishing = (data[0] & 2) != 0;
  ++data;
  --size;
  const std::uint64_t tail = take_u64(data, size);
  const std::uint64_t intent = take_u64(data, size);
  const std::uint64_t latest = take_u64(data, size);

  std::memset(area, 0, kCapacity);
  std::memcpy(area, data, std::min<std::size_t>(size, kCapacity));
  // relaxed, all: this thread is the only one touching the ring.
  cursor.tail.store(tail, std::memory_order_relaxed);
  cursor.tail_intent.store(intent, std::memory_order_relaxed);
  cursor.latest.store(latest, std::memory_order_relaxed);
  cursor.head_seq.store(0, std::memory_order_relaxed);
  std::optional<evring::RingReceiver> receiver;
  try {
    // damaged_after_ns 0: the cursor here is damaged on purpose, and never moves.
    receiver.emplace(cursor, std::span<const std::byte>(area), kMaxPayload, /*first_seq=*/1,
                     live ? evring::RingStart::live : evring::RingStart::earliest,
                     "the fuzzed ring", /*damaged_after_ns=*/0);
  } catch (const evring::Error& e) {
    EVRING_FUZZ_REQUIRE(e.code() == evring::ErrorCode::corrupt,
                        "a bad ring is reported as corrupt");
    return 0;
  }
  // Publishes from the ring's start with seqs of its own, as a writer over a segment the
  // input forged would; payload sizes from the input's bytes.
  evring::RingTransmitter transmitter(cursor, std::span<std::byte>(area), kMaxPayload, 1);
  std::size_t next_size = 0;

  evring::RecordBuffer buffer(kMaxPayload);
  std::uint64_t last_seq = 0;
  try {
    for (int i = 0; i < kMaxPolls; ++i) {
      if (publishing) {
        const std::size_t bytes = size == 0 ? 0 : data[next_size++ % size] % (kMaxPayload + 1);
        static const std::byte payload[kMaxPayload] = {};
        transmitter.publish(1, std::span(payload, bytes), 0);
      }
      const evring::PollResult result = receiver->poll(buffer);
      if (result.status == evring::PollStatus::record) {
        EVRING_FUZZ_REQUIRE(buffer.header().length >= sizeof(evring::RecordHeader) &&
                                buffer.payload().size() <= kMaxPayload,
                            "a record handed out has a possible length");
        EVRING_FUZZ_REQUIRE(last_seq == 0 || buffer.seq() == last_seq + 1,
                            "records handed out have consecutive seqs");
        last_seq = buffer.seq();
        continue;
      }
      if (result.status == evring::PollStatus::empty) break;
      last_seq = 0;  // resumes at the newest record, whatever its seq
    }
  } catch (const evring::Error& e) {
    EVRING_FUZZ_REQUIRE(e.code() == evring::ErrorCode::corrupt,
                        "a bad ring is reported as corrupt");
  }
  return 0;
}
