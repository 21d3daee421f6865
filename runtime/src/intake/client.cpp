#include "evring/client.hpp"

#include <cstring>
#include <stdexcept>
#include <thread>

#include <sched.h>
#include <unistd.h>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "intake/intake_layout.hpp"
#include "shm/layout.hpp"
#include "shm/segment_attach.hpp"
#include "shm/shared_segment.hpp"
#include "sync/doorbell.hpp"
#include "sync/wait_strategy.hpp"
#include "sys/process.hpp"

namespace evring {

using detail::ClientSlot;
using detail::IntakeHeader;
using detail::ReplyEntry;
using detail::RequestHeader;

namespace {

constexpr std::int64_t kLivenessProbeNs = 1'000'000;  // writer pid probe while waiting
constexpr std::int64_t kSleepSliceNs = 10'000'000;    // futex timeout between probes

// Out of line and cold: send_encoded() stays small and builds no string on its way.
[[noreturn, gnu::cold, gnu::noinline]] void throw_over_limit(const char* what, std::size_t bytes,
                                                             std::size_t limit) {
  throw Error(ErrorCode::invalid_argument, std::string(what) + " of " + std::to_string(bytes) +
                                               " bytes is over the limit of " +
                                               std::to_string(limit));
}

}  // namespace

std::string_view to_string(ReplyStatus status) {
  switch (status) {
    case ReplyStatus::accepted:
      return "accepted";
    case ReplyStatus::rejected:
      return "rejected";
    case ReplyStatus::duplicate:
      return "duplicate";
  }
  return "unknown";
}

std::string_view to_string(RejectCode code) {
  switch (code) {
    case RejectCode::none:
      return "none";
    case RejectCode::rule:
      return "rule";
    case RejectCode::malformed:
      return "malformed";
    case RejectCode::failed:
      return "failed";
    case RejectCode::unavailable:
      return "unavailable";
  }
  return "unknown";
}

std::vector<std::byte> encode_text_command(std::span<const std::string_view> words) {
  ByteWriter out;
  out.put(static_cast<std::uint32_t>(words.size()));
  for (const std::string_view word : words) out.put_text(word);
  return out.take();
}

std::vector<std::string_view> decode_text_command(std::span<const std::byte> payload) {
  ByteReader in(payload, "text command");
  const auto count = in.get<std::uint32_t>();
  if (count > payload.size()) throw MalformedInput("text command claims too many words");
  std::vector<std::string_view> words;
  words.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) words.push_back(in.get_text());
  in.expect_end();
  check_utf8_words(words);
  return words;
}

struct Client::State {
  explicit State(SharedSegment mapped) : segment(std::move(mapped)) {}

  std::string instance;
  ClientOptions options;
  SharedSegment segment;
  IntakeHeader* header = nullptr;
  ClientSlot* slot = nullptr;
  std::uint32_t index = 0;
  std::uint64_t writer_pid = 0;
  ProcessWatch writer_watch;
  // Local copies of our own indices (only this thread writes them).
  std::uint64_t request_tail = 0;
  std::uint64_t cached_request_head = 0;
  std::uint64_t reply_head = 0;
  std::uint64_t next_ticket = 1;
  std::uint64_t taken_from_ring = 0;  // replies read out of the slot
  std::uint64_t delivered = 0;        // replies handed to the caller
  std::deque<TicketedReply> taken;    // read out of the slot, not yet handed over

  const detail::IntakeConfig& config() const { return header->config; }

  // Throws if the writer is gone; `probe_pid` also asks the kernel (a system call).
  void check_writer(bool probe_pid) {
    // acquire: pairs with the writer's release store of closed/superseded; replies it sent
    // before are visible, and the caller re-checks them before giving up.
    const auto state = header->preamble.state.load(std::memory_order_acquire);
    const bool finished = state == static_cast<std::uint32_t>(SegmentState::closed) ||
                          state == static_cast<std::uint32_t>(SegmentState::superseded);
    if (finished || (probe_pid && writer_watch.exited())) {
      const std::uint64_t unknown = next_ticket - 1 - taken_from_ring;
      throw Error(
          ErrorCode::writer_gone,
          "the writer of instance \"" + instance + "\" (pid " + std::to_string(writer_pid) + ") " +
              (state == static_cast<std::uint32_t>(SegmentState::closed) ? "shut down" : "died") +
              (unknown > 0 ? " with " + std::to_string(unknown) +
                                 " command(s) in flight whose outcome is unknown: "
                                 "reconnect and resubmit them with the same command id"
                           : "") +
              "; restart it with evring-writer --name " + instance);
    }
  }

  [[noreturn]] void throw_timed_out() const {
    throw Error(ErrorCode::timed_out,
                "the writer of instance \"" + instance + "\" (pid " + std::to_string(writer_pid) +
                    ") did not answer within " +
                    std::to_string(options.reply_timeout_ns / 1'000'000) +
                    " ms (is it stopped, or overloaded?); a command sent may still be applied: "
                    "resubmit it with the same command id to be safe");
  }

  // Waits, the chosen way, until ready() holds; checks on the writer meanwhile. Without a
  // doorbell to sleep on (waiting for room), block spins.
  template <class Ready>
  void wait_until(Ready&& ready, std::optional<Doorbell> doorbell) {
    if (ready()) return;
    const WaitKind kind =
        options.wait == WaitKind::block && !doorbell ? WaitKind::spin : options.wait;
    IdleStrategy idle(
        kind, options.reply_timeout_ns > 0 ? options.reply_timeout_ns : IdleStrategy::kNoTimeout,
        options.spin_ns);
    std::int64_t next_probe = idle.now_ns() + kLivenessProbeNs;
    for (;;) {
      if (ready()) return;
      switch (idle.idle()) {
        case IdleStep::again:
          continue;
        case IdleStep::checkpoint: {
          const bool probe = idle.now_ns() >= next_probe;
          if (probe) next_probe = idle.now_ns() + kLivenessProbeNs;
          if (ready()) return;
          check_writer(probe);
          continue;
        }
        case IdleStep::sleep:
          // The last look is at reply_tail (acquire); the writer rings after storing it.
          doorbell->sleep_unless(ready, kSleepSliceNs);
          doorbell->leave_single();  // the slot's client is its only sleeper
          check_writer(true);
          continue;
        case IdleStep::timed_out:
          if (ready()) return;
          check_writer(true);
          throw_timed_out();
      }
    }
  }

  Doorbell reply_doorbell() const noexcept {
    return Doorbell(slot->client_sleeping, slot->reply_signal);
  }

  bool reply_ready() const {
    // acquire: pairs with the writer's release store of reply_tail; the entry is complete.
    return slot->reply_tail.load(std::memory_order_acquire) != reply_head;
  }

  void take_one_reply() {
    wait_until([this] { return reply_ready(); }, reply_doorbell());
    const ReplyEntry& entry =
        detail::slot_replies(*slot, config())[reply_head & (config().reply_capacity - 1)];
    TicketedReply out;
    out.ticket = entry.ticket;
    out.reply.seq = entry.seq;
    out.reply.status = static_cast<ReplyStatus>(entry.status);
    out.reply.code = static_cast<RejectCode>(entry.code);
    out.reply.reason.assign(entry.reason,
                            std::min<std::size_t>(entry.reason_bytes, kMaxReasonBytes));
    ++reply_head;
    ++taken_from_ring;
    // release: the writer's acquire load of reply_head sees we are done with the entry.
    slot->reply_head.store(reply_head, std::memory_order_release);
    taken.push_back(std::move(out));
  }

  void release() {
    if (slot == nullptr) return;
    // release: pairs with the writer's acquire load of `closing`; every request we
    // published is visible to it by then, so it decides them all before freeing the slot.
    slot->closing.store(1, std::memory_order_release);
    slot = nullptr;
  }
};

Client Client::connect(const std::string& instance, const ClientOptions& options) {
  SharedSegment segment = detail::attach_ready_segment(instance, "intake", SegmentKind::intake,
                                                       detail::kIntakeLayoutVersion,
                                                       Access::read_write, "command intake");
  auto state = std::make_unique<State>(std::move(segment));
  state->instance = instance;
  state->options = options;
  state->header = reinterpret_cast<IntakeHeader*>(state->segment.data());
  const detail::IntakeConfig config = state->header->config;
  if (config.slot_count > 64 ||
      config.slots_offset + config.slot_count * config.slot_stride > segment.size()) {
    throw Error(ErrorCode::corrupt, "/dev/shm/" + segment.name() +
                                        " has an impossible configuration: restart the writer");
  }
  state->writer_pid = state->header->preamble.owner_pid;
  state->writer_watch = ProcessWatch(ProcessIdentity{state->header->preamble.owner_pid,
                                                     state->header->preamble.owner_start_ticks});
  const ProcessIdentity me = ProcessIdentity::self();
  const std::uint64_t owner = detail::pack_owner(me.pid, me.start_ticks);
  for (std::uint32_t i = 0; i < config.slot_count; ++i) {
    ClientSlot& slot = detail::slot_at(state->segment.data(), config, i);
    std::uint64_t expected = 0;
    // acquire: pairs with the writer's release store of owner = 0 after resetting the
    // slot, so we see clean indices. relaxed on failure: we just try the next slot.
    if (slot.owner.compare_exchange_strong(expected, owner, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
      state->slot = &slot;
      state->index = i;
      // release: the writer starts polling the slot after its acquire load of the mask.
      state->header->active_mask.fetch_or(std::uint64_t{1} << i, std::memory_order_release);
      return Client(std::move(state));
    }
  }
  throw Error(ErrorCode::resource,
              "all " + std::to_string(config.slot_count) + " client slots of instance \"" +
                  instance + "\" are held by live clients: close some, or share a Client " +
                  "between the threads of a process");
}

Client::Client(std::unique_ptr<State> state) : state_(std::move(state)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (state_) state_->release();
    state_ = std::move(other.state_);
  }
  return *this;
}
Client::~Client() {
  if (state_) state_->release();
}

std::uint64_t Client::send(std::span<const std::byte> command, std::string_view command_id) {
  return send_encoded(CommandFormat::bytes, command, command_id);
}

std::uint64_t Client::send_text(std::span<const std::string_view> words,
                                std::string_view command_id) {
  const std::vector<std::byte> payload = encode_text_command(words);
  return send_encoded(CommandFormat::text, payload, command_id);
}

std::uint64_t Client::send_encoded(CommandFormat format, std::span<const std::byte> payload,
                                   std::string_view command_id) {
  State& s = *state_;
  if (s.slot == nullptr) throw std::logic_error("evring::Client used after being moved from");
  if (payload.size() > s.config().max_command_bytes) [[unlikely]] {
    throw_over_limit("command", payload.size(), s.config().max_command_bytes);
  }
  if (command_id.size() > kMaxCommandIdBytes) [[unlikely]] {
    throw_over_limit("command id", command_id.size(), kMaxCommandIdBytes);
  }
  // Never more in flight than the reply ring holds: the writer must never wait for us.
  while (s.next_ticket - 1 - s.taken_from_ring >= s.config().reply_capacity) s.take_one_reply();

  const std::uint64_t ring_bytes = s.config().request_ring_bytes;
  const std::uint64_t need =
      align_up(sizeof(RequestHeader) + command_id.size() + payload.size(), 8);
  const std::uint64_t offset = s.request_tail & (ring_bytes - 1);
  const std::uint64_t padding = need > ring_bytes - offset ? ring_bytes - offset : 0;
  const auto has_room = [&] {
    if (ring_bytes - (s.request_tail - s.cached_request_head) >= need + padding) return true;
    // acquire: pairs with the writer's release store after it finished reading.
    s.cached_request_head = s.slot->request_head.load(std::memory_order_acquire);
    return ring_bytes - (s.request_tail - s.cached_request_head) >= need + padding;
  };
  // No futex for room: the writer frees space within microseconds of taking a request.
  s.wait_until(has_room, std::nullopt);

  std::byte* ring = detail::slot_requests(*s.slot);
  if (padding != 0) {
    const RequestHeader pad{
        static_cast<std::uint32_t>(padding), detail::kRequestPadding, 0, 0, 0, 0};
    std::memcpy(ring + offset, &pad, 8);  // the rest may be only 8 bytes
    s.request_tail += padding;
  }
  std::byte* at = ring + (s.request_tail & (ring_bytes - 1));
  const std::uint64_t ticket = s.next_ticket++;
  const RequestHeader header{static_cast<std::uint32_t>(need),
                             static_cast<std::uint16_t>(format),
                             static_cast<std::uint16_t>(command_id.size()),
                             static_cast<std::uint32_t>(payload.size()),
                             0,
                             ticket};
  std::memcpy(at, &header, sizeof header);
  if (!command_id.empty()) std::memcpy(at + sizeof header, command_id.data(), command_id.size());
  if (!payload.empty()) {
    std::memcpy(at + sizeof header + command_id.size(), payload.data(), payload.size());
  }
  s.request_tail += need;
  // release: the writer's acquire load of request_tail sees the whole request.
  s.slot->request_tail.store(s.request_tail, std::memory_order_release);
  // Wakes the writer if it sleeps (its last look is at every slot's request_tail).
  Doorbell(s.header->writer_sleeping, s.header->doorbell).ring();
  return ticket;
}

TicketedReply Client::receive() {
  State& s = *state_;
  if (s.delivered + 1 >= s.next_ticket) {
    throw std::logic_error("evring::Client::receive with no command in flight");
  }
  if (s.taken.empty()) s.take_one_reply();
  TicketedReply out = std::move(s.taken.front());
  s.taken.pop_front();
  ++s.delivered;
  return out;
}

std::optional<TicketedReply> Client::try_receive() {
  State& s = *state_;
  if (s.taken.empty()) {
    if (s.delivered + 1 >= s.next_ticket || !s.reply_ready()) return std::nullopt;
    s.take_one_reply();
  }
  TicketedReply out = std::move(s.taken.front());
  s.taken.pop_front();
  ++s.delivered;
  return out;
}

CommandReply Client::submit(std::span<const std::byte> command, std::string_view command_id) {
  if (in_flight() != 0) {
    throw std::logic_error("evring::Client::submit with commands in flight: receive them first");
  }
  send(command, command_id);
  return receive().reply;
}

CommandReply Client::submit_text(std::span<const std::string_view> words,
                                 std::string_view command_id) {
  if (in_flight() != 0) {
    throw std::logic_error("evring::Client::submit with commands in flight: receive them first");
  }
  send_text(words, command_id);
  return receive().reply;
}

CommandReply Client::submit_text(std::initializer_list<std::string_view> words,
                                 std::string_view command_id) {
  return submit_text(std::span<const std::string_view>(words.begin(), words.size()), command_id);
}

std::size_t Client::in_flight() const noexcept {
  return static_cast<std::size_t>(state_->next_ticket - 1 - state_->delivered);
}
const std::string& Client::instance() const noexcept {
  return state_->instance;
}
std::uint64_t Client::writer_pid() const noexcept {
  return state_->writer_pid;
}

}  // namespace evring
