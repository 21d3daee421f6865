#include "query_host.hpp"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>
#include <pthread.h>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "sync/doorbell.hpp"

namespace evring::reader {
namespace {

using query_shm::QueryStatus;

constexpr std::int64_t kBellSliceNs = 100'000'000;  // the bell thread's look at its stop flag
constexpr std::int64_t kSocketPollNs = 2'000;       // a polled socket's looks while events flow

}  // namespace

QueryHost::QueryHost(const QueryHostOptions& options, std::shared_ptr<WaitInterrupt> interrupt)
    : interrupt_(std::move(interrupt)) {
  // The segment first, and the interrupt's flag moved into it, before anyone can trigger:
  // the socket thread starts with the server below.
  segment_ = query_shm::QuerySegment::create(options.instance, options.reader_id, options.mode,
                                             options.group);
  query_shm::Header& header = segment_->header();
  interrupt_->share(header.pending, header.reader_sleeping);
  subscriptions_.emplace(*segment_);
  // A spinning reader looks at its socket itself: a socket thread would share its core.
  socket_polled_ = options.wait == WaitKind::spin;
  queries_ = QueryServer::start(
      options.socket, options.mode, [interrupt = interrupt_] { interrupt->trigger(); },
      options.group, socket_polled_);
  if (options.wait == WaitKind::block) bell_ = std::thread([this] { run_bell(); });
}

QueryHost::~QueryHost() {
  if (bell_.joinable()) {
    // relaxed: the wake below is what makes the thread look; it then sees it.
    bell_stop_.store(true, std::memory_order_relaxed);
    query_shm::Header& header = segment_->header();
    Doorbell(header.bell_sleeping, header.bell).wake_all();
    bell_.join();
  }
  queries_.reset();       // before the segment: its socket thread triggers the interrupt
  interrupt_->unshare();  // the stream outlives the segment and may still look at it
}

void QueryHost::run_bell() noexcept {
  sigset_t signals;
  sigfillset(&signals);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // signals are for the view thread
  query_shm::Header& header = segment_->header();
  Doorbell bell(header.bell_sleeping, header.bell);
  // relaxed: a count compared with itself; the request's own release/acquire pair (the
  // slot's serial) publishes what it announces.
  std::uint64_t seen_posted = header.posted.load(std::memory_order_relaxed);
  // relaxed: see the destructor.
  while (!bell_stop_.load(std::memory_order_relaxed)) {
    const std::uint32_t seen = bell.prepare();
    // S3 of the hand-shake: the doorbell's fence orders it after the raised flag.
    const std::uint64_t posted = header.posted.load(std::memory_order_relaxed);
    if (posted != seen_posted) {
      seen_posted = posted;
      interrupt_->trigger();
      continue;
    }
    bell.sleep(seen, kBellSliceNs);
  }
}

void QueryHost::serve(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now) {
  // A system call: at most every kSocketPollNs while events flow, at each look otherwise.
  const bool poll_socket =
      socket_polled_ && (applied_seq == served_seq_ || now >= next_socket_poll_ns_);
  if (poll_socket) {
    queries_->poll();
    next_socket_poll_ns_ = now + kSocketPollNs;
  }
  bool answered_socket = false;
  while (queries_->next(socket_request_)) {
    answer(view, socket_request_.ticket, socket_request_.after_seq, socket_request_.deadline_ns,
           socket_request_.words, applied_seq);
    answered_socket = true;
  }
  if (answered_socket && socket_polled_) queries_->poll();  // out with the replies now
  while (segment_->next(slot_request_)) {
    switch (slot_request_.kind) {
      case query_shm::RequestKind::query: {
        const std::int64_t deadline =
            monotonic_ns() + static_cast<std::int64_t>(slot_request_.timeout_ms) * 1'000'000;
        std::vector<std::string> words = std::move(slot_request_.words);
        answer(view, slot_request_, slot_request_.after_seq, deadline, words, applied_seq);
        break;
      }
      case query_shm::RequestKind::watch:
        subscriptions_->subscribe(view, slot_request_, applied_seq, now);
        break;
      case query_shm::RequestKind::unwatch:
        subscriptions_->unsubscribe(slot_request_.slot);
        break;
    }
  }
  if (segment_->closed_seen()) release_gone_slots();
  if (applied_seq != served_seq_) {
    served_seq_ = applied_seq;
    if (!parked_.empty()) answer_parked(view, applied_seq, now);
  } else if (now >= next_deadline_) {
    answer_parked(view, applied_seq, now);
  }
  if (applied_seq != evaluated_seq_ &&
      subscriptions_->after_events(view, applied_seq, monotonic_ns())) {
    evaluated_seq_ = applied_seq;
  }
}

void QueryHost::heartbeat(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now) {
  release_gone_slots();
  subscriptions_->heartbeat(view, applied_seq, now);
  // relaxed: a lone counter for stat.
  segment_->header().queries.store(answered_, std::memory_order_relaxed);
}

void QueryHost::release_gone_slots() {
  std::vector<unsigned> freed;
  segment_->free_gone(freed);
  for (const unsigned slot : freed) subscriptions_->unsubscribe(slot);
  // Parked queries of a freed slot would answer into a slot someone else may claim.
  for (auto it = parked_.begin(); it != parked_.end();) {
    const auto* asker = std::get_if<query_shm::SlotRequest>(&it->second.from);
    const bool gone =
        asker != nullptr && std::find(freed.begin(), freed.end(), asker->slot) != freed.end();
    it = gone ? parked_.erase(it) : std::next(it);
  }
}

void QueryHost::view_rebuilt(const ViewPlugin& view, std::int64_t now) {
  served_seq_ = evaluated_seq_ = 0;
  subscriptions_->reset_all(view, 0, now);
}

void QueryHost::answer(const ViewPlugin& view, Origin from, std::uint64_t after_seq,
                       std::int64_t deadline_ns, std::vector<std::string>& words,
                       std::uint64_t applied_seq) {
  if (after_seq > applied_seq) {
    if (monotonic_ns() >= deadline_ns) return reply_stale(from, applied_seq);
    next_deadline_ = std::min(next_deadline_, deadline_ns);
    parked_.emplace(after_seq, Parked{std::move(from), deadline_ns, std::move(words)});
    return;
  }
  const std::int64_t start = monotonic_ns();
  const std::vector<std::string_view> views(words.begin(), words.end());
  const QueryOutcome outcome = view.query(views, scratch_);
  if (outcome == QueryOutcome::answered) {
    const std::string_view result = scratch_.empty() ? std::string_view("null") : scratch_;
    std::string text = fmt::format(R"({{"as_of_seq":{},"result":{}}})", applied_seq, result);
    const std::size_t offset = text.size() - 1 - result.size();
    reply(from, std::move(text), QueryStatus::answered, applied_seq, offset, result.size());
  } else {
    const std::string message = json_string(scratch_);
    std::string text = fmt::format(R"({{"as_of_seq":{},"error":{}}})", applied_seq, message);
    const std::size_t offset = text.size() - 1 - message.size();
    reply(from, std::move(text), QueryStatus::error, applied_seq, offset, message.size());
  }
  latency_.record(monotonic_ns() - start);
}

void QueryHost::answer_parked(const ViewPlugin& view, std::uint64_t applied_seq, std::int64_t now) {
  while (!parked_.empty() && parked_.begin()->first <= applied_seq) {
    Parked parked = std::move(parked_.begin()->second);
    parked_.erase(parked_.begin());
    answer(view, std::move(parked.from), 0, parked.deadline_ns, parked.words, applied_seq);
  }
  if (now < next_deadline_) return;
  next_deadline_ = INT64_MAX;
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (now >= it->second.deadline_ns) {
      reply_stale(it->second.from, applied_seq);
      it = parked_.erase(it);
    } else {
      next_deadline_ = std::min(next_deadline_, it->second.deadline_ns);
      ++it;
    }
  }
}

void QueryHost::reply_stale(const Origin& to, std::uint64_t applied_seq) {
  reply(to, fmt::format(R"({{"stale":true,"as_of_seq":{}}})", applied_seq), QueryStatus::stale,
        applied_seq, 0, 0);
}

void QueryHost::reply(const Origin& to, std::string text, QueryStatus status,
                      std::uint64_t as_of_seq, std::size_t result_offset,
                      std::size_t result_bytes) {
  if (const auto* ticket = std::get_if<net::Ticket>(&to)) {
    QueryRequest request;
    request.ticket = *ticket;
    queries_->reply(request, std::move(text));
    ++answered_socket_;
    return;
  }
  const auto& asker = std::get<query_shm::SlotRequest>(to);
  ++answered_;
  // One line, as the socket's framing sends it.
  std::replace(text.begin(), text.end(), '\n', ' ');
  query_shm::RecordHeader header{};
  header.kind = query_shm::RecordKind::reply;
  header.status = status;
  header.serial = asker.serial;
  header.as_of_seq = as_of_seq;
  header.result_offset = static_cast<std::uint32_t>(result_offset);
  header.result_bytes = static_cast<std::uint32_t>(result_bytes);
  query_shm::RecordWriter records = segment_->records(asker.slot);
  if (text.size() > query_shm::kMaxRecordBytes || !records.append(header, text)) {
    // The client asks the socket instead.
    header.kind = query_shm::RecordKind::too_large;
    header.result_offset = header.result_bytes = 0;
    if (!records.append(header, {})) return;  // not read: a client that is not ours
  }
  records.publish();
}

}  // namespace evring::reader
