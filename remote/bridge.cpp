#include "bridge.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "journal/journal_holds.hpp"
#include "stream/event_stream.hpp"

namespace evring::remote {
namespace {

constexpr std::int64_t kMsNs = 1'000'000;
constexpr std::int64_t kIdleWaitNs = 100 * kMsNs;  // heartbeat and stop checks
constexpr std::int64_t kRetryNs = 200 * kMsNs;     // between looks at an absent server

// One publish's answer, as the ack thread (cnats's) parsed it.
struct Ack {
  std::uint64_t attempt = 0;  // the try it belongs to: older ones are ignored
  std::uint64_t seq = 0;      // the event it answers
  std::uint64_t stored_seq = 0;
  bool duplicate = false;
  std::string error;  // empty: stored (or already stored)
};

// "<inbox>.<attempt>.<seq>" and the server's JSON answer, into an Ack.
std::optional<Ack> parse_ack(std::string_view subject, std::string_view data) {
  const std::size_t last_dot = subject.rfind('.');
  if (last_dot == std::string_view::npos || last_dot == 0) return std::nullopt;
  const std::size_t attempt_dot = subject.rfind('.', last_dot - 1);
  if (attempt_dot == std::string_view::npos) return std::nullopt;
  Ack ack;
  try {
    ack.attempt = std::stoull(std::string(subject.substr(attempt_dot + 1, last_dot - attempt_dot)));
    ack.seq = std::stoull(std::string(subject.substr(last_dot + 1)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const nlohmann::json answer = nlohmann::json::parse(data, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    // An empty answer is the server's "no responders": the stream is not there now.
    ack.error = data.empty() ? "no stream answered" : "an answer that is not JSON";
  } else if (answer.contains("error")) {
    ack.error = answer["error"].value("description", std::string("refused"));
  } else {
    ack.stored_seq = answer.value("seq", std::uint64_t{0});
    ack.duplicate = answer.value("duplicate", false);
  }
  return ack;
}

}  // namespace

struct Bridge::State {
  BridgeOptions options;
  LogSink log;
  std::unique_ptr<NatsLink> link;
  StreamIdentity identity;
  std::shared_ptr<WaitInterrupt> interrupt = std::make_shared<WaitInterrupt>();
  std::unique_ptr<EventStream> stream;
  std::string inbox;
  SubscriptionPtr ack_subscription;

  // Filled by cnats's thread, taken by the bridge's. The ack thread wakes the bridge only
  // while it waits (two system calls per ack otherwise, at ~100k acks/s).
  std::mutex acks_mutex;
  std::condition_variable acks_arrived;  // for a bridge whose window is full
  std::vector<Ack> acks;
  enum class Waiting { no, for_acks, for_events } waiting = Waiting::no;  // under acks_mutex
  std::size_t wake_at_acks = 1;  // while waiting for acks; under acks_mutex

  struct InFlight {
    std::uint64_t seq;
    std::int64_t sent_ns;
    bool acked;
  };
  std::deque<InFlight> in_flight;  // in seq order
  std::uint64_t attempt = 0;
  std::uint64_t next_seq = 0;  // the next seq to publish
  BridgeCounters counters;
  // On the journal: what JetStream acknowledged + 1, kept also while the bridge is stopped
  // (it resumes from there), so retention keeps it.
  std::optional<HoldKeeper> hold;
  std::string failure;     // why the current try ends; empty: it goes on
  bool unflushed = false;  // publishes cnats may still hold in its buffer

  std::string subject_for_reply;  // reused per publish
  std::string header_value;

  StreamOptions stream_options() const {
    StreamOptions result;
    result.instance = options.instance;
    result.identity = ReaderIdentity{options.id, "bridge", WaitKind::block};
    result.journal = options.journal;
    result.wait_for_writer = true;
    result.interrupt = interrupt;
    return result;
  }

  static void on_ack(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<State*>(closure);
    const std::optional<Ack> ack =
        parse_ack(natsMsg_GetSubject(msg),
                  std::string_view(natsMsg_GetData(msg),
                                   static_cast<std::size_t>(natsMsg_GetDataLength(msg))));
    natsMsg_Destroy(msg);
    if (!ack) return;
    Waiting waiting = Waiting::no;
    {
      const std::lock_guard lock(self->acks_mutex);
      self->acks.push_back(*ack);
      waiting = self->waiting;
      if (waiting == Waiting::for_acks && self->acks.size() < self->wake_at_acks) {
        waiting = Waiting::no;
      }
    }
    if (waiting == Waiting::for_acks) self->acks_arrived.notify_one();
    if (waiting == Waiting::for_events) self->interrupt->trigger();
  }

  // Reads the stream's last seq and follows the instance from after it.
  void resume(std::uint64_t last_seq) {
    ++attempt;
    in_flight.clear();
    failure.clear();
    stream.reset();  // frees its registry slot for the new one
    stream = EventStream::open(stream_options());
    if (stream->history_id() != identity.history) {
      throw Error(ErrorCode::history_changed,
                  fmt::format("instance {} is now history {}, stream {} holds history {}: "
                              "start the bridge with a new stream (--stream NAME)",
                              options.instance, history_text(stream->history_id()),
                              options.stream.stream, history_text(identity.history)));
    }
    hold.emplace(stream->journal_directory(), bridge_holder(options.stream.stream), log);
    hold->need(last_seq + 1, monotonic_ns(), true);
    stream->start(last_seq + 1);
    next_seq = last_seq + 1;
    counters.acked = last_seq;
  }

  void publish(const Event& event) {
    if (event.seq != next_seq) {
      throw Error(ErrorCode::corrupt,
                  fmt::format("instance {} gave seq {} where the stream {} needs {} next (its "
                              "journal starts later, or lost events): the stream's seq cannot "
                              "be the evring seq; bridge into a new stream from a journal that "
                              "starts at seq 1",
                              options.instance, event.seq, options.stream.stream, next_seq));
    }
    subject_for_reply = fmt::format("{}.{}.{}", inbox, attempt, event.seq);
    natsMsg* raw = nullptr;
    check(natsMsg_Create(&raw, options.stream.subject.c_str(), subject_for_reply.c_str(),
                         reinterpret_cast<const char*>(event.payload.data()),
                         static_cast<int>(event.payload.size())),
          "natsMsg_Create");
    const MsgPtr msg(raw);
    natsMsgHeader_Set(raw, "Nats-Msg-Id", message_id(identity.history, event.seq).c_str());
    header_value = std::to_string(event.seq - 1);
    natsMsgHeader_Set(raw, "Nats-Expected-Last-Sequence", header_value.c_str());
    natsMsgHeader_Set(raw, kTypeHeader, std::to_string(event.type).c_str());
    natsMsgHeader_Set(raw, kPublishNsHeader, std::to_string(event.publish_ns).c_str());
    const natsStatus status = natsConnection_PublishMsg(link->connection(), raw);
    if (status != NATS_OK) {
      failure = fmt::format("publish of seq {} failed: {}", event.seq, natsStatus_GetText(status));
      return;
    }
    in_flight.push_back(InFlight{event.seq, monotonic_ns(), false});
    ++next_seq;
    ++counters.published;
    unflushed = true;
  }

  // Waits at most timeout_ns for `count` acks (a full window waits for a quarter of it,
  // not one ack at a time: a wake-up per ack would cost more than the publish).
  void wait_for_acks(std::size_t count, std::int64_t timeout_ns) {
    std::unique_lock lock(acks_mutex);
    waiting = Waiting::for_acks;
    wake_at_acks = count;
    acks_arrived.wait_for(lock, std::chrono::nanoseconds(timeout_ns),
                          [&] { return acks.size() >= count; });
    waiting = Waiting::no;
  }

  // Waits at most timeout_ns for the instance's next event, or an ack.
  void wait_for_events(std::int64_t timeout_ns) {
    {
      const std::lock_guard lock(acks_mutex);
      if (!acks.empty()) return;
      // From here on an ack triggers the interrupt, which ends the wait below.
      waiting = Waiting::for_events;
    }
    stream->wait(WaitKind::block, timeout_ns);
    const std::lock_guard lock(acks_mutex);
    waiting = Waiting::no;
  }

  void take_acks() {
    std::vector<Ack> taken;
    {
      const std::lock_guard lock(acks_mutex);
      taken.swap(acks);
    }
    for (const Ack& ack : taken) {
      if (ack.attempt != attempt || in_flight.empty()) continue;
      const std::uint64_t first = in_flight.front().seq;
      if (ack.seq < first || ack.seq - first >= in_flight.size()) continue;
      if (!ack.error.empty()) {
        if (failure.empty()) failure = fmt::format("seq {} refused: {}", ack.seq, ack.error);
        continue;
      }
      if (ack.stored_seq != ack.seq) {
        if (failure.empty()) {
          failure = fmt::format("seq {} was stored at stream seq {}", ack.seq, ack.stored_seq);
        }
        continue;
      }
      if (ack.duplicate) ++counters.duplicates;
      in_flight[ack.seq - first].acked = true;
    }
    while (!in_flight.empty() && in_flight.front().acked) {
      counters.acked = in_flight.front().seq;
      in_flight.pop_front();
    }
  }

  void heartbeat(std::int64_t now) {
    if (ReaderSlot* slot = stream->slot()) {
      // relaxed: lone values for stat (registry.hpp); the bridge applies no view, so no
      // applied time goes with the seq.
      slot->heartbeat_ns.store(now, std::memory_order_relaxed);
      slot->position_seq.store(counters.acked, std::memory_order_relaxed);
    }
    if (hold) hold->need(counters.acked + 1, now, false);
  }

  // After a failure: the stream's last seq, once the server answers again.
  void recover(const std::atomic<bool>& stop) {
    log(LogLevel::warn, fmt::format("{}; resuming from the stream's last seq", failure));
    ++counters.resumes;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a lone flag
      try {
        const StreamInfoPtr info = ensure_stream(*link, options.stream, identity);
        resume(info->State.LastSeq);
        log(LogLevel::info, fmt::format("stream {} is at seq {}: publishing from seq {}",
                                        options.stream.stream, info->State.LastSeq, next_seq));
        return;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::io) throw;
        std::this_thread::sleep_for(std::chrono::nanoseconds(kRetryNs));
      }
    }
  }
};

std::unique_ptr<Bridge> Bridge::start(const BridgeOptions& options, const LogSink& log) {
  validate_instance_name(options.instance);
  auto state = std::make_unique<State>();
  State& s = *state;
  s.options = options;
  s.log = log;
  if (s.options.stream.stream.empty())
    s.options.stream.stream = default_stream_name(options.instance);
  if (s.options.stream.subject.empty()) s.options.stream.subject = events_subject(options.instance);
  if (s.options.window == 0) {
    throw Error(ErrorCode::invalid_argument, "--window 0: give at least 1 publish in flight");
  }
  s.link = NatsLink::connect(options.server, LinkOptions{100, "evring bridge " + options.instance});

  // The instance's history, from its writer or, with none running, its journal.
  s.stream = EventStream::open(s.stream_options());
  const std::optional<DomainRecord> domain = s.stream->domain();
  if (s.stream->history_id() == 0 || !domain) {
    throw Error(ErrorCode::no_instance,
                fmt::format("instance {} has no writer and no journal yet: start evring-writer "
                            "--name {}, then the bridge",
                            options.instance, options.instance));
  }
  s.identity = StreamIdentity{options.instance, s.stream->history_id(), *domain};
  const StreamInfoPtr info = ensure_stream(*s.link, s.options.stream, s.identity);

  char* inbox = nullptr;
  check(natsInbox_Create(&inbox), "natsInbox_Create");
  s.inbox = inbox;
  natsInbox_Destroy(inbox);
  natsSubscription* subscription = nullptr;
  check(natsConnection_Subscribe(&subscription, s.link->connection(), (s.inbox + ".>").c_str(),
                                 &State::on_ack, &s),
        "subscribing to the bridge's acks");
  s.ack_subscription.reset(subscription);
  // Acks come as fast as publishes go out: no cnats limit below the window's.
  natsSubscription_SetPendingLimits(subscription, -1, -1);
  s.resume(info->State.LastSeq);
  log(LogLevel::info,
      fmt::format("bridge of instance {} into stream {} (subject {}) on {}: from seq {}",
                  options.instance, s.options.stream.stream, s.options.stream.subject,
                  options.server, s.next_seq));
  return std::unique_ptr<Bridge>(new Bridge(std::move(state)));
}

Bridge::Bridge(std::unique_ptr<State> state) : state_(std::move(state)) {}
Bridge::~Bridge() {
  // No ack callback may run on a State being destroyed.
  if (state_ && state_->ack_subscription)
    natsSubscription_Unsubscribe(state_->ack_subscription.get());
}
const BridgeCounters& Bridge::counters() const noexcept {
  return state_->counters;
}

void Bridge::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  const std::int64_t ack_timeout_ns = s.options.ack_timeout.count() * kMsNs;
  std::array<Event, kReplayBatch> events;
  // relaxed: a stop request orders nothing; seeing it one loop later is fine.
  while (!stop.load(std::memory_order_relaxed)) {
    s.take_acks();
    if (s.options.stop_at_seq != 0 && s.counters.acked >= s.options.stop_at_seq) break;
    const std::int64_t now = monotonic_ns();
    if (s.failure.empty() && !s.in_flight.empty() &&
        now - s.in_flight.front().sent_ns > ack_timeout_ns) {
      s.failure = fmt::format("no ack for seq {} within {} ms", s.in_flight.front().seq,
                              s.options.ack_timeout.count());
    }
    if (!s.failure.empty()) {
      s.recover(stop);
      continue;
    }
    std::size_t sent = 0;
    while (s.failure.empty() && s.in_flight.size() < s.options.window) {
      const std::size_t room = std::min(events.size(), s.options.window - s.in_flight.size());
      const std::size_t count = s.stream->next_batch(std::span(events.data(), room));
      if (count == 0) break;
      for (std::size_t i = 0; i < count && s.failure.empty(); ++i) s.publish(events[i]);
      sent += count;
    }
    s.heartbeat(now);
    if (sent == 0 && s.unflushed && s.in_flight.size() < s.options.window) {
      // The instance has nothing more now: out with what cnats holds, rather than after
      // its flusher's ~1 ms wait. One round trip to the server, only when the source is
      // idle: a bridge catching up fills its window and never waits here.
      s.unflushed = false;
      ++s.counters.flushes;
      if (natsConnection_FlushTimeout(s.link->connection(), s.options.ack_timeout.count()) !=
          NATS_OK) {
        s.failure = "the server did not answer a flush";
      }
      continue;
    }
    if (sent == 0) {
      const std::int64_t until_timeout = std::clamp<std::int64_t>(
          s.in_flight.empty() ? kIdleWaitNs : s.in_flight.front().sent_ns + ack_timeout_ns - now, 0,
          kIdleWaitNs);
      if (s.in_flight.size() >= s.options.window) {
        s.wait_for_acks(std::max<std::size_t>(1, s.options.window / 4), until_timeout);
      } else {
        s.wait_for_events(until_timeout);
      }
    }
  }
  // What is in flight gets its ack time; a restart resends whatever did not make it.
  const std::int64_t deadline = monotonic_ns() + ack_timeout_ns;
  while (!s.in_flight.empty() && s.failure.empty() && monotonic_ns() < deadline) {
    s.wait_for_acks(1, kIdleWaitNs);
    s.take_acks();
  }
  s.heartbeat(monotonic_ns());
  if (s.hold) s.hold->need(s.counters.acked + 1, monotonic_ns(), true);
  s.log(LogLevel::info,
        fmt::format("stopped: stream {} confirmed to seq {}; {} published, {} duplicates, {} "
                    "resumes, {} flushes",
                    s.options.stream.stream, s.counters.acked, s.counters.published,
                    s.counters.duplicates, s.counters.resumes, s.counters.flushes));
}

}  // namespace evring::remote
