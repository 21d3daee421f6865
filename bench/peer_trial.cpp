#include "peer_trial.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/child_process.hpp"
#include "harness/cpu_pinning.hpp"
#include "harness/interrupt.hpp"
#include "harness/shared_memory.hpp"
#include "pacer.hpp"
#include "payload_pattern.hpp"

namespace evring::bench {
namespace {

using harness::ChildProcess;
using harness::pin_to_cpu;
using harness::SharedArray;
using harness::wait_until;

// iceoryx's runtime registers with RouDi first: slower than a fork.
constexpr std::int64_t kPeerAttachTimeoutNs = 10'000'000'000;

std::size_t message_bytes(const Trial& trial) {
  return sizeof(PeerHeader) + trial.payload_bytes;
}

int run_peer_reader(PeerReceiver& receiver, LatencyChannel& channel, const Trial& trial) {
  LatencyRecorder recorder(trial.samples);
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  const std::size_t expected_bytes = message_bytes(trial);
  ReaderOutcome& outcome = channel.outcome;
  std::uint64_t next_seq = 1;
  while (next_seq <= trial.total()) {
    const std::span<const std::byte> message = receiver.receive(deadline);
    const std::int64_t now = monotonic_ns();
    PeerHeader header{};
    if (message.size() < sizeof header) {
      throw Error(ErrorCode::corrupt, "a message of " + std::to_string(message.size()) +
                                          " bytes, shorter than its header");
    }
    std::memcpy(&header, message.data(), sizeof header);
    if (header.seq > trial.warmup) recorder.record(now - header.stamp_ns);
    acknowledge(channel, header.seq);
    if (message.size() == expected_bytes &&
        matches_pattern(header.seq, message.subspan(sizeof header))) {
      ++outcome.verified;
    } else {
      ++outcome.mismatches;
    }
    if (header.seq > next_seq) {
      outcome.missed += header.seq - next_seq;  // lost by the peer
    } else if (header.seq < next_seq) {
      ++outcome.mismatches;  // delivered twice or out of order
    }
    next_seq = std::max(next_seq, header.seq + 1);
    receiver.release();
  }
  publish_outcome(channel, recorder);
  return 0;
}

// Returns the achieved send rate over the measured (post-warm-up) messages.
double run_peer_writer(PeerSender& sender, LatencyChannel& channel, const Trial& trial,
                       ChildProcess* reader) {
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns());
  const Pacer pacer(trial.rate, monotonic_ns() + 1'000'000);
  const std::size_t bytes = message_bytes(trial);
  std::int64_t measured_from = 0;
  for (std::uint64_t index = 0; index < trial.total(); ++index) {
    const std::uint64_t seq = index + 1;
    // Filled before the due time, as the ring's writer does: not part of the latency.
    const std::span<std::byte> message = sender.prepare(bytes);
    std::memcpy(message.data(), &seq, sizeof seq);
    fill_pattern(seq, message.subspan(sizeof(PeerHeader)));
    if (pacer.flat_out()) wait_for_ack(channel, seq - 1, reader, deadline);
    const std::int64_t stamp = pacer.wait_until_due(index);
    if (index == trial.warmup) measured_from = stamp;
    std::memcpy(message.data() + offsetof(PeerHeader, stamp_ns), &stamp, sizeof stamp);
    sender.send();
    check_writer_health(index, reader, deadline);
  }
  const double elapsed_s = static_cast<double>(monotonic_ns() - measured_from) / 1e9;
  return static_cast<double>(trial.samples) / elapsed_s;
}

ResultRow run_in_processes(const Trial& trial, const PeerVariant& variant, unsigned writer_cpu,
                           unsigned reader_cpu) {
  SharedArray<LatencyChannel> channel;
  const std::unique_ptr<PeerLink> link = variant.make_link(message_bytes(trial));
  ChildProcess reader = ChildProcess::spawn(variant.system + " reader", [&] {
    pin_to_cpu(reader_cpu);
    const std::unique_ptr<PeerReceiver> receiver = link->open_receiver();
    channel->reader_ready.announce();
    return run_peer_reader(*receiver, *channel, trial);
  });

  if (variant.placement == PeerPlacement::parent_writes) {
    const std::unique_ptr<PeerSender> sender = link->open_sender();
    wait_until([&] { return channel->reader_ready.is_set(); }, {&reader},
               monotonic_ns() + kPeerAttachTimeoutNs, "the " + reader.role() + " to start");
    const double msgs_per_s = run_peer_writer(*sender, *channel, trial, &reader);
    reader.join(trial.run_deadline_ns(monotonic_ns()));
    return collect(trial, *channel, msgs_per_s);
  }

  ChildProcess writer = ChildProcess::spawn(variant.system + " writer", [&] {
    pin_to_cpu(writer_cpu);
    const std::unique_ptr<PeerSender> sender = link->open_sender();
    const std::int64_t ready_by = monotonic_ns() + kPeerAttachTimeoutNs;
    while (!channel->reader_ready.is_set()) {
      if (monotonic_ns() > ready_by) throw Error(ErrorCode::io, "the reader never attached");
      std::this_thread::yield();
    }
    channel->writer.msgs_per_s = run_peer_writer(*sender, *channel, trial, nullptr);
    // release: pairs with the parent's acquire below; msgs_per_s is written.
    channel->writer.finished.store(1, std::memory_order_release);
    return 0;
  });
  // This thread shares the writer's CPU: it looks every 10 ms rather than at join()'s fast
  // pace, so the writer child runs undisturbed while it measures.
  const std::int64_t deadline = trial.run_deadline_ns(monotonic_ns()) + kPeerAttachTimeoutNs;
  // acquire: pairs with the writer child's release store (read again below).
  while (channel->writer.finished.load(std::memory_order_acquire) == 0 && !writer.poll_exit() &&
         monotonic_ns() < deadline) {
    harness::throw_if_interrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  writer.join(deadline);
  reader.join(monotonic_ns() + kPeerAttachTimeoutNs);
  // acquire: pairs with the writer child's release store.
  if (channel->writer.finished.load(std::memory_order_acquire) == 0) {
    throw Error(ErrorCode::io, "the " + writer.role() + " exited without its results");
  }
  return collect(trial, *channel, channel->writer.msgs_per_s);
}

ResultRow run_in_threads(const Trial& trial, const PeerVariant& variant, unsigned reader_cpu) {
  SharedArray<LatencyChannel> channel;
  const std::unique_ptr<PeerLink> link = variant.make_link(message_bytes(trial));
  std::exception_ptr reader_error;  // read once the reader thread is joined
  std::atomic<bool> reader_failed_to_open{false};
  std::thread reader([&] {
    try {
      pin_to_cpu(reader_cpu);
      std::unique_ptr<PeerReceiver> receiver;
      try {
        receiver = link->open_receiver();
      } catch (...) {
        // relaxed: published by the release in announce() below.
        reader_failed_to_open.store(true, std::memory_order_relaxed);
        throw;
      }
      channel->reader_ready.announce();
      run_peer_reader(*receiver, *channel, trial);
    } catch (...) {
      reader_error = std::current_exception();
      channel->reader_ready.announce();  // the writer stops waiting
    }
  });
  double msgs_per_s = 0;
  try {
    const std::unique_ptr<PeerSender> sender = link->open_sender();
    while (!channel->reader_ready.is_set()) std::this_thread::yield();
    // relaxed: ordered by is_set()'s acquire, which pairs with announce()'s release.
    if (!reader_failed_to_open.load(std::memory_order_relaxed)) {
      msgs_per_s = run_peer_writer(*sender, *channel, trial, nullptr);
    }
  } catch (...) {
    // The reader waits for messages that will not come until its deadline: it ends then.
    reader.join();
    throw;
  }
  reader.join();
  if (reader_error != nullptr) std::rethrow_exception(reader_error);
  return collect(trial, *channel, msgs_per_s);
}

}  // namespace

ResultRow run_peer_trial(const Trial& trial, const PeerVariant& variant, unsigned writer_cpu,
                         unsigned reader_cpu) {
  return variant.placement == PeerPlacement::two_threads
             ? run_in_threads(trial, variant, reader_cpu)
             : run_in_processes(trial, variant, writer_cpu, reader_cpu);
}

}  // namespace evring::bench
