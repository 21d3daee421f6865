// Reader and writer process bodies shared by the multi-process ring tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "ring/broadcast_ring.hpp"
#include "test_support.hpp"

namespace evring::test {

inline constexpr std::uint32_t kMaxPayload = 4096;

// What a reader process saw, written by it, read by the test. Each counter has a single
// writer (that reader); relaxed is enough because the test reads them after waiting on
// `last_seq` (acquire) or after the child exited.
struct ReaderReport {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> bad_payload{0};
  std::atomic<std::uint64_t> bad_seq{0};
  std::atomic<std::uint64_t> lapped{0};
  std::atomic<std::uint64_t> missed{0};
  std::atomic<std::uint64_t> last_seq{0};
  std::atomic<int> attached{0};
};

struct Shared {
  std::atomic<std::uint64_t> final_seq{0};  // set by the writer when it is done
  ReaderReport readers[4];
};

RingOptions ring_options(const std::string& instance, std::uint64_t capacity);

// The body of a reader process: reads until it has seen (or been told it missed) every
// record up to final_seq, checking each sequence number and payload.
int run_reader(const std::string& instance, const std::string& id, Shared& shared,
               ReaderReport& report);

// Starts run_reader in a child process and returns it once the reader has attached
// (throws if it has not within 20 s).
ChildProcess start_reader_process(const std::string& instance, const std::string& id,
                                  Shared& shared, ReaderReport& report);

// Publishes the next test record (payload derived from its seq); returns the seq.
std::uint64_t publish_test_record(RingWriter& writer);

// A writer process that publishes paced records until killed.
int run_paced_writer(const std::string& instance, std::atomic<std::uint64_t>& published);

// One writer (this process) and three reader processes; asserts every reader saw every
// one of `records` records intact and in order.
void every_reader_sees_every_record(std::uint64_t records);

}  // namespace evring::test
