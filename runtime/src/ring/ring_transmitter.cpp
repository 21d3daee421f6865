#include "ring/ring_transmitter.hpp"

#include <string>

#include "evring/error.hpp"

namespace evring {

void RingTransmitter::throw_payload_too_large(std::size_t bytes) const {
  throw Error(ErrorCode::invalid_argument,
              "payload of " + std::to_string(bytes) + " bytes exceeds the ring's maximum of " +
                  std::to_string(max_payload_) + " (raise --max-payload)");
}

std::uint64_t RingTransmitter::publish_batch(std::span<const OutgoingRecord> records,
                                             std::int64_t publish_ns) {
  // One record, the common command: the inline path, without the run's bookkeeping.
  if (records.size() == 1) return publish(records[0].type, records[0].payload, publish_ns);
  // W1, and every payload checked before a byte is written. A batch wider than a ring
  // would overwrite its own start before committing it: it goes out in ring-sized runs.
  for (const OutgoingRecord& record : records) {
    if (record.payload.size() > max_payload_) [[unlikely]] {
      throw_payload_too_large(record.payload.size());
    }
  }
  const std::uint64_t first_seq = next_seq_;
  std::size_t begin = 0;
  while (begin < records.size()) {
    const Placement first = place(tail_, records[begin].payload.size());
    Placement at = first;
    std::size_t end = begin + 1;
    for (; end < records.size(); ++end) {
      const Placement next = place(at.end, records[end].payload.size());
      if (next.end - first.padding_at > capacity_ / 2) break;
      at = next;
    }
    announce(at.end);  // W2
    // W3: the run's records; the commit words of all but its first, relaxed (a receiver
    // reaches them only through the first, whose release publishes them).
    at = first;
    std::uint64_t seq = next_seq_;
    for (std::size_t i = begin; i < end; ++i, ++seq) {
      if (i != begin) at = place(at.end, records[i].payload.size());
      write_record(at, records[i].type, records[i].payload, publish_ns);
      bytes_total_ += records[i].payload.size();
      if (i == begin) continue;
      detail::store_word(data_ + (at.record_at & mask_) + kCommitWordOffset, seq,
                         std::memory_order_relaxed);
      commit_padding(at, seq, std::memory_order_relaxed);
    }
    commit(first, next_seq_, at.end);  // W4, W5
    next_seq_ = seq;
    advance(at.record_at, at.end);
    begin = end;
  }
  return first_seq;
}

}  // namespace evring
