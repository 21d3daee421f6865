// In-process stress of the ring protocol: a writer thread and reader threads sharing one
// mapping, so ThreadSanitizer sees every access (run under TSan by `make test-tsan`).
// Forbidden outcomes: a record whose payload does not match its seq (torn or
// overwritten), a seq out of order, a gap not reported as missed.
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "ring/broadcast_ring.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

constexpr std::uint32_t kMaxPayload = 2048;

// The seed: EVRING_STRESS_SEED if set, else random; printed so a failure can be replayed.
std::uint64_t stress_seed() {
  if (const char* env = std::getenv("EVRING_STRESS_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

struct ReaderTally {
  std::uint64_t received = 0;
  std::uint64_t missed = 0;
  std::uint64_t lapped = 0;
  std::uint64_t torn = 0;
  std::uint64_t out_of_order = 0;
};

enum class Publishing { one_by_one, in_batches };

void stress(std::uint64_t capacity, int readers, std::uint64_t records, WaitKind wait,
            Publishing publishing = Publishing::one_by_one) {
  const std::uint64_t seed = stress_seed();
  std::printf("stress seed %llu (replay with EVRING_STRESS_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  const std::string name = test::unique_instance("stress");
  test::InstanceCleanup cleanup(name);
  RingOptions options;
  options.instance = name;
  options.capacity = capacity;
  options.max_payload = kMaxPayload;
  RingWriter writer = RingWriter::create(options);
  std::atomic<std::uint64_t> final_seq{0};
  std::vector<ReaderTally> tallies(static_cast<std::size_t>(readers));
  std::vector<std::thread> threads;
  std::atomic<int> attached{0};
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&, i] {
      RingReaderOptions reader_options;
      reader_options.start = RingStart::earliest;
      reader_options.identity = {"stress-" + std::to_string(i), "test", wait};
      RingReader reader = RingReader::attach_in_process(writer, reader_options);
      RecordBuffer buffer(reader.max_payload());
      ReaderTally& tally = tallies[static_cast<std::size_t>(i)];
      std::uint64_t expected = reader.expected_seq();
      attached.fetch_add(1);
      for (;;) {
        const std::uint64_t last = final_seq.load(std::memory_order_acquire);
        if (last != 0 && expected > last) return;
        const PollResult r = reader.wait_next(buffer, wait, 50'000'000);
        if (r.status == PollStatus::record) {
          if (buffer.seq() != expected) ++tally.out_of_order;
          if (!test::payload_matches(buffer.seq(), buffer.payload(), kMaxPayload)) ++tally.torn;
          ++tally.received;
          expected = buffer.seq() + 1;
        } else if (r.status == PollStatus::lapped) {
          if (r.resume_seq != expected + r.missed) ++tally.out_of_order;
          ++tally.lapped;
          tally.missed += r.missed;
          expected = r.resume_seq;
        } else if (r.status != PollStatus::empty) {
          ++tally.out_of_order;
          return;
        }
      }
    });
  }
  while (attached.load() < readers) std::this_thread::yield();
  std::mt19937_64 rng(seed);
  // Batches of 1 to 8 records, one commit each (RingWriter::publish_batch).
  constexpr std::size_t kLargestBatch = 8;
  std::vector<std::vector<std::byte>> bytes(kLargestBatch, std::vector<std::byte>(kMaxPayload));
  std::vector<OutgoingRecord> batch;
  for (std::uint64_t i = 0; i < records;) {
    const std::size_t count = publishing == Publishing::one_by_one
                                  ? 1
                                  : std::min<std::uint64_t>(1 + rng() % kLargestBatch, records - i);
    batch.clear();
    for (std::size_t k = 0; k < count; ++k) {
      const std::uint64_t seq = writer.next_seq() + k;
      const std::span<std::byte> payload(bytes[k].data(),
                                         test::payload_length_for(seq, kMaxPayload));
      test::fill_payload(seq, payload);
      batch.push_back({1, payload});
    }
    if (count == 1) {
      writer.publish(1, batch.front().payload);
    } else {
      writer.publish_batch(batch, monotonic_ns());
    }
    i += count;
    // Random pauses vary the interleavings: sometimes readers catch up, sometimes not.
    if (rng() % 512 == 0) std::this_thread::yield();
  }
  // Going idle, as the writer does when it runs out of commands: the cursor names the
  // newest record, so a reader lapped at the very end learns it (ring_protocol.hpp, W6).
  writer.flush();
  final_seq.store(writer.next_seq() - 1, std::memory_order_release);
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < tallies.size(); ++i) {
    const ReaderTally& t = tallies[i];
    std::printf("reader %zu: received %llu, lapped %llu, missed %llu\n", i,
                static_cast<unsigned long long>(t.received),
                static_cast<unsigned long long>(t.lapped),
                static_cast<unsigned long long>(t.missed));
    EXPECT_EQ(t.torn, 0u) << "reader " << i << ", seed " << seed;
    EXPECT_EQ(t.out_of_order, 0u) << "reader " << i << ", seed " << seed;
    EXPECT_EQ(t.received + t.missed, records) << "reader " << i << ", seed " << seed;
  }
}

TEST(RingStress, SmallRingLapsReadersWithoutEverTearingARecord) {
  stress(1u << 14, 3, 200'000, WaitKind::yield);
}

TEST(RingStress, LargeRingWithASpinningReader) {
  stress(1u << 24, 1, 200'000, WaitKind::spin);
}

TEST(RingStress, BlockingReadersWakeAndKeepUp) {
  stress(1u << 22, 2, 100'000, WaitKind::block);
}

TEST(RingStress, BatchesLapReadersWithoutEverTearingARecord) {
  stress(1u << 14, 2, 200'000, WaitKind::yield, Publishing::in_batches);
}

}  // namespace
}  // namespace evring
