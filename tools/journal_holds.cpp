// evring journal holds and evring journal release: what keeps the writer's retention off
// the journal's oldest segments (runtime/src/journal/journal_holds.hpp), and removing the
// hold of a holder that will not come back (a reader retired, a bridge moved elsewhere),
// which would otherwise keep every segment after its seq forever. Files only: both work
// while the writer runs and on a stopped instance.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"
#include "journal.hpp"
#include "journal/journal_holds.hpp"
#include "journal/journal_retention.hpp"
#include "journal/segment_file.hpp"

namespace fs = std::filesystem;

namespace evring::tools {
namespace {

constexpr const char* kHoldsFooter = R"(Examples:
  evring journal holds --name orders
  evring journal holds --journal /var/lib/orders --json
One row per holder: a reader (its checkpoint's seq + 1, or the seq after the one it applied
before its first checkpoint), a bridge (the seq after the last one JetStream acknowledged),
and the writer's model snapshot. AGE: since the hold was last written; ALIVE: whether the
process that wrote it still runs. A dead holder that will not come back keeps every segment
after its seq: evring journal release --name N HOLDER removes its hold.)";

constexpr const char* kReleaseFooter = R"(Examples:
  evring journal release --name orders reader-kv-1
Removes one hold (a name from evring journal holds), so retention may remove the segments
it kept. A holder that still runs is refused (stop it first), unless --force. The holder,
if it ever runs again, needs events that may be gone: start a reader with --from live (or
--from start with an archive), or feed it from JetStream (--source nats://HOST:PORT/STREAM).)";

struct HoldFlags {
  JournalToolFlags where;  // --name or --journal, found as the other journal tools do
  bool json = false;
  bool force = false;
  std::string holder;
};

void add_where_flags(CLI::App& app, JournalToolFlags& where) {
  CLI::Option* name =
      app.add_option("--name", where.instance, "instance name (its writer's journal)")
          ->capture_default_str();
  app.add_option("--journal", where.journal, "a journal folder, instead of --name's")
      ->excludes(name);
}

std::string age_text(std::int64_t written_unix_ns) {
  if (written_unix_ns == 0) return "-";
  const std::int64_t seconds = (journal_file::unix_ns() - written_unix_ns) / 1'000'000'000;
  if (seconds < 120) return fmt::format("{}s", seconds);
  if (seconds < 7200) return fmt::format("{}m", seconds / 60);
  if (seconds < 172800) return fmt::format("{}h", seconds / 3600);
  return fmt::format("{}d", seconds / 86400);
}

int run_holds(const HoldFlags& flags) {
  const fs::path journal = journal_folder(flags.where);
  const std::vector<JournalHold> holds = read_holds(journal);
  const std::vector<Holder> holders = journal_holders(journal);
  const JournalExtent extent = journal_extent(journal);
  if (flags.json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const JournalHold& hold : holds) {
      rows.push_back({{"holder", hold.holder},
                      {"needed_seq", hold.needed_seq},
                      {"pid", hold.pid},
                      {"alive", holder_alive(hold)},
                      {"written_unix_ns", hold.written_unix_ns}});
    }
    for (const Holder& holder : holders) {
      if (holder.name == "model-snapshot") {
        rows.push_back({{"holder", holder.name}, {"needed_seq", holder.needed_seq}});
      }
    }
    const nlohmann::ordered_json out{
        {"journal", journal.string()}, {"first_seq", extent.first_seq}, {"holds", rows}};
    fmt::print("{}\n", out.dump());
    return kExitOk;
  }
  fmt::print("journal {}: seq {} on disk\n", journal.string(),
             extent.first_seq == 0 ? std::string("none")
                                   : fmt::format("{}..{}", extent.first_seq, extent.last_seq));
  fmt::print("{:<32} {:>12} {:>6} {:>8} {:>6}\n", "HOLDER", "NEEDS SEQ", "AGE", "PID", "ALIVE");
  for (const JournalHold& hold : holds) {
    fmt::print("{:<32} {:>12} {:>6} {:>8} {:>6}\n", hold.holder, hold.needed_seq,
               age_text(hold.written_unix_ns), hold.pid, holder_alive(hold) ? "yes" : "no");
  }
  for (const Holder& holder : holders) {
    if (holder.name == "model-snapshot") {
      fmt::print("{:<32} {:>12} {:>6} {:>8} {:>6}  ({})\n", holder.name, holder.needed_seq, "-",
                 "-", "-", holder.why);
    }
  }
  return kExitOk;
}

int run_release(const HoldFlags& flags) {
  const fs::path journal = journal_folder(flags.where);
  if (flags.holder == "model-snapshot") {
    throw Error(ErrorCode::invalid_argument,
                "the model snapshot's hold is the writer's own (its restart replays from there): "
                "it moves on with the next snapshot (evring-writer --snapshot-every)");
  }
  for (const JournalHold& hold : read_holds(journal)) {
    if (hold.holder == flags.holder && holder_alive(hold) && !flags.force) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("{} is running (pid {}) and still needs seq {}: stop it first, "
                              "or release it anyway with --force (it writes its hold again "
                              "at its next checkpoint)",
                              hold.holder, hold.pid, hold.needed_seq));
    }
  }
  if (!remove_hold(journal, flags.holder)) {
    throw Error(ErrorCode::invalid_argument,
                "journal " + journal.string() + " has no hold \"" + flags.holder +
                    "\": evring journal holds " +
                    (flags.where.journal.empty() ? "--name " + flags.where.instance
                                                 : "--journal " + flags.where.journal.string()) +
                    " lists them");
  }
  fmt::print("released {}: retention may now remove the segments it kept\n", flags.holder);
  return kExitOk;
}

}  // namespace

Command add_journal_holds_command(CLI::App& journal) {
  auto flags = std::make_shared<HoldFlags>();
  CLI::App* app = journal.add_subcommand(
      "holds",
      "what keeps retention off the journal's oldest segments: readers, bridges, the "
      "model snapshot");
  app->footer(kHoldsFooter);
  add_where_flags(*app, flags->where);
  app->add_flag("--json", flags->json, "one JSON object");
  return {app, [flags] { return run_holds(*flags); }};
}

Command add_journal_release_command(CLI::App& journal) {
  auto flags = std::make_shared<HoldFlags>();
  CLI::App* app = journal.add_subcommand(
      "release", "remove one hold (a dead reader's, a retired bridge's) from the journal");
  app->footer(kReleaseFooter);
  add_where_flags(*app, flags->where);
  app->add_option("HOLDER", flags->holder, "the holder, as evring journal holds names it")
      ->required();
  app->add_flag("--force", flags->force, "release it also while its holder runs");
  return {app, [flags] { return run_release(*flags); }};
}

}  // namespace evring::tools
