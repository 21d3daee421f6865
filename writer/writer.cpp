#include "writer.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <sched.h>

#include <fmt/format.h>

#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "writer_state.hpp"

namespace evring::writer {
namespace {

constexpr std::int64_t kMaintainIntervalNs = 100'000'000;  // heartbeats, dead clients
constexpr std::int64_t kSleepSliceNs = 100'000'000;        // longest idle sleep

}  // namespace

Writer::Writer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Writer::~Writer() = default;

std::uint64_t Writer::next_seq() const noexcept {
  return state_->next_seq;
}
const WriterCounters& Writer::counters() const noexcept {
  return state_->counters;
}

void Writer::State::reject(RejectCode code, std::string_view why) {
  reply.status = ReplyStatus::rejected;
  reply.code = code;
  reply.seq = head();
  reply.reason.assign(why);
  ++counters.rejected;
  if (code == RejectCode::failed || code == RejectCode::unavailable) ++counters.failed;
}

void Writer::State::publish_counters() {
  WriterStatus& status = ring->registry().layout().writer;
  // relaxed, all: lone counters for stat (registry.hpp), stored at the heartbeat only.
  status.commands_accepted.store(counters.accepted, std::memory_order_relaxed);
  status.commands_rejected.store(counters.rejected - counters.failed, std::memory_order_relaxed);
  status.commands_duplicate.store(counters.duplicates, std::memory_order_relaxed);
  status.commands_failed.store(counters.failed, std::memory_order_relaxed);
  if (!journal) return;
  const JournalActivity& activity = journal->activity();
  status.journal_bytes_written.store(activity.bytes_written, std::memory_order_relaxed);
  status.journal_syncs.store(activity.syncs, std::memory_order_relaxed);
  status.journal_sync_ns.store(activity.sync_ns, std::memory_order_relaxed);
}

void Writer::State::reject_unjournaled(const Error& e) {
  // Nothing was journaled, published or applied: the client may send it again once the
  // disk has room, and the sequence continues without a gap.
  reject(RejectCode::unavailable,
         std::string("journal write failed, the command was not applied: ") + e.what());
  log(LogLevel::warn, reply.reason);
}

void Writer::State::decide(CommandFormat format, std::span<const std::byte> command_id,
                           std::span<const std::byte> payload) {
  ++counters.commands;
  reply.reason.clear();
  reply.code = RejectCode::none;
  const std::string_view id = as_text(command_id);
  if (!id.empty()) {
    if (const std::optional<std::uint64_t> original = window.find(id)) {
      reply.status = ReplyStatus::duplicate;
      reply.seq = *original;
      ++counters.duplicates;
      return;
    }
  }
  std::span<const std::byte> bytes = payload;
  if (format == CommandFormat::text) {
    std::vector<std::string_view> words;
    try {
      words = decode_text_command(payload);
    } catch (const MalformedInput& e) {
      return reject(RejectCode::malformed, e.what());
    }
    if (!domain.parse(words, parsed, reason)) return reject(RejectCode::malformed, reason);
    bytes = parsed;
  }
  switch (domain.handle(bytes, events, reason)) {
    case Verdict::accepted:
      break;
    case Verdict::rejected:
      return reject(RejectCode::rule, reason);
    case Verdict::malformed:
      return reject(RejectCode::malformed, reason);
    case Verdict::failed:
      return reject(RejectCode::failed, reason);
  }
  if (journal) {
    // Room for all of the command's events first: a full disk then refuses the whole
    // command before anything is written, rather than splitting it.
    std::size_t journal_bytes = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const std::size_t meta = i + 1 == events.size() ? command_id.size() : 0;
      journal_bytes += JournalWriter::record_bytes(meta, events[i].payload.size());
    }
    try {
      journal->make_room(journal_bytes);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::resource) throw;
      return reject_unjournaled(e);
    }
  }
  const std::int64_t now = ring->now_ns();
  const bool sync = options.durability == Durability::sync;
  outgoing.clear();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventBatch::Event event = events[i];
    const std::uint64_t seq = next_seq;
    if (journal) {
      const bool last = i + 1 == events.size();
      try {
        journal->append(event.type, event.payload, now,
                        last ? command_id : std::span<const std::byte>{});
      } catch (const Error& e) {
        // Before the first event nothing is written: refuse the command and stay up. A
        // failure between events of one command (more events than a segment holds) would
        // split it: stop, and let recovery decide from the journal.
        if (i != 0 || e.code() != ErrorCode::resource) throw;
        return reject_unjournaled(e);
      }
    }
    if (sync) {
      pending_events.push_back(
          PendingEvent{seq, event.type, pending_bytes.size(), event.payload.size()});
      pending_bytes.insert(pending_bytes.end(), event.payload.begin(), event.payload.end());
      pending_publish_ns = now;
    } else {
      outgoing.push_back(OutgoingRecord{event.type, event.payload});
    }
    domain.apply(seq, event.type, event.payload);
    ++next_seq;
  }
  if (!outgoing.empty()) ring->publish_batch(outgoing, now);
  counters.events += events.size();
  ++counters.accepted;
  if (!id.empty()) window.remember(id, head());
  reply.status = ReplyStatus::accepted;
  reply.seq = head();
}

void Writer::State::commit_group() {
  if (pending_replies.empty() && pending_events.empty()) return;
  journal->sync();
  ++counters.syncs;
  outgoing.clear();
  for (const PendingEvent& event : pending_events) {
    outgoing.push_back(
        OutgoingRecord{event.type, std::span(pending_bytes.data() + event.offset, event.size)});
  }
  ring->publish_batch(outgoing, pending_publish_ns);
  for (const PendingReply& pending : pending_replies)
    pending.source->reply(pending.to, pending.reply);
  pending_events.clear();
  pending_bytes.clear();
  pending_replies.clear();
}

template <class Source>
void Writer::State::take_from(Source& source, std::size_t& taken, std::size_t up_to) {
  const bool sync = options.durability == Durability::sync;
  SourcedCommand command;
  while (taken < up_to && source.next(command)) {
    decide(command.format, command.id, command.payload);
    source.done(command);
    // sync: once one reply waits for the group's fdatasync, later ones wait too, so a
    // client gets its replies in the order it sent the commands.
    if (sync && (reply.status == ReplyStatus::accepted || !pending_replies.empty())) {
      pending_replies.push_back(PendingReply{&source, command.from, reply});
    } else {
      source.reply(command.from, reply);
    }
    ++taken;
  }
}

void Writer::State::take_from_source(std::size_t i, std::size_t& taken, std::size_t up_to) {
  if (i == 0) return take_from(*shared_memory, taken, up_to);  // sources[0]
  take_from(*sources[i], taken, up_to);
}

void Writer::State::idle(std::int64_t now, std::int64_t idle_since, std::int64_t next_maintain,
                         const std::function<bool()>& socket_pending) {
  if (idle_pause(options.idle_wait, now - idle_since >= options.idle_spin_ns)) {
    intake->sleep(std::min(kSleepSliceNs, next_maintain - now), socket_pending);
  }
}

void Writer::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  const bool sync = s.options.durability == Durability::sync;
  const std::size_t group_max = sync ? s.options.group_commit_max : 64;
  s.log(LogLevel::info,
        fmt::format("ready: instance {}, domain {}, durability {}, next seq {}", s.options.instance,
                    s.domain.name(), to_string(s.options.durability), s.next_seq));
  std::int64_t next_maintain = monotonic_ns() + kMaintainIntervalNs;
  std::int64_t idle_since = 0;
  // Each source takes up to its share of a group first, then those that filled it take the
  // rest in turn: none can starve another. An idle source costs one look per loop.
  const std::size_t share = std::max<std::size_t>(1, group_max / s.sources.size());
  // The sources other than shared memory, asked in the sleeping apply thread's last look.
  std::function<bool()> others_pending;
  if (s.sources.size() > 1) {
    others_pending = [&s] {
      return std::any_of(s.sources.begin() + 1, s.sources.end(),
                         [](const CommandSource* source) { return source->pending(); });
    };
  }
  // relaxed: a stop request orders nothing; seeing it one loop later is fine.
  while (!stop.load(std::memory_order_relaxed)) {
    std::size_t taken = 0;
    std::uint32_t filled = 0;  // bit i: source i took its whole share
    for (std::size_t i = 0; i < s.sources.size(); ++i) {
      const std::size_t up_to = std::min(group_max, taken + share);
      s.take_from_source(i, taken, up_to);
      if (taken == up_to) filled |= 1u << i;
    }
    for (std::size_t i = 0; i < s.sources.size() && taken < group_max; ++i) {
      if ((filled & (1u << i)) != 0) s.take_from_source(i, taken, group_max);
    }
    if (sync) s.commit_group();
    const std::int64_t now = s.ring->now_ns();  // the TSC: a clock_gettime per loop costs ~20 ns
    if (now >= next_maintain) {
      s.ring->heartbeat();
      s.publish_counters();
      s.intake->maintain();
      next_maintain = now + kMaintainIntervalNs;
      s.watch_segments();
      if (s.options.snapshot_every != 0 &&
          s.head() - s.last_snapshot_seq >= s.options.snapshot_every) {
        s.take_snapshot();
      }
    }
    if (taken != 0) {
      idle_since = 0;
      continue;
    }
    if (idle_since == 0) {
      idle_since = now;
      s.ring->flush();  // out of work: stat and late readers see the newest record
    }
    s.idle(now, idle_since, next_maintain, others_pending);
  }
  // What a source read but we did not take is refused, so its clients know it was not
  // applied; then their replies are flushed before the snapshot's wait.
  CommandReply refused;
  refused.status = ReplyStatus::rejected;
  refused.code = RejectCode::unavailable;
  refused.seq = s.head();
  refused.reason = "the writer is shutting down: resubmit when it is back";
  for (CommandSource* source : s.sources) source->finish(refused);
  if (s.journal) {
    s.journal->sync();
    s.take_snapshot();
  }
  s.log(LogLevel::info,
        fmt::format("stopped: {} commands ({} accepted, {} rejected, {} duplicates), {} events, "
                    "{} syncs, head seq {}",
                    s.counters.commands, s.counters.accepted, s.counters.rejected,
                    s.counters.duplicates, s.counters.events, s.counters.syncs, s.head()));
}

}  // namespace evring::writer
