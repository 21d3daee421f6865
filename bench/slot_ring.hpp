// The naive slot ring: the toy every ring run is shown beside (issue 14). Fixed slots of
// whole cache lines, {seq, message}; the writer fills a slot and stores its seq last with
// release, the reader spins on the seq of the slot it wants. No journal, no variable
// records, no registry, no lap detection beyond "the seq is past the one I want". It is
// what a ring of one-line records costs on this machine when it does nothing else: the
// ceiling evring's throughput is held against, in the same run.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "harness/shared_memory.hpp"
#include "shm/layout.hpp"

namespace evring::bench {

class SlotRing {
 public:
  // Slots of the seq and `message_bytes`, rounded up to whole cache lines (56 bytes: one
  // line), in anonymous shared memory that a forked child shares.
  explicit SlotRing(std::size_t message_bytes, std::size_t ring_bytes = 4u << 20)
      : slot_bytes_(align_up(sizeof(std::uint64_t) + message_bytes, kCacheLine)),
        slots_(ring_bytes / slot_bytes_ < 64 ? 64 : ring_bytes / slot_bytes_),
        memory_(slot_bytes_ * slots_) {}

  std::size_t message_capacity() const noexcept { return slot_bytes_ - sizeof(std::uint64_t); }

  // Writer: where message `seq` (1, 2, ...) goes, then commit(seq).
  std::byte* message(std::uint64_t seq) const noexcept { return slot(seq) + sizeof(std::uint64_t); }
  void commit(std::uint64_t seq) const noexcept {
    // release: pairs with the reader's acquire load (seq_at); the message is visible first.
    seq_word(seq).store(seq, std::memory_order_release);
  }
  // Reader: the seq in the slot message `seq` goes to; equal to it once it is there.
  std::uint64_t seq_at(std::uint64_t seq) const noexcept {
    // acquire: pairs with commit()'s release.
    return seq_word(seq).load(std::memory_order_acquire);
  }

 private:
  std::byte* slot(std::uint64_t seq) const noexcept {
    return static_cast<std::byte*>(memory_.data()) + ((seq - 1) % slots_) * slot_bytes_;
  }
  std::atomic<std::uint64_t>& seq_word(std::uint64_t seq) const noexcept {
    return *reinterpret_cast<std::atomic<std::uint64_t>*>(slot(seq));
  }

  std::size_t slot_bytes_;
  std::size_t slots_;
  harness::SharedMemory memory_;  // zeroed: no slot holds a seq yet
};

}  // namespace evring::bench
