// evring journal verify: checks every segment header (magic, version, CRC, first seq, one
// history), every record's CRC32C and that seqs follow on across segments, the archived
// ones (decompressed) and then the live ones (journal/journal_scan.hpp). One line on
// success, saying where the history starts; the first fault, named, otherwise:
//   journal /j: 1200 records, seq 1 to 1200, 3 segment(s) (2 archived), 96.0 KiB, history ..
//   journal /j: 1152 records, seq 49 to 1200, ..., 0.004 s; seq 1 to 48 removed by retention
//   bad record in /j/journal-...01.evj at byte 4160, seq 65: checksum mismatch, in a sealed ...
// Exit 0 good, 5 damaged, 6 only a torn tail (exit_status.hpp).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evring/clock.hpp"
#include "exit_status.hpp"
#include "footprint.hpp"
#include "journal.hpp"
#include "journal/journal_retention.hpp"
#include "journal/journal_scan.hpp"

namespace evring::tools {
namespace {

constexpr std::int64_t kQuietNs = 1'000'000'000;     // a run shorter than this shows nothing
constexpr std::int64_t kTtyEveryNs = 250'000'000;    // progress on a terminal
constexpr std::int64_t kLogEveryNs = 5'000'000'000;  // progress into a log (not a terminal)

// Progress on stderr: rewritten in place on a terminal, a line every few seconds otherwise.
class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) == 1), start_(monotonic_ns()) {}
  ~Progress() {
    if (shown_ && tty_) std::fputs("\r\033[K", stderr);
  }

  void show(std::uint64_t done, std::uint64_t total) {
    const std::int64_t now = monotonic_ns();
    if (now - start_ < kQuietNs || now < next_) return;
    next_ = now + (tty_ ? kTtyEveryNs : kLogEveryNs);
    const double seconds = static_cast<double>(now - start_) / 1e9;
    fmt::print(stderr, "{}evring journal verify: {} of {} ({:.0f}%), {}/s{}", tty_ ? "\r" : "",
               bytes_text(static_cast<double>(done)), bytes_text(static_cast<double>(total)),
               total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(total),
               bytes_text(static_cast<double>(done) / seconds), tty_ ? "" : "\n");
    shown_ = true;
  }

 private:
  bool tty_;
  bool shown_ = false;
  std::int64_t start_;
  std::int64_t next_ = 0;
};

// What the check did not cover at the start of the history, when it started at the oldest
// seq: seqs retention removed, and archived ones --no-archive passed over.
struct UncheckedStart {
  std::uint64_t removed_to = 0;    // seqs 1 to this are on no disk (0: none)
  std::uint64_t skipped_from = 0;  // seqs from this to the check's first are archived,
                                   // not checked (0: none)
  UncheckedStart(const std::filesystem::path& folder, const JournalCheck& check,
                 std::uint64_t from) {
    if (from > 1 || check.first_seq <= 1) return;
    const std::uint64_t oldest = oldest_readable_seq(folder);
    removed_to = std::min(oldest, check.first_seq) - 1;
    if (oldest < check.first_seq) skipped_from = oldest;
  }

  std::string text(std::uint64_t first_seq) const {
    std::string out;
    if (skipped_from != 0) {
      out += fmt::format("; seq {} to {} archived, not checked (--no-archive)", skipped_from,
                         first_seq - 1);
    }
    if (removed_to != 0) {
      out += fmt::format("; seq 1 to {} removed by retention (the oldest on disk is {})",
                         removed_to, removed_to + 1);
    }
    return out;
  }
};

std::string segments_text(const JournalCheck& check) {
  std::string out = fmt::format("{} segment(s)", check.segments);
  if (check.archive) {
    out += fmt::format(" ({} archived in {})", check.archived_segments, check.archive->string());
  }
  return out;
}

nlohmann::ordered_json check_json(const std::filesystem::path& folder, const JournalCheck& check,
                                  const UncheckedStart& unchecked, double seconds) {
  nlohmann::ordered_json out;
  out["journal"] = folder.string();
  out["ok"] = !check.fault.has_value();
  out["records"] = check.records;
  out["segments"] = check.segments;
  out["first_seq"] = check.first_seq;
  out["last_seq"] = check.last_seq;
  out["bytes"] = check.bytes;
  out["history_id"] = history_text(check.history_id);
  out["archive"] =
      check.archive ? nlohmann::ordered_json(check.archive->string()) : nlohmann::ordered_json();
  out["archived_segments"] = check.archived_segments;
  out["removed_to_seq"] = unchecked.removed_to;
  out["archive_skipped_from_seq"] = unchecked.skipped_from;
  out["seconds"] = seconds;
  if (check.fault) {
    const JournalFault& fault = *check.fault;
    out["fault"] = {{"kind", std::string(to_string(fault.kind))},
                    {"segment", fault.segment.string()},
                    {"offset", fault.offset},
                    {"seq", fault.seq},
                    {"what", fault.what}};
  }
  return out;
}

}  // namespace

int run_journal_verify(const JournalToolFlags& flags) {
  const std::filesystem::path folder = journal_folder(flags);
  JournalCheckOptions options;
  options.from_seq = flags.from == 0 ? 1 : flags.from;
  options.to_seq = flags.to == 0 ? UINT64_MAX : flags.to;
  options.writer_running = journal_writer_pid(folder).has_value();
  options.archive = !flags.no_archive;
  const std::int64_t start = monotonic_ns();
  JournalCheck check;
  {
    Progress progress;
    options.on_progress = [&progress](std::uint64_t done, std::uint64_t total) {
      progress.show(done, total);
    };
    check = check_journal(folder, options);
  }
  const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  const UncheckedStart unchecked(folder, check, flags.from);
  if (flags.json) {
    fmt::print("{}\n", check_json(folder, check, unchecked, seconds).dump());
  } else {
    fmt::print("journal {}: {} records, seq {} to {}, {}, {}, history {}, {:.3f} s{}{}\n",
               folder.string(), check.records, check.first_seq, check.last_seq,
               segments_text(check), bytes_text(static_cast<double>(check.bytes)),
               history_text(check.history_id), seconds,
               check.fault ? " before the fault below" : "", unchecked.text(check.first_seq));
  }
  if (!check.fault) return kExitOk;
  const JournalFault& fault = *check.fault;
  if (!flags.json) {
    fmt::print(stderr, "evring journal verify: {} in {} at byte {}, seq {}: {}\n",
               to_string(fault.kind), fault.segment.string(), fault.offset, fault.seq, fault.what);
  }
  if (fault.kind == JournalFault::Kind::torn_tail) return kExitTornTail;
  if (!flags.json) {
    fmt::print(stderr,
               "  the records before it are good; restore the segment from a copy, or move it "
               "and the segments after it away (their records are lost)\n");
  }
  return kExitDamaged;
}

}  // namespace evring::tools
