// The naive slot ring (slot_ring.hpp) as a peer: the toy beside evring in the same table,
// so a run shows what a ring that does nothing else costs here. The writer fills the slot in
// place and stores its seq; the reader spins on that seq and reads the message in place.
// Spinning only (it has no way to sleep), and no lap detection: a lapped reader is an error.
#include <memory>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "peer_trial.hpp"
#include "slot_ring.hpp"
#include "sync/wait_strategy.hpp"

namespace evring::bench {
namespace {

class SlotRingSender : public PeerSender {
 public:
  explicit SlotRingSender(const SlotRing& ring) : ring_(ring) {}
  std::span<std::byte> prepare(std::size_t bytes) override {
    return {ring_.message(next_seq_), bytes};
  }
  void send() override { ring_.commit(next_seq_++); }

 private:
  const SlotRing& ring_;
  std::uint64_t next_seq_ = 1;
};

class SlotRingReceiver : public PeerReceiver {
 public:
  SlotRingReceiver(const SlotRing& ring, std::size_t message_bytes)
      : ring_(ring), message_bytes_(message_bytes) {}
  std::span<const std::byte> receive(std::int64_t deadline_ns) override {
    for (std::uint64_t tries = 1;; ++tries) {
      const std::uint64_t seq = ring_.seq_at(want_);
      if (seq == want_) break;
      if (seq > want_) throw Error(ErrorCode::io, "the slot ring lapped its reader");
      if ((tries & 0xFFFF) == 0 && monotonic_ns() > deadline_ns) {
        throw Error(ErrorCode::io, "no message before the deadline; did the writer stop?");
      }
    }
    return {ring_.message(want_), message_bytes_};
  }
  void release() override { ++want_; }

 private:
  const SlotRing& ring_;
  std::size_t message_bytes_;
  std::uint64_t want_ = 1;
};

class SlotRingLink : public PeerLink {
 public:
  explicit SlotRingLink(std::size_t message_bytes)
      : ring_(message_bytes), message_bytes_(message_bytes) {}
  std::unique_ptr<PeerSender> open_sender() override {
    return std::make_unique<SlotRingSender>(ring_);
  }
  std::unique_ptr<PeerReceiver> open_receiver() override {
    return std::make_unique<SlotRingReceiver>(ring_, message_bytes_);
  }

 private:
  SlotRing ring_;
  std::size_t message_bytes_;
};

}  // namespace

std::vector<PeerVariant> slot_ring_variants() {
  return {{"slot-ring", WaitKind::spin, "spins on the slot's seq, reads in place",
           PeerPlacement::parent_writes,
           [](std::size_t bytes) { return std::make_unique<SlotRingLink>(bytes); }}};
}

}  // namespace evring::bench
