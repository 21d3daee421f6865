// A remote reader's events: a JetStream stream that evring bridge fills, read through an
// ordered consumer (no acks; cnats recreates it after a gap or a server restart) from a
// start seq. It offers what the reader uses of an EventStream (stream/event_stream.hpp),
// under the same names, so one reader hosts a view from either.
//
// The stream's seq is the evring seq. A message with seq < the one wanted is skipped; one
// past it means the stream no longer holds what the reader wants (its retention dropped
// it, or someone purged it): Error(corrupt) saying so, never a view with a hole.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nats_link.hpp"
#include "remote_status.hpp"
#include "shm/registry.hpp"
#include "stream/event_stream.hpp"
#include "stream_identity.hpp"
#include "sync/wait_interrupt.hpp"

namespace evring::remote {

struct FeedOptions {
  std::string url;  // nats://HOST:PORT[/STREAM]
  std::string instance = "default";
  std::shared_ptr<WaitInterrupt> interrupt;  // null: the feed makes its own
  // A reader's: its status segment for evring stat (remote_status.hpp). Empty id: none.
  ReaderIdentity identity{"", "", WaitKind::block};
  mode_t status_mode = 0600;
  gid_t status_group = kCreatorGroup;
};

class JetStreamFeed final : public EventSource {
 public:
  // Connects and reads the stream's identity. Throws like NatsLink::connect and
  // read_stream_identity.
  static std::unique_ptr<JetStreamFeed> open(const FeedOptions& options);
  ~JetStreamFeed() override;
  // Once: the first seq wanted (0: the next one published).
  void start(std::uint64_t from_seq);

  bool next(Event& out) override;
  std::size_t next_batch(std::span<Event> out) override;
  // Sleeps at most timeout_ns, less when a message or a query (the interrupt) comes.
  void wait(WaitKind wait, std::int64_t timeout_ns);

  std::uint64_t next_seq() const noexcept { return expected_; }
  std::uint64_t head_seq() const noexcept { return head_; }
  std::uint64_t history_id() const noexcept { return identity_.history; }
  bool attached() const noexcept { return true; }
  bool catching_up() const noexcept { return false; }
  // Whether the server is reachable now (the writer is on another machine).
  bool writer_alive() const noexcept { return link_->connected(); }
  // nats://HOST:PORT/STREAM, for messages.
  std::string source() const { return link_->server() + "/" + stream_; }
  const StreamCounters& counters() const noexcept { return counters_; }
  // In the feed's own status segment (no registry on this machine); null without one.
  ReaderSlot* slot() const noexcept { return status_ ? &status_->layout().slot : nullptr; }
  const std::shared_ptr<WaitInterrupt>& wait_interrupt() const noexcept { return interrupt_; }
  const std::filesystem::path& journal_directory() const noexcept { return no_journal_; }
  std::optional<DomainRecord> domain() const { return identity_.domain; }

 private:
  JetStreamFeed() = default;
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  // Whether `msg` is the next event; throws when the stream skipped past it.
  bool accept(natsMsg* msg, Event& out);
  // Into the status segment, if any: the stream's last seq, the server's time of the event
  // delivered last and, `with_connection`, whether the server answers.
  void publish_status(bool with_connection);

  std::unique_ptr<NatsLink> link_;
  std::string stream_;
  std::string subject_;
  StreamIdentity identity_;
  std::string history_prefix_;  // "HEX:" of every message id
  std::shared_ptr<WaitInterrupt> interrupt_;
  SubscriptionPtr subscription_;
  std::uint64_t expected_ = 0;
  std::uint64_t head_ = 0;
  StreamCounters counters_;
  std::filesystem::path no_journal_;
  std::vector<MsgPtr> held_;  // the messages of the events handed out last
  std::optional<RemoteStatus> status_;
  std::int64_t delivered_server_ns_ = 0;  // the stored time of the last event, UTC ns

  // Filled by cnats's delivery thread, which waits while `arrived_` is full, and wakes the
  // reader only while it sleeps (a wake-up per message would cost more than the message).
  std::mutex mutex_;
  std::condition_variable room_;
  std::deque<natsMsg*> arrived_;
  bool closing_ = false;
  bool waiting_ = false;  // the reader sleeps in wait(): a message wakes it
};

}  // namespace evring::remote
