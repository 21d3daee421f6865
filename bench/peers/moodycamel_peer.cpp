// moodycamel::ConcurrentQueue between two threads of the bench process (in-process: no
// process boundary, which no other row has). A message is a std::vector moved through the
// queue; the reader hands each one back through a second queue, so after the warm-up the
// writer reuses buffers and never allocates. Spinning: try_dequeue() again while empty.
// Blocking: BlockingConcurrentQueue's wait_dequeue (a short spin, then a semaphore).
#include <concurrentqueue/blockingconcurrentqueue.h>
#include <concurrentqueue/concurrentqueue.h>

#include <optional>
#include <vector>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "peer_trial.hpp"

namespace evring::bench {
namespace {

using Message = std::vector<std::byte>;
// Buffers made (and touched) before the run: more than a paced reader ever holds back.
constexpr std::size_t kSpareBuffers = 64;
constexpr std::int64_t kBlockSliceUs = 50'000;  // a blocked reader re-checks its deadline

// The queue of messages, and the queue that brings used buffers back to the writer.
template <class Queue>
struct Queues {
  Queue messages;
  moodycamel::ConcurrentQueue<Message> spare;
};

template <class Queue>
class MoodycamelSender : public PeerSender {
 public:
  explicit MoodycamelSender(Queues<Queue>& queues) : queues_(queues), token_(queues.messages) {}
  std::span<std::byte> prepare(std::size_t bytes) override {
    if (!queues_.spare.try_dequeue(current_)) current_.clear();
    current_.resize(bytes);
    return current_;
  }
  void send() override { queues_.messages.enqueue(token_, std::move(current_)); }

 private:
  Queues<Queue>& queues_;
  moodycamel::ProducerToken token_;
  Message current_;
};

template <class Queue>
class MoodycamelReceiver : public PeerReceiver {
 public:
  explicit MoodycamelReceiver(Queues<Queue>& queues) : queues_(queues) {}
  std::span<const std::byte> receive(std::int64_t deadline_ns) override {
    if constexpr (std::is_same_v<Queue, moodycamel::BlockingConcurrentQueue<Message>>) {
      while (!queues_.messages.wait_dequeue_timed(current_, kBlockSliceUs)) {
        throw_past(deadline_ns);
      }
    } else {
      for (std::uint64_t tries = 1; !queues_.messages.try_dequeue(current_); ++tries) {
        if ((tries & 0xFFFF) == 0) throw_past(deadline_ns);
        cpu_relax();
      }
    }
    return current_;
  }
  void release() override { queues_.spare.enqueue(std::move(current_)); }

 private:
  static void throw_past(std::int64_t deadline_ns) {
    if (monotonic_ns() > deadline_ns) {
      throw Error(ErrorCode::io, "no message before the deadline; did the writer stop?");
    }
  }
  Queues<Queue>& queues_;
  Message current_;
};

template <class Queue>
class MoodycamelLink : public PeerLink {
 public:
  explicit MoodycamelLink(std::size_t bytes) {
    for (std::size_t i = 0; i < kSpareBuffers; ++i) queues_.spare.enqueue(Message(bytes));
  }
  std::unique_ptr<PeerSender> open_sender() override {
    return std::make_unique<MoodycamelSender<Queue>>(queues_);
  }
  std::unique_ptr<PeerReceiver> open_receiver() override {
    return std::make_unique<MoodycamelReceiver<Queue>>(queues_);
  }

 private:
  Queues<Queue> queues_;
};

}  // namespace

std::vector<PeerVariant> moodycamel_variants() {
  const auto threads = PeerPlacement::two_threads;
  return {
      {"moodycamel-threads", WaitKind::block, "wait_dequeue() (spins, then a semaphore)", threads,
       [](std::size_t bytes) {
         return std::make_unique<MoodycamelLink<moodycamel::BlockingConcurrentQueue<Message>>>(
             bytes);
       }},
      {"moodycamel-threads", WaitKind::spin, "try_dequeue() again while empty", threads,
       [](std::size_t bytes) {
         return std::make_unique<MoodycamelLink<moodycamel::ConcurrentQueue<Message>>>(bytes);
       }},
  };
}

}  // namespace evring::bench
