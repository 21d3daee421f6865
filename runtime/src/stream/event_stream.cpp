#include "stream/event_stream.hpp"

#include <sched.h>

#include <algorithm>
#include <cstring>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "sys/paths.hpp"

namespace evring {
namespace {

// The journal must hold what the ring skipped (the writer appends before it publishes);
// a few empty polls can only be a segment roll the reader has not seen yet.
constexpr std::uint32_t kJournalMissLimit = 100'000;

// A NUL-terminated field of WriterInfo as a string.
std::string info_text(const char* field, std::size_t bytes) {
  return std::string(field, strnlen(field, bytes));
}

std::filesystem::path writer_journal(const std::string& instance) {
  const Registry registry = Registry::open(instance, Access::read_only);
  const WriterInfo& info = registry.layout().info;
  return info_text(info.journal, sizeof info.journal);
}

}  // namespace

std::optional<DomainRecord> EventStream::domain() const {
  if (attached()) {
    const Registry registry = Registry::open(options_.instance, Access::read_only);
    const WriterInfo& info = registry.layout().info;
    DomainRecord domain{info_text(info.domain, sizeof info.domain),
                        info_text(info.domain_library, sizeof info.domain_library)};
    if (!domain.name.empty()) return domain;
    return std::nullopt;
  }
  if (journal_dir_.empty()) return std::nullopt;
  return read_journal_domain(journal_dir_);
}

JournalSource::JournalSource(const std::filesystem::path& directory, std::uint64_t from_seq)
    : reader_(JournalReader::open(directory, from_seq)) {}

bool JournalSource::next(Event& out) {
  return next_batch(std::span(&out, 1)) == 1;
}

std::size_t JournalSource::next_batch(std::span<Event> out) {
  const std::size_t count =
      reader_.next_batch(std::span(records_.data(), std::min(out.size(), records_.size())));
  for (std::size_t i = 0; i < count; ++i) {
    const JournalRecord& record = records_[i];
    out[i] = Event{record.seq, record.type, record.publish_ns, record.payload};
  }
  return count;
}

std::unique_ptr<EventStream> EventStream::open(const StreamOptions& options) {
  std::filesystem::path journal = options.journal;
  auto stream = std::unique_ptr<EventStream>(new EventStream(options));
  try {
    stream->ring_.emplace(RingReader::attach(stream->ring_options(RingStart::live)));
    if (journal.empty()) journal = writer_journal(options.instance);
  } catch (const Error& e) {
    if (!options.wait_for_writer ||
        (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone)) {
      throw;
    }
    // No writer yet: its journal is where the reader was told, or the instance's default.
    if (journal.empty()) {
      std::error_code ec;
      const std::filesystem::path fallback = default_journal_folder(options.instance);
      if (std::filesystem::is_directory(fallback, ec)) journal = fallback;
    }
    stream->writer_alive_ = false;
  }
  stream->journal_dir_ = journal;
  if (!journal.empty()) {
    // Throws, naming the folder, when it does not exist or holds no journal.
    const std::uint64_t on_disk = journal_history(journal);
    if (on_disk == 0 && !options.journal.empty()) {
      throw Error(ErrorCode::no_instance,
                  "the folder " + journal.string() +
                      " holds no journal (no journal-*.evj segment): give the folder the "
                      "writer journals to (evring-writer --journal), or leave --journal out");
    }
    stream->history_ = on_disk;
  }
  if (stream->ring_) {
    const std::uint64_t ring_history = stream->ring_->history_id();
    if (stream->history_ != 0 && ring_history != 0 && ring_history != stream->history_) {
      throw Error(ErrorCode::invalid_argument,
                  "the journal in " + journal.string() + " is of history " +
                      history_text(stream->history_) + ", but the writer of instance \"" +
                      options.instance + "\" continues history " + history_text(ring_history) +
                      ": it is another instance's journal, or an old one; leave --journal out "
                      "to read the writer's");
    }
    stream->history_ = ring_history != 0 ? ring_history : stream->history_;
  }
  return stream;
}

void EventStream::start(std::uint64_t from_seq) {
  options_.from_seq = from_seq;
  expected_ = from_seq;
  if (from_seq != 0 && !journal_dir_.empty()) {
    open_journal_at(from_seq);
  } else if (from_seq != 0 && ring_) {
    // Without a journal the past is only what the ring still holds.
    ring_.emplace(RingReader::attach(ring_options(RingStart::earliest)));
  }
  // Live: what is published from now on, so a lap before the first record is a gap too.
  if (from_seq == 0 && ring_) expected_ = ring_->live_start_seq();
}

RingReaderOptions EventStream::ring_options(RingStart start) const {
  RingReaderOptions ring_options;
  ring_options.instance = options_.instance;
  ring_options.identity = options_.identity;
  ring_options.report_position = false;  // the stream's owner reports what it applied
  ring_options.start = start;
  ring_options.interrupt = interrupt_;
  return ring_options;
}

EventStream::EventStream(const StreamOptions& options)
    : options_(options),
      interrupt_(options.interrupt ? options.interrupt : std::make_shared<WaitInterrupt>()),
      expected_(options.from_seq) {}

void EventStream::check_history() {
  const std::uint64_t ring_history = ring_->history_id();
  if (history_ != 0 && ring_history != 0 && ring_history != history_) {
    const std::uint64_t ours = history_;
    history_ = ring_history;
    throw Error(ErrorCode::history_changed,
                "the writer of instance \"" + options_.instance + "\" started history " +
                    history_text(ring_history) +
                    " (its journal was started again), and the events read so far are of "
                    "history " +
                    history_text(ours) +
                    ": start over from seq 1 of the new one (evring-reader does so by itself; "
                    "run evring tail again)");
  }
  if (ring_history != 0) history_ = ring_history;
}

void EventStream::look_for_writer() {
  const std::int64_t now = monotonic_ns();
  if (now < next_writer_look_ns_) return;
  next_writer_look_ns_ = now + kWriterLookIntervalNs;
  try {
    // From the ring's first record: everything its writer published since it started,
    // which continues where its journal ended.
    ring_.emplace(RingReader::attach(ring_options(RingStart::earliest)));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
    return;
  }
  joined_writer();
  if (expected_ == 0) expected_ = ring_->expected_seq();  // live: from its first record
}

void EventStream::joined_writer() {
  writer_alive_ = true;
  ++counters_.reattached;
  if (options_.journal.empty()) journal_dir_ = writer_journal(options_.instance);
  check_history();
}

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
  if (ReaderSlot* slot = ring_->slot()) {
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

void EventStream::deliver_record(Event& out) {
  out = Event{record_.seq(), record_.type(), record_.publish_ns(), record_.payload()};
  expected_ = out.seq + 1;
  ++counters_.from_ring;
}

void EventStream::throw_journal_skips(std::uint64_t seq) const {
  throw Error(ErrorCode::corrupt, "the journal in " + journal_dir_.string() + " skips from seq " +
                                      std::to_string(expected_) + " to " + std::to_string(seq));
}

void EventStream::throw_journal_ends() const {
  throw Error(ErrorCode::corrupt, "the journal in " + journal_dir_.string() + " ends before seq " +
                                      std::to_string(expected_) +
                                      ", which the ring has already passed");
}

void EventStream::throw_restarted_without_journal() const {
  throw Error(ErrorCode::writer_gone,
              "the writer of instance \"" + options_.instance +
                  "\" restarted without a journal, so its sequence started again and this view "
                  "cannot follow it: restart the reader");
}

// Inline: catching up runs it for every event.
inline EventStream::JournalVerdict EventStream::judge_from_journal(const Event& event) {
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

std::size_t EventStream::next_batch(std::span<Event> out) {
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

bool EventStream::next(Event& out) {
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
      if (!ring_) {
        // The rest comes from a writer yet to start: once it has, its ring takes over
        // where the journal ends (and the stream shows in stat again).
        look_for_writer();
        return false;
      }
      if (holding_ && expected_ < record_.seq()) {
        if (++journal_misses_ > kJournalMissLimit) [[unlikely]] {
          throw_journal_ends();
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
    if (!ring_) {
      look_for_writer();
      if (!ring_) return false;
      continue;
    }
    PollResult result;
    if (waited_) {
      result = *waited_;
      waited_.reset();
    } else {
      result = ring_->poll(record_);
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
          ring_->reattach();
        } catch (const Error& e) {
          // The new writer is still setting up its ring, or died (kill -9) before or just
          // after it was ready: look again on a later poll, for it or the writer after it.
          // evring-soak found readers that quit here when a writer died twice in a row.
          if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
          writer_alive_ = false;
          return false;
        }
        joined_writer();
        if (journal_dir_.empty()) throw_restarted_without_journal();
        continue;
    }
  }
}

void EventStream::wait(WaitKind wait, std::int64_t timeout_ns) {
  if (!ring_) {
    // No writer: sleep until the next look for one (or a trigger), whether or not the
    // journal might grow meanwhile (only a writer grows it).
    interrupt_->sleep(std::min(timeout_ns, kWriterLookIntervalNs));
    return;
  }
  if (holding_ || journal_ || waited_) {
    sched_yield();  // the journal is about to have it; nothing to sleep on
    return;
  }
  const PollResult result = ring_->wait_next(record_, wait, timeout_ns);
  if (result.status != PollStatus::empty) waited_ = result;
}

}  // namespace evring
