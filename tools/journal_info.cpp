// evring journal info: the journal folder, its domain, history, writer (writer.lock),
// archive, where its history starts (archived, or removed by retention) and segments (file,
// seq range, records, bytes on disk, created, sealed or being written, archived), with
// totals; --json for scripts. Headers only (an archived segment's folder listing and frame
// header), and a walk of the last segment: quick on any size of journal (verify is the one
// that reads every record).
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "exit_status.hpp"
#include "footprint.hpp"
#include "journal.hpp"
#include "journal/journal.hpp"
#include "journal/journal_archive.hpp"
#include "journal/journal_scan.hpp"

namespace evring::tools {
namespace {

// 2026-12-01T21:40:00Z
std::string utc_text(std::int64_t unix_ns) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string created_text(const SegmentSummary& segment) {
  return segment.archived ? "-" : utc_text(segment.created_unix_ns);
}

std::string state_of(const SegmentSummary& segment, bool writer_running) {
  if (segment.archived) {
    return "archived (" + bytes_text(static_cast<double>(segment.segment_bytes)) + " decompressed)";
  }
  if (!segment.last) return "sealed";
  return writer_running ? "being written" : "last (no writer)";
}

// The segments that hold records from `from` to `to` (0: no bound).
std::vector<SegmentSummary> in_range(std::vector<SegmentSummary> all, std::uint64_t from,
                                     std::uint64_t to) {
  std::vector<SegmentSummary> kept;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool ends_before =
        from != 0 && (i + 1 < all.size() ? all[i + 1].first_seq <= from : all[i].last_seq() < from);
    const bool starts_after = to != 0 && all[i].first_seq > to;
    if (!ends_before && !starts_after) kept.push_back(std::move(all[i]));
  }
  return kept;
}

// Where the history starts, over the whole journal (`archived` then `live`, both in seq
// order, `live` not empty): "seq 1 to 48 archived, 49 to 1200 live", or "seq 1 to 48 removed
// by retention (the oldest on disk is 49), 49 to 1200 live".
struct HistoryStart {
  std::uint64_t oldest = 0;       // on disk, archive included
  std::uint64_t archived_to = 0;  // 0: nothing archived
  std::uint64_t live_from = 0;
  std::uint64_t last = 0;

  HistoryStart(const std::vector<SegmentSummary>& archived, const std::vector<SegmentSummary>& live)
      : oldest(archived.empty() ? live.front().first_seq : archived.front().first_seq),
        archived_to(archived.empty() ? 0 : live.front().first_seq - 1),
        live_from(live.front().first_seq),
        last(live.back().records != 0 ? live.back().last_seq() : live.back().first_seq - 1) {}

  std::string text() const {
    std::string out;
    if (oldest > 1) {
      out = fmt::format("seq 1 to {} removed by retention (the oldest on disk is {}), ", oldest - 1,
                        oldest);
    }
    if (archived_to != 0) out += fmt::format("seq {} to {} archived, ", oldest, archived_to);
    return out + (last < live_from ? fmt::format("none live yet (next seq {})", live_from)
                                   : fmt::format("seq {} to {} live", live_from, last));
  }
};

nlohmann::ordered_json segment_json(const SegmentSummary& segment, bool writer_running) {
  nlohmann::ordered_json out = {{"file", segment.path.filename().string()},
                                {"first_seq", segment.first_seq},
                                {"last_seq", segment.last_seq()},
                                {"records", segment.records},
                                {"bytes", segment.file_bytes},
                                {"segment_bytes", segment.segment_bytes}};
  if (!segment.archived) {
    out["created_unix_ns"] = segment.created_unix_ns;
    out["created"] = utc_text(segment.created_unix_ns);
  }
  out["sealed"] = !segment.last;
  out["archived"] = segment.archived;
  out["state"] = segment.archived ? "archived" : state_of(segment, writer_running);
  return out;
}

}  // namespace

int run_journal_info(const JournalToolFlags& flags) {
  const std::filesystem::path folder = journal_folder(flags);
  const std::optional<DomainRecord> domain = read_journal_domain(folder);
  const std::optional<pid_t> writer = journal_writer_pid(folder);
  const std::optional<std::filesystem::path> archive = read_journal_archive(folder);
  const std::vector<SegmentSummary> live = summarize_segments(folder);
  std::vector<SegmentSummary> all =
      archive ? summarize_archive(*archive, live) : std::vector<SegmentSummary>{};
  const std::size_t archived = all.size();
  const HistoryStart start(all, live);
  all.insert(all.end(), live.begin(), live.end());
  const std::vector<SegmentSummary> segments = in_range(std::move(all), flags.from, flags.to);
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  for (const SegmentSummary& segment : segments) {
    records += segment.records;
    bytes += segment.file_bytes;
    if (segment.records == 0) continue;
    if (first_seq == 0) first_seq = segment.first_seq;
    last_seq = segment.last_seq();
  }
  const std::uint64_t history = live.front().history_id;

  if (flags.json) {
    nlohmann::ordered_json out;
    out["journal"] = folder.string();
    out["domain"] = domain ? domain->name : "";
    out["domain_library"] = domain ? domain->library : "";
    out["history_id"] = history_text(history);
    out["writer_running"] = writer.has_value();
    out["writer_pid"] = writer ? nlohmann::ordered_json(*writer) : nlohmann::ordered_json();
    out["records"] = records;
    out["first_seq"] = first_seq;
    out["last_seq"] = last_seq;
    out["bytes"] = bytes;
    out["archive"] = archive ? nlohmann::ordered_json(archive->string()) : nlohmann::ordered_json();
    out["archived_segments"] = archived;
    out["oldest_seq"] = start.oldest;
    out["removed_to_seq"] = start.oldest - 1;  // 0: nothing removed
    out["archived_to_seq"] = start.archived_to;
    out["live_first_seq"] = start.live_from;
    out["start"] = start.text();
    out["segments"] = nlohmann::ordered_json::array();
    for (const SegmentSummary& segment : segments) {
      out["segments"].push_back(segment_json(segment, writer.has_value()));
    }
    fmt::print("{}\n", out.dump());
    return kExitOk;
  }
  fmt::print("journal   {}\n", folder.string());
  fmt::print("domain    {}\n", !domain ? std::string("(not recorded)")
                               : domain->library.empty()
                                   ? domain->name
                                   : fmt::format("{} ({})", domain->name, domain->library));
  fmt::print("history   {}\n", history_text(history));
  fmt::print("writer    {}\n", writer ? fmt::format("running (pid {}, holds writer.lock)", *writer)
                                      : std::string("not running"));
  if (archive) {
    fmt::print("archive   {} ({} segment(s) before the live ones)\n", archive->string(), archived);
  }
  fmt::print("starts    {}\n", start.text());
  fmt::print("records   {} (seq {} to {}) in {} segment(s), {} on disk\n", records, first_seq,
             last_seq, segments.size(), bytes_text(static_cast<double>(bytes)));
  fmt::print("\n{:<36} {:>12} {:>12} {:>10} {:>10}  {:<20}  {}\n", "SEGMENT", "FIRST SEQ",
             "LAST SEQ", "RECORDS", "BYTES", "CREATED", "STATE");
  for (const SegmentSummary& segment : segments) {
    fmt::print("{:<36} {:>12} {:>12} {:>10} {:>10}  {:<20}  {}\n", segment.path.filename().string(),
               segment.first_seq, segment.last_seq(), segment.records,
               bytes_text(static_cast<double>(segment.file_bytes)), created_text(segment),
               state_of(segment, writer.has_value()));
  }
  return kExitOk;
}

}  // namespace evring::tools
