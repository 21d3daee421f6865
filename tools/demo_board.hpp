// What the demo's processes share: its settings (copied into each child by fork) and a
// small board in a MAP_SHARED mapping through which the children report to the parent.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "evring/latency_recorder.hpp"
#include "evring/layout.hpp"
#include "evring/wait_strategy.hpp"

namespace evring::tools {

inline constexpr std::size_t kDemoReaders = 2;

struct DemoConfig {
  std::string instance;  // empty: "demo-<pid>", so two demos never meet
  double seconds = 3;
  std::uint64_t rate = 100'000;  // records per second; 0 = as fast as the writer can
  WaitKind wait = WaitKind::yield;
  std::uint64_t ring_bytes = 16u << 20;
};

// How far a child has come. Stored with release by the child after the work it names,
// loaded with acquire by the parent, which may then read what the child wrote before.
enum class Phase : std::uint32_t { starting = 0, ready = 1, finished = 2 };

// Each group is written by one process and sits on its own lines, so the parent's
// once-a-second look never slows the children down.
struct alignas(kFalseSharingRange) WriterBoard {
  std::atomic<Phase> phase;  // ready: the ring exists
  // relaxed: a progress counter for the display; orders nothing.
  std::atomic<std::uint64_t> published;
};

struct alignas(kFalseSharingRange) ParentBoard {
  // The parent stores true (release) once every reader is attached; the writer loads it
  // (acquire) and only then publishes, so no reader misses the start.
  std::atomic<bool> go;
};

struct alignas(kFalseSharingRange) ReaderBoard {
  std::atomic<Phase> phase;  // ready: attached; finished: `latency` is filled in
  // relaxed, all: counters for the display and the table, each on its own.
  std::atomic<std::uint64_t> position_seq;
  std::atomic<std::uint64_t> records;
  std::atomic<std::uint64_t> bytes;
  std::atomic<std::uint64_t> checksum_errors;
  std::atomic<std::uint64_t> lapped;
  // Plain data: written before phase = finished, read by the parent after it.
  LatencySummary latency;
  std::uint64_t latency_dropped;
};

struct DemoBoard {
  WriterBoard writer;
  ParentBoard parent;
  ReaderBoard readers[kDemoReaders];
};

static_assert(std::atomic<Phase>::is_always_lock_free);
static_assert(std::atomic<bool>::is_always_lock_free);

// "demo-reader-1", "demo-reader-2": the readers' ids in the registry and in the tables.
inline std::string demo_reader_id(std::size_t index) {
  return "demo-reader-" + std::to_string(index + 1);
}

}  // namespace evring::tools
