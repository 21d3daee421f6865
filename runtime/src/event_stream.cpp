#include "evring/event_stream.hpp"

#include <sched.h>

#include <algorithm>
#include <cstring>

#include "evring/error.hpp"

namespace evring {
namespace {

// The journal must hold what the ring skipped (the writer appends before it publishes);
// a few empty polls can only be a segment roll the reader has not seen yet.
constexpr std::uint32_t kJournalMissLimit = 100'000;

std::filesystem::path writer_journal(const std::string& instance) {
  const Registry registry = Registry::open(instance, Access::read_only);
  const WriterInfo& info = registry.layout().info;
  return std::string(info.journal, strnlen(info.journal, sizeof info.journal));
}

}  // namespace

JournalSource::JournalSource(const std::filesystem::path& directory, std::uint64_t from_seq)
    : reader_(JournalReader::open(directory, from_seq)) {}

bool JournalSource::next(StreamEvent& out) {
  return next_batch(std::span(&out, 1)) == 1;
}

std::size_t JournalSource::next_batch(std::span<StreamEvent> out) {
  const std::size_t count =
      reader_.next_batch(std::span(records_.data(), std::min(out.size(), records_.size())));
  for (std::size_t i = 0; i < count; ++i) {
    const JournalRecord& record = records_[i];
    out[i] = StreamEvent{record.seq, record.type, record.publish_ns, record.payload};
  }
  return count;
}

std::unique_ptr<EventStream> EventStream::open(const StreamOptions& options) {
  std::filesystem::path journal =
      options.journal.empty() ? writer_journal(options.instance) : options.journal;
  ReaderOptions ring_options;
  ring_options.instance = options.instance;
  ring_options.identity = options.identity;
  ring_options.report_position = false;  // the stream's owner reports what it applied
  // Without a journal the past is only what the ring still holds.
  ring_options.start = options.from_seq != 0 && journal.empty() ? StartAt::earliest : StartAt::live;
  RingReader ring = RingReader::attach(ring_options);
  std::unique_ptr<EventStream> stream(new EventStream(options, std::move(ring), journal));
  if (options.from_seq != 0 && !journal.empty()) stream->open_journal_at(options.from_seq);
  // Live: what is published from now on, so a lap before the first record is a gap too.
  if (options.from_seq == 0) stream->expected_ = stream->ring_.live_start_seq();
  return stream;
}

EventStream::EventStream(const StreamOptions& options, RingReader ring,
                         std::filesystem::path journal_dir)
    : options_(options),
      ring_(std::move(ring)),
      record_(ring_.max_payload()),
      journal_dir_(std::move(journal_dir)),
      expected_(options.from_seq) {}

void EventStream::open_journal_at(std::uint64_t seq) {
  try {
    journal_.emplace(journal_dir_, seq);
  } catch (const Error& e) {
    // A journal with no segment yet holds nothing to catch up on.
    if (e.code() != ErrorCode::no_instance || !journal_segments(journal_dir_).empty()) throw;
  }
  journal_misses_ = 0;
}

void EventStream::fill_gap() {
  if (journal_dir_.empty()) {
    throw Error(ErrorCode::writer_gone,
                "seqs " + std::to_string(expected_) + " to " + std::to_string(record_.seq() - 1) +
                    " of instance \"" + options_.instance +
                    "\" are gone from the ring and its writer keeps no journal, so this view "
                    "cannot be completed: give the reader a ring big enough to keep up "
                    "(--ring-bytes on the writer), run the writer with a journal, or restart "
                    "the reader with --from live");
  }
  ++counters_.catch_ups;
  if (ReaderSlot* slot = ring_.slot()) {
    // relaxed: a lone counter for stat; orders nothing.
    slot->replay_count.store(counters_.catch_ups, std::memory_order_relaxed);
  }
  open_journal_at(expected_);
  if (!journal_) {
    throw Error(ErrorCode::corrupt, "the journal in " + journal_dir_.string() +
                                        " is empty, but the ring skipped seqs " +
                                        std::to_string(expected_) + " to " +
                                        std::to_string(record_.seq() - 1));
  }
}

void EventStream::deliver_record(StreamEvent& out) {
  out = StreamEvent{record_.seq(), record_.type(), record_.publish_ns(), record_.payload()};
  expected_ = out.seq + 1;
  ++counters_.from_ring;
}

void EventStream::throw_journal_skips(std::uint64_t seq) const {
  throw Error(ErrorCode::corrupt, "the journal in " + journal_dir_.string() + " skips from seq " +
                                      std::to_string(expected_) + " to " + std::to_string(seq));
}

// Inline: catching up runs it for every event.
inline EventStream::JournalVerdict EventStream::judge_from_journal(const StreamEvent& event) {
  if (event.seq < expected_) return JournalVerdict::skip;  // the ring gave it already
  // Caught up with the held ring record: it, and what follows, come from the ring.
  if (holding_ && event.seq >= record_.seq()) return JournalVerdict::caught_up;
  if (event.seq != expected_) [[unlikely]] {
    throw_journal_skips(event.seq);
  }
  expected_ = event.seq + 1;
  ++counters_.from_journal;
  return JournalVerdict::deliver;
}

std::size_t EventStream::next_batch(std::span<StreamEvent> out) {
  if (journal_ && out.size() > 1) {
    const std::size_t read = journal_->next_batch(out);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < read; ++i) {
      const JournalVerdict verdict = judge_from_journal(out[i]);
      if (verdict == JournalVerdict::caught_up) {
        // The events kept point into the journal's mapping: it must outlive them, so the
        // switch to the ring waits for the next call (which meets a held seq again).
        if (kept == 0) journal_.reset();
        break;
      }
      if (verdict == JournalVerdict::deliver) out[kept++] = out[i];
    }
    if (kept != 0) return kept;
  }
  return next(out.front()) ? 1 : 0;
}

bool EventStream::next(StreamEvent& out) {
  for (;;) {
    if (journal_) {
      if (journal_->next(out)) {
        switch (judge_from_journal(out)) {
          case JournalVerdict::deliver:
            return true;
          case JournalVerdict::skip:
            continue;
          case JournalVerdict::caught_up:
            journal_.reset();  // deliver the held ring record next
            continue;
        }
      }
      if (holding_ && expected_ < record_.seq()) {
        if (++journal_misses_ > kJournalMissLimit) {
          throw Error(ErrorCode::corrupt, "the journal in " + journal_dir_.string() +
                                              " ends before seq " + std::to_string(expected_) +
                                              ", which the ring has already passed");
        }
        return false;
      }
      journal_.reset();  // caught up: the ring takes over
    }
    if (holding_) {
      holding_ = false;
      if (record_.seq() == expected_) {
        deliver_record(out);
        return true;
      }
      continue;  // already delivered from the journal
    }
    PollResult result;
    if (waited_) {
      result = *waited_;
      waited_.reset();
    } else {
      result = ring_.poll(record_);
    }
    switch (result.status) {
      case PollStatus::empty:
        return false;
      case PollStatus::record:
        writer_alive_ = true;
        if (record_.seq() < expected_) continue;
        if (record_.seq() > expected_) {
          holding_ = true;
          fill_gap();
          continue;
        }
        deliver_record(out);
        return true;
      case PollStatus::lapped:
        ++counters_.lapped;  // the next record is past expected_: the gap path fills it
        continue;
      case PollStatus::writer_gone:
        writer_alive_ = false;
        return false;
      case PollStatus::writer_replaced:
        try {
          ring_.reattach();
        } catch (const Error& e) {
          // The new writer is still setting up its ring, or died (kill -9) before or just
          // after it was ready: look again on a later poll, for it or the writer after it.
          // evring-soak found readers that quit here when a writer died twice in a row.
          if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
          writer_alive_ = false;
          return false;
        }
        ++counters_.reattached;
        writer_alive_ = true;
        if (options_.journal.empty()) journal_dir_ = writer_journal(options_.instance);
        if (journal_dir_.empty()) {
          throw Error(ErrorCode::writer_gone,
                      "the writer of instance \"" + options_.instance +
                          "\" restarted without a journal, so its sequence started again and "
                          "this view cannot follow it: restart the reader");
        }
        continue;
    }
  }
}

void EventStream::wait(WaitKind wait, std::int64_t timeout_ns) {
  if (holding_ || journal_ || waited_) {
    sched_yield();  // the journal is about to have it; nothing to sleep on
    return;
  }
  const PollResult result = ring_.wait_next(record_, wait, timeout_ns);
  if (result.status != PollStatus::empty) waited_ = result;
}

}  // namespace evring
