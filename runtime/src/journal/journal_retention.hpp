// Retention: which sealed segments of a journal may go, and their removal (or their move
// into the archive, journal_archive.hpp). The writer's retention thread runs it; evring stat
// and evring journal holds read the same picture of the folder.
//
// Only sealed segments go (never the newest, which the writer appends to), oldest first,
// while the sealed ones are over `max_bytes` or sealed longer ago than `max_age_ns`; a
// segment's age is when the next segment was created, which is after its newest record, so
// a segment never goes early. Without an archive, a segment any holder still needs stops
// the removals there: the holds (journal_holds.hpp) and the writer's oldest kept model
// snapshot, which a recovery starts from (its duplicate window is in the snapshot; the
// journal after it rebuilds the rest). With an archive nothing is lost, so holds do not
// stop a move.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace evring {

struct RetentionPolicy {
  std::uint64_t max_bytes = 0;           // of the sealed segments; 0: no limit
  std::int64_t max_age_ns = 0;           // 0: no limit
  std::filesystem::path archive;         // empty: remove instead of archive
  mode_t mode = 0600;                    // of archived files
  gid_t group = static_cast<gid_t>(-1);  // of archived files: kCreatorGroup, or the journal's
  bool enabled() const { return max_bytes != 0 || max_age_ns != 0; }
};

// One segment of the journal folder.
struct SegmentOnDisk {
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;  // sealed: the next one's first - 1; the newest: 0 (unknown)
  std::uint64_t bytes = 0;
  std::int64_t sealed_unix_ns = 0;  // when the next one was created; newest: 0
  std::filesystem::path path;
};
// The segments in seq order; every one but the last is sealed. Any thread.
std::vector<SegmentOnDisk> segments_on_disk(const std::filesystem::path& journal_dir);

// Who needs what: a hold file's holder, or "model-snapshot" for the writer's own.
struct Holder {
  std::string name;
  std::uint64_t needed_seq = 0;
  std::string why;  // "needs seq 1201", "model snapshot at 1200"
};
// Every holder of the journal, the lowest needed seq first. Any thread.
std::vector<Holder> journal_holders(const std::filesystem::path& journal_dir);

// What one pass removed or archived.
struct SegmentRetired {
  SegmentOnDisk segment;
  bool archived = false;
  std::uint64_t archived_bytes = 0;
  std::string reason;  // "over --retain 10 MiB", "sealed more than --retain-for ago"
};
struct RetentionPass {
  std::vector<SegmentRetired> retired;
  // The holder that stopped the pass, when one did (a segment was due but held).
  std::optional<Holder> held_by;
  std::uint64_t held_segment_first = 0;
};
// One pass over the folder as the policy says, at `now_unix_ns`, until done or `stop` is
// set (looked at between segments, and between chunks of a segment's compression). Any
// thread; one pass at a time per journal. Throws Error(io/permission_denied/resource/
// history_changed) naming the file when a removal or move fails; what it did before is done.
RetentionPass apply_retention(const std::filesystem::path& journal_dir,
                              const RetentionPolicy& policy, std::int64_t now_unix_ns,
                              const std::atomic<bool>& stop);

// The oldest seq the journal folder and its archive still hold, and what holds the oldest
// segment: for evring stat. Any thread.
struct JournalExtent {
  std::uint64_t first_seq = 0;  // live segments (0: none)
  std::uint64_t last_seq = 0;   // the newest record (0: none)
  std::size_t segments = 0;
  std::uint64_t bytes = 0;
  std::optional<std::filesystem::path> archive;
  std::uint64_t archive_first_seq = 0;  // 0: empty or none
  std::size_t archive_segments = 0;
  std::uint64_t archive_bytes = 0;
  std::optional<Holder> oldest_holder;  // of the oldest live segment, if anyone needs it
};
JournalExtent journal_extent(const std::filesystem::path& journal_dir);

// The oldest seq a reader can still read: the archive's first, else the live journal's.
std::uint64_t oldest_readable_seq(const std::filesystem::path& journal_dir);

}  // namespace evring
