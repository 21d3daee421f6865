// The writer's start: the journal folder's lock and domain, the journal's recovery, the
// newest usable snapshot and the replay of the rest; then the ring and the command sources.
// And the snapshots taken while it runs.
#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include <sys/stat.h>

#include <fmt/format.h>

#include "builtin_domains.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"
#include "journal/journal_retention.hpp"
#include "journal/snapshot_file.hpp"
#include "model_snapshot.hpp"
#include "sys/paths.hpp"
#include "writer_state.hpp"

namespace fs = std::filesystem;

namespace evring::writer {
namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::string_view kSnapshotKind = "model";

DomainPlugin load_domain(const WriterOptions& options) {
  if (const evring_domain_v1* table = find_builtin_domain(options.domain)) {
    return DomainPlugin::from_table(table, "built-in domain " + options.domain,
                                    options.domain_config);
  }
  if (options.domain.find('/') == std::string::npos && !options.domain.ends_with(".so")) {
    std::string names;
    for (const std::string_view name : builtin_domain_names()) {
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    throw Error(ErrorCode::invalid_argument, "unknown domain \"" + options.domain +
                                                 "\": choose a built-in (" + names +
                                                 ") or give the path of a plugin .so");
  }
  return DomainPlugin::load_library(options.domain, options.domain_config);
}

// What the journal folder and the registry say the writer runs: a plugin's library by its
// absolute path, so a tool started elsewhere can load it.
DomainRecord domain_record(const WriterOptions& options, const DomainPlugin& domain) {
  DomainRecord record{std::string(domain.name()), {}};
  if (find_builtin_domain(options.domain) == nullptr) {
    record.library = fs::absolute(options.domain).lexically_normal().string();
  }
  return record;
}

// What a writer start adds to the journal's folder, so a start that fails can take it back
// (a folder, lock, domain file or preallocated segment a user never asked to keep).
class StartFootprint {
 public:
  explicit StartFootprint(const fs::path& journal_dir) : journal_dir_(journal_dir) {
    std::error_code ec;
    // The highest folder on the way to the journal that is not there yet, if any.
    for (fs::path folder = journal_dir; !folder.empty() && !fs::exists(folder, ec);
         folder = folder.parent_path()) {
      created_root_ = folder;
      if (folder == folder.parent_path()) break;
    }
    if (created_root_.empty()) {
      for (const auto& entry : fs::directory_iterator(journal_dir, ec)) {
        existing_.push_back(entry.path().filename());
      }
    }
  }
  // After a failed start: removes what it added. Never throws (the start's error matters).
  void take_back() const noexcept {
    std::error_code ec;
    if (!created_root_.empty()) {
      fs::remove_all(created_root_, ec);
      return;
    }
    for (const auto& entry : fs::directory_iterator(journal_dir_, ec)) {
      const fs::path name = entry.path().filename();
      if (std::find(existing_.begin(), existing_.end(), name) == existing_.end()) {
        std::error_code ignored;
        fs::remove_all(entry.path(), ignored);
      }
    }
  }

 private:
  fs::path journal_dir_;
  fs::path created_root_;
  std::vector<fs::path> existing_;
};

bool granted(const WriterOptions& options) {
  return options.group != kCreatorGroup;
}

// What the granted group may read: the ring and the journal (docs/writer.md, "Access").
mode_t read_mode(const WriterOptions& options) {
  return granted(options) ? options.mode | S_IRGRP : options.mode;
}

// Who may submit: the owner, and the group with group_submit.
mode_t submit_mode(const WriterOptions& options, mode_t mode) {
  return granted(options) && options.group_submit ? mode | S_IRGRP | S_IWGRP : mode;
}

}  // namespace

std::uint32_t event_payload_limit(const WriterOptions& options) {
  if (options.max_payload == 0 || options.max_payload > kMaxEventPayload) {
    throw Error(ErrorCode::invalid_argument,
                "--max-payload " + std::to_string(options.max_payload) +
                    " bytes: choose 1 byte to " + std::to_string(kMaxEventPayload >> 20) + " MiB");
  }
  return static_cast<std::uint32_t>(options.max_payload);
}

std::unique_ptr<Writer> Writer::start(const WriterOptions& options, const WriterLog& log) {
  validate_instance_name(options.instance);
  validate_ring_options(RingOptions{options.instance, options.ring_bytes,
                                    event_payload_limit(options), 1, options.mode});
  // Before touching the journal: a second writer of the instance is refused with nothing
  // made (its journal folder, lock and segment belong to the running one).
  ensure_no_live_writer(options.instance);
  auto state = std::make_unique<State>(options, log, load_domain(options));
  std::optional<StartFootprint> footprint;
  if (options.durability != Durability::none) {
    footprint.emplace(options.journal.empty() ? default_journal_folder(options.instance)
                                              : options.journal);
  }
  try {
    state->recover();
  } catch (...) {
    state.reset();  // closes the journal and its lock first
    if (footprint) footprint->take_back();
    throw;
  }
  return std::unique_ptr<Writer>(new Writer(std::move(state)));
}

void Writer::State::recover() {
  if (options.durability != Durability::none) {
    journal_dir =
        options.journal.empty() ? default_journal_folder(options.instance) : options.journal;
    lock = JournalLock(journal_dir);
    check_journal_domain(journal_dir, domain_record(options, domain));
    JournalOptions journal_options;
    journal_options.directory = journal_dir;
    journal_options.segment_bytes = options.journal_segment_bytes;
    journal_options.max_payload = event_payload_limit(options);
    journal_options.mode = read_mode(options);
    journal_options.group = options.group;
    JournalRecovery found;
    journal.emplace(JournalWriter::open(journal_options, &found));
    if (found.cut_torn_tail) {
      log(LogLevel::warn,
          fmt::format("journal: cut a torn tail off {} at byte {}: {}", found.cut_segment.string(),
                      found.cut_at_offset, found.cut_reason));
    }
    next_seq = journal->next_seq();
    const std::uint64_t last = next_seq - 1;
    std::uint64_t from = found.first_seq == 0 ? next_seq : found.first_seq;
    // Also with an empty journal: snapshots of an earlier history are cleared away.
    if (const std::uint64_t restored = restore_snapshot(last); restored != 0) {
      from = restored + 1;
    } else if (from > 1 && last >= from) {
      // Retention removed the start, which only a model snapshot's hold allows: without a
      // usable snapshot the model needs the archive.
      from = oldest_readable_seq(journal_dir);
      if (from > 1) {
        throw Error(ErrorCode::corrupt,
                    fmt::format("the journal in {} starts at seq {} (retention removed the events "
                                "before it) and no model snapshot in {}/snapshots can be used, so "
                                "the model cannot be rebuilt: restore the snapshots or the "
                                "removed segments from a backup, or move the journal away to "
                                "start a new history",
                                journal_dir.string(), from, journal_dir.string()));
      }
    }
    if (last >= from) replay_journal(from, last);
    last_snapshot_seq = last;
    start_retention();
    log(LogLevel::info,
        fmt::format("journal {} ({}): {} events, next seq {}", journal_dir.string(),
                    to_string(options.durability),
                    found.last_seq == 0 ? 0 : last - found.first_seq + 1, next_seq));
  }
  WriterInfo info{};
  const DomainRecord record = domain_record(options, domain);
  std::snprintf(info.domain, sizeof info.domain, "%s", record.name.c_str());
  std::snprintf(info.domain_library, sizeof info.domain_library, "%s", record.library.c_str());
  if (journal) {
    std::snprintf(info.journal, sizeof info.journal, "%s",
                  fs::absolute(journal_dir).lexically_normal().c_str());
  }
  info.durability = static_cast<std::uint32_t>(options.durability);
  ring.emplace(RingWriter::create(RingOptions{options.instance, options.ring_bytes,
                                              event_payload_limit(options), next_seq,
                                              read_mode(options), info, options.group,
                                              journal ? journal->history_id() : new_history_id()}));
  if (options.socket_intake) {
    // Listening before the shared-memory intake exists: whoever finds the writer ready
    // (a client connects) finds its socket too. The thread starts once the intake it
    // wakes is there.
    SocketIntakeOptions socket_options;
    socket_options.path =
        options.socket_path.empty() ? default_socket_path(options.instance) : options.socket_path;
    socket_options.mode = submit_mode(options, options.socket_mode);
    if (granted(options) && options.group_submit) socket_options.group = options.group;
    socket_options.instance = options.instance;
    // The socket thread wakes the apply thread the way a client does: through the
    // intake's doorbell, since that is the futex its sleep waits on.
    socket = std::make_unique<SocketIntake>(
        socket_options, [this] { intake->wake(); }, log);
  }
  intake.emplace(CommandIntake::create(
      IntakeOptions{options.instance, ring->incarnation(), submit_mode(options, options.mode),
                    options.group_submit ? options.group : kCreatorGroup}));
  shared_memory.emplace(*intake);
  sources.push_back(&*shared_memory);
  if (socket) sources.push_back(socket.get());
  if (socket) {
    socket->start();
    log(LogLevel::info,
        fmt::format("socket intake on {} (mode {:04o})", socket->path().string(),
                    static_cast<unsigned>(submit_mode(options, options.socket_mode) & 07777)));
  }
  events.set_max_payload(ring->max_payload());
}

std::uint64_t Writer::State::restore_snapshot(std::uint64_t journal_last_seq) {
  const fs::path directory = journal_dir / "snapshots";
  for (const SnapshotInfo& info : list_snapshot_files(directory, kSnapshotKind)) {
    try {
      const ModelSnapshot snapshot = decode_model_snapshot(read_snapshot_file(info, kSnapshotKind));
      if (info.seq > journal_last_seq && snapshot.history_id == journal->history_id()) {
        log(LogLevel::warn,
            fmt::format("snapshot {} is ahead of the journal (seq {} > {}): not used",
                        info.path.string(), info.seq, journal_last_seq));
        continue;
      }
      if (snapshot.domain != domain.name()) {
        throw MalformedInput("it is of domain \"" + snapshot.domain + "\"");
      }
      if (snapshot.history_id != journal->history_id()) {
        // Useless for this journal forever, and left in place it would outrank (and prune)
        // the snapshots of this history.
        std::error_code ignored;
        fs::remove(info.path, ignored);
        throw MalformedInput("it is of history " + history_text(snapshot.history_id) +
                             ", the journal of history " + history_text(journal->history_id()) +
                             " (the journal was started again); removed it");
      }
      domain.restore(snapshot.model);
      for (const auto& [id, seq] : snapshot.window) window.remember(id, seq);
      log(LogLevel::info,
          fmt::format("restored the model at seq {} from {}", info.seq, info.path.string()));
      return info.seq;
    } catch (const std::exception& e) {
      // The journal still holds everything: fall back to an older snapshot or a full replay.
      log(LogLevel::warn, fmt::format("snapshot {} not used: {}", info.path.string(), e.what()));
      domain.reset();  // back to an empty model
      window = DuplicateWindow(options.duplicate_window);
    }
  }
  return 0;
}

void Writer::State::replay_journal(std::uint64_t from_seq, std::uint64_t to_seq) {
  const std::uint64_t total = to_seq - from_seq + 1;
  JournalReader reader = JournalReader::open(journal_dir, from_seq);
  std::array<JournalRecord, kReplayBatch> records;
  std::array<evring_event, kReplayBatch> run;
  std::uint64_t done = 0;
  const std::int64_t start = monotonic_ns();
  const std::int64_t start_cpu = thread_cpu_ns();
  std::int64_t next_report = start + kSecondNs;
  while (done < total) {
    const std::size_t count = reader.next_batch(
        std::span(records.data(),
                  static_cast<std::size_t>(std::min<std::uint64_t>(records.size(), total - done))));
    if (count == 0) break;
    // The run in one call, so the domain can look ahead at the state it touches.
    for (std::size_t i = 0; i < count; ++i) {
      const JournalRecord& record = records[i];
      run[i] = evring_event{record.seq,        record.type,           0,
                            record.publish_ns, record.payload.data(), record.payload.size()};
    }
    domain.apply_events(std::span(run.data(), count));
    for (const JournalRecord& record : std::span(records.data(), count)) {
      if (!record.meta.empty()) window.remember(as_text(record.meta), record.seq);
    }
    const std::uint64_t before = done;
    done += count;
    if ((done >> 16) != (before >> 16)) {  // every 65536 events
      const std::int64_t now = monotonic_ns();
      if (now >= next_report) {
        log(LogLevel::info,
            fmt::format("replaying the journal: {}/{} events ({:.0f}%), {} events/s, {}", done,
                        total, 100.0 * static_cast<double>(done) / static_cast<double>(total),
                        rate_text(done, now - start),
                        time_left_text(total - done, done, now - start)));
        next_report = now + kSecondNs;
      }
    }
  }
  if (done != total) {
    throw Error(ErrorCode::corrupt, "the journal in " + journal_dir.string() + " ends at seq " +
                                        std::to_string(from_seq + done - 1) + ", expected " +
                                        std::to_string(to_seq));
  }
  const std::int64_t took = monotonic_ns() - start;
  log(LogLevel::info,
      fmt::format("replayed {} events (seq {} to {}) in {:.3f} s: {} events/s ({} per CPU second)",
                  total, from_seq, to_seq, static_cast<double>(took) / 1e9, rate_text(total, took),
                  rate_text(total, thread_cpu_ns() - start_cpu)));
}

void Writer::State::take_snapshot() {
  if (!journal || head() == last_snapshot_seq) return;
  const std::int64_t start = monotonic_ns();
  try {
    write_snapshot_file(
        journal_dir / "snapshots", kSnapshotKind, head(),
        encode_model_snapshot(domain.name(), journal->history_id(), domain.snapshot(), window),
        options.mode);
  } catch (const Error& e) {
    // A snapshot only shortens the next start; the journal holds every event. Try again
    // after the next snapshot_every events.
    if (e.code() != ErrorCode::resource) throw;
    log(LogLevel::warn, fmt::format("snapshot at seq {} not written: {} (the journal has every "
                                    "event; the next start replays more of it)",
                                    head(), e.what()));
    last_snapshot_seq = head();
    return;
  }
  last_snapshot_seq = head();
  log(LogLevel::debug, fmt::format("snapshot of the model at seq {} ({:.1f} ms)", head(),
                                   static_cast<double>(monotonic_ns() - start) / 1e6));
}

}  // namespace evring::writer
