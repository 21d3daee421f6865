// Constants and the preamble that every evring shared-memory segment starts with.
//
// The shared-memory layout is an ABI: plain structs, fixed offsets checked with
// static_assert, a magic and a layout version up front. The preamble's offsets never
// change across layout versions, so any build can tell what a segment is, whether its
// owner is alive, and refuse (or replace) one of another version.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace evring {

inline constexpr std::size_t kCacheLine = 64;
// Hot fields are padded to 128 bytes, not 64: x86 prefetches cache lines in adjacent
// pairs, so two fields 64 bytes apart still falsely share (folly/lang/Align.h explains).
// std::hardware_destructive_interference_size differs across compilers, and a layout
// shared between processes built by different compilers must not depend on it.
inline constexpr std::size_t kFalseSharingRange = 128;

enum class SegmentKind : std::uint32_t {
  ring = 1,
  registry = 2,
  intake = 3,
  query = 4,          // a reader's query segment (query/query_segment.hpp)
  remote_reader = 5,  // a remote reader's status (remote/remote_status.hpp)
};

// Lifecycle of a segment, stored in SegmentPreamble::state.
enum class SegmentState : std::uint32_t {
  initializing = 0,  // created, the owner is still filling in the header
  ready = 1,         // open for business
  superseded = 2,    // a new writer replaced it: reattach by name
  closed = 3,        // the writer shut down cleanly
};

struct SegmentPreamble {
  std::uint64_t magic;           // kSegmentMagic
  std::uint32_t layout_version;  // of the whole segment after the preamble
  SegmentKind kind;
  // Written last by the creator with release, read first by openers with acquire: once an
  // opener sees `ready`, every field the creator wrote before is visible to it.
  std::atomic<std::uint32_t> state;
  std::uint32_t reserved0;
  std::uint64_t owner_pid;          // writer process that created the segment
  std::uint64_t owner_start_ticks;  // its start time, against pid reuse
  std::uint64_t incarnation;        // bumped each time a writer (re)creates the instance
  std::uint64_t total_bytes;        // size the creator mapped
  std::int64_t created_ns;          // monotonic_ns() at creation
};

inline constexpr std::uint64_t kSegmentMagic = 0x3130'474E'4952'5645ull;  // "EVRING01"

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(SegmentPreamble) == 64);
static_assert(offsetof(SegmentPreamble, magic) == 0);
static_assert(offsetof(SegmentPreamble, layout_version) == 8);
static_assert(offsetof(SegmentPreamble, kind) == 12);
static_assert(offsetof(SegmentPreamble, state) == 16);
static_assert(offsetof(SegmentPreamble, owner_pid) == 24);
static_assert(offsetof(SegmentPreamble, owner_start_ticks) == 32);
static_assert(offsetof(SegmentPreamble, incarnation) == 40);

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}
constexpr bool is_power_of_two(std::uint64_t value) {
  return value != 0 && (value & (value - 1)) == 0;
}

}  // namespace evring
