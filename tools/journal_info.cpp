// evring journal info: the journal folder, its domain, history, writer (writer.lock) and
// segments (file, seq range, records, bytes on disk, created, sealed or being written),
// with totals; --json for scripts. Headers only, and a walk of the last segment: quick on
// any size of journal (verify is the one that reads every record).
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

const char* state_of(const SegmentSummary& segment, bool writer_running) {
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

}  // namespace

int run_journal_info(const JournalToolFlags& flags) {
  const std::filesystem::path folder = journal_folder(flags);
  const std::optional<DomainRecord> domain = read_journal_domain(folder);
  const std::optional<pid_t> writer = journal_writer_pid(folder);
  const std::vector<SegmentSummary> segments =
      in_range(summarize_segments(folder), flags.from, flags.to);
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
  const std::uint64_t history = segments.empty() ? 0 : segments.front().history_id;

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
    out["segments"] = nlohmann::ordered_json::array();
    for (const SegmentSummary& segment : segments) {
      out["segments"].push_back({{"file", segment.path.filename().string()},
                                 {"first_seq", segment.first_seq},
                                 {"last_seq", segment.last_seq()},
                                 {"records", segment.records},
                                 {"bytes", segment.file_bytes},
                                 {"segment_bytes", segment.segment_bytes},
                                 {"created_unix_ns", segment.created_unix_ns},
                                 {"created", utc_text(segment.created_unix_ns)},
                                 {"sealed", !segment.last},
                                 {"state", state_of(segment, writer.has_value())}});
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
  fmt::print("records   {} (seq {} to {}) in {} segment(s), {} on disk\n", records, first_seq,
             last_seq, segments.size(), bytes_text(static_cast<double>(bytes)));
  fmt::print("\n{:<36} {:>12} {:>12} {:>10} {:>10}  {:<20}  {}\n", "SEGMENT", "FIRST SEQ",
             "LAST SEQ", "RECORDS", "BYTES", "CREATED", "STATE");
  for (const SegmentSummary& segment : segments) {
    fmt::print("{:<36} {:>12} {:>12} {:>10} {:>10}  {:<20}  {}\n", segment.path.filename().string(),
               segment.first_seq, segment.last_seq(), segment.records,
               bytes_text(static_cast<double>(segment.file_bytes)),
               utc_text(segment.created_unix_ns), state_of(segment, writer.has_value()));
  }
  return kExitOk;
}

}  // namespace evring::tools
