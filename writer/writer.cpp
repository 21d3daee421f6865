#include "writer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "builtin_domains.hpp"
#include "duplicate_window.hpp"
#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"
#include "intake/command_intake.hpp"
#include "journal/snapshot_file.hpp"
#include "model_snapshot.hpp"
#include "plugin/domain_plugin.hpp"
#include "ring/broadcast_ring.hpp"
#include "socket_intake.hpp"
#include "sys/paths.hpp"

namespace fs = std::filesystem;

namespace evring::writer {
namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::int64_t kMaintainIntervalNs = 100'000'000;  // heartbeats, dead clients
constexpr std::int64_t kSleepSliceNs = 100'000'000;        // longest idle sleep
constexpr std::string_view kSnapshotKind = "model";

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string rate(std::uint64_t count, std::int64_t ns) {
  if (ns <= 0) return "-";
  return fmt::format("{:.2f} M", static_cast<double>(count) * 1e3 / static_cast<double>(ns));
}

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

// An exclusive flock on <journal>/writer.lock, held for the writer's life: two writers
// never share a journal, and kill -9 releases it with the process.
class JournalLock {
 public:
  JournalLock() = default;
  explicit JournalLock(const fs::path& directory) {
    std::error_code ec;
    // Owner-only when new (the journal grants a group, if asked, on its files).
    if (directory.has_parent_path()) fs::create_directories(directory.parent_path(), ec);
    const int made = ec ? ec.value() : (::mkdir(directory.c_str(), 0700) == 0 ? 0 : errno);
    if (made != 0 && made != EEXIST) {
      throw Error(made == EACCES || made == EROFS || made == EPERM ? ErrorCode::permission_denied
                                                                   : ErrorCode::io,
                  "cannot create the journal folder " + directory.string() + ": " +
                      errno_text(made) + " (choose a writable --journal folder)");
    }
    const fs::path path = directory / "writer.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      const int err = errno;
      throw Error(err == EACCES || err == EROFS ? ErrorCode::permission_denied : ErrorCode::io,
                  "cannot open " + path.string() + ": " + errno_text(err) +
                      " (choose a writable --journal folder)");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char holder[32] = {};
      const ssize_t got = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      throw Error(ErrorCode::writer_running,
                  "journal " + directory.string() + " is in use by another evring-writer" +
                      (got > 0 ? " (pid " + std::string(holder, static_cast<std::size_t>(got)) + ")"
                               : std::string()) +
                      ": stop it first, or give this one another --journal");
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd_, 0) == 0) {
      [[maybe_unused]] const ssize_t wrote = ::pwrite(fd_, pid.data(), pid.size(), 0);
    }
  }
  JournalLock(JournalLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  JournalLock& operator=(JournalLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~JournalLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

// <journal>/domain names the domain whose events the journal holds, and where a plugin
// domain's library is (rewritten when it moved, so tools find it).
void check_journal_domain(const fs::path& directory, const DomainRecord& domain) {
  const std::optional<DomainRecord> recorded = read_journal_domain(directory);
  if (recorded && recorded->name != domain.name) {
    throw Error(ErrorCode::incompatible,
                "journal " + directory.string() + " holds events of domain \"" + recorded->name +
                    "\", but this writer runs domain \"" + domain.name + "\": use --domain " +
                    (recorded->library.empty() ? recorded->name : recorded->library) +
                    ", or another --journal");
  }
  if (!recorded || recorded->library != domain.library) write_journal_domain(directory, domain);
}

}  // namespace

struct Writer::State {
  WriterOptions options;
  WriterLog log;
  DomainPlugin domain;
  DuplicateWindow window;
  JournalLock lock;
  std::optional<JournalWriter> journal;
  fs::path journal_dir;
  std::optional<RingWriter> ring;
  std::optional<CommandIntake> intake;
  // After `intake`, so it is destroyed first: its thread wakes the intake's sleeper.
  std::unique_ptr<SocketIntake> socket;
  std::uint64_t next_seq = 1;
  std::uint64_t last_snapshot_seq = 0;
  WriterCounters counters;

  // Reused per command: no allocation on the hot path once warm.
  EventBatch events;
  std::vector<std::byte> parsed;
  std::string reason;
  CommandReply reply;

  // sync: events journaled but not yet published, and replies not yet sent.
  struct PendingEvent {
    std::uint64_t seq;
    std::uint32_t type;
    std::size_t offset;
    std::size_t size;
  };
  std::vector<std::byte> pending_bytes;
  std::vector<PendingEvent> pending_events;
  std::vector<std::pair<ReplyAddress, CommandReply>> pending_replies;
  std::vector<std::pair<SocketReplyAddress, CommandReply>> pending_socket_replies;
  std::int64_t pending_publish_ns = 0;

  State(const WriterOptions& opts, const WriterLog& logger, DomainPlugin plugin)
      : options(opts), log(logger), domain(std::move(plugin)), window(opts.duplicate_window) {}

  std::uint64_t head() const noexcept { return next_seq - 1; }

  void recover();
  void replay_journal(std::uint64_t from_seq, std::uint64_t to_seq);
  std::uint64_t restore_snapshot(std::uint64_t journal_last_seq);
  void take_snapshot();

  // Decides one command, from either intake; `reply` holds the answer, which the caller
  // sends now or, in sync durability, after the group's fdatasync.
  void decide(CommandFormat format, std::span<const std::byte> command_id,
              std::span<const std::byte> payload);
  void reject(RejectCode code, std::string_view why);
  // The journal had no room (a full disk): the command is refused with the reason.
  void reject_unjournaled(const Error& e);
  void commit_group();
};

namespace {

// The largest event payload, in the ring and the journal alike.
std::uint32_t event_payload_limit(const WriterOptions& options) {
  if (options.max_payload == 0 || options.max_payload > kMaxEventPayload) {
    throw Error(ErrorCode::invalid_argument,
                "--max-payload " + std::to_string(options.max_payload) +
                    " bytes: choose 1 byte to " + std::to_string(kMaxEventPayload >> 20) + " MiB");
  }
  return static_cast<std::uint32_t>(options.max_payload);
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

}  // namespace

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

Writer::Writer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Writer::~Writer() = default;

std::uint64_t Writer::next_seq() const noexcept {
  return state_->next_seq;
}
const WriterCounters& Writer::counters() const noexcept {
  return state_->counters;
}

namespace {

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
    }
    if (last >= from) replay_journal(from, last);
    last_snapshot_seq = last;
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
  std::uint64_t done = 0;
  const std::int64_t start = monotonic_ns();
  std::int64_t next_report = start + kSecondNs;
  while (done < total) {
    const std::size_t count = reader.next_batch(
        std::span(records.data(),
                  static_cast<std::size_t>(std::min<std::uint64_t>(records.size(), total - done))));
    if (count == 0) break;
    for (const JournalRecord& record : std::span(records.data(), count)) {
      domain.apply(record.seq, record.type, record.payload);
      if (!record.meta.empty()) window.remember(as_text(record.meta), record.seq);
    }
    const std::uint64_t before = done;
    done += count;
    if ((done >> 16) != (before >> 16)) {  // every 65536 events
      const std::int64_t now = monotonic_ns();
      if (now >= next_report) {
        log(LogLevel::info,
            fmt::format("replaying the journal: {}/{} events ({:.0f}%), {} events/s", done, total,
                        100.0 * static_cast<double>(done) / static_cast<double>(total),
                        rate(done, now - start)));
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
      fmt::format("replayed {} events (seq {} to {}) in {:.3f} s: {} events/s", total, from_seq,
                  to_seq, static_cast<double>(took) / 1e9, rate(total, took)));
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

void Writer::State::reject(RejectCode code, std::string_view why) {
  reply.status = ReplyStatus::rejected;
  reply.code = code;
  reply.seq = head();
  reply.reason.assign(why);
  ++counters.rejected;
}

void Writer::State::reject_unjournaled(const Error& e) {
  // Nothing was journaled, published or applied: the client may send it again once the
  // disk has room, and the sequence continues without a gap.
  reject(RejectCode::unavailable,
         std::string("journal write failed, the command was not applied: ") + e.what());
  log(LogLevel::warn, reply.reason);
}

void Writer::State::decide(CommandFormat format, std::span<const std::byte> command_id,
                           std::span<const std::byte> payload) {
  ++counters.commands;
  reply.reason.clear();
  reply.code = RejectCode::none;
  const std::string_view id = as_text(command_id);
  if (!id.empty()) {
    if (const std::optional<std::uint64_t> original = window.find(id)) {
      reply.status = ReplyStatus::duplicate;
      reply.seq = *original;
      ++counters.duplicates;
      return;
    }
  }
  std::span<const std::byte> bytes = payload;
  if (format == CommandFormat::text) {
    std::vector<std::string_view> words;
    try {
      words = decode_text_command(payload);
    } catch (const MalformedInput& e) {
      return reject(RejectCode::malformed, e.what());
    }
    if (!domain.parse(words, parsed, reason)) return reject(RejectCode::malformed, reason);
    bytes = parsed;
  }
  switch (domain.handle(bytes, events, reason)) {
    case Verdict::accepted:
      break;
    case Verdict::rejected:
      return reject(RejectCode::rule, reason);
    case Verdict::malformed:
      return reject(RejectCode::malformed, reason);
    case Verdict::failed:
      return reject(RejectCode::failed, reason);
  }
  if (journal) {
    // Room for all of the command's events first: a full disk then refuses the whole
    // command before anything is written, rather than splitting it.
    std::size_t journal_bytes = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const std::size_t meta = i + 1 == events.size() ? command_id.size() : 0;
      journal_bytes += JournalWriter::record_bytes(meta, events[i].payload.size());
    }
    try {
      journal->make_room(journal_bytes);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::resource) throw;
      return reject_unjournaled(e);
    }
  }
  const std::int64_t now = monotonic_ns();
  const bool sync = options.durability == Durability::sync;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventBatch::Event event = events[i];
    const std::uint64_t seq = next_seq;
    if (journal) {
      const bool last = i + 1 == events.size();
      try {
        journal->append(event.type, event.payload, now,
                        last ? command_id : std::span<const std::byte>{});
      } catch (const Error& e) {
        // Before the first event nothing is written: refuse the command and stay up. A
        // failure between events of one command (more events than a segment holds) would
        // split it: stop, and let recovery decide from the journal.
        if (i != 0 || e.code() != ErrorCode::resource) throw;
        return reject_unjournaled(e);
      }
    }
    if (sync) {
      pending_events.push_back(
          PendingEvent{seq, event.type, pending_bytes.size(), event.payload.size()});
      pending_bytes.insert(pending_bytes.end(), event.payload.begin(), event.payload.end());
      pending_publish_ns = now;
    } else {
      ring->publish(event.type, event.payload, now);
    }
    domain.apply(seq, event.type, event.payload);
    ++next_seq;
  }
  counters.events += events.size();
  ++counters.accepted;
  if (!id.empty()) window.remember(id, head());
  reply.status = ReplyStatus::accepted;
  reply.seq = head();
}

void Writer::State::commit_group() {
  if (pending_replies.empty() && pending_socket_replies.empty() && pending_events.empty()) return;
  journal->sync();
  ++counters.syncs;
  for (const PendingEvent& event : pending_events) {
    ring->publish(event.type, std::span(pending_bytes.data() + event.offset, event.size),
                  pending_publish_ns);
  }
  for (const auto& [to, answer] : pending_replies) intake->reply(to, answer);
  for (const auto& [to, answer] : pending_socket_replies) socket->reply(to, answer);
  pending_events.clear();
  pending_bytes.clear();
  pending_replies.clear();
  pending_socket_replies.clear();
}

void Writer::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  const bool sync = s.options.durability == Durability::sync;
  const std::size_t group_max = sync ? s.options.group_commit_max : 64;
  s.log(LogLevel::info,
        fmt::format("ready: instance {}, domain {}, durability {}, next seq {}", s.options.instance,
                    s.domain.name(), to_string(s.options.durability), s.next_seq));
  std::int64_t next_maintain = monotonic_ns() + kMaintainIntervalNs;
  std::int64_t idle_since = 0;
  IncomingCommand command;
  const auto take_shared_memory = [&](std::size_t& taken, std::size_t up_to) {
    while (taken < up_to && s.intake->next(command)) {
      s.decide(command.format, command.id, command.payload);
      s.intake->finish(command);
      // sync: once one reply waits for the group's fdatasync, later ones wait too, so a
      // client gets its replies in the order it sent the commands.
      if (sync && (s.reply.status == ReplyStatus::accepted || !s.pending_replies.empty())) {
        s.pending_replies.emplace_back(command.from, s.reply);
      } else {
        s.intake->reply(command.from, s.reply);
      }
      ++taken;
    }
  };
  // The socket intake, if on, costs one try_dequeue per loop when idle, nothing when off.
  // Shared memory takes up to half a group first, the socket the rest, then shared memory
  // again if it had more: neither can starve the other.
  SocketIntake* const socket = s.socket.get();
  SocketCommand socket_command;
  const std::size_t shared_memory_first =
      socket != nullptr ? std::max<std::size_t>(1, group_max / 2) : group_max;
  std::function<bool()> socket_pending;
  if (socket != nullptr) socket_pending = [socket] { return socket->pending(); };
  // relaxed: a stop request orders nothing; seeing it one loop later is fine.
  while (!stop.load(std::memory_order_relaxed)) {
    std::size_t taken = 0;
    take_shared_memory(taken, shared_memory_first);
    if (socket != nullptr) {
      const bool more_shared_memory = taken == shared_memory_first;
      while (taken < group_max && socket->next(socket_command)) {
        s.decide(socket_command.format, socket_command.id(), socket_command.payload());
        // sync: a connection's replies go out in the order of its commands, so once one
        // waits for the group's fdatasync, every socket reply after it waits too.
        if (sync &&
            (s.reply.status == ReplyStatus::accepted || !s.pending_socket_replies.empty())) {
          s.pending_socket_replies.emplace_back(socket_command.from, s.reply);
        } else {
          socket->reply(socket_command, s.reply);
        }
        ++taken;
      }
      if (more_shared_memory) take_shared_memory(taken, group_max);
    }
    if (sync) s.commit_group();
    const std::int64_t now = monotonic_ns();
    if (now >= next_maintain) {
      s.ring->heartbeat();
      s.intake->maintain();
      next_maintain = now + kMaintainIntervalNs;
      if (s.options.snapshot_every != 0 &&
          s.head() - s.last_snapshot_seq >= s.options.snapshot_every) {
        s.take_snapshot();
      }
    }
    if (taken != 0) {
      idle_since = 0;
      continue;
    }
    if (idle_since == 0) idle_since = now;
    if (idle_pause(s.options.idle_wait, now - idle_since >= s.options.idle_spin_ns)) {
      s.intake->sleep(std::min(kSleepSliceNs, next_maintain - now), socket_pending);
    }
  }
  if (socket != nullptr) {
    // What the socket thread read but we did not take is refused, so its clients know it
    // was not applied; then their replies are flushed before the snapshot's wait.
    socket->stop_taking();
    CommandReply refused;
    refused.status = ReplyStatus::rejected;
    refused.code = RejectCode::unavailable;
    refused.seq = s.head();
    refused.reason = "the writer is shutting down: resubmit when it is back";
    while (socket->next(socket_command)) socket->reply(socket_command, refused);
    socket->stop();
  }
  if (s.journal) {
    s.journal->sync();
    s.take_snapshot();
  }
  s.log(LogLevel::info,
        fmt::format("stopped: {} commands ({} accepted, {} rejected, {} duplicates), {} events, "
                    "{} syncs, head seq {}",
                    s.counters.commands, s.counters.accepted, s.counters.rejected,
                    s.counters.duplicates, s.counters.events, s.counters.syncs, s.head()));
}

}  // namespace evring::writer
