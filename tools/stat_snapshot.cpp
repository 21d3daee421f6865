#include "stat_snapshot.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "footprint.hpp"
#include "journal/journal.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/layout.hpp"
#include "sys/process.hpp"

namespace evring::tools::stat {
namespace {

constexpr std::int64_t kStaleNs = 3'000'000'000;  // a heartbeat older than this: stalled

std::string fixed_string(const char* text, std::size_t capacity) {
  return std::string(text, strnlen(text, capacity));
}

// The ring's config and cursor, from a read-only mapping (no reader slot), if the ring
// there belongs to the same writer start as the registry.
std::optional<RingSample> peek_ring(const std::string& instance, std::uint64_t incarnation) {
  const std::optional<SharedSegment> segment =
      SharedSegment::open(segment_name(instance, "ring"), Access::read_only);
  if (!segment || segment->size() < sizeof(RingLayout)) return std::nullopt;
  const auto* layout = reinterpret_cast<const RingLayout*>(segment->data());
  // acquire: pairs with the writer's release store of `ready`; its config is complete.
  const std::uint32_t state = layout->preamble.state.load(std::memory_order_acquire);
  if (layout->preamble.magic != kSegmentMagic || layout->preamble.kind != SegmentKind::ring ||
      layout->preamble.layout_version != kRingLayoutVersion ||
      state == static_cast<std::uint32_t>(SegmentState::initializing) ||
      layout->preamble.incarnation != incarnation) {
    return std::nullopt;
  }
  RingSample ring;
  ring.capacity = layout->config.capacity;
  ring.first_seq = layout->config.first_seq;
  // relaxed: values to display; no record is read through them.
  ring.tail = layout->cursor.tail.load(std::memory_order_relaxed);
  ring.head_seq = layout->cursor.head_seq.load(std::memory_order_relaxed);
  return ring;
}

Health health_of(bool process_alive, std::int64_t heartbeat_ns, std::int64_t now) {
  if (!process_alive) return Health::dead;
  return now - heartbeat_ns > kStaleNs ? Health::stalled : Health::alive;
}

std::string durability_name(std::uint32_t value) {
  if (value > static_cast<std::uint32_t>(Durability::sync)) return "unknown";
  return std::string(to_string(static_cast<Durability>(value)));
}

// Events/s the reader applied between the samples: the same process in the same slot in
// both, its position not gone back (a restart from an older checkpoint).
// `earlier`: the first sample's rows of the same kind (local or remote) as `now`.
std::optional<double> applied_rate(const Sample& first, const Sample& last, const ReaderInfo& now,
                                   const std::vector<ReaderInfo>& earlier) {
  const std::int64_t interval_ns = last.taken_ns - first.taken_ns;
  if (&first == &last || interval_ns <= 0) return std::nullopt;
  for (const ReaderInfo& before : earlier) {
    if (before.slot != now.slot || before.pid != now.pid || before.id != now.id) continue;
    if (before.position_seq > now.position_seq) return std::nullopt;
    return static_cast<double>(now.position_seq - before.position_seq) * 1e9 /
           static_cast<double>(interval_ns);
  }
  return std::nullopt;
}

// The live row that lags most, if any.
ReaderRow* slowest_of(std::vector<ReaderRow>& rows) {
  ReaderRow* slowest = nullptr;
  for (ReaderRow& row : rows) {
    if (row.health == Health::dead) continue;
    if (slowest == nullptr || row.lag_events > slowest->lag_events) slowest = &row;
  }
  return slowest;
}

// The writer's fields of `sample`, from the instance's registry and ring.
void sample_writer(const Registry& registry, const std::string& instance, Sample& sample) {
  const RegistryLayout& layout = registry.layout();
  sample.pid = layout.preamble.owner_pid;
  sample.process_alive =
      ProcessIdentity{layout.preamble.owner_pid, layout.preamble.owner_start_ticks}.alive();
  // acquire: pairs with the writer's release stores of the state (ready, closed).
  sample.state = static_cast<SegmentState>(layout.preamble.state.load(std::memory_order_acquire));
  sample.incarnation = layout.preamble.incarnation;
  sample.domain = fixed_string(layout.info.domain, sizeof layout.info.domain);
  sample.journal = fixed_string(layout.info.journal, sizeof layout.info.journal);
  sample.durability = layout.info.durability;
  // relaxed: lone values for display, refreshed together at each writer heartbeat.
  sample.heartbeat_ns = layout.writer.heartbeat_ns.load(std::memory_order_relaxed);
  sample.events_total = layout.writer.events_total.load(std::memory_order_relaxed);
  sample.bytes_total = layout.writer.bytes_total.load(std::memory_order_relaxed);
  sample.head_seq = layout.writer.head_seq.load(std::memory_order_relaxed);
  const WriterStatus& status = layout.writer;
  sample.counts = WriterCounts{status.commands_accepted.load(std::memory_order_relaxed),
                               status.commands_rejected.load(std::memory_order_relaxed),
                               status.commands_duplicate.load(std::memory_order_relaxed),
                               status.commands_failed.load(std::memory_order_relaxed),
                               status.journal_bytes_written.load(std::memory_order_relaxed),
                               status.journal_syncs.load(std::memory_order_relaxed),
                               status.journal_sync_ns.load(std::memory_order_relaxed)};
  sample.ring = peek_ring(instance, sample.incarnation);
  if (sample.ring) sample.head_seq = std::max(sample.head_seq, sample.ring->head_seq);
  sample.readers = registry.readers();
}

std::int64_t wall_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Sample take_sample(const std::string& instance) {
  validate_instance_name(instance);
  Sample sample;
  try {
    sample_writer(Registry::open(instance, Access::read_only), instance, sample);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::no_instance) throw;
    sample.local_writer = false;
    sample.remote_readers = remote::remote_readers(instance);
    if (sample.remote_readers.empty()) throw;  // neither: the registry's own message
  }
  if (sample.local_writer) sample.remote_readers = remote::remote_readers(instance);
  sample.taken_ns = monotonic_ns();
  sample.taken_wall = std::time(nullptr);
  sample.taken_wall_ns = wall_ns();
  return sample;
}

std::string_view to_string(Health health) {
  switch (health) {
    case Health::alive:
      return "alive";
    case Health::stalled:
      return "stalled";
    case Health::dead:
      return "dead";
    case Health::closed:
      return "closed";
  }
  return "unknown";
}

Snapshot make_snapshot(const std::string& instance, const Sample& first, const Sample& last) {
  const std::int64_t now = last.taken_ns;
  Snapshot s;
  s.instance = instance;
  s.local_writer = last.local_writer;
  s.taken_wall = last.taken_wall;
  s.pid = last.pid;
  s.health = last.state == SegmentState::closed
                 ? Health::closed
                 : health_of(last.process_alive, last.heartbeat_ns, now);
  s.incarnation = last.incarnation;
  s.head_seq = last.head_seq;
  s.events_total = last.events_total;
  if (last.ring && last.ring->head_seq >= last.ring->first_seq) {
    // The ring's cursor is current, the heartbeat's total up to ~100 ms old.
    s.events_total = std::max(s.events_total, last.ring->head_seq - last.ring->first_seq + 1);
  }
  s.bytes_total = last.bytes_total;
  s.counts = last.counts;
  s.heartbeat_age_ns = std::max<std::int64_t>(now - last.heartbeat_ns, 0);
  s.domain = last.domain;
  s.durability = durability_name(last.durability);
  // The totals move at each heartbeat: measured over the heartbeats between the samples.
  const std::int64_t beats_ns = last.heartbeat_ns - first.heartbeat_ns;
  if (&first != &last) s.interval_ns = last.taken_ns - first.taken_ns;
  if (first.incarnation == last.incarnation && beats_ns > 0 && s.health == Health::alive &&
      last.events_total >= first.events_total && last.bytes_total >= first.bytes_total) {
    s.events_per_s = static_cast<double>(last.events_total - first.events_total) * 1e9 /
                     static_cast<double>(beats_ns);
    s.bytes_per_s = static_cast<double>(last.bytes_total - first.bytes_total) * 1e9 /
                    static_cast<double>(beats_ns);
  }
  if (last.durability != static_cast<std::uint32_t>(Durability::none) && !last.journal.empty()) {
    s.journal = last.journal;
    const JournalFootprint footprint = journal_footprint(last.journal);
    s.journal_bytes = footprint.bytes;
    s.journal_segment_count = footprint.segments;
    try {
      s.journal_extent = journal_extent(last.journal);
    } catch (const Error&) {
      // An archive or holds folder this user may not read: stat and /metrics go on without.
    }
  }

  for (const ReaderInfo& info : last.readers) {
    ReaderRow row;
    row.info = info;
    row.health = health_of(info.alive, info.heartbeat_ns, now);
    row.lag_events = s.head_seq > info.position_seq ? s.head_seq - info.position_seq : 0;
    if (row.lag_events == 0) {
      row.lag_ns = 0;
    } else if (info.position_publish_ns != 0) {
      row.lag_ns = std::max<std::int64_t>(now - info.position_publish_ns, 0);
    }
    row.events_per_s = applied_rate(first, last, info, first.readers);
    if (info.alive) row.queries = query_shm::read_query_counts(s.instance, info.id);
    s.readers.push_back(std::move(row));
  }
  // The slowest reader of the ring, before the remote ones join the rows.
  const ReaderRow* slowest_local = slowest_of(s.readers);
  const bool some_local = slowest_local != nullptr;
  const std::uint64_t slowest_local_lag = some_local ? slowest_local->lag_events : 0;
  std::vector<ReaderInfo> remote_before;
  for (const remote::RemoteReaderInfo& earlier : first.remote_readers) {
    remote_before.push_back(earlier.reader);
  }
  for (const remote::RemoteReaderInfo& remote : last.remote_readers) {
    ReaderRow row;
    row.info = remote.reader;
    row.remote = RemoteSide{remote.source, remote.connected};
    row.health = health_of(remote.reader.alive, remote.reader.heartbeat_ns, now);
    const std::uint64_t position = remote.reader.position_seq;
    row.lag_events = remote.stream_last_seq > position ? remote.stream_last_seq - position : 0;
    if (row.lag_events == 0) {
      row.lag_ns = 0;
    } else if (remote.delivered_server_ns != 0) {
      // The server's time of the last event delivered, against this machine's wall clock.
      row.lag_ns = std::max<std::int64_t>(last.taken_wall_ns - remote.delivered_server_ns, 0);
    }
    row.events_per_s = applied_rate(first, last, remote.reader, remote_before);
    s.readers.push_back(std::move(row));
  }
  if (ReaderRow* slowest = slowest_of(s.readers)) slowest->slowest = true;

  if (last.ring) {
    const RingSample& ring = *last.ring;
    RingView view;
    view.capacity = ring.capacity;
    view.written = ring.tail;
    const std::uint64_t records =
        ring.head_seq >= ring.first_seq ? ring.head_seq - ring.first_seq + 1 : 0;
    if (some_local && records != 0 && ring.capacity != 0) {
      const double average = static_cast<double>(ring.tail) / static_cast<double>(records);
      const double unread = std::min(static_cast<double>(slowest_local_lag) * average,
                                     static_cast<double>(ring.capacity));
      view.unread_bytes = static_cast<std::uint64_t>(unread);
      view.fill = unread / static_cast<double>(ring.capacity);
    }
    s.ring = view;
  }
  return s;
}

}  // namespace evring::tools::stat
