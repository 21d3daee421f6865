// Holds: what keeps retention (journal_retention.hpp) off a journal's oldest segments. A
// holder (a reader, a bridge) writes one small file, <journal>/holds/<holder>, naming the
// first seq it still needs, its pid and when; retention never removes a segment that holds
// such a seq. Files, not a connection to the writer, so a holder that is not running still
// holds (it resumes from there), and a writer that is not running is not needed to hold.
//
// A hold is written atomically (a temporary file in the folder, made durable, renamed), so
// retention reads either the old hold or the new one. Only its owner writes it, and it only
// moves forward: whatever retention read stays at or below what the owner needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "sys/log.hpp"

namespace evring {

struct JournalHold {
  std::string holder;             // the file's name: reader-<id>, bridge-<stream>
  std::uint64_t needed_seq = 0;   // the first seq it still needs
  std::uint64_t pid = 0;          // of the process that wrote it
  std::uint64_t start_ticks = 0;  // and its start time, so a recycled pid is not taken for it
  std::int64_t written_unix_ns = 0;
  std::filesystem::path path;
  std::string unreadable;  // why the file could not be read or parsed (it then holds seq 1)
};

// <journal>/holds
std::filesystem::path holds_folder(const std::filesystem::path& journal_dir);
// The holder names the journal's own holders use.
std::string reader_holder(std::string_view reader_id);
std::string bridge_holder(std::string_view stream);

// The writer's: creates the holds folder so the journal's readers can write their holds in
// it: owner-only, or, with a granted `group` (JournalOptions::group), writable by that group
// with the setgid bit, so every hold stays in the group. Throws like the journal's folder.
void prepare_holds_folder(const std::filesystem::path& journal_dir, mode_t file_mode, gid_t group);

// Writes (replaces) the hold of `holder`: this process needs `needed_seq` and after. Any
// thread, one per holder. Throws Error(permission_denied) when the folder may not be
// written (the caller warns: retention may then remove what it needs), Error(io) otherwise.
void write_hold(const std::filesystem::path& journal_dir, std::string_view holder,
                std::uint64_t needed_seq);

// Every hold of the journal, the lowest needed seq first. A file that cannot be read or
// parsed holds seq 1 (what its holder needs is unknown) and says why in `unreadable`; a
// hold being replaced is renamed over, never half written. Any thread.
std::vector<JournalHold> read_holds(const std::filesystem::path& journal_dir);

// Removes the hold of `holder`; false if there was none. Throws Error(permission_denied/io).
bool remove_hold(const std::filesystem::path& journal_dir, std::string_view holder);

// True while the process that wrote the hold runs.
bool holder_alive(const JournalHold& hold);

// A holder's side of its hold: writes it as the holder moves on, and warns once when it
// cannot. One thread.
class HoldKeeper {
 public:
  // An empty `journal_dir` (a JetStream source, no journal at all): holds nothing.
  HoldKeeper(std::filesystem::path journal_dir, std::string holder, LogSink log);

  // The holder needs `seq` and after (0: nothing to say yet): written when it moved, at
  // once with `force` (also when unchanged), else at most once a second (a holder that moves on
  // with every event). A hold that cannot be written is warned about once: what retention may then
  // remove, and the remedy.
  void need(std::uint64_t seq, std::int64_t now_ns, bool force);
  const std::filesystem::path& journal_dir() const noexcept { return journal_dir_; }

 private:
  std::filesystem::path journal_dir_;
  std::string holder_;
  LogSink log_;
  std::uint64_t held_ = 0;
  std::int64_t written_ns_ = 0;
  bool warned_ = false;
};

}  // namespace evring
