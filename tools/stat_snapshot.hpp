// evring stat's model: samples of an instance's registry and ring, and the snapshot two of
// them make (states, lags, rates). Read-only: no reader slot is claimed, nothing written.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "journal/journal_retention.hpp"
#include "query/query_segment.hpp"
#include "remote_status.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"

namespace evring::tools::stat {

struct RingSample {
  std::uint64_t capacity = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t tail = 0;
  std::uint64_t head_seq = 0;
};

// The writer's counters of its current start, as of its last heartbeat (registry.hpp).
struct WriterCounts {
  std::uint64_t commands_accepted = 0;
  std::uint64_t commands_rejected = 0;
  std::uint64_t commands_duplicate = 0;
  std::uint64_t commands_failed = 0;
  std::uint64_t journal_bytes_written = 0;
  std::uint64_t journal_syncs = 0;
  std::uint64_t journal_sync_ns = 0;
};

struct Sample {
  std::int64_t taken_ns = 0;
  std::time_t taken_wall = 0;  // the same moment on the wall clock, for display
  std::uint64_t pid = 0;
  bool process_alive = false;
  SegmentState state = SegmentState::ready;
  std::uint64_t incarnation = 0;
  std::string domain;
  std::string journal;
  std::uint32_t durability = 0;
  std::int64_t heartbeat_ns = 0;
  // As of the writer's last heartbeat (~100 ms), which is also what the rates are
  // measured against.
  std::uint64_t events_total = 0;
  std::uint64_t bytes_total = 0;
  std::uint64_t head_seq = 0;  // the ring's, which is current; else the registry's
  WriterCounts counts;
  std::optional<RingSample> ring;
  std::vector<ReaderInfo> readers;
  // False: no registry on this machine, only remote readers (the fields above are empty).
  bool local_writer = true;
  std::vector<remote::RemoteReaderInfo> remote_readers;
  std::int64_t taken_wall_ns = 0;  // against the NATS server's times of remote readers
};

// Throws Error(no_instance) when the instance has neither a registry nor remote readers.
Sample take_sample(const std::string& instance);

enum class Health { alive, stalled, dead, closed };
std::string_view to_string(Health health);

// A remote reader's link to its stream (remote_status.hpp).
struct RemoteSide {
  std::string source;  // nats://HOST:PORT/STREAM
  bool connected = false;
};

struct ReaderRow {
  ReaderInfo info;
  std::optional<RemoteSide> remote;  // none: a reader of the ring on this machine
  Health health = Health::dead;
  std::uint64_t lag_events = 0;  // remote: against the stream's last seq
  // Unknown while the reader has applied nothing; remote: by the server's clock.
  std::optional<std::int64_t> lag_ns;
  std::optional<double> events_per_s;  // applied between the two samples, if in both
  bool slowest = false;
  std::optional<query_shm::QueryCounts> queries;  // from its query segment, if any
};

struct RingView {
  std::uint64_t capacity = 0;
  std::uint64_t written = 0;       // bytes published since the ring was created
  std::uint64_t unread_bytes = 0;  // estimated, by the slowest live reader
  double fill = 0;                 // unread_bytes / capacity
};

struct Snapshot {
  std::string instance;
  std::time_t taken_wall = 0;    // of the last sample
  std::int64_t interval_ns = 0;  // between the two samples; 0: rates not measured
  bool local_writer = true;      // false: the writer fields are empty
  std::uint64_t pid = 0;
  Health health = Health::dead;
  std::uint64_t incarnation = 0;
  std::uint64_t head_seq = 0;
  std::uint64_t events_total = 0;
  std::uint64_t bytes_total = 0;
  WriterCounts counts;
  double events_per_s = 0;
  double bytes_per_s = 0;
  std::int64_t heartbeat_age_ns = 0;
  std::string domain;
  std::string durability;
  std::string journal;                         // empty: none
  std::optional<std::uint64_t> journal_bytes;  // on disk
  std::size_t journal_segment_count = 0;
  // From the files: the seqs on disk, the archive, the holder of the oldest segment.
  std::optional<JournalExtent> journal_extent;
  std::optional<RingView> ring;
  std::vector<ReaderRow> readers;
};

// What two samples of the instance say (the same sample twice: no rates).
Snapshot make_snapshot(const std::string& instance, const Sample& first, const Sample& last);

}  // namespace evring::tools::stat
