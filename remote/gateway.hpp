// Commands from other machines: evring gateway serves the instance's command subject by
// NATS request/reply, submits each request to the writer through the shared-memory intake
// and replies with its seq or its rejection; evring cmd --via sends them.
//
// The wire, JSON both ways:
//   request  {"words": ["deposit", "alice", "100"], "id": "req-42"}   (id: optional)
//   reply    {"status": S, "code": C, "seq": N, "reason": "..."}      (ReplyStatus, RejectCode)
//            {"error": "..."}                                         (the writer is not there)
// A command id makes a retried request apply once: the writer's duplicate window answers a
// second one `duplicate` with the first one's seq. Without an id, a retry after a timeout
// may apply twice.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "evring/command.hpp"
#include "sys/log.hpp"

namespace evring::remote {

struct GatewayOptions {
  std::string instance = "default";
  std::string server;   // nats://HOST:PORT
  std::string subject;  // empty: evring.<instance>.commands
};

class Gateway {
 public:
  // Connects and subscribes (in a queue group: gateways of one instance share the load).
  static std::unique_ptr<Gateway> start(const GatewayOptions& options, const LogSink& log);
  ~Gateway();
  // Serves until `stop`.
  void run(const std::atomic<bool>& stop);

 private:
  struct State;
  explicit Gateway(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class NatsLink;

// The client side, on any machine: commands through the gateway of `instance` at `url`
// (nats://HOST:PORT), over one connection.
class NatsCommandClient {
 public:
  // Throws like NatsLink::connect.
  NatsCommandClient(const std::string& url, const std::string& instance);
  ~NatsCommandClient();
  // Throws Error(timed_out) when no reply came in time (the command may still be applied),
  // Error(no_instance) when no gateway serves the instance, Error(writer_gone) when the
  // gateway has no writer to submit to.
  CommandReply submit_text(std::span<const std::string_view> words, std::string_view id,
                           std::chrono::milliseconds timeout);

 private:
  std::string server_;
  std::string instance_;
  std::string subject_;
  std::unique_ptr<NatsLink> link_;
};

// One command through a NatsCommandClient of its own (evring cmd --via).
CommandReply submit_via_nats(const std::string& url, const std::string& instance,
                             std::span<const std::string_view> words, std::string_view id,
                             std::chrono::milliseconds timeout);

}  // namespace evring::remote
