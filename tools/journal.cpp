// evring journal: the parent of verify, info and export, which check, describe and export
// a journal, also offline (no writer running) and while the writer appends, and of holds and
// release (journal_holds.cpp). Here: what they share, their flags and how they find the
// journal.
#include "journal.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/values.hpp"
#include "command.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"
#include "journal/journal.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "sys/paths.hpp"

namespace fs = std::filesystem;

namespace evring::tools {
namespace {

constexpr const char* kJournalFooter = R"(Examples:
  evring journal verify --name orders          # every header, CRC and seq; exit 0 if all good
  evring journal verify --journal /data/orders/journal --from 1000000
  evring journal verify --name orders --no-archive   # the live segments only
  evring journal info --name orders            # segments, seq ranges, history, writer
  evring journal info --name orders --json
  evring journal export --name orders --from 100 --to 200 > events.jsonl
--name finds the journal the instance's writer records (while it runs or after kill -9),
else the instance's default folder (~/.local/state/evring/NAME/journal); --journal names
a folder. All three read only, and work while the writer appends (records past its
commit point are not there yet) and archives: the journal's archive (evring-writer
--archive) is read with it, seamlessly.
Exit status: 0 done; 2 error (no such journal, bad flags); verify: 5 the journal is
damaged (the first bad record, header or gap is named), 6 only a torn tail in the last
segment, which the writer cuts off when it next starts.
)";

constexpr const char* kNoFolderHint =
    "give the folder the writer journals to (evring-writer --journal; by default "
    "~/.local/state/evring/<name>/journal)";

// A NUL-terminated field of the registry as a string.
std::string registry_text(const char* field, std::size_t bytes) {
  return std::string(field, strnlen(field, bytes));
}

// The journal folder the instance's writer recorded; empty when no registry says.
fs::path recorded_journal(const std::string& instance) {
  try {
    const Registry registry = Registry::open(instance, Access::read_only);
    const WriterInfo& info = registry.layout().info;
    return registry_text(info.journal, sizeof info.journal);
  } catch (const Error&) {
    return {};  // no registry: the writer stopped cleanly, or never ran
  }
}

void check_folder(const fs::path& folder) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    throw Error(ErrorCode::no_instance,
                "the journal folder " + folder.string() + " does not exist: " + kNoFolderHint);
  }
  if (!fs::is_directory(folder, ec)) {
    throw Error(ErrorCode::no_instance,
                folder.string() +
                    " is a file, not a journal folder (a folder of journal-*.evj segments): give "
                    "the folder that holds it, or " +
                    kNoFolderHint);
  }
  if (journal_segments(folder).empty()) {
    throw Error(ErrorCode::no_instance,
                "the folder " + folder.string() +
                    " holds no journal (no journal-*.evj segment): " + kNoFolderHint);
  }
}

}  // namespace

void add_journal_tool_flags(CLI::App& app, JournalToolFlags& flags, bool json) {
  CLI::Option* name =
      app.add_option("--name", flags.instance, "instance name (its writer's journal)")
          ->capture_default_str();
  app.add_option("--journal", flags.journal, "a journal folder, instead of --name's")
      ->excludes(name);
  cli::add_count_option(app, "--from", flags.from, "from this seq (default: the oldest)", 1)
      ->default_str("");
  cli::add_count_option(app, "--to", flags.to, "up to this seq (default: the newest)", 1)
      ->default_str("");
  if (json) app.add_flag("--json", flags.json, "JSON for scripts");
}

fs::path journal_folder(const JournalToolFlags& flags) {
  if (flags.to != 0 && flags.from > flags.to) {
    throw Error(ErrorCode::invalid_argument, "--from " + std::to_string(flags.from) +
                                                 " is after --to " + std::to_string(flags.to) +
                                                 ": give --from at or before --to");
  }
  if (!flags.journal.empty()) {
    check_folder(flags.journal);
    return flags.journal;
  }
  validate_instance_name(flags.instance);
  std::error_code ec;
  fs::path folder = recorded_journal(flags.instance);
  if (folder.empty() || !fs::is_directory(folder, ec)) {
    folder = default_journal_folder(flags.instance);
  }
  if (!fs::is_directory(folder, ec) || journal_segments(folder).empty()) {
    throw Error(ErrorCode::no_instance,
                "instance \"" + flags.instance + "\" has no journal here: no running writer " +
                    "records one, and " + folder.string() +
                    " holds none; give --journal DIR (the writer's --journal folder), or see "
                    "evring ls for this machine's instances");
  }
  return folder;
}

std::optional<pid_t> journal_writer_pid(const fs::path& folder) {
  struct stat lock_file {};
  if (::stat((folder / "writer.lock").c_str(), &lock_file) != 0) return std::nullopt;
  // Lines like "1: FLOCK  ADVISORY  WRITE 4242 fe:00:10953185 0 EOF"; a waiter's has "->".
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream words(line);
    std::string number, type, advisory, mode, file;
    pid_t pid = 0;
    if (!(words >> number >> type >> advisory >> mode >> pid >> file) || type != "FLOCK") {
      continue;
    }
    unsigned major_id = 0, minor_id = 0;
    unsigned long inode = 0;
    if (std::sscanf(file.c_str(), "%x:%x:%lu", &major_id, &minor_id, &inode) == 3 &&
        inode == lock_file.st_ino && major_id == major(lock_file.st_dev) &&
        minor_id == minor(lock_file.st_dev)) {
      return pid;
    }
  }
  return std::nullopt;
}

Command add_journal_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand(
      "journal", "check, describe and export a journal (also with no writer running)");
  app->footer(kJournalFooter);
  app->require_subcommand(1, 1);
  struct Sub {
    const char* name;
    const char* description;
    int (*run)(const JournalToolFlags&);
    bool json;  // export prints JSON lines anyway
    bool archive_flag;
  };
  static constexpr Sub kSubs[] = {
      {"verify", "check every segment header, record CRC and seq; name the first bad one",
       run_journal_verify, true, true},
      {"info", "the journal's folder, domain, history, archive, segments and writer",
       run_journal_info, true, false},
      {"export", "the records as JSON lines, described by the domain", run_journal_export, false,
       false},
  };
  std::vector<std::pair<CLI::App*, std::shared_ptr<JournalToolFlags>>> subs;
  for (const Sub& sub : kSubs) {
    auto flags = std::make_shared<JournalToolFlags>();
    CLI::App* sub_app = app->add_subcommand(sub.name, sub.description);
    sub_app->footer(kJournalFooter);
    add_journal_tool_flags(*sub_app, *flags, sub.json);
    if (sub.archive_flag) {
      sub_app->add_flag("--no-archive", flags->no_archive,
                        "the live folder only, not the archived segments");
    }
    subs.emplace_back(sub_app, flags);
  }
  const Command holds = add_journal_holds_command(*app);
  const Command release = add_journal_release_command(*app);
  return Command{app, [subs, holds, release] {
                   for (std::size_t i = 0; i < subs.size(); ++i) {
                     if (*subs[i].first) return kSubs[i].run(*subs[i].second);
                   }
                   if (*holds.app) return holds.run();
                   if (*release.app) return release.run();
                   return kExitError;  // unreachable: require_subcommand(1, 1)
                 }};
}

}  // namespace evring::tools
