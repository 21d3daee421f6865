// evring journal verify: checks every segment header (magic, version, CRC, first seq, one
// history), every record's CRC32C and that seqs follow on across segments
// (journal/journal_scan.hpp). One line on success; the first fault, named, otherwise:
//   journal /j: 1200 records, seq 1 to 1200, 3 segments, 96.0 KiB, history 1f.., 0.004 s
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

nlohmann::ordered_json check_json(const std::filesystem::path& folder, const JournalCheck& check,
                                  double seconds) {
  nlohmann::ordered_json out;
  out["journal"] = folder.string();
  out["ok"] = !check.fault.has_value();
  out["records"] = check.records;
  out["segments"] = check.segments;
  out["first_seq"] = check.first_seq;
  out["last_seq"] = check.last_seq;
  out["bytes"] = check.bytes;
  out["history_id"] = history_text(check.history_id);
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
  if (flags.json) {
    fmt::print("{}\n", check_json(folder, check, seconds).dump());
  } else {
    fmt::print("journal {}: {} records, seq {} to {}, {} segment(s), {}, history {}, {:.3f} s{}\n",
               folder.string(), check.records, check.first_seq, check.last_seq, check.segments,
               bytes_text(static_cast<double>(check.bytes)), history_text(check.history_id),
               seconds, check.fault ? " before the fault below" : "");
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
