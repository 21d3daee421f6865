// evring-reader's core: one view, fed by an EventStream (journal, then ring), owned by one
// thread that also answers the view's queries between events.
//
// The loop: apply a batch of events -> answer queued queries (those waiting for a seq the
// view has not reached are parked until it does, or answered stale at their deadline) ->
// heartbeat, checkpoint, progress -> wait for the ring (a query cuts the wait short).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <sys/types.h>

#include "sync/wait_strategy.hpp"
#include "sys/log.hpp"

namespace evring::reader {

enum class StartFrom { start, live, checkpoint };
enum class OnError { stop, skip };

struct ReaderOptions {
  std::string instance = "default";
  std::string view = "kv";  // a built-in name, or the path of a plugin (.so)
  std::string view_config;
  std::string id;  // empty: <view>-<n>, the first n no live reader of the instance uses
  StartFrom from = StartFrom::checkpoint;  // the newest checkpoint, else the start
  WaitKind wait = WaitKind::block;
  std::filesystem::path journal;  // empty: the writer's
  std::string source;  // empty: this machine's instance; nats://HOST:PORT[/STREAM]: that stream
  std::filesystem::path checkpoint_dir;        // empty: <data folder>/<instance>/readers/<id>
  std::uint64_t checkpoint_every = 1'000'000;  // events; 0: only at a clean stop
  // Also a checkpoint after this long with new events (0: never).
  std::chrono::milliseconds checkpoint_interval = std::chrono::seconds(60);
  OnError on_error = OnError::stop;
  std::filesystem::path dead_letter;     // empty: <checkpoint dir>/dead-letter.jsonl
  std::filesystem::path socket;          // empty: query_socket_path(instance, id)
  mode_t mode = 0600;                    // checkpoints, dead letters and the query socket
  gid_t group = static_cast<gid_t>(-1);  // a group that may query too (socket 0660); -1: none
};

using ReaderLog = LogSink;

class Reader {
 public:
  // Loads the view, picks the id, restores a checkpoint (per `from`), attaches to the
  // instance and opens the query socket. Throws evring::Error with what to do.
  static std::unique_ptr<Reader> start(const ReaderOptions& options, const ReaderLog& log);
  ~Reader();

  // Runs until `stop`; then checkpoints and closes. Throws evring::Error when the view
  // fails on an event (with --on-error stop) or the stream cannot go on.
  void run(const std::atomic<bool>& stop);

  const std::string& id() const noexcept;
  std::uint64_t applied_seq() const noexcept;

 private:
  struct State;
  explicit Reader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace evring::reader
