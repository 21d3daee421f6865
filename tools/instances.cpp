// evring ls and evring rm: the instances of this machine, and removing a stopped one's
// state. An instance is found by what it leaves: its shared-memory segments
// (/dev/shm/evring.<name>.<part>) and its folder under the data folder (journal, model
// snapshots, reader checkpoints); its registry, if there, says who runs. Neither command
// writes to a segment or claims a reader slot.
//   ls   one row per instance: state (live: its writer runs; stopped: segments left by a
//        writer that is gone; on disk: only files), domain, journal size, live readers
//   rm   prints what it removes, asks on a terminal (--yes: does not ask), removes it;
//        refuses while a writer or a reader of the instance runs, naming the pid
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "command.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"
#include "exit_status.hpp"
#include "footprint.hpp"
#include "journal/journal.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "sys/paths.hpp"
#include "sys/process.hpp"

namespace fs = std::filesystem;

namespace evring::tools {
namespace {

constexpr const char* kShmFolder = "/dev/shm";
constexpr std::string_view kSegmentPrefix = "evring.";
// The parts of an instance's segments: segment_name(instance, part).
constexpr std::string_view kSegmentParts[] = {"ring", "registry", "intake"};
constexpr std::string_view kSocketSuffix = ".sock";
constexpr std::string_view kQuerySegmentInfix = ".query.";  // query_shm::segment_part()

constexpr const char* kLsFooter = R"(Examples:
  evring ls
What it shows, one row per instance found in /dev/shm (its segments) or in the data folder
($XDG_STATE_HOME/evring, else ~/.local/state/evring):
  STATE    live (its writer runs), stopped (its writer is gone and left its segments) or
           on disk (only files: a journal, snapshots, checkpoints)
  DOMAIN   the writer's domain (from the registry, else from the journal)
  JOURNAL  the journal's size on disk, or - for none
  READERS  how many of its readers run
Exit status: 0, or 2 on error.)";

constexpr const char* kRmFooter = R"(Examples:
  evring rm --name orders          # lists what it removes and asks
  evring rm --name orders --yes    # removes it without asking (scripts)
Removes a stopped instance's state: its segments in /dev/shm, its folder under the data
folder (journal, model snapshots, reader checkpoints), the journal folder its writer used
(the segment files, snapshots, lock and domain file evring put there), and its sockets.
Refused while a writer or a reader of it runs (stop it first: kill PID). Without a
terminal to ask on, it needs --yes.
Exit status: 0 once removed, 2 on error, refusal or no such instance.)";

std::string fixed_string(const char* text, std::size_t capacity) {
  return std::string(text, strnlen(text, capacity));
}

// What this machine holds of one instance.
struct InstanceFiles {
  std::string name;
  std::vector<fs::path> segments;  // in /dev/shm
  std::optional<fs::path> data_folder;
  // From the registry, if its segment is there.
  bool has_registry = false;
  std::uint64_t writer_pid = 0;
  bool writer_runs = false;
  std::string domain;
  fs::path journal;                 // the registry's, else the default one if it exists
  std::set<std::uint64_t> readers;  // pids of its readers that run
};

// The instance a /dev/shm file name belongs to: "evring.<name>.<part>", or a reader's
// query segment "evring.<name>.query.<reader id>".
std::optional<std::string> instance_of_segment(const std::string& file) {
  if (!file.starts_with(kSegmentPrefix)) return std::nullopt;
  if (const std::size_t query = file.find(kQuerySegmentInfix, kSegmentPrefix.size());
      query != std::string::npos && query > kSegmentPrefix.size()) {
    return file.substr(kSegmentPrefix.size(), query - kSegmentPrefix.size());
  }
  for (const std::string_view part : kSegmentParts) {
    const std::string suffix = "." + std::string(part);
    if (file.size() > kSegmentPrefix.size() + suffix.size() && file.ends_with(suffix)) {
      return file.substr(kSegmentPrefix.size(),
                         file.size() - kSegmentPrefix.size() - suffix.size());
    }
  }
  return std::nullopt;
}

bool valid_instance_name(const std::string& name) {
  try {
    validate_instance_name(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// The pid of the process that listens on the Unix socket `path`, if one does.
std::optional<std::uint64_t> socket_listener(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof address.sun_path) {
    ::close(fd);
    return std::nullopt;
  }
  std::copy(path.native().begin(), path.native().end(), address.sun_path);
  std::optional<std::uint64_t> pid;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0) {
      pid = static_cast<std::uint64_t>(peer.pid);
    }
  }
  ::close(fd);
  return pid;
}

// The sockets of instance `name` in the runtime folder: its writer's (<name>.sock) and its
// readers' (<name>.<id>.sock).
std::vector<fs::path> instance_sockets(const std::string& name) {
  std::vector<fs::path> sockets;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(default_runtime_folder(), ec)) {
    const std::string file = entry.path().filename().string();
    if (file.starts_with(name + ".") && file.ends_with(kSocketSuffix)) {
      sockets.push_back(entry.path());
    }
  }
  std::sort(sockets.begin(), sockets.end());
  return sockets;
}

// Fills in what the registry and the sockets say of `files`.
void look_inside(InstanceFiles& files) {
  try {
    const Registry registry = Registry::open(files.name, Access::read_only);
    const RegistryLayout& layout = registry.layout();
    files.has_registry = true;
    files.writer_pid = layout.preamble.owner_pid;
    // acquire: pairs with the writer's release store of the state (ready, closed).
    const auto state =
        static_cast<SegmentState>(layout.preamble.state.load(std::memory_order_acquire));
    files.writer_runs =
        state != SegmentState::closed &&
        ProcessIdentity{layout.preamble.owner_pid, layout.preamble.owner_start_ticks}.alive();
    files.domain = fixed_string(layout.info.domain, sizeof layout.info.domain);
    files.journal = fixed_string(layout.info.journal, sizeof layout.info.journal);
    for (const ReaderInfo& reader : registry.readers()) {
      if (reader.alive) files.readers.insert(reader.pid);
    }
  } catch (const Error&) {
    // No registry (or not one of ours): the files on disk are all there is to go by.
  }
  const fs::path default_journal = default_journal_folder(files.name);
  std::error_code ec;
  if (files.journal.empty() && fs::is_directory(default_journal, ec)) {
    files.journal = default_journal;
  }
  if (files.domain.empty() && !files.journal.empty()) {
    std::ifstream in(files.journal / "domain");
    std::getline(in, files.domain);
  }
  // A reader outlives its writer's clean stop (it waits for the next one), when the
  // segments are gone: its query socket still answers.
  const std::string writer_socket = files.name + std::string(kSocketSuffix);
  for (const fs::path& socket : instance_sockets(files.name)) {
    if (socket.filename() == writer_socket) continue;
    if (const std::optional<std::uint64_t> pid = socket_listener(socket)) {
      if (*pid != files.writer_pid) files.readers.insert(*pid);
    }
  }
}

// Every instance this machine holds something of, by name.
std::map<std::string, InstanceFiles> find_instances() {
  std::map<std::string, InstanceFiles> found;
  const auto entry_for = [&found](const std::string& name) -> InstanceFiles& {
    InstanceFiles& files = found[name];
    files.name = name;
    return files;
  };
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kShmFolder, ec)) {
    const std::optional<std::string> name = instance_of_segment(entry.path().filename().string());
    if (name && valid_instance_name(*name)) entry_for(*name).segments.push_back(entry.path());
  }
  for (const auto& entry : fs::directory_iterator(default_data_folder(), ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && valid_instance_name(name))
      entry_for(name).data_folder = entry.path();
  }
  for (auto& [name, files] : found) look_inside(files);
  return found;
}

std::string state_of(const InstanceFiles& files) {
  if (files.writer_runs) return "live";
  if (!files.segments.empty()) return "stopped";
  return "on disk";
}

int run_ls() {
  const std::map<std::string, InstanceFiles> instances = find_instances();
  if (instances.empty()) {
    fmt::print("no instances on this machine (none in {} or {})\n", kShmFolder,
               default_data_folder().string());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "STATE", "DOMAIN", "JOURNAL", "READERS"}};
  for (const auto& [name, files] : instances) {
    const JournalFootprint journal =
        files.journal.empty() ? JournalFootprint{} : journal_footprint(files.journal);
    rows.push_back({name, state_of(files), files.domain.empty() ? "-" : files.domain,
                    journal.segments == 0 ? "-" : bytes_text(static_cast<double>(journal.bytes)),
                    std::to_string(files.readers.size())});
  }
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    fmt::print("{}\n", line);
  }
  fmt::print("data folder: {}\n", default_data_folder().string());
  return kExitOk;
}

struct RmFlags {
  std::string instance;
  bool yes = false;
};

// What rm removes of `files`: whole folders, and single files.
struct Removal {
  std::vector<fs::path> folders;
  std::vector<fs::path> files;
};

// The journal folder's files that evring made (the rest is the user's and stays).
void add_journal(const fs::path& journal, Removal& removal) {
  std::error_code ec;
  for (const fs::path& segment : journal_segments(journal)) removal.files.push_back(segment);
  for (const char* file : {"writer.lock", "domain"}) {
    if (fs::exists(journal / file, ec)) removal.files.push_back(journal / file);
  }
  if (fs::is_directory(journal / "snapshots", ec)) removal.folders.push_back(journal / "snapshots");
}

Removal plan_removal(const InstanceFiles& files) {
  Removal removal;
  removal.files = files.segments;
  if (files.data_folder) removal.folders.push_back(*files.data_folder);
  const bool journal_inside =
      files.data_folder && !files.journal.empty() &&
      files.journal.lexically_normal().string().starts_with(files.data_folder->string() + "/");
  if (!files.journal.empty() && !journal_inside) add_journal(files.journal, removal);
  for (const fs::path& socket : instance_sockets(files.name)) removal.files.push_back(socket);
  return removal;
}

// Removes a file, or a folder with all in it; throws Error(io) naming what stayed.
void remove_or_throw(const fs::path& path, bool whole_folder) {
  std::error_code ec;
  if (whole_folder) {
    fs::remove_all(path, ec);
  } else {
    fs::remove(path, ec);
  }
  if (ec) {
    throw Error(ErrorCode::io, fmt::format("cannot remove {}: {} (remove it by hand)",
                                           path.string(), ec.message()));
  }
}

// y or yes on a terminal's stdin.
bool confirmed(const std::string& instance) {
  fmt::print("remove instance {}'s state? [y/N] ", instance);
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int run_rm(const RmFlags& flags) {
  validate_instance_name(flags.instance);
  std::map<std::string, InstanceFiles> instances = find_instances();
  const auto found = instances.find(flags.instance);
  if (found == instances.end()) {
    throw Error(ErrorCode::no_instance,
                fmt::format("no instance \"{}\" on this machine: nothing in {} or {} (evring ls "
                            "lists the instances)",
                            flags.instance, kShmFolder, default_data_folder().string()));
  }
  const InstanceFiles& files = found->second;
  if (files.writer_runs) {
    throw Error(ErrorCode::writer_running,
                fmt::format("instance \"{}\" has a running writer (pid {}): stop it first "
                            "(kill {}), then evring rm --name {}",
                            files.name, files.writer_pid, files.writer_pid, files.name));
  }
  if (!files.readers.empty()) {
    std::string pids;
    for (const std::uint64_t pid : files.readers) pids += " " + std::to_string(pid);
    throw Error(ErrorCode::writer_running,
                fmt::format("instance \"{}\" has running readers (pid{}): stop them first "
                            "(kill{}), then evring rm --name {}",
                            files.name, pids, pids, files.name));
  }
  const Removal removal = plan_removal(files);
  fmt::print("evring rm: instance {}: removes\n", files.name);
  for (const fs::path& folder : removal.folders)
    fmt::print("  {}/ (the folder)\n", folder.string());
  for (const fs::path& file : removal.files) fmt::print("  {}\n", file.string());
  std::fflush(stdout);
  if (!flags.yes) {
    if (!::isatty(STDIN_FILENO)) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("not removing instance {} without a confirmation, and there is no "
                              "terminal to ask on: pass --yes (evring rm --name {} --yes)",
                              files.name, files.name));
    }
    if (!confirmed(files.name)) {
      fmt::print("nothing removed\n");
      return kExitError;
    }
  }
  for (const fs::path& file : removal.files) remove_or_throw(file, false);
  for (const fs::path& folder : removal.folders) remove_or_throw(folder, true);
  // The journal folder the writer was given, if only evring's files were in it.
  if (!files.journal.empty()) {
    std::error_code ec;
    if (fs::is_empty(files.journal, ec)) fs::remove(files.journal, ec);
  }
  fmt::print("removed instance {}\n", files.name);
  return kExitOk;
}

}  // namespace

Command add_ls_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand(
      "ls", "list this machine's instances: state, domain, journal size, readers");
  app->footer(kLsFooter);
  return {app, [] { return run_ls(); }};
}

Command add_rm_command(CLI::App& parent) {
  auto flags = std::make_shared<RmFlags>();
  CLI::App* app = parent.add_subcommand(
      "rm", "remove a stopped instance's state: segments, journal, checkpoints, sockets");
  app->footer(kRmFooter);
  app->add_option("--name", flags->instance, "instance name")->required();
  app->add_flag("--yes", flags->yes, "remove without asking");
  return {app, [flags] { return run_rm(*flags); }};
}

}  // namespace evring::tools
