// The writer's retention thread (retention.hpp), and what the writer's start and apply loop
// do for it.
#include "retention.hpp"

#include <chrono>
#include <utility>

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "evring/error.hpp"
#include "journal/journal_archive.hpp"
#include "journal/journal_holds.hpp"
#include "journal/segment_file.hpp"
#include "writer_state.hpp"

namespace evring::writer {

RetentionThread::RetentionThread(std::filesystem::path journal_dir, RetentionPolicy policy,
                                 LogSink log, std::int64_t interval_ns)
    : journal_dir_(std::move(journal_dir)),
      policy_(std::move(policy)),
      log_(std::move(log)),
      interval_ns_(interval_ns),
      thread_([this] { run(); }) {}

RetentionThread::~RetentionThread() {
  // Relaxed: the pass only polls it; the join below is what orders the shutdown.
  stopping_.store(true, std::memory_order_relaxed);
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void RetentionThread::segment_sealed() {
  {
    const std::lock_guard lock(mutex_);
    sealed_ = true;
  }
  wake_.notify_one();
}

void RetentionThread::run() {
  // The lowest priority for this thread alone (Linux gives each thread its own nice
  // value): a pass compresses or unlinks while the apply thread keeps its core.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  std::unique_lock lock(mutex_);
  while (!stop_) {
    sealed_ = false;
    lock.unlock();
    pass();
    lock.lock();
    wake_.wait_for(lock, std::chrono::nanoseconds(interval_ns_),
                   [this] { return stop_ || sealed_; });
  }
}

void RetentionThread::pass() {
  try {
    const RetentionPass done =
        apply_retention(journal_dir_, policy_, journal_file::unix_ns(), stopping_);
    for (const SegmentRetired& retired : done.retired) {
      log_(LogLevel::info,
           retired.archived
               ? fmt::format("retention: archived seq {}..{} ({} bytes, {} compressed) to {}: {}",
                             retired.segment.first_seq, retired.segment.last_seq,
                             retired.segment.bytes, retired.archived_bytes,
                             policy_.archive.string(), retired.reason)
               : fmt::format("retention: removed seq {}..{} ({} bytes, {}): {}",
                             retired.segment.first_seq, retired.segment.last_seq,
                             retired.segment.bytes, retired.segment.path.filename().string(),
                             retired.reason));
    }
    if (done.held_by &&
        (done.held_segment_first != last_held_first_ || done.held_by->name != last_held_by_)) {
      last_held_first_ = done.held_segment_first;
      last_held_by_ = done.held_by->name;
      log_(LogLevel::info,
           fmt::format("retention: the segment from seq {} is due but held by {} ({}); "
                       "evring journal holds lists the holders, evring journal release removes "
                       "a dead one",
                       done.held_segment_first, done.held_by->name, done.held_by->why));
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::history_changed) {
      log_(LogLevel::warn, fmt::format("retention: {} (tried again in a while)", e.what()));
    } else if (e.what() != last_refusal_) {
      // Another history's archived file: nothing changes until the user acts, so once.
      last_refusal_ = e.what();
      log_(LogLevel::error, fmt::format("retention: {}", e.what()));
    }
  } catch (const std::exception& e) {
    // The journal is intact (a failed move leaves the original); the next pass tries again.
    log_(LogLevel::warn, fmt::format("retention: {} (tried again in a while)", e.what()));
  }
}

void Writer::State::start_retention() {
  // Readers write their holds here whether or not this writer retains anything: a later
  // start with --retain must find them.
  prepare_holds_folder(journal_dir,
                       options.group == kCreatorGroup ? options.mode : options.mode | S_IRGRP,
                       options.group);
  RetentionPolicy policy;
  policy.max_bytes = options.retain_bytes;
  policy.max_age_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.retain_for).count();
  policy.mode = options.mode;
  policy.group = options.group;
  if (!options.archive.empty()) {
    policy.archive = std::filesystem::absolute(options.archive).lexically_normal();
    write_journal_archive(journal_dir, policy.archive);
    if (const std::size_t tidied = tidy_archive(policy.archive, journal->history_id());
        tidied != 0) {
      log(LogLevel::info, fmt::format("archive {}: removed {} unfinished move(s) a crash left "
                                      "(their segments are still in the journal)",
                                      policy.archive.string(), tidied));
    }
  }
  if (!policy.enabled()) return;
  written_segment_first = journal->segment_first_seq();
  retention = std::make_unique<RetentionThread>(journal_dir, std::move(policy), log,
                                                options.retention_interval_ns);
}

void Writer::State::watch_segments() {
  if (!retention || journal->segment_first_seq() == written_segment_first) return;
  written_segment_first = journal->segment_first_seq();
  retention->segment_sealed();
}

}  // namespace evring::writer
