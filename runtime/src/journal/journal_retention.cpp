// Retention of a journal's sealed segments (journal_retention.hpp).
#include "journal/journal_retention.hpp"

#include <algorithm>
#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "journal/journal_archive.hpp"
#include "journal/journal_holds.hpp"
#include "journal/segment_file.hpp"
#include "journal/snapshot_file.hpp"

namespace fs = std::filesystem;

namespace evring {
namespace {

constexpr std::string_view kModelSnapshotKind = "model";  // the writer's (writer/recovery.cpp)

// The header's creation time, read without mapping the segment.
std::int64_t created_unix_ns(const fs::path& segment) {
  JournalSegmentHeader header{};
  const int fd = ::open(segment.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const bool read = ::pread(fd, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header);
  ::close(fd);
  return read ? header.created_unix_ns : 0;
}

std::string size_words(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (1ull << 20)) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1ull << 10)) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

}  // namespace

std::vector<SegmentOnDisk> segments_on_disk(const fs::path& journal_dir) {
  std::vector<SegmentOnDisk> found;
  for (fs::path& path : journal_segments(journal_dir)) {
    SegmentOnDisk segment;
    segment.first_seq = *journal_file::first_seq_from_name(path);
    std::error_code ec;
    segment.bytes = fs::file_size(path, ec);
    if (ec) continue;  // removed while listed
    segment.path = std::move(path);
    if (!found.empty()) {
      found.back().last_seq = segment.first_seq - 1;
      found.back().sealed_unix_ns = created_unix_ns(segment.path);
    }
    found.push_back(std::move(segment));
  }
  return found;
}

std::vector<Holder> journal_holders(const fs::path& journal_dir) {
  std::vector<Holder> holders;
  for (const JournalHold& hold : read_holds(journal_dir)) {
    holders.push_back({hold.holder, hold.needed_seq,
                       hold.unreadable.empty()
                           ? "needs seq " + std::to_string(hold.needed_seq)
                           : "its hold file " + hold.path.string() + " " + hold.unreadable +
                                 ", so it keeps every segment: let the writer's user read it "
                                 "(mode 0640, the journal's group), or evring journal release "
                                 "it"});
  }
  // The oldest kept snapshot, not the newest: recovery falls back to it when the newest
  // cannot be read. No snapshot yet: a recovery replays from seq 1.
  const std::vector<SnapshotInfo> snapshots =
      list_snapshot_files(journal_dir / "snapshots", kModelSnapshotKind);
  if (snapshots.empty()) {
    holders.push_back({"model-snapshot", 1, "no model snapshot yet: a restart replays from seq 1"});
  } else {
    const std::uint64_t seq = snapshots.back().seq;
    holders.push_back({"model-snapshot", seq + 1, "model snapshot at " + std::to_string(seq)});
  }
  std::stable_sort(holders.begin(), holders.end(),
                   [](const Holder& a, const Holder& b) { return a.needed_seq < b.needed_seq; });
  return holders;
}

RetentionPass apply_retention(const fs::path& journal_dir, const RetentionPolicy& policy,
                              std::int64_t now_unix_ns, const std::atomic<bool>& stop) {
  RetentionPass pass;
  if (!policy.enabled()) return pass;
  std::vector<SegmentOnDisk> segments = segments_on_disk(journal_dir);
  if (segments.size() < 2) return pass;
  segments.pop_back();  // the one being written
  std::uint64_t sealed_bytes = 0;
  for (const SegmentOnDisk& segment : segments) sealed_bytes += segment.bytes;
  // Read once per pass: a holder only moves forward, so a hold read now stays safe.
  const std::vector<Holder> holders = journal_holders(journal_dir);
  for (const SegmentOnDisk& segment : segments) {
    const bool over_size = policy.max_bytes != 0 && sealed_bytes > policy.max_bytes;
    // Relaxed: a flag polled between segments, ordering nothing else.
    if (stop.load(std::memory_order_relaxed)) break;
    // A seal time of 0 (the next segment's header could not be read) is not "long ago".
    const bool too_old = policy.max_age_ns != 0 && segment.sealed_unix_ns != 0 &&
                         now_unix_ns - segment.sealed_unix_ns > policy.max_age_ns;
    if (!over_size && !too_old) break;
    if (policy.archive.empty()) {
      const auto holder = std::find_if(holders.begin(), holders.end(), [&](const Holder& h) {
        return h.needed_seq <= segment.last_seq;
      });
      if (holder != holders.end()) {
        pass.held_by = *holder;
        pass.held_segment_first = segment.first_seq;
        break;
      }
    }
    SegmentRetired retired;
    retired.segment = segment;
    retired.reason = over_size
                         ? "the sealed segments are over --retain " + size_words(policy.max_bytes)
                         : "sealed longer ago than --retain-for";
    if (policy.archive.empty()) {
      if (::unlink(segment.path.c_str()) != 0 && errno != ENOENT) {
        journal_file::throw_file_error("cannot remove", segment.path, errno);
      }
    } else {
      const std::optional<std::uint64_t> archived =
          archive_segment(segment.path, policy.archive, policy.mode, policy.group, stop);
      if (!archived) break;  // stopped
      retired.archived = true;
      retired.archived_bytes = *archived;
    }
    sealed_bytes -= segment.bytes;
    pass.retired.push_back(std::move(retired));
  }
  return pass;
}

JournalExtent journal_extent(const fs::path& journal_dir) {
  JournalExtent extent;
  const std::vector<SegmentOnDisk> segments = segments_on_disk(journal_dir);
  extent.segments = segments.size();
  for (const SegmentOnDisk& segment : segments) extent.bytes += segment.bytes;
  if (!segments.empty()) {
    extent.first_seq = segments.front().first_seq;
    try {
      // The newest record: walk the newest segment's headers to its end.
      const journal_file::MappedFile newest(segments.back().path, false);
      const journal_file::Position end =
          journal_file::skip_toward(newest, segments.back().first_seq, ~std::uint64_t{0});
      extent.last_seq = end.seq - 1;
    } catch (const std::exception&) {
      extent.last_seq = segments.back().first_seq - 1;  // rolled away meanwhile
    }
    if (extent.last_seq < extent.first_seq) extent.first_seq = 0;  // nothing yet
    const std::uint64_t oldest_last =
        segments.size() > 1 ? segments.front().last_seq : ~std::uint64_t{0};
    try {
      for (const Holder& holder : journal_holders(journal_dir)) {
        if (holder.needed_seq <= oldest_last) {
          extent.oldest_holder = holder;
          break;
        }
      }
    } catch (const Error&) {
      // A granted group's member may not list the writer's snapshots: the holder is then
      // unknown, the rest still worth showing.
    }
  }
  extent.archive = read_journal_archive(journal_dir);
  if (extent.archive) {
    const std::vector<ArchivedSegment> archived = archived_segments(*extent.archive);
    extent.archive_segments = archived.size();
    for (const ArchivedSegment& segment : archived) extent.archive_bytes += segment.bytes;
    if (!archived.empty()) extent.archive_first_seq = archived.front().first_seq;
  }
  return extent;
}

std::uint64_t oldest_readable_seq(const fs::path& journal_dir) {
  if (const auto archive = read_journal_archive(journal_dir)) {
    const std::vector<ArchivedSegment> archived = archived_segments(*archive);
    if (!archived.empty()) return archived.front().first_seq;
  }
  const std::vector<fs::path> segments = journal_segments(journal_dir);
  return segments.empty() ? 1 : *journal_file::first_seq_from_name(segments.front());
}

}  // namespace evring
