#include "stat_render.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "footprint.hpp"

namespace evring::tools::stat {
namespace {

constexpr std::string_view kEllipsis = "...";
constexpr std::size_t kLabelWidth = 9;  // "writer   ": the label column of the header lines

// `text` cut to `width` with an ellipsis at its end (or, for a path, its start, which
// keeps the file's own name).
std::string cut(std::string_view text, std::size_t width, bool keep_end = false) {
  if (text.size() <= width) return std::string(text);
  if (width <= kEllipsis.size()) return std::string(text.substr(0, width));
  const std::size_t kept = width - kEllipsis.size();
  return keep_end ? std::string(kEllipsis) + std::string(text.substr(text.size() - kept))
                  : std::string(text.substr(0, kept)) + std::string(kEllipsis);
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
      if (column >= widths.size()) continue;  // a column only some tables have (SOURCE)
      const std::size_t spare = widths[column] > floor ? widths[column] - floor : 0;
      widths[column] -= std::min(total() - width, spare);
    }
  };
  shrink_to(layout.comfortable);
  for (const std::size_t column : layout.drop_order) {
    if (total() <= width) break;
    if (column < shown.size()) shown[column] = false;
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
  kSubscriptionsColumn,
  kSourceColumn,  // only when some reader is remote
};

// "2" live subscriptions, "2 (1 reset)" when subscribers overflowed; "-" without a segment.
std::string subscriptions_text(const ReaderRow& row) {
  if (!row.queries) return "-";
  std::string text = std::to_string(row.queries->subscriptions);
  if (row.queries->subscriber_resets != 0) {
    text += fmt::format(" ({} reset{})", row.queries->subscriber_resets,
                        row.queries->subscriber_resets == 1 ? "" : "s");
  }
  return text;
}

// Where a reader's events come from, for the SOURCE column.
std::string source_text(const ReaderRow& row) {
  if (!row.remote) return "ring";
  return row.remote->source + (row.remote->connected ? "" : " (unreachable)");
}

std::string reader_table(const Snapshot& s, std::size_t width) {
  // Some reader lags: the slowest is the one to look at. All caught up: no one is.
  bool some_lag = false;
  bool some_remote = false;
  for (const ReaderRow& row : s.readers) {
    some_lag = some_lag || row.lag_events > 0;
    some_remote = some_remote || row.remote.has_value();
  }
  std::vector<std::vector<std::string>> rows{{"", "ID", "VIEW", "PID", "STATE", "POSITION", "LAG",
                                              "LAG TIME", "EVENTS/S", "LAPPED", "REPLAYS", "WAIT",
                                              "SUBS"}};
  if (some_remote) rows.front().push_back("SOURCE");
  for (const ReaderRow& row : s.readers) {
    rows.push_back({row.slowest && some_lag ? "*" : " ", row.info.id, row.info.view,
                    std::to_string(row.info.pid), std::string(to_string(row.health)),
                    std::to_string(row.info.position_seq), std::to_string(row.lag_events),
                    row.lag_ns ? duration_text(*row.lag_ns) : std::string("-"),
                    row.events_per_s ? fmt::format("{:.0f}", *row.events_per_s) : std::string("-"),
                    std::to_string(row.info.lapped_count), std::to_string(row.info.replay_count),
                    std::string(to_string(row.info.wait)), subscriptions_text(row)});
    if (some_remote) rows.back().push_back(source_text(row));
  }
  const TableLayout layout{{kIdColumn, kViewColumn, kSourceColumn},
                           {kSubscriptionsColumn, kWaitColumn, kReplaysColumn, kLappedColumn,
                            kPidColumn, kLagTimeColumn}};
  return table(rows, width, layout);
}

// The journal's files (journal_retention.hpp): what is on disk, archived, and held.
nlohmann::ordered_json journal_disk_json(const std::optional<JournalExtent>& extent) {
  if (!extent) return nullptr;
  nlohmann::ordered_json held_by;  // null: nothing holds the oldest segment
  if (extent->oldest_holder) {
    held_by = {{"holder", extent->oldest_holder->name},
               {"needed_seq", extent->oldest_holder->needed_seq},
               {"why", extent->oldest_holder->why}};
  }
  return {{"first_seq", extent->first_seq},
          {"last_seq", extent->last_seq},
          {"segments", extent->segments},
          {"archive", extent->archive ? nlohmann::ordered_json(extent->archive->string())
                                      : nlohmann::ordered_json(nullptr)},
          {"archive_first_seq", extent->archive_first_seq},
          {"archive_segments", extent->archive_segments},
          {"archive_bytes", extent->archive_bytes},
          {"oldest_held_by", held_by}};
}

}  // namespace

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

std::string duration_text(std::int64_t ns) {
  if (ns < 1'000'000) return fmt::format("{} us", ns / 1000);
  if (ns < 1'000'000'000) return fmt::format("{:.1f} ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.1f} s", static_cast<double>(ns) / 1e9);
}

std::string render_text(const Snapshot& s, std::size_t width) {
  if (!s.local_writer) {
    return flow("instance", {s.instance}, width) +
           flow("writer", {"none on this machine: remote readers only, from NATS streams"}, width) +
           "\n" + reader_table(s, width);
  }
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
    std::vector<std::string> journal{fmt::format("{} in {} segment(s)",
                                                 bytes_text(static_cast<double>(*s.journal_bytes)),
                                                 s.journal_segment_count)};
    if (const auto& extent = s.journal_extent; extent && extent->first_seq != 0) {
      journal.push_back(fmt::format("seq {}..{} on disk", extent->first_seq, extent->last_seq));
      if (extent->archive_first_seq != 0) {
        journal.push_back(fmt::format("archive from {}", extent->archive_first_seq));
      }
      if (extent->oldest_holder) {
        journal.push_back(fmt::format("oldest held by {} ({})", extent->oldest_holder->name,
                                      extent->oldest_holder->why));
      }
    }
    out += flow("journal", journal, width);
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
      {"journal_disk", journal_disk_json(s.journal_extent)},
      {"commands",
       {{"accepted", s.counts.commands_accepted},
        {"rejected", s.counts.commands_rejected},
        {"duplicate", s.counts.commands_duplicate},
        {"error", s.counts.commands_failed}}},
      {"journal_written_bytes", s.counts.journal_bytes_written},
      {"journal_syncs", s.counts.journal_syncs},
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
        {"subscriptions", row.queries ? nlohmann::ordered_json(row.queries->subscriptions)
                                      : nlohmann::ordered_json()},
        {"subscriber_resets", row.queries ? nlohmann::ordered_json(row.queries->subscriber_resets)
                                          : nlohmann::ordered_json()},
        {"shm_queries",
         row.queries ? nlohmann::ordered_json(row.queries->queries) : nlohmann::ordered_json()},
        {"queries", {{"segment", row.info.queries_segment}, {"socket", row.info.queries_socket}}},
        {"source",
         row.remote ? nlohmann::ordered_json(row.remote->source) : nlohmann::ordered_json()},
        {"connected",
         row.remote ? nlohmann::ordered_json(row.remote->connected) : nlohmann::ordered_json()},
    });
  }
  if (!s.local_writer) writer = nullptr;  // none on this machine
  return {{"instance", s.instance},
          {"sample_ms", static_cast<double>(s.interval_ns) / 1e6},
          {"writer", std::move(writer)},
          {"ring", std::move(ring)},
          {"readers", std::move(readers)}};
}

}  // namespace evring::tools::stat
