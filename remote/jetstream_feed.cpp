#include "jetstream_feed.hpp"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "evring/error.hpp"

namespace evring::remote {
namespace {

// Messages received ahead of the view: enough to keep the server busy while the view
// applies; past it cnats's own buffer and the consumer's flow control hold the rest.
constexpr std::size_t kMaxArrived = 8192;
constexpr std::int64_t kHeartbeatNs = 1'000'000'000;  // the server restart is noticed by it

std::uint64_t header_number(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) return 0;
  return std::strtoull(value, nullptr, 10);
}

}  // namespace

std::unique_ptr<JetStreamFeed> JetStreamFeed::open(const FeedOptions& options) {
  const NatsUrl url = parse_nats_url(options.url);
  std::unique_ptr<JetStreamFeed> feed(new JetStreamFeed());
  feed->link_ =
      NatsLink::connect(url.server, LinkOptions{100, "evring reader " + options.instance});
  feed->stream_ = url.stream.empty() ? default_stream_name(options.instance) : url.stream;
  feed->identity_ = read_stream_identity(*feed->link_, feed->stream_, options.instance);
  feed->history_prefix_ = message_id(feed->identity_.history, 0);
  feed->history_prefix_.pop_back();  // "HEX:0" -> "HEX:"
  feed->interrupt_ = options.interrupt ? options.interrupt : std::make_shared<WaitInterrupt>();
  const StreamInfoPtr info = feed->link_->stream_info(feed->stream_);
  if (info) {
    feed->head_ = info->State.LastSeq;
    if (info->Config->SubjectsLen > 0) feed->subject_ = info->Config->Subjects[0];
  }
  if (!options.identity.id.empty()) {
    feed->status_.emplace(RemoteStatus::create(options.instance, options.identity, feed->source(),
                                               options.status_mode, options.status_group));
    feed->publish_status(true);
  }
  return feed;
}

JetStreamFeed::~JetStreamFeed() {
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  room_.notify_all();
  // Connected, the consumer is deleted on the server; while reconnecting, that would wait
  // for the server's answer (seconds): the server drops an idle ephemeral one by itself.
  if (!link_->connected()) link_->close();
  if (subscription_) natsSubscription_Unsubscribe(subscription_.get());
  subscription_.reset();
  for (natsMsg* msg : arrived_) natsMsg_Destroy(msg);
}

void JetStreamFeed::start(std::uint64_t from_seq) {
  expected_ = from_seq;
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream_.c_str();
  options.Ordered = true;
  options.Config.Heartbeat = kHeartbeatNs;
  if (from_seq == 0) {
    options.Config.DeliverPolicy = js_DeliverNew;
  } else {
    options.Config.DeliverPolicy = js_DeliverByStartSequence;
    options.Config.OptStartSeq = from_seq;
  }
  natsSubscription* subscription = nullptr;
  jsErrCode js_code = static_cast<jsErrCode>(0);
  check(js_Subscribe(&subscription, link_->jetstream(), subject_.c_str(), &on_message, this,
                     nullptr, &options, &js_code),
        js_code, "reading stream " + stream_ + " on " + link_->server());
  subscription_.reset(subscription);
  natsSubscription_SetPendingLimits(subscription, -1, -1);
}

void JetStreamFeed::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<JetStreamFeed*>(closure);
  bool wake = false;
  {
    std::unique_lock lock(self->mutex_);
    self->room_.wait(lock, [&] { return self->closing_ || self->arrived_.size() < kMaxArrived; });
    if (self->closing_) {
      natsMsg_Destroy(msg);
      return;
    }
    self->arrived_.push_back(msg);
    wake = self->waiting_;
  }
  if (wake) self->interrupt_->trigger();
}

bool JetStreamFeed::accept(natsMsg* msg, Event& out) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return false;  // a status message
  const std::uint64_t seq = meta->Sequence.Stream;
  head_ = std::max(head_, seq + meta->NumPending);
  const std::int64_t server_ns = meta->Timestamp;
  jsMsgMetaData_Destroy(meta);
  if (expected_ != 0 && seq < expected_) return false;  // delivered already
  if (expected_ != 0 && seq > expected_) {
    throw Error(ErrorCode::corrupt,
                fmt::format("stream {} on {} no longer holds seq {} (it starts at seq {} now: its "
                            "retention dropped older events, or it was purged). Raise the "
                            "stream's retention; to go on without them, start the reader with "
                            "--from live",
                            stream_, link_->server(), expected_, seq));
  }
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == nullptr ||
      std::strncmp(id, history_prefix_.c_str(), history_prefix_.size()) != 0) {
    throw Error(ErrorCode::history_changed,
                fmt::format("stream {} holds seq {} of another history than {}", stream_, seq,
                            history_text(identity_.history)));
  }
  out.seq = seq;
  out.type = static_cast<std::uint32_t>(header_number(msg, kTypeHeader));
  out.publish_ns = static_cast<std::int64_t>(header_number(msg, kPublishNsHeader));
  out.payload = std::span(reinterpret_cast<const std::byte*>(natsMsg_GetData(msg)),
                          static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  expected_ = seq + 1;
  ++counters_.from_ring;
  delivered_server_ns_ = server_ns;
  return true;
}

bool JetStreamFeed::next(Event& out) {
  return next_batch(std::span(&out, 1)) == 1;
}

std::size_t JetStreamFeed::next_batch(std::span<Event> out) {
  held_.clear();
  std::size_t count = 0;
  while (count < out.size()) {
    natsMsg* msg = nullptr;
    {
      const std::lock_guard lock(mutex_);
      if (arrived_.empty()) break;
      msg = arrived_.front();
      arrived_.pop_front();
    }
    room_.notify_one();
    MsgPtr owned(msg);
    if (accept(msg, out[count])) {
      held_.push_back(std::move(owned));
      ++count;
    }
  }
  if (count != 0) publish_status(false);
  return count;
}

void JetStreamFeed::publish_status(bool with_connection) {
  if (!status_) return;
  RemoteStatusLayout& layout = status_->layout();
  // relaxed: lone values for evring stat (remote_status.hpp).
  layout.stream_last_seq.store(head_, std::memory_order_relaxed);
  layout.delivered_server_ns.store(delivered_server_ns_, std::memory_order_relaxed);
  // cnats's status takes the connection's lock: looked at when idle, not per batch.
  if (with_connection) {
    layout.connected.store(link_->connected() ? 1 : 0, std::memory_order_relaxed);
  }
}

void JetStreamFeed::wait(WaitKind, std::int64_t timeout_ns) {
  publish_status(true);  // idle: maybe because the server is gone
  {
    const std::lock_guard lock(mutex_);
    if (!arrived_.empty()) return;
    waiting_ = true;  // from here on a message triggers the interrupt, ending the sleep
  }
  interrupt_->sleep(timeout_ns);
  const std::lock_guard lock(mutex_);
  waiting_ = false;
}

}  // namespace evring::remote
