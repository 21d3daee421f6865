// The writer's retention thread: removes (or archives) the journal's sealed segments as
// --retain, --retain-for and --archive say (journal/journal_retention.hpp), off the apply
// thread and at the lowest priority, so the writer never waits for it. It runs a pass when
// the apply thread says a segment was sealed, and every few seconds for --retain-for.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "journal/journal_retention.hpp"
#include "sys/log.hpp"

namespace evring::writer {

class RetentionThread {
 public:
  // Starts the thread. `interval_ns`: how often it looks without being woken.
  RetentionThread(std::filesystem::path journal_dir, RetentionPolicy policy, LogSink log,
                  std::int64_t interval_ns);
  // Stops the thread: a pass it is in stops after the segment (or compression chunk) at hand.
  ~RetentionThread();
  RetentionThread(const RetentionThread&) = delete;
  RetentionThread& operator=(const RetentionThread&) = delete;

  // Apply thread: a segment was sealed. Takes the mutex only to set a flag (the thread
  // holds it only to test its flags, never during a pass).
  void segment_sealed();

 private:
  void run();
  void pass();

  std::filesystem::path journal_dir_;
  RetentionPolicy policy_;
  LogSink log_;
  std::int64_t interval_ns_;
  // The held segment and holder last logged, to say each once.
  std::uint64_t last_held_first_ = 0;
  std::string last_held_by_;
  std::string last_refusal_;  // the archive conflict last logged
  std::mutex mutex_;
  std::condition_variable wake_;
  bool sealed_ = false;  // guarded by mutex_
  bool stop_ = false;    // guarded by mutex_
  // The same request, for a pass under way, which holds no lock.
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace evring::writer
