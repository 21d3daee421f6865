#include "socket_intake.hpp"

#include <cstring>
#include <utility>

#include <sys/socket.h>

#include <concurrentqueue/concurrentqueue.h>

#include "evring/error.hpp"
#include "net/command_frame.hpp"

namespace evring::writer {
namespace {

namespace frame = socket_frame;

constexpr std::int64_t kFinishTimeoutNs = 2'000'000'000;  // stop(): for slow readers

}  // namespace

// The length-prefixed command frames (net/command_frame.hpp), and the queue the socket
// thread hands the commands on with. An enqueue is a release and the dequeue that takes
// the element an acquire, so the command's bytes are complete when the apply thread sees
// them; with one producer and one consumer the queue is FIFO.
class SocketIntake::Frames final : public net::Framing {
 public:
  moodycamel::ConcurrentQueue<SocketCommand> requests;
  moodycamel::ProducerToken producer{requests};  // the socket thread's
  moodycamel::ConsumerToken consumer{requests};  // the apply thread's

  Taken take(std::string_view input, bool /*eof*/, const net::Ticket& ticket,
             std::string& answer) override {
    if (input.size() < frame::kLengthBytes) return {Outcome::need_more, 0};
    const char* at = input.data();
    std::uint32_t body_bytes = 0;
    std::memcpy(&body_bytes, at, sizeof body_bytes);
    if (body_bytes < frame::kRequestHeaderBytes || body_bytes > frame::kMaxRequestBody) {
      return malformed("malformed frame: a body of " + std::to_string(body_bytes) +
                           " bytes, expected 8 to " + std::to_string(frame::kMaxRequestBody) +
                           " (u16 format, u16 id_bytes, u32 payload_bytes, id, payload)",
                       answer);
    }
    if (input.size() < frame::kLengthBytes + body_bytes) return {Outcome::need_more, 0};
    const auto* body = reinterpret_cast<const std::byte*>(at + frame::kLengthBytes);
    std::uint16_t format = 0;
    std::uint16_t id_bytes = 0;
    std::uint32_t payload_bytes = 0;
    std::memcpy(&format, body, 2);
    std::memcpy(&id_bytes, body + 2, 2);
    std::memcpy(&payload_bytes, body + 4, 4);
    const bool known_format = format == static_cast<std::uint16_t>(CommandFormat::bytes) ||
                              format == static_cast<std::uint16_t>(CommandFormat::text);
    if (!known_format || id_bytes > kMaxCommandIdBytes || payload_bytes > kMaxCommandBytes ||
        frame::kRequestHeaderBytes + id_bytes + payload_bytes != body_bytes) {
      return malformed("malformed frame: format " + std::to_string(format) +
                           " (1 bytes, 2 text), " + std::to_string(id_bytes) +
                           " id bytes (at most " + std::to_string(kMaxCommandIdBytes) + "), " +
                           std::to_string(payload_bytes) + " payload bytes (at most " +
                           std::to_string(kMaxCommandBytes) + ") in a body of " +
                           std::to_string(body_bytes),
                       answer);
    }
    SocketCommand command;
    command.from = ticket;
    command.format = static_cast<CommandFormat>(format);
    command.id_bytes = id_bytes;
    command.bytes.assign(body + frame::kRequestHeaderBytes, body + body_bytes);
    requests.enqueue(producer, std::move(command));
    return {Outcome::queued, frame::kLengthBytes + body_bytes};
  }

 private:
  // A byte stream cannot be trusted past a bad frame: one reply rejected{malformed}, then
  // the connection closes.
  static Taken malformed(std::string reason, std::string& answer) {
    CommandReply refused;
    refused.status = ReplyStatus::rejected;
    refused.code = RejectCode::malformed;
    refused.reason = std::move(reason);
    frame::append_reply(answer, refused);
    return {Outcome::broken, 0};
  }
};

SocketIntake::SocketIntake(const SocketIntakeOptions& options, std::function<void()> wake_apply,
                           Log log)
    : frames_(std::make_unique<Frames>()) {
  net::ServerOptions server;
  server.listener.path = options.path;
  server.listener.mode = options.mode;
  server.listener.group = options.group;
  server.listener.backlog = SOMAXCONN;
  server.listener.kind = "socket";
  server.listener.in_use =
      "socket {} is in use by another evring-writer: stop it first, or give this one another "
      "--socket-path";
  server.listener.choose_other = "choose another --socket-path";
  server.listener.folder_fix = " (choose another --socket-path)";
  server.listener.long_path_fix = "choose a shorter --socket-path";
  server.wake_consumer = std::move(wake_apply);
  // A client that hung up still submitted what it sent completely: it is decided.
  server.take_all_on_hangup = true;
  server.log = log;
  server.name = "socket intake";
  server_.emplace(std::move(server), *frames_);
  if (server_->replaced_stale()) {
    log(LogLevel::warn, "socket intake: replaced the stale socket file " + options.path.string() +
                            " (its writer is gone)");
  }
}

SocketIntake::~SocketIntake() {
  stop();
}

void SocketIntake::start() {
  server_->start();
}

bool SocketIntake::next(SocketCommand& out) {
  return frames_->requests.try_dequeue(frames_->consumer, out);
}

bool SocketIntake::next(SourcedCommand& out) {
  if (!next(current_)) return false;
  out.from = current_.from;
  out.format = current_.format;
  out.id = current_.id();
  out.payload = current_.payload();
  return true;
}

bool SocketIntake::pending() const {
  return frames_->requests.size_approx() != 0;
}

void SocketIntake::reply(const ReplyTo& to, const CommandReply& answer) {
  reply_.clear();
  frame::append_reply(reply_, answer);
  server_->reply(std::get<net::Ticket>(to), reply_);
}

void SocketIntake::stop_taking() {
  server_->stop_taking();
}

void SocketIntake::stop() {
  server_->stop(kFinishTimeoutNs);
}

void SocketIntake::finish(const CommandReply& refused) {
  stop_taking();
  while (next(current_)) reply(current_, refused);
  stop();
}

}  // namespace evring::writer
