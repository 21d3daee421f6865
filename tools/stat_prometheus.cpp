// evring stat's snapshot in the Prometheus text exposition format (version 0.0.4), for
// --prometheus and for the /metrics of --serve alike. docs/metrics.md lists every family.
// Conventions: evring_ prefix, counters end in _total, base units in names (_seconds,
// _bytes), labels instance, reader and view; each family's HELP and TYPE once, before all
// its samples.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "stat_render.hpp"

namespace evring::tools::stat {
namespace {

// A label value: \, " and newline escaped.
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

double number(std::uint64_t value) {
  return static_cast<double>(value);
}

double seconds(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

// Metric families in the order first added, each with its HELP and TYPE once and then all
// its samples together.
class Exposition {
 public:
  // One sample of the family `name`; `suffix` for a histogram's _bucket, _sum and _count.
  void add(const std::string& name, const char* type, const char* help, const std::string& labels,
           double value, std::string_view suffix = {}) {
    const auto [at, fresh] = index_.try_emplace(name, families_.size());
    if (fresh) {
      families_.push_back(fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type));
    }
    families_[at->second] += fmt::format("{}{}{{{}}} {}\n", name, suffix, labels, value);
  }
  // A histogram from non-cumulative bucket counts: cumulative buckets up to +Inf (which is
  // _count), then _sum and _count.
  void add_histogram(const std::string& name, const char* help, const std::string& labels,
                     const LatencyCounts& counts) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
      cumulative += counts.buckets[i];
      const std::string le = i + 1 < kLatencyBuckets
                                 ? fmt::format("{}", static_cast<double>(kLatencyBoundsNs[i]) / 1e9)
                                 : std::string("+Inf");
      add(name, "histogram", help, fmt::format("{},le=\"{}\"", labels, le), number(cumulative),
          "_bucket");
    }
    add(name, "histogram", help, labels, seconds(counts.sum_ns), "_sum");
    add(name, "histogram", help, labels, number(cumulative), "_count");
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

constexpr const char* kWriterUpHelp =
    "1 if the writer process runs and its heartbeat is fresh (under 3 s).";

void add_writer_metrics(Exposition& out, const Snapshot& s, const std::string& instance) {
  out.add("evring_writer_up", "gauge", kWriterUpHelp, instance, s.health == Health::alive ? 1 : 0);
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
  const char* commands_help =
      "Commands decided by the current writer start, by outcome (as of its last heartbeat).";
  const std::pair<const char*, std::uint64_t> outcomes[] = {
      {"accepted", s.counts.commands_accepted},
      {"rejected", s.counts.commands_rejected},
      {"duplicate", s.counts.commands_duplicate},
      {"error", s.counts.commands_failed}};
  for (const auto& [outcome, count] : outcomes) {
    out.add("evring_writer_commands_total", "counter", commands_help,
            fmt::format("{},outcome=\"{}\"", instance, outcome), number(count));
  }
  if (!s.journal.empty()) {
    out.add("evring_journal_written_bytes_total", "counter",
            "Bytes of records the current writer start appended to the journal.", instance,
            number(s.counts.journal_bytes_written));
    out.add("evring_journal_syncs_total", "counter",
            "fdatasync calls on the journal by the current writer start.", instance,
            number(s.counts.journal_syncs));
    out.add("evring_journal_sync_seconds_total", "counter",
            "Time spent in those fdatasync calls (divide by the syncs for the mean).", instance,
            seconds(s.counts.journal_sync_ns));
  }
  if (s.journal_bytes) {
    out.add("evring_journal_bytes", "gauge", "Size on disk of the journal's segment files.",
            instance, number(*s.journal_bytes));
  }
  if (const auto& extent = s.journal_extent; extent && extent->first_seq != 0) {
    out.add("evring_journal_oldest_seq", "gauge",
            "Seq of the oldest event in the journal's live segments (retention moves it).",
            instance, number(extent->first_seq));
    if (extent->archive) {
      out.add("evring_journal_archive_oldest_seq", "gauge",
              "Seq of the oldest event in the archive (0: empty).", instance,
              number(extent->archive_first_seq));
      out.add("evring_journal_archive_bytes", "gauge",
              "Size on disk of the archive's compressed segments.", instance,
              number(extent->archive_bytes));
    }
    // The holder is a label: an alert can say which reader or bridge pins the journal.
    if (extent->oldest_holder) {
      out.add("evring_journal_oldest_held_seq", "gauge",
              "The seq the holder of the oldest live segment still needs.",
              fmt::format("{},holder=\"{}\"", instance, label_value(extent->oldest_holder->name)),
              number(extent->oldest_holder->needed_seq));
    }
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
}

void add_reader_metrics(Exposition& out, const ReaderRow& row, const std::string& labels) {
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
  out.add("evring_reader_missed_total", "counter",
          "Events the ring overwrote before the reader read them (then read from the journal).",
          labels, number(row.info.missed_count));
  out.add("evring_reader_replays_total", "counter", "Catch-ups from the journal.", labels,
          number(row.info.replay_count));
  if (row.queries) {
    out.add("evring_reader_subscriptions", "gauge", "Live subscriptions (evring watch).", labels,
            number(row.queries->subscriptions));
    out.add("evring_reader_subscriber_resets_total", "counter",
            "Subscribers reset because their buffer overflowed.", labels,
            number(row.queries->subscriber_resets));
  }
  if (row.remote) return;  // its query counts are not in a registry here
  const char* queries_help =
      "Queries answered by the reader process, by the way they came (as of its heartbeat).";
  out.add("evring_reader_queries_total", "counter", queries_help, labels + ",via=\"segment\"",
          number(row.info.queries_segment));
  out.add("evring_reader_queries_total", "counter", queries_help, labels + ",via=\"socket\"",
          number(row.info.queries_socket));
  out.add_histogram("evring_reader_query_duration_seconds",
                    "Time the view's thread took to answer a query: the view's query and "
                    "writing the reply, not the wait for --after.",
                    labels, row.info.query_latency);
}

}  // namespace

std::string render_prometheus(const Snapshot& s) {
  Exposition out;
  const std::string instance = fmt::format("instance=\"{}\"", label_value(s.instance));
  if (s.local_writer) {
    add_writer_metrics(out, s, instance);
  } else {
    out.add("evring_writer_up", "gauge", kWriterUpHelp, instance, 0);  // none on this machine
  }
  // One series per reader and view: a dead reader's row left beside its successor's (the
  // restarted reader claimed another slot) would repeat the live one's labels.
  std::set<std::string> seen;
  for (const bool live : {true, false}) {
    for (const ReaderRow& row : s.readers) {
      if ((row.health != Health::dead) != live) continue;
      std::string labels = fmt::format("{},reader=\"{}\",view=\"{}\"", instance,
                                       label_value(row.info.id), label_value(row.info.view));
      if (seen.insert(labels).second) add_reader_metrics(out, row, labels);
    }
  }
  return out.str();
}

}  // namespace evring::tools::stat
