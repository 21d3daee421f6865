// One connection to a NATS server with its JetStream context, and what every part of remote/
// shares on top of cnats: the URL form, turning a cnats status into an evring::Error that
// says what to do, and the names an instance's stream and subjects get by default.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nats/nats.h>

namespace evring::remote {

// nats://HOST:PORT[/STREAM]; the stream is empty when the URL names none.
struct NatsUrl {
  std::string server;  // nats://HOST:PORT, as cnats takes it
  std::string stream;
};
// Throws Error(invalid_argument) for anything else.
NatsUrl parse_nats_url(std::string_view url);

// The defaults of instance N: stream EVRING_N (dots and dashes made underscores, which
// JetStream stream names allow), events on evring.N.events, commands on evring.N.commands.
std::string default_stream_name(std::string_view instance);
std::string events_subject(std::string_view instance);
std::string commands_subject(std::string_view instance);

// Throws Error(io) naming `what` and cnats's own text, unless status is NATS_OK.
void check(natsStatus status, std::string_view what);
void check(natsStatus status, jsErrCode js_code, std::string_view what);

struct NatsDeleter {
  void operator()(natsMsg* msg) const noexcept { natsMsg_Destroy(msg); }
  void operator()(natsSubscription* sub) const noexcept { natsSubscription_Destroy(sub); }
  void operator()(jsStreamInfo* info) const noexcept { jsStreamInfo_Destroy(info); }
};
using MsgPtr = std::unique_ptr<natsMsg, NatsDeleter>;
using SubscriptionPtr = std::unique_ptr<natsSubscription, NatsDeleter>;
using StreamInfoPtr = std::unique_ptr<jsStreamInfo, NatsDeleter>;

struct LinkOptions {
  // Reconnect forever (a bridge or a remote reader outlives a server restart), this often.
  std::int64_t reconnect_wait_ms = 100;
  std::string name = "evring";  // the connection's name, as the server's monitoring shows it
  // Each message written at once rather than gathered by cnats's flusher thread, which waits
  // about a millisecond for more: for request/reply, where one message waits for another.
  bool send_asap = false;
};

class NatsLink {
 public:
  // Connects and checks that the server has JetStream. Throws Error(no_instance) for an
  // unreachable server and Error(incompatible) for a server without JetStream, each
  // saying what to do.
  static std::unique_ptr<NatsLink> connect(const std::string& server, const LinkOptions& options);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  natsConnection* connection() const noexcept { return connection_; }
  jsCtx* jetstream() const noexcept { return jetstream_; }
  const std::string& server() const noexcept { return server_; }
  bool connected() const noexcept;
  // Closes the connection now: what still needs the server (a consumer's deletion) fails
  // at once instead of waiting for it.
  void close() noexcept { natsConnection_Close(connection_); }
  // The stream's info; null when it does not exist. Throws Error(io) when the server does
  // not answer.
  StreamInfoPtr stream_info(const std::string& stream) const;

 private:
  NatsLink() = default;
  std::string server_;
  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* jetstream_ = nullptr;
};

}  // namespace evring::remote
