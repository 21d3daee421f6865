#include "reader.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "builtin_views.hpp"
#include "checkpoint.hpp"
#include "event_description.hpp"
#include "event_feed.hpp"
#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "journal/journal_holds.hpp"
#include "plugin/view_plugin.hpp"
#include "query_host.hpp"
#include "shm/registry.hpp"
#include "stream/event_stream.hpp"
#include "sys/paths.hpp"

namespace fs = std::filesystem;

namespace evring::reader {
namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::int64_t kTickNs = 100'000'000;       // heartbeat, checkpoints, progress
constexpr std::size_t kEventBatch = 4096;           // events between looks at the queries
constexpr std::int64_t kSpinnerWaitNs = 1'000'000;  // a spinning reader with no live ring
ViewPlugin load_view(const ReaderOptions& options) {
  if (const evring_view_v1* table = find_builtin_view(options.view)) {
    return ViewPlugin::from_table(table, "built-in view " + options.view, options.view_config);
  }
  if (options.view.find('/') == std::string::npos && !options.view.ends_with(".so")) {
    std::string names;
    for (const std::string_view name : builtin_view_names()) {
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    throw Error(ErrorCode::invalid_argument, "unknown view \"" + options.view +
                                                 "\": choose a built-in (" + names +
                                                 ") or give the path of a plugin .so");
  }
  return ViewPlugin::load_library(options.view, options.view_config);
}

// <view>-<n> for the first n that no live reader of the instance has.
std::string pick_id(const std::string& instance, std::string_view view) {
  std::set<std::string> taken;
  try {
    const Registry registry = Registry::open(instance, Access::read_only);
    for (const ReaderInfo& reader : registry.readers()) {
      if (reader.alive) taken.insert(reader.id);
    }
  } catch (const Error& e) {
    // No writer yet, so no reader is registered: the first number is free.
    if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
  }
  for (const remote::RemoteReaderInfo& reader : remote::remote_readers(instance)) {
    if (reader.reader.alive) taken.insert(reader.reader.id);
  }
  for (int n = 1;; ++n) {
    std::string id = fmt::format("{}-{}", view, n);
    if (!taken.contains(id)) return id;
  }
}

std::string hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::byte b : bytes) {
    out.push_back(kDigits[static_cast<unsigned>(b) >> 4]);
    out.push_back(kDigits[static_cast<unsigned>(b) & 0xf]);
  }
  return out;
}

}  // namespace

struct Reader::State {
  ReaderOptions options;
  ReaderLog log;
  ViewPlugin view;
  std::string id;
  fs::path checkpoint_dir;
  fs::path dead_letter;
  std::shared_ptr<WaitInterrupt> interrupt;  // the query host's, across streams
  std::unique_ptr<EventFeed> stream;         // this machine's instance, or a remote stream
  std::unique_ptr<QueryHost> queries;
  std::optional<HoldKeeper> hold;  // on the local journal, for its retention
  // Before its first checkpoint a reader started from the journal must keep its start: a
  // restart then begins there again. One started live follows its position (a lap's
  // catch-up needs no more; a restart --from live needs nothing older).
  bool hold_follows_position = false;
  std::uint64_t start_seq = 0;  // where this run began reading the journal (0: live)

  std::uint64_t applied_seq = 0;  // the last seq applied (or restored from a checkpoint)
  std::int64_t applied_publish_ns = 0;
  std::uint64_t applied_total = 0;
  std::uint64_t skipped = 0;
  std::uint64_t checkpoint_seq = 0;
  std::uint64_t kept_checkpoint_seq = 0;  // the oldest on disk, a restart's fallback
  std::int64_t checkpoint_ns = 0;

  // Catch-up progress.
  bool catching_up = false;
  std::int64_t catch_up_start_ns = 0;
  std::uint64_t catch_up_start_count = 0;
  std::int64_t next_progress_ns = 0;
  bool said_writer_gone = false;

  std::string scratch;  // reused for the view's errors

  State(const ReaderOptions& opts, const ReaderLog& logger, ViewPlugin plugin)
      : options(opts), log(logger), view(std::move(plugin)) {}

  std::uint64_t restore_checkpoint();
  void write_checkpoint();
  // What this reader needs of the journal: its oldest kept checkpoint's next seq; before
  // one, its start, or (started live) the next seq it applies; 0: nothing to say yet.
  std::uint64_t needed_seq() const {
    if (checkpoint_seq != 0) return kept_checkpoint_seq + 1;
    if (!hold_follows_position) return start_seq;
    return applied_seq != 0 ? applied_seq + 1 : 0;
  }
  // Tells the journal's retention what it needs; a reader started before its writer learns
  // the journal's folder only once the writer is there.
  void hold_journal(std::int64_t now, bool force);
  // The events it needs were removed by retention: the error says what will work.
  [[noreturn]] void throw_needs_removed(const EventsRemoved& e) const;
  StreamOptions stream_options() const;
  std::unique_ptr<EventFeed> open_stream() const;
  // The instance's history started again: an empty view, rebuilt from seq 1 of it.
  void rebuild(const Error& why);
  // Applies a run of events in one call to the view where it takes runs.
  void apply(std::span<const Event> events);
  void advance(const Event& last, std::size_t count);
  void set_aside(const Event& event, const std::string& error);
  void tell_view_its_domain();
  void tick(std::int64_t now);
};

std::unique_ptr<Reader> Reader::start(const ReaderOptions& options, const ReaderLog& log) {
  validate_instance_name(options.instance);
  auto state = std::make_unique<State>(options, log, load_view(options));
  State& s = *state;
  s.id = options.id.empty() ? pick_id(options.instance, s.view.name()) : options.id;
  s.checkpoint_dir = options.checkpoint_dir.empty()
                         ? default_data_folder() / options.instance / "readers" / s.id
                         : options.checkpoint_dir;
  s.dead_letter =
      options.dead_letter.empty() ? s.checkpoint_dir / "dead-letter.jsonl" : options.dead_letter;

  s.interrupt = std::make_shared<WaitInterrupt>();
  s.stream = s.open_stream();
  s.tell_view_its_domain();
  if (!s.stream->attached()) {
    s.log(LogLevel::info,
          fmt::format("instance {} has no writer running: {}waiting for it (start evring-writer "
                      "--name {})",
                      options.instance,
                      s.stream->journal_directory().empty()
                          ? std::string()
                          : "reading its journal " + s.stream->journal_directory().string() +
                                " meanwhile and ",
                      options.instance));
  }
  std::uint64_t from_seq = 0;
  switch (options.from) {
    case StartFrom::live:
      from_seq = 0;
      break;
    case StartFrom::start:
      from_seq = 1;
      break;
    case StartFrom::checkpoint:
      from_seq = s.restore_checkpoint() + 1;
      break;
  }
  try {
    s.stream->start(from_seq);
  } catch (const EventsRemoved& e) {
    s.throw_needs_removed(e);
  }
  // Once the start is sure to work, so a reader that cannot start leaves its hold as it
  // was. (Retention that takes a segment meanwhile is met by the journal reader: it keeps
  // what it mapped and says so if what follows is gone.)
  s.start_seq = from_seq;
  s.hold_follows_position = from_seq == 0;
  s.hold_journal(monotonic_ns(), true);
  // Live: nothing applied yet, so it holds the head.
  if (from_seq == 0) s.hold->need(s.stream->head_seq() + 1, monotonic_ns(), true);
  if (from_seq > 1 && s.stream->attached() && s.stream->head_seq() + 1 < from_seq) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("the checkpoint of reader {} is at seq {}, past the head of instance "
                            "\"{}\" (seq {}): the instance started over. Remove {} or start "
                            "the reader with --from start",
                            s.id, from_seq - 1, options.instance, s.stream->head_seq(),
                            s.checkpoint_dir.string()));
  }
  const fs::path socket =
      options.socket.empty() ? query_socket_path(options.instance, s.id) : options.socket;
  const bool granted = options.group != kCreatorGroup;
  QueryHostOptions host;
  host.instance = options.instance;
  host.reader_id = s.id;
  host.socket = socket;
  host.mode = granted ? options.mode | S_IRGRP | S_IWGRP : options.mode;
  host.group = options.group;
  host.wait = options.wait;
  s.queries = std::make_unique<QueryHost>(host, s.interrupt);
  s.checkpoint_ns = monotonic_ns();
  s.log(LogLevel::info,
        fmt::format("reader {} (view {}) of instance {}: {}, queries on {}", s.id, s.view.name(),
                    options.instance,
                    from_seq == 0 ? std::string("from the next event published (--from live)")
                                  : "from seq " + std::to_string(from_seq),
                    socket.string()));
  return std::unique_ptr<Reader>(new Reader(std::move(state)));
}

Reader::Reader(std::unique_ptr<State> state) : state_(std::move(state)) {}
Reader::~Reader() = default;
const std::string& Reader::id() const noexcept {
  return state_->id;
}
std::uint64_t Reader::applied_seq() const noexcept {
  return state_->applied_seq;
}

StreamOptions Reader::State::stream_options() const {
  StreamOptions result;
  result.instance = options.instance;
  result.identity = ReaderIdentity{id, std::string(view.name()), options.wait};
  result.journal = options.journal;
  result.wait_for_writer = true;
  result.interrupt = interrupt;
  return result;
}

std::unique_ptr<EventFeed> Reader::State::open_stream() const {
  // Who may read the remote status, as who may query (the socket's mode).
  const bool granted = options.group != kCreatorGroup;
  const mode_t readable = (options.mode & 0600) | (granted ? S_IRGRP : 0);
  return open_feed(options.source, stream_options(), readable, options.group);
}

// Before any event: a view of another domain is refused now, not at its first event. The
// domain is loaded only for a view that asks for it (tail, stats: describe, type names).
void Reader::State::tell_view_its_domain() {
  const std::optional<DomainRecord> domain = stream->domain();
  if (!domain) return;  // no writer yet and no journal: nothing says which
  std::optional<DomainDescriber> describer;
  if (view.wants_domain()) {
    std::string why_not;
    describer = domains::load_describer(*domain, why_not);
    if (!describer) {
      log(LogLevel::warn, fmt::format("view {} shows events of domain {} undecoded: {}",
                                      view.name(), domain->name, why_not));
    }
  }
  view.set_domain(options.instance, domain->name, std::move(describer));
}

void Reader::State::rebuild(const Error& why) {
  log(LogLevel::warn,
      fmt::format("{}: rebuilding the view from seq 1 of the new history", why.what()));
  view.reset();
  applied_seq = checkpoint_seq = 0;
  applied_publish_ns = 0;
  stream.reset();  // frees its registry slot for the new stream
  stream = open_stream();
  // The checkpoints of the old history would outrank those of the new one.
  remove_checkpoints(checkpoint_dir);
  start_seq = 1;
  hold_follows_position = false;
  hold.reset();  // the new stream's journal may be another folder
  hold_journal(monotonic_ns(), true);
  stream->start(1);
  queries->view_rebuilt(view, monotonic_ns());
}

void Reader::State::throw_needs_removed(const EventsRemoved& e) const {
  // What will work: a checkpoint at or after the oldest seq on disk less one, the live end,
  // or a JetStream stream that holds the past.
  const std::uint64_t newest_checkpoint = newest_checkpoint_seq(checkpoint_dir);
  std::string remedies;
  if (newest_checkpoint + 1 >= e.oldest_seq() && newest_checkpoint + 1 != e.wanted_seq() &&
      newest_checkpoint != 0) {
    remedies = fmt::format(
        "restart it with --from checkpoint (its checkpoint at seq {} needs "
        "only what is on disk), ",
        newest_checkpoint);
  }
  throw Error(ErrorCode::invalid_argument,
              fmt::format("reader {} needs events the journal no longer has: {}. To go on, {}"
                          "restart it with --from live (a view of the events from now on), or "
                          "feed it from a JetStream stream that still holds them (--source "
                          "nats://HOST:PORT/STREAM, published by evring bridge)",
                          id, e.what(), remedies));
}

void Reader::State::hold_journal(std::int64_t now, bool force) {
  if (!hold || hold->journal_dir() != stream->journal_directory()) {
    hold.emplace(stream->journal_directory(), reader_holder(id), log);
    force = true;
  }
  hold->need(needed_seq(), now, force);
}

std::uint64_t Reader::State::restore_checkpoint() {
  applied_seq = checkpoint_seq =
      reader::restore_checkpoint(checkpoint_dir, view, stream->history_id(), log);
  kept_checkpoint_seq = checkpoint_seq != 0 ? oldest_checkpoint_seq(checkpoint_dir) : 0;
  return applied_seq;
}

void Reader::State::write_checkpoint() {
  if (applied_seq == 0 || applied_seq == checkpoint_seq) return;
  const std::int64_t start = monotonic_ns();
  reader::write_checkpoint(checkpoint_dir, view, applied_seq, stream->history_id(), options.mode);
  checkpoint_seq = applied_seq;
  kept_checkpoint_seq = oldest_checkpoint_seq(checkpoint_dir);
  checkpoint_ns = monotonic_ns();
  hold_journal(checkpoint_ns, true);
  log(LogLevel::debug, fmt::format("checkpoint at seq {} ({:.1f} ms)", applied_seq,
                                   static_cast<double>(checkpoint_ns - start) / 1e6));
}

void Reader::State::apply(std::span<const Event> events) {
  std::array<evring_event, kReplayBatch> run;
  while (!events.empty()) {
    const std::size_t count = std::min(events.size(), run.size());
    for (std::size_t i = 0; i < count; ++i) {
      const Event& event = events[i];
      run[i] = evring_event{event.seq,        event.type,           0,
                            event.publish_ns, event.payload.data(), event.payload.size()};
    }
    std::size_t applied = 0;
    const bool all = view.on_events(std::span(run.data(), count), applied, scratch);
    if (applied != 0) advance(events[applied - 1], applied);
    if (all) {
      events = events.subspan(count);
      continue;
    }
    const Event& poison = events[applied];
    if (options.on_error == OnError::stop) {
      throw Error(ErrorCode::plugin_failed,
                  fmt::format("view {} failed on event seq {} (type {}): {}. The reader stopped "
                              "before it; the view is as of seq {}. Fix the view, or restart "
                              "with --on-error skip to set such events aside in {}",
                              view.origin(), poison.seq, poison.type, scratch, applied_seq,
                              dead_letter.string()));
    }
    set_aside(poison, scratch);
    advance(poison, 1);
    events = events.subspan(applied + 1);
  }
}

void Reader::State::advance(const Event& last, std::size_t count) {
  applied_seq = last.seq;
  applied_publish_ns = last.publish_ns;
  applied_total += count;
}

void Reader::State::set_aside(const Event& event, const std::string& error) {
  std::error_code ignored;
  fs::create_directories(dead_letter.parent_path(), ignored);
  std::ofstream out(dead_letter, std::ios::app);
  out << fmt::format(R"({{"seq":{},"type":{},"publish_ns":{},"error":{},"payload_hex":"{}"}})",
                     event.seq, event.type, event.publish_ns, json_string(error),
                     hex(event.payload))
      << '\n';
  out.flush();
  if (!out) {
    throw Error(ErrorCode::io, "cannot write the dead-letter file " + dead_letter.string() +
                                   " for event seq " + std::to_string(event.seq) +
                                   ": the reader stops rather than lose it");
  }
  ++skipped;
  log(LogLevel::warn,
      fmt::format("event seq {} set aside in {}: {}", event.seq, dead_letter.string(), error));
}

void Reader::State::tick(std::int64_t now) {
  if (ReaderSlot* slot = stream->slot()) {
    // relaxed: a lone value for stat; orders nothing.
    slot->heartbeat_ns.store(now, std::memory_order_relaxed);
    // A slot claimed anew (the stream followed a restarted writer) starts at 0: show
    // where the view is before the next event comes.
    // relaxed load: our own value; release store: as run() stores it (registry.hpp).
    if (slot->position_seq.load(std::memory_order_relaxed) != applied_seq) {
      slot->position_publish_ns.store(applied_publish_ns, std::memory_order_relaxed);
      slot->position_seq.store(applied_seq, std::memory_order_release);
    }
  }
  const bool by_count =
      options.checkpoint_every != 0 && applied_seq - checkpoint_seq >= options.checkpoint_every;
  const std::int64_t interval_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.checkpoint_interval).count();
  const bool by_time =
      interval_ns > 0 && applied_seq != checkpoint_seq && now - checkpoint_ns >= interval_ns;
  if (by_count || by_time) write_checkpoint();
  hold_journal(now, false);

  const bool behind = stream->catching_up();
  if (behind && !catching_up) {
    catching_up = true;
    catch_up_start_ns = now;
    catch_up_start_count = applied_total;
    next_progress_ns = now + kSecondNs;
  } else if (catching_up && !behind) {
    catching_up = false;
    if (now - catch_up_start_ns >= kSecondNs) {
      const std::uint64_t done = applied_total - catch_up_start_count;
      log(LogLevel::info,
          fmt::format("caught up: {} events from the journal in {:.2f} s ({} events/s)", done,
                      static_cast<double>(now - catch_up_start_ns) / 1e9,
                      rate_text(done, now - catch_up_start_ns)));
    }
  } else if (catching_up && now >= next_progress_ns) {
    const std::uint64_t done = applied_total - catch_up_start_count;
    const std::uint64_t head = stream->head_seq();
    // The head as the ring last said: the writer may be publishing more meanwhile.
    std::string left = head > applied_seq
                           ? time_left_text(head - applied_seq, done, now - catch_up_start_ns)
                           : std::string();
    if (!left.empty()) left.insert(0, ", ");
    log(LogLevel::info,
        fmt::format("catching up from the journal: at seq {} of {} ({} events/s{})", applied_seq,
                    head, rate_text(done, now - catch_up_start_ns), left));
    next_progress_ns = now + kSecondNs;
  }
  // (A stream that never had a writer said so at start.)
  const bool remote = !options.source.empty();  // there, "alive" means the server answers
  if (stream->attached() && !stream->writer_alive() && !said_writer_gone) {
    log(LogLevel::warn,
        remote ? fmt::format("the NATS server at {} is unreachable; answering queries as of seq "
                             "{}, and resuming when it is back",
                             options.source, applied_seq)
               : fmt::format("the writer of instance {} is gone; answering queries as of seq {} "
                             "until a new writer starts",
                             options.instance, applied_seq));
    said_writer_gone = true;
  } else if (stream->writer_alive() && said_writer_gone) {
    if (remote) {
      log(LogLevel::info, fmt::format("the NATS server at {} is back: resuming after seq {}",
                                      options.source, applied_seq));
    }
    said_writer_gone = false;
  }
}

void Reader::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  std::array<Event, kReplayBatch> events;
  std::int64_t next_tick = 0;
  // relaxed: a stop request orders nothing; seeing it one loop later is fine.
  while (!stop.load(std::memory_order_relaxed)) {
    std::size_t applied = 0;
    try {
      while (applied < kEventBatch) {
        const std::size_t count = s.stream->next_batch(events);
        if (count == 0) break;
        s.apply(std::span<const Event>(events.data(), count));
        applied += count;
      }
    } catch (const EventsRemoved& e) {
      s.throw_needs_removed(e);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::history_changed) {
        s.rebuild(e);
        continue;
      }
      // A poison event: keep what was applied before it, so a restart need not redo it.
      if (e.code() == ErrorCode::plugin_failed) s.write_checkpoint();
      throw;
    }
    std::int64_t now = monotonic_ns();  // also when the events above were applied
    if (applied != 0) {
      if (ReaderSlot* slot = s.stream->slot()) {
        // relaxed: lone progress values for stat.
        slot->position_publish_ns.store(s.applied_publish_ns, std::memory_order_relaxed);
        slot->position_applied_ns.store(now, std::memory_order_relaxed);
        // release: pairs with an acquire load of the seq (registry.hpp); the applied time
        // above is then that seq's.
        slot->position_seq.store(s.applied_seq, std::memory_order_release);
      }
    }
    s.queries->serve(s.view, s.applied_seq, now);
    if (now >= next_tick) {
      s.tick(now);
      s.queries->heartbeat(s.view, s.applied_seq, now);
      if (ReaderSlot* slot = s.stream->slot()) s.queries->publish_counts(*slot);
      next_tick = now + kTickNs;
    }
    if (applied == 0) {
      // A spinning reader with a live ring looks again at once: the ring's wait would see
      // a query only every few hundred pauses, which is microseconds.
      if (s.options.wait == WaitKind::spin && s.stream->attached() && s.stream->writer_alive() &&
          !s.stream->catching_up()) {
        cpu_relax();
        continue;
      }
      std::int64_t until = std::min(next_tick, s.queries->next_deadline());
      // Its socket has no thread to cut the wait short (query_host.hpp): look again soon.
      if (s.options.wait == WaitKind::spin) until = std::min(until, now + kSpinnerWaitNs);
      s.stream->wait(s.options.wait, std::max<std::int64_t>(until - now, 0));
    }
  }
  s.write_checkpoint();
  s.log(LogLevel::info,
        fmt::format("stopped at seq {}: {} events applied, {} set aside, lapped {} times, {} "
                    "catch-ups from the journal",
                    s.applied_seq, s.applied_total, s.skipped, s.stream->counters().lapped,
                    s.stream->counters().catch_ups));
}

}  // namespace evring::reader
