// Where a reader's events come from: this machine's instance (EventStream: journal, then
// ring) or, with --source nats://..., the JetStream stream its bridge fills
// (remote/jetstream_feed.hpp). Both offer the same calls; FeedOf puts either behind one
// interface, so the reader's loop does not know which it has.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "jetstream_feed.hpp"
#include "stream/event_stream.hpp"

namespace evring::reader {

class EventFeed : public EventSource {
 public:
  virtual void start(std::uint64_t from_seq) = 0;
  virtual void wait(WaitKind wait, std::int64_t timeout_ns) = 0;
  virtual std::uint64_t head_seq() const noexcept = 0;
  virtual std::uint64_t history_id() const noexcept = 0;
  virtual bool attached() const noexcept = 0;
  virtual bool catching_up() const noexcept = 0;
  virtual bool writer_alive() const noexcept = 0;
  virtual const StreamCounters& counters() const noexcept = 0;
  virtual ReaderSlot* slot() const noexcept = 0;
  virtual const std::filesystem::path& journal_directory() const noexcept = 0;
  virtual std::optional<DomainRecord> domain() const = 0;
};

template <class Stream>
class FeedOf final : public EventFeed {
 public:
  explicit FeedOf(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
  bool next(Event& out) override { return stream_->next(out); }
  std::size_t next_batch(std::span<Event> out) override { return stream_->next_batch(out); }
  void start(std::uint64_t from_seq) override { stream_->start(from_seq); }
  void wait(WaitKind wait, std::int64_t timeout_ns) override { stream_->wait(wait, timeout_ns); }
  std::uint64_t head_seq() const noexcept override { return stream_->head_seq(); }
  std::uint64_t history_id() const noexcept override { return stream_->history_id(); }
  bool attached() const noexcept override { return stream_->attached(); }
  bool catching_up() const noexcept override { return stream_->catching_up(); }
  bool writer_alive() const noexcept override { return stream_->writer_alive(); }
  const StreamCounters& counters() const noexcept override { return stream_->counters(); }
  ReaderSlot* slot() const noexcept override { return stream_->slot(); }
  const std::filesystem::path& journal_directory() const noexcept override {
    return stream_->journal_directory();
  }
  std::optional<DomainRecord> domain() const override { return stream_->domain(); }

 private:
  std::unique_ptr<Stream> stream_;
};

// `source` empty: the instance on this machine; nats://HOST:PORT[/STREAM]: that stream, with
// a status segment for evring stat of `status_mode` and `status_group` (remote_status.hpp).
inline std::unique_ptr<EventFeed> open_feed(const std::string& source, const StreamOptions& options,
                                            mode_t status_mode, gid_t status_group) {
  if (source.empty()) return std::make_unique<FeedOf<EventStream>>(EventStream::open(options));
  return std::make_unique<FeedOf<remote::JetStreamFeed>>(remote::JetStreamFeed::open(
      remote::FeedOptions{source, options.instance, options.interrupt, options.identity,
                          status_mode, status_group}));
}

}  // namespace evring::reader
