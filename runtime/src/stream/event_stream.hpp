// A reader's events, in sequence order, with no gap and no duplicate, wherever they come
// from: the journal for what the ring no longer (or not yet) holds, the ring for the live
// tail. Every source sits behind one small interface, EventSource, so a remote stream
// (NATS JetStream, for readers on other machines) can take the ring's place later.
//
// The rule that joins them: the stream wants seq E next.
//   - From the journal (catching up from a start point, or after being lapped), events are
//     delivered while it has them.
//   - From the ring, a record with seq < E was already delivered from the journal: skipped.
//     A record with seq > E means the ring skipped E.. (a late start, or lapped): the
//     missing seqs are read from the journal first, then the record. The writer appends
//     to the journal before it publishes, so the journal always has them.
//   - Without a journal (durability none), a gap cannot be filled: the stream stops with an
//     error rather than hand a view a history with a hole.
//   - Every event belongs to one history (journal.hpp, HISTORY). A writer that starts with
//     another history than the events delivered so far (its journal was started again) is
//     Error(history_changed): the view must be rebuilt from seq 1 of the new history.
//
// The writer may be absent: not started yet, stopped (cleanly or by kill -9) and not yet
// started again. The stream then delivers what the journal has and looks for a writer
// every few ms, sleeping in between, and joins its ring when one is ready.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "evring/event.hpp"
#include "journal/journal.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/registry.hpp"
#include "sync/wait_interrupt.hpp"
#include "sync/wait_strategy.hpp"

namespace evring {

// A source of events (evring/event.hpp) in sequence order; an event's payload is valid
// until the next call on its source.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // The next event, or false when none is available now (call again later). Throws
  // evring::Error when the source cannot go on.
  virtual bool next(Event& out) = 0;
  // Up to out.size() next events (0: none now), all valid until the next call on the
  // source. A source that can hand over a run at once (the journal, catching up) does;
  // by default, one event.
  virtual std::size_t next_batch(std::span<Event> out) {
    return !out.empty() && next(out.front()) ? 1 : 0;
  }
};

// The journal from a seq on, read-only, while the writer may be appending.
class JournalSource final : public EventSource {
 public:
  JournalSource(const std::filesystem::path& directory, std::uint64_t from_seq);
  bool next(Event& out) override;
  std::size_t next_batch(std::span<Event> out) override;

 private:
  JournalReader reader_;
  std::array<JournalRecord, kReplayBatch> records_;
};

struct StreamOptions {
  std::string instance = "default";
  ReaderIdentity identity{"reader", "", WaitKind::spin};
  // The next seq wanted: 1 replays everything, S + 1 continues after a checkpoint at S;
  // 0 starts live, with the next event published.
  std::uint64_t from_seq = 0;
  // Where the journal is; empty: where the writer says (its registry), or while there is
  // no writer, the default folder of the instance if it has one.
  std::filesystem::path journal;
  // With no writer running: wait for one (and read the journal meanwhile) instead of
  // refusing to open.
  bool wait_for_writer = false;
  // Shared with whoever cuts the stream's waits short; null: the stream makes its own.
  std::shared_ptr<WaitInterrupt> interrupt;
};

struct StreamCounters {
  std::uint64_t from_journal = 0;  // events delivered from the journal
  std::uint64_t from_ring = 0;
  std::uint64_t lapped = 0;      // times the ring overwrote what this stream had not read
  std::uint64_t catch_ups = 0;   // times the stream went to the journal for a gap
  std::uint64_t reattached = 0;  // writer restarts followed
};

class EventStream final : public EventSource {
 public:
  // Attaches to the instance's ring (claiming a registry slot with `identity`), or with
  // wait_for_writer and no writer running, waits for one. Throws like RingReader::attach,
  // Error(no_instance) for a --journal folder that does not exist or holds no journal, and
  // Error(invalid_argument) for one of another history than the writer's.
  static std::unique_ptr<EventStream> open(const StreamOptions& options);
  // Call once after open(), when the history is known (a checkpoint of another one is not
  // to be used): sets the first seq delivered (options.from_seq) and, when it asks for the
  // past, opens the journal there. Error(invalid_argument) when the past is asked for and
  // there is no journal.
  void start(std::uint64_t from_seq);

  // Never waits. Throws Error(corrupt) when the journal lacks what the ring skipped, and
  // Error(writer_gone) when a gap cannot be filled (no journal) or the writer restarted
  // without one.
  bool next(Event& out) override;
  // While catching up from the journal, a run of events; otherwise one, as next().
  std::size_t next_batch(std::span<Event> out) override;
  // Idles per `wait` until the ring may have more, at most timeout_ns. Call after next()
  // returned false.
  void wait(WaitKind wait, std::int64_t timeout_ns);

  // The next seq the stream will deliver (0: live and nothing seen yet).
  std::uint64_t next_seq() const noexcept { return expected_; }
  // The writer's last published seq, as the ring last said (for lag and progress); 0
  // while the stream has no ring.
  std::uint64_t head_seq() const noexcept { return ring_ ? ring_->head_seq() : 0; }
  // The history of the events delivered (journal.hpp): the writer's, else the journal's;
  // 0 while neither is known (no writer yet, no journal).
  std::uint64_t history_id() const noexcept { return history_; }
  bool attached() const noexcept { return ring_.has_value(); }
  bool catching_up() const noexcept { return journal_.has_value(); }
  bool writer_alive() const noexcept { return writer_alive_; }
  const StreamCounters& counters() const noexcept { return counters_; }
  // This stream's row in the registry; null while it has no ring. Valid until the next
  // call of next(), next_batch() or wait(), which may follow the writer to a new registry.
  ReaderSlot* slot() const noexcept { return ring_ ? ring_->slot() : nullptr; }
  // For another thread to end a wait() early (a query to answer). A trigger that lands
  // just as the stream falls asleep is seen within the ring's 2 ms futex backstop.
  const std::shared_ptr<WaitInterrupt>& wait_interrupt() const noexcept { return interrupt_; }
  const std::filesystem::path& journal_directory() const noexcept { return journal_dir_; }
  // The domain whose events flow: the running writer's, or with none, the one its journal
  // records; std::nullopt when neither says (no writer yet and no journal).
  std::optional<DomainRecord> domain() const;

 private:
  explicit EventStream(const StreamOptions& options);
  RingReaderOptions ring_options(RingStart start) const;
  // Without a ring: tries to attach to a writer that has started (every few ms).
  void look_for_writer();
  // On a ring just mapped (a late start or a new writer): its history must be ours.
  void check_history();
  // After a ring of a new writer was mapped: alive, counted, its journal and history.
  void joined_writer();
  enum class JournalVerdict { deliver, skip, caught_up };
  // What to do with an event the journal gave; a deliverable one is counted as delivered.
  // Throws Error(corrupt) when the journal skips a seq.
  JournalVerdict judge_from_journal(const Event& event);
  // Out of line and cold: next() builds no string on its way.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_journal_skips(std::uint64_t seq) const;
  [[noreturn, gnu::cold, gnu::noinline]] void throw_journal_ends() const;
  [[noreturn, gnu::cold, gnu::noinline]] void throw_restarted_without_journal() const;
  void open_journal_at(std::uint64_t seq);
  void deliver_record(Event& out);
  void fill_gap();

  StreamOptions options_;
  std::shared_ptr<WaitInterrupt> interrupt_;
  std::optional<RingReader> ring_;
  std::uint64_t history_ = 0;
  std::int64_t next_writer_look_ns_ = 0;
  RecordBuffer record_;
  std::filesystem::path journal_dir_;  // empty: the writer keeps no journal
  std::optional<JournalSource> journal_;
  std::uint64_t expected_ = 0;
  bool holding_ = false;  // record_ holds a ring record waiting for the journal to reach it
  std::optional<PollResult> waited_;  // what wait() found, for next() to take first
  std::uint32_t journal_misses_ = 0;  // polls of a journal that lacks what the ring skipped
  bool writer_alive_ = true;
  StreamCounters counters_;
};

}  // namespace evring
