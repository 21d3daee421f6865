// Boost.Interprocess message_queue: a named queue of fixed-size slots in shared memory,
// guarded by a process-shared mutex and condition variables. Blocking: receive() sleeps on
// the condition. Spinning: try_receive() again at once while the queue is empty.
#include <boost/interprocess/ipc/message_queue.hpp>

#include <vector>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "peer_trial.hpp"
#include "ring_processes.hpp"

namespace evring::bench {
namespace {

namespace ipc = boost::interprocess;

// Slots: enough that a paced writer never waits on a reader that keeps up.
constexpr std::size_t kQueueSlots = 64;

class QueueSender : public PeerSender {
 public:
  QueueSender(ipc::message_queue& queue, std::size_t max_bytes)
      : queue_(queue), buffer_(max_bytes) {}
  std::span<std::byte> prepare(std::size_t bytes) override {
    bytes_ = bytes;
    return {buffer_.data(), bytes};
  }
  void send() override { queue_.send(buffer_.data(), bytes_, 0); }

 private:
  ipc::message_queue& queue_;
  std::vector<std::byte> buffer_;
  std::size_t bytes_ = 0;
};

class QueueReceiver : public PeerReceiver {
 public:
  QueueReceiver(ipc::message_queue& queue, std::size_t max_bytes, bool spin)
      : queue_(queue), buffer_(max_bytes), spin_(spin) {}
  std::span<const std::byte> receive(std::int64_t deadline_ns) override {
    std::size_t received = 0;
    unsigned priority = 0;
    if (!spin_) {
      queue_.receive(buffer_.data(), buffer_.size(), received, priority);
      return {buffer_.data(), received};
    }
    for (std::uint64_t tries = 1;
         !queue_.try_receive(buffer_.data(), buffer_.size(), received, priority); ++tries) {
      if ((tries & 0xFFFF) == 0 && monotonic_ns() > deadline_ns) {
        throw Error(ErrorCode::io, "no message before the deadline; is the writer stuck?");
      }
      cpu_relax();
    }
    return {buffer_.data(), received};
  }

 private:
  ipc::message_queue& queue_;
  std::vector<std::byte> buffer_;
  bool spin_;
};

// Created (and its name removed again) by the parent; the forked reader uses the mapping
// it inherits.
class QueueLink : public PeerLink {
 public:
  QueueLink(std::size_t bytes, bool spin)
      : name_(unique_instance_name("mq")),
        queue_(ipc::create_only, name_.c_str(), kQueueSlots, bytes),
        bytes_(bytes),
        spin_(spin) {}
  ~QueueLink() override { ipc::message_queue::remove(name_.c_str()); }
  std::unique_ptr<PeerSender> open_sender() override {
    return std::make_unique<QueueSender>(queue_, bytes_);
  }
  std::unique_ptr<PeerReceiver> open_receiver() override {
    return std::make_unique<QueueReceiver>(queue_, bytes_, spin_);
  }

 private:
  std::string name_;
  ipc::message_queue queue_;
  std::size_t bytes_;
  bool spin_;
};

}  // namespace

std::vector<PeerVariant> message_queue_variants() {
  const auto parent = PeerPlacement::parent_writes;
  return {
      {"boost-message_queue", WaitKind::block, "receive()", parent,
       [](std::size_t bytes) { return std::make_unique<QueueLink>(bytes, false); }},
      {"boost-message_queue", WaitKind::spin, "try_receive() again while empty", parent,
       [](std::size_t bytes) { return std::make_unique<QueueLink>(bytes, true); }},
  };
}

}  // namespace evring::bench
