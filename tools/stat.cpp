// evring stat: a live view of an instance, like top. Everything comes from the instance's
// registry segment (writer status and info, one row per reader) and a read-only look at
// its ring's config and cursor; stat claims no reader slot and never writes to either.
//   one shot    samples twice 200 ms apart (for the rates) and prints one snapshot
//   --watch     refreshes in place every --interval until Ctrl-C, fitted to the terminal's
//               width (TIOCGWINSZ, else $COLUMNS, else 80)
//   --json      one JSON object per snapshot (per line with --watch)
//   --prometheus  the Prometheus text exposition format, from one sample (no wait)
// No such instance, bad flags: a message on stderr, exit 2. A writer that died with its
// segments still there is shown dead, not refused.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"
#include "footprint.hpp"
#include "harness/interrupt.hpp"
#include "journal/journal.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/layout.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "stat.hpp"
#include "sys/process.hpp"

namespace evring::tools {
namespace {

constexpr const char* kStatFooter = R"(Examples:
  evring stat --name orders                  # one snapshot (rates over 200 ms)
  evring stat --name orders --watch          # refresh every second until Ctrl-C
  evring stat --name orders --watch --interval 250ms
  evring stat --name orders --json | jq '.readers[] | {id, lag_events}'
  evring stat --name orders --prometheus > /var/lib/node_exporter/evring_orders.prom
What it shows:
  writer   alive (process running, heartbeat under 3 s old), stalled (process there,
           heartbeat older), dead (process gone, segments left behind) or closed;
           incarnation (bumped at each writer start), head seq, events/s and bytes/s
           (payload bytes) between two samples, the journal's size on disk (its segment
           files: blocks reserved as they grow) or none, durability and domain.
  ring     its size; how many times the writer has gone round it; and its fill: the part
           of the ring holding events the slowest live reader has not read yet, estimated
           from that reader's lag in events times the ring's average record size. At 100%
           the slowest reader is a whole ring behind and catches up from the journal.
  readers  one row each: state (alive, stalled, dead, as for the writer), position (the
           last seq its view applied), lag in events (head - position) and in time (now -
           the publish time of the event at its position; 0 when caught up), lapped and
           replay (catch-ups from the journal) counts, wait strategy, and events/s applied
           between two samples. * marks the slowest live reader, when some reader lags.
--watch fits the terminal's width ($COLUMNS when there is no terminal, else 80): long ids
are cut with "...", and on a narrow one the columns WAIT, REPLAYS, LAPPED, PID and LAG TIME
go first (--json has them all).
--prometheus prints counters and gauges (evring_writer_head_seq{instance="N"},
evring_reader_lag_events{instance="N",reader="ID",view="V"}, ...) from one sample: let
Prometheus compute the rates from the *_total counters.
Exit status: 0, or 2 when there is no such instance or a flag is wrong.
)";

constexpr std::int64_t kStaleNs = 3'000'000'000;  // a heartbeat older than this: stalled
constexpr std::int64_t kOneShotSampleNs = 200'000'000;
constexpr std::int64_t kMinIntervalNs = 50'000'000;

struct StatFlags {
  std::string instance = "default";
  bool watch = false;
  double interval_ms = 1000;
  bool json = false;
  bool prometheus = false;
};

// ---- sampling: raw values from shared memory ---------------------------------------------

struct RingSample {
  std::uint64_t capacity = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t tail = 0;
  std::uint64_t head_seq = 0;
};

struct Sample {
  std::int64_t taken_ns = 0;
  std::time_t taken_wall = 0;  // the same moment on the wall clock, for display
  std::uint64_t pid = 0;
  bool process_alive = false;
  SegmentState state = SegmentState::ready;
  std::uint64_t incarnation = 0;
  std::string domain;
  std::string journal;
  std::uint32_t durability = 0;
  std::int64_t heartbeat_ns = 0;
  // As of the writer's last heartbeat (~100 ms), which is also what the rates are
  // measured against.
  std::uint64_t events_total = 0;
  std::uint64_t bytes_total = 0;
  std::uint64_t head_seq = 0;  // the ring's, which is current; else the registry's
  std::optional<RingSample> ring;
  std::vector<ReaderInfo> readers;
};

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

// Throws Error(no_instance) when the instance has no registry.
Sample take_sample(const std::string& instance) {
  validate_instance_name(instance);
  const Registry registry = Registry::open(instance, Access::read_only);
  const RegistryLayout& layout = registry.layout();
  Sample sample;
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
  sample.ring = peek_ring(instance, sample.incarnation);
  if (sample.ring) sample.head_seq = std::max(sample.head_seq, sample.ring->head_seq);
  sample.readers = registry.readers();
  sample.taken_ns = monotonic_ns();
  sample.taken_wall = std::time(nullptr);
  return sample;
}

// ---- the snapshot: what the samples mean ---------------------------------------------------

enum class Health { alive, stalled, dead, closed };

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

Health health_of(bool process_alive, std::int64_t heartbeat_ns, std::int64_t now) {
  if (!process_alive) return Health::dead;
  return now - heartbeat_ns > kStaleNs ? Health::stalled : Health::alive;
}

struct ReaderRow {
  ReaderInfo info;
  Health health = Health::dead;
  std::uint64_t lag_events = 0;
  std::optional<std::int64_t> lag_ns;  // unknown while the reader has applied nothing
  std::optional<double> events_per_s;  // applied between the two samples, if in both
  bool slowest = false;
};

struct RingView {
  std::uint64_t capacity = 0;
  std::uint64_t written = 0;       // bytes published since the ring was created
  std::uint64_t unread_bytes = 0;  // estimated, by the slowest live reader
  double fill = 0;                 // unread_bytes / capacity
};

struct Snapshot {
  std::string instance;
  std::time_t taken_wall = 0;    // of the last sample
  std::int64_t interval_ns = 0;  // between the two samples; 0: rates not measured
  std::uint64_t pid = 0;
  Health health = Health::dead;
  std::uint64_t incarnation = 0;
  std::uint64_t head_seq = 0;
  std::uint64_t events_total = 0;
  std::uint64_t bytes_total = 0;
  double events_per_s = 0;
  double bytes_per_s = 0;
  std::int64_t heartbeat_age_ns = 0;
  std::string domain;
  std::string durability;
  std::string journal;                         // empty: none
  std::optional<std::uint64_t> journal_bytes;  // on disk
  std::size_t journal_segment_count = 0;
  std::optional<RingView> ring;
  std::vector<ReaderRow> readers;
};

std::string durability_name(std::uint32_t value) {
  if (value > static_cast<std::uint32_t>(Durability::sync)) return "unknown";
  return std::string(to_string(static_cast<Durability>(value)));
}

// Events/s the reader applied between the samples: the same process in the same slot in
// both, its position not gone back (a restart from an older checkpoint).
std::optional<double> applied_rate(const Sample& first, const Sample& last, const ReaderInfo& now) {
  const std::int64_t interval_ns = last.taken_ns - first.taken_ns;
  if (&first == &last || interval_ns <= 0) return std::nullopt;
  for (const ReaderInfo& before : first.readers) {
    if (before.slot != now.slot || before.pid != now.pid || before.id != now.id) continue;
    if (before.position_seq > now.position_seq) return std::nullopt;
    return static_cast<double>(now.position_seq - before.position_seq) * 1e9 /
           static_cast<double>(interval_ns);
  }
  return std::nullopt;
}

Snapshot make_snapshot(const std::string& instance, const Sample& first, const Sample& last) {
  const std::int64_t now = last.taken_ns;
  Snapshot s;
  s.instance = instance;
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
    row.events_per_s = applied_rate(first, last, info);
    s.readers.push_back(std::move(row));
  }
  ReaderRow* slowest = nullptr;
  for (ReaderRow& row : s.readers) {
    if (row.health == Health::dead) continue;
    if (slowest == nullptr || row.lag_events > slowest->lag_events) slowest = &row;
  }
  if (slowest != nullptr) slowest->slowest = true;

  if (last.ring) {
    const RingSample& ring = *last.ring;
    RingView view;
    view.capacity = ring.capacity;
    view.written = ring.tail;
    const std::uint64_t records =
        ring.head_seq >= ring.first_seq ? ring.head_seq - ring.first_seq + 1 : 0;
    if (slowest != nullptr && records != 0 && ring.capacity != 0) {
      const double average = static_cast<double>(ring.tail) / static_cast<double>(records);
      const double unread = std::min(static_cast<double>(slowest->lag_events) * average,
                                     static_cast<double>(ring.capacity));
      view.unread_bytes = static_cast<std::uint64_t>(unread);
      view.fill = unread / static_cast<double>(ring.capacity);
    }
    s.ring = view;
  }
  return s;
}

// ---- fitting text to a width -------------------------------------------------------------

constexpr std::size_t kNoWidthLimit = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kNarrowestWidth = 40;  // below this, lines are cut, not laid out
constexpr std::string_view kEllipsis = "...";
constexpr std::size_t kLabelWidth = 9;  // "writer   ": the label column of the header lines

// The terminal's width in columns: TIOCGWINSZ on stdout, else $COLUMNS, else 80.
std::size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const unsigned long value = std::strtoul(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 10'000) return value;
  }
  return 80;
}

// `text` cut to `width` with an ellipsis at its end (or, for a path, its start, which
// keeps the file's own name).
std::string cut(std::string_view text, std::size_t width, bool keep_end = false) {
  if (text.size() <= width) return std::string(text);
  if (width <= kEllipsis.size()) return std::string(text.substr(0, width));
  const std::size_t kept = width - kEllipsis.size();
  return keep_end ? std::string(kEllipsis) + std::string(text.substr(text.size() - kept))
                  : std::string(text.substr(0, kept)) + std::string(kEllipsis);
}

// A header line: `label` then `fields` three spaces apart, flowed onto indented lines of at
// most `width` columns; a field wider than a line is cut.
std::string flow(std::string_view label, const std::vector<std::string>& fields,
                 std::size_t width) {
  const std::string indent(kLabelWidth, ' ');
  // An empty label: the first line starts at the left edge.
  std::string line = label.empty()
                         ? std::string()
                         : std::string(label) +
                               std::string(kLabelWidth - std::min(kLabelWidth, label.size()), ' ');
  bool line_empty = true;
  std::string out;
  for (const std::string& field : fields) {
    const std::size_t gap = line_empty ? 0 : 3;
    if (!line_empty && line.size() + gap + field.size() > width) {
      out += line + "\n";
      line = indent;
      line_empty = true;
    }
    if (!line_empty) line += "   ";
    const std::size_t room = width > line.size() ? width - line.size() : 0;
    line += cut(field, std::max(room, kEllipsis.size() + 1));
    line_empty = false;
  }
  return out + cut(line, width) + "\n";
}

// A table's columns: each cell padded to its column's widest, two spaces between, so that
// each line fits `width`. Too wide, the `shrinkable` columns are cut down to `comfortable`,
// then columns are dropped in the order of `drop_order`, then the shrinkable ones are cut
// down to `narrowest`.
struct TableLayout {
  std::vector<std::size_t> shrinkable;
  std::vector<std::size_t> drop_order;
  std::size_t comfortable = 16;
  std::size_t narrowest = 8;
};

std::string table(const std::vector<std::vector<std::string>>& rows, std::size_t width,
                  const TableLayout& layout = {}) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::vector<bool> shown(widths.size(), true);
  const auto total = [&] {
    std::size_t sum = 0;
    std::size_t columns = 0;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (!shown[i]) continue;
      sum += widths[i];
      ++columns;
    }
    return columns == 0 ? 0 : sum + 2 * (columns - 1);
  };
  const auto shrink_to = [&](std::size_t floor) {
    for (const std::size_t column : layout.shrinkable) {
      if (total() <= width) return;
      const std::size_t spare = widths[column] > floor ? widths[column] - floor : 0;
      widths[column] -= std::min(total() - width, spare);
    }
  };
  shrink_to(layout.comfortable);
  for (const std::size_t column : layout.drop_order) {
    if (total() <= width) break;
    shown[column] = false;
  }
  shrink_to(layout.narrowest);
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (!shown[i]) continue;
      if (!line.empty()) line += "  ";
      const std::string cell = cut(row[i], widths[i]);
      line += cell + std::string(widths[i] - cell.size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += cut(line, width) + "\n";
  }
  return out;
}

// ---- rendering -------------------------------------------------------------------------------

std::string duration_text(std::int64_t ns) {
  if (ns < 1'000'000) return fmt::format("{} us", ns / 1000);
  if (ns < 1'000'000'000) return fmt::format("{:.1f} ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.1f} s", static_cast<double>(ns) / 1e9);
}

// The reader table's columns, in order; the layout below names them.
enum ReaderColumn : std::size_t {
  kMarkColumn,
  kIdColumn,
  kViewColumn,
  kPidColumn,
  kStateColumn,
  kPositionColumn,
  kLagColumn,
  kLagTimeColumn,
  kRateColumn,
  kLappedColumn,
  kReplaysColumn,
  kWaitColumn,
};

std::string reader_table(const Snapshot& s, std::size_t width) {
  // Some reader lags: the slowest is the one to look at. All caught up: no one is.
  bool some_lag = false;
  for (const ReaderRow& row : s.readers) some_lag = some_lag || row.lag_events > 0;
  std::vector<std::vector<std::string>> rows{{"", "ID", "VIEW", "PID", "STATE", "POSITION", "LAG",
                                              "LAG TIME", "EVENTS/S", "LAPPED", "REPLAYS", "WAIT"}};
  for (const ReaderRow& row : s.readers) {
    rows.push_back({row.slowest && some_lag ? "*" : " ", row.info.id, row.info.view,
                    std::to_string(row.info.pid), std::string(to_string(row.health)),
                    std::to_string(row.info.position_seq), std::to_string(row.lag_events),
                    row.lag_ns ? duration_text(*row.lag_ns) : std::string("-"),
                    row.events_per_s ? fmt::format("{:.0f}", *row.events_per_s) : std::string("-"),
                    std::to_string(row.info.lapped_count), std::to_string(row.info.replay_count),
                    std::string(to_string(row.info.wait))});
  }
  const TableLayout layout{
      {kIdColumn, kViewColumn},
      {kWaitColumn, kReplaysColumn, kLappedColumn, kPidColumn, kLagTimeColumn}};
  return table(rows, width, layout);
}

// The snapshot as text, each line at most `width` columns (kNoWidthLimit: as long as it
// takes).
std::string render_text(const Snapshot& s, std::size_t width = kNoWidthLimit) {
  std::string out = flow(
      "instance",
      {s.instance, "domain " + (s.domain.empty() ? "?" : s.domain), "durability " + s.durability},
      width);
  std::vector<std::string> writer{"pid " + std::to_string(s.pid), std::string(to_string(s.health)),
                                  fmt::format("incarnation {}", s.incarnation),
                                  fmt::format("head seq {}", s.head_seq)};
  if (s.interval_ns == 0) {
    writer.push_back("rates n/a");
  } else {
    writer.push_back(fmt::format("{:.0f} events/s", s.events_per_s));
    writer.push_back(bytes_text(s.bytes_per_s) + "/s");
  }
  writer.push_back("heartbeat " + duration_text(s.heartbeat_age_ns) + " ago");
  out += flow("writer", writer, width);
  if (s.journal_bytes) {
    out +=
        flow("journal",
             {fmt::format("{} in {} segment(s)", bytes_text(static_cast<double>(*s.journal_bytes)),
                          s.journal_segment_count)},
             width);
    // The path on its own line: the part of the header most likely to be long.
    const std::size_t room = width > kLabelWidth ? width - kLabelWidth : kEllipsis.size() + 1;
    out += std::string(kLabelWidth, ' ') + cut(s.journal, room, true) + "\n";
  } else {
    out += flow("journal", {"none"}, width);
  }
  if (s.ring) {
    out += flow("ring",
                {bytes_text(static_cast<double>(s.ring->capacity)),
                 fmt::format("wrapped {} times",
                             s.ring->capacity == 0 ? 0 : s.ring->written / s.ring->capacity),
                 fmt::format("fill {:.1f}% ({} unread by the slowest reader)", s.ring->fill * 100,
                             bytes_text(static_cast<double>(s.ring->unread_bytes)))},
                width);
  } else {
    out += flow("ring", {"not mapped (the writer is gone or restarting)"}, width);
  }
  if (s.readers.empty()) {
    return out + "\n" +
           cut("no readers: start one with evring-reader --name " + s.instance + " --view ...",
               width) +
           "\n";
  }
  return out + "\n" + reader_table(s, width);
}

nlohmann::ordered_json render_json(const Snapshot& s) {
  nlohmann::ordered_json writer{
      {"pid", s.pid},
      {"state", to_string(s.health)},
      {"alive", s.health == Health::alive},
      {"incarnation", s.incarnation},
      {"head_seq", s.head_seq},
      {"events_total", s.events_total},
      {"bytes_total", s.bytes_total},
      {"events_per_s", s.events_per_s},
      {"bytes_per_s", s.bytes_per_s},
      {"heartbeat_age_ms", static_cast<double>(s.heartbeat_age_ns) / 1e6},
      {"domain", s.domain},
      {"durability", s.durability},
      {"journal",
       s.journal.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.journal)},
      {"journal_bytes",
       s.journal_bytes ? nlohmann::ordered_json(*s.journal_bytes) : nlohmann::ordered_json()},
  };
  nlohmann::ordered_json ring;  // null when not mapped
  if (s.ring) {
    ring = {{"capacity_bytes", s.ring->capacity},
            {"written_bytes", s.ring->written},
            {"unread_bytes", s.ring->unread_bytes},
            {"fill", s.ring->fill}};
  }
  nlohmann::ordered_json readers = nlohmann::ordered_json::array();
  for (const ReaderRow& row : s.readers) {
    readers.push_back({
        {"id", row.info.id},
        {"view", row.info.view},
        {"pid", row.info.pid},
        {"state", to_string(row.health)},
        {"alive", row.health == Health::alive},
        {"position_seq", row.info.position_seq},
        {"lag_events", row.lag_events},
        {"lag_us",
         row.lag_ns ? nlohmann::ordered_json(*row.lag_ns / 1000) : nlohmann::ordered_json()},
        {"lapped", row.info.lapped_count},
        {"missed", row.info.missed_count},
        {"replays", row.info.replay_count},
        {"wait", to_string(row.info.wait)},
        {"events_per_s",
         row.events_per_s ? nlohmann::ordered_json(*row.events_per_s) : nlohmann::ordered_json()},
        {"slowest", row.slowest},
    });
  }
  return {{"instance", s.instance},
          {"sample_ms", static_cast<double>(s.interval_ns) / 1e6},
          {"writer", std::move(writer)},
          {"ring", std::move(ring)},
          {"readers", std::move(readers)}};
}

// A label value of the text exposition format: \, " and newline escaped.
std::string label_value(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// Metric families in the order first added, each with its HELP and TYPE once and then
// all its samples together, as the text exposition format wants.
class Exposition {
 public:
  void add(const std::string& name, const char* type, const char* help, const std::string& labels,
           double value) {
    const auto [at, fresh] = index_.try_emplace(name, families_.size());
    if (fresh) {
      families_.push_back(fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type));
    }
    families_[at->second] += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  std::string str() const {
    std::string out;
    for (const std::string& family : families_) out += family;
    return out;
  }

 private:
  std::map<std::string, std::size_t> index_;
  std::vector<std::string> families_;
};

std::string render_prometheus(const Snapshot& s) {
  Exposition out;
  const std::string instance = fmt::format("instance=\"{}\"", label_value(s.instance));
  const auto number = [](std::uint64_t value) { return static_cast<double>(value); };
  out.add("evring_writer_up", "gauge",
          "1 if the writer process runs and its heartbeat is fresh (under 3 s).", instance,
          s.health == Health::alive ? 1 : 0);
  out.add("evring_writer_incarnation", "gauge", "Writer starts of this instance so far.", instance,
          number(s.incarnation));
  out.add("evring_writer_head_seq", "gauge", "Seq of the last event the writer published.",
          instance, number(s.head_seq));
  out.add("evring_writer_events_total", "counter", "Events published by the current writer start.",
          instance, number(s.events_total));
  out.add("evring_writer_bytes_total", "counter",
          "Payload bytes published by the current writer start (as of its last heartbeat).",
          instance, number(s.bytes_total));
  out.add("evring_writer_heartbeat_age_seconds", "gauge", "Time since the writer's heartbeat.",
          instance, static_cast<double>(s.heartbeat_age_ns) / 1e9);
  if (s.journal_bytes) {
    out.add("evring_journal_bytes", "gauge", "Size on disk of the journal's segment files.",
            instance, number(*s.journal_bytes));
  }
  if (s.ring) {
    out.add("evring_ring_capacity_bytes", "gauge", "Size of the ring's data area.", instance,
            number(s.ring->capacity));
    out.add("evring_ring_written_bytes_total", "counter",
            "Bytes published into the ring since it was created.", instance,
            number(s.ring->written));
    out.add("evring_ring_fill_ratio", "gauge",
            "Part of the ring holding events the slowest live reader has not read (estimate).",
            instance, s.ring->fill);
  }
  for (const ReaderRow& row : s.readers) {
    const std::string labels = fmt::format("{},reader=\"{}\",view=\"{}\"", instance,
                                           label_value(row.info.id), label_value(row.info.view));
    out.add("evring_reader_up", "gauge",
            "1 if the reader process runs and its heartbeat is fresh (under 3 s).", labels,
            row.health == Health::alive ? 1 : 0);
    out.add("evring_reader_position_seq", "gauge", "Seq of the last event the reader applied.",
            labels, number(row.info.position_seq));
    out.add("evring_reader_lag_events", "gauge", "Events published but not yet applied.", labels,
            number(row.lag_events));
    if (row.lag_ns) {
      out.add("evring_reader_lag_seconds", "gauge",
              "Age of the reader's position when it lags; 0 when caught up.", labels,
              static_cast<double>(*row.lag_ns) / 1e9);
    }
    out.add("evring_reader_lapped_total", "counter", "Times the ring overwrote unread events.",
            labels, number(row.info.lapped_count));
    out.add("evring_reader_replays_total", "counter", "Catch-ups from the journal.", labels,
            number(row.info.replay_count));
  }
  return out.str();
}

// ---- running -------------------------------------------------------------------------------

using harness::interrupted;

// Sleeps in short steps so Ctrl-C ends a watch at once; false if interrupted.
bool pause_for(std::int64_t ns) {
  const std::int64_t until = monotonic_ns() + ns;
  while (!interrupted()) {
    const std::int64_t left = until - monotonic_ns();
    if (left <= 0) return true;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(left, 50'000'000)));
  }
  return false;
}

// Text is fitted to `width` columns.
void print(const StatFlags& flags, const Snapshot& snapshot, std::size_t width) {
  if (flags.prometheus) {
    fmt::print("{}", render_prometheus(snapshot));
  } else if (flags.json) {
    fmt::print("{}\n", render_json(snapshot).dump());
  } else {
    fmt::print("{}", render_text(snapshot, width));
  }
  std::fflush(stdout);
}

// The first lines of each refresh of --watch: the screen cleared, then when and how often.
std::string watch_heading(std::int64_t interval_ns, std::time_t taken, std::size_t width) {
  std::tm local{};
  ::localtime_r(&taken, &local);
  char clock[16] = "";
  std::strftime(clock, sizeof clock, "%H:%M:%S", &local);
  return "\x1b[H\x1b[2J" +  // home, clear
         flow("",
              {"evring stat at " + std::string(clock), "every " + duration_text(interval_ns),
               "(Ctrl-C to stop)"},
              width) +
         "\n";
}

int run_watch(const StatFlags& flags) {
  const auto interval_ns = static_cast<std::int64_t>(flags.interval_ms * 1e6);
  harness::install_interrupt_handlers();
  std::optional<Sample> previous;
  std::int64_t wait_ns = std::min(interval_ns, kOneShotSampleNs);
  while (!interrupted()) {
    std::optional<Sample> current;
    std::string problem;
    try {
      current = take_sample(flags.instance);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::invalid_argument) throw;
      problem = describe(e);  // the instance went away: keep watching for its return
    }
    // Again at each refresh: the terminal may have been resized.
    const std::size_t width = std::max(terminal_width(), kNarrowestWidth);
    if (current && previous && previous->incarnation == current->incarnation) {
      const Snapshot snapshot = make_snapshot(flags.instance, *previous, *current);
      if (!flags.json) fmt::print("{}", watch_heading(interval_ns, snapshot.taken_wall, width));
      print(flags, snapshot, width);
    } else if (!problem.empty()) {
      if (flags.json) {
        fmt::print("{}\n",
                   nlohmann::ordered_json{{"instance", flags.instance}, {"error", problem}}.dump());
      } else {
        fmt::print("{}{}", watch_heading(interval_ns, std::time(nullptr), width),
                   flow("", {problem}, width));
      }
      std::fflush(stdout);
    }
    previous = std::move(current);
    if (!pause_for(wait_ns)) break;
    wait_ns = interval_ns;
  }
  return kExitOk;
}

// Two samples kOneShotSampleNs apart, for the rates.
Snapshot one_shot_snapshot(const std::string& instance) {
  const Sample first = take_sample(instance);
  std::this_thread::sleep_for(std::chrono::nanoseconds(kOneShotSampleNs));
  const Sample last = take_sample(instance);
  return make_snapshot(instance, first, last);
}

int run_stat(const StatFlags& flags) {
  if (flags.watch) {
    if (flags.prometheus) {
      throw Error(ErrorCode::invalid_argument,
                  "--watch and --prometheus do not go together: let Prometheus scrape "
                  "evring stat --prometheus at its own interval");
    }
    if (flags.interval_ms * 1e6 < static_cast<double>(kMinIntervalNs) ||
        flags.interval_ms > 3600e3) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("--interval {} ms is out of range: 50ms to 1h", flags.interval_ms));
    }
    return run_watch(flags);
  }
  if (flags.prometheus) {
    const Sample only = take_sample(flags.instance);
    print(flags, make_snapshot(flags.instance, only, only), kNoWidthLimit);
    return kExitOk;
  }
  // On a terminal, fitted to it; into a pipe or a file, whole.
  print(flags, one_shot_snapshot(flags.instance),
        ::isatty(STDOUT_FILENO) ? std::max(terminal_width(), kNarrowestWidth) : kNoWidthLimit);
  return kExitOk;
}

}  // namespace

std::string stat_table(const std::string& instance) {
  return render_text(one_shot_snapshot(instance));
}

Command add_stat_command(CLI::App& parent) {
  auto flags = std::make_shared<StatFlags>();
  CLI::App* app = parent.add_subcommand(
      "stat", "show an instance's writer and readers: liveness, head, positions, lag, rates");
  app->footer(kStatFooter);
  app->add_option("--name", flags->instance, "instance name")->capture_default_str();
  CLI::Option* watch =
      app->add_flag("--watch", flags->watch, "refresh in place every --interval until Ctrl-C");
  app->add_option(
         "--interval", flags->interval_ms,
         "time between refreshes of --watch: 250ms, 2s, 1m or plain milliseconds (default 1s)")
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, double>{{"ms", 1}, {"s", 1000}, {"m", 60'000}},
          CLI::AsNumberWithUnit::DEFAULT, "DURATION"))
      ->option_text("DURATION (with --watch)")
      ->needs(watch);
  CLI::Option* json =
      app->add_flag("--json", flags->json, "print one JSON object (a line per refresh)");
  app->add_flag("--prometheus", flags->prometheus, "print the Prometheus text exposition format")
      ->excludes(json);
  return Command{app, [flags] { return run_stat(*flags); }};
}

}  // namespace evring::tools
