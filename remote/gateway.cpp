#include "gateway.hpp"

#include <signal.h>

#include <cerrno>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "nats_link.hpp"

namespace evring::remote {
namespace {

constexpr std::int64_t kPollMs = 100;  // how soon a stop is seen

std::string reply_json(const CommandReply& reply) {
  return nlohmann::json{{"status", static_cast<std::uint32_t>(reply.status)},
                        {"code", static_cast<std::uint32_t>(reply.code)},
                        {"seq", reply.seq},
                        {"reason", reply.reason}}
      .dump();
}

}  // namespace

struct Gateway::State {
  GatewayOptions options;
  LogSink log;
  std::unique_ptr<NatsLink> link;
  SubscriptionPtr subscription;
  std::optional<Client> client;  // connected at the first request, again after a writer restart

  std::string handle(std::string_view request) {
    const nlohmann::json parsed = nlohmann::json::parse(request, nullptr, false);
    if (parsed.is_discarded() || !parsed.contains("words") || !parsed["words"].is_array()) {
      return nlohmann::json{{"error", "a request is {\"words\": [...], \"id\": \"...\"}"}}.dump();
    }
    std::vector<std::string> words;
    for (const auto& word : parsed["words"]) {
      if (!word.is_string()) return nlohmann::json{{"error", "every word is a string"}}.dump();
      words.push_back(word.get<std::string>());
    }
    const std::string id = parsed.value("id", std::string());
    const std::vector<std::string_view> views(words.begin(), words.end());
    // A writer that exited since the last request: connect to its successor first, so
    // a command is not sent to a dead one.
    if (client && ::kill(static_cast<pid_t>(client->writer_pid()), 0) != 0 && errno == ESRCH) {
      client.reset();
    }
    for (int attempt = 0;; ++attempt) {
      try {
        if (!client) client.emplace(Client::connect(options.instance));
        return reply_json(client->submit_text(views, id));
      } catch (const Error& e) {
        // The writer restarted or is gone: connect anew. With an id the command is
        // resubmitted once (it applies once); without one its outcome is the client's to
        // judge.
        client.reset();
        if (attempt == 0 && !id.empty() && e.code() == ErrorCode::writer_gone) continue;
        log(LogLevel::warn, fmt::format("command not submitted: {}", e.what()));
        return nlohmann::json{{"error", e.what()}, {"code", static_cast<int>(e.code())}}.dump();
      }
    }
  }
};

std::unique_ptr<Gateway> Gateway::start(const GatewayOptions& options, const LogSink& log) {
  auto state = std::make_unique<State>();
  state->options = options;
  state->log = log;
  if (state->options.subject.empty()) state->options.subject = commands_subject(options.instance);
  state->link = NatsLink::connect(options.server,
                                  LinkOptions{100, "evring gateway " + options.instance, true});
  natsSubscription* subscription = nullptr;
  check(natsConnection_QueueSubscribeSync(&subscription, state->link->connection(),
                                          state->options.subject.c_str(), "evring-gateway"),
        "subscribing to " + state->options.subject);
  state->subscription.reset(subscription);
  log(LogLevel::info, fmt::format("gateway of instance {}: commands on {} at {}", options.instance,
                                  state->options.subject, options.server));
  return std::unique_ptr<Gateway>(new Gateway(std::move(state)));
}

Gateway::Gateway(std::unique_ptr<State> state) : state_(std::move(state)) {}
Gateway::~Gateway() = default;

void Gateway::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  // relaxed: a stop request orders nothing.
  while (!stop.load(std::memory_order_relaxed)) {
    natsMsg* raw = nullptr;
    const natsStatus status = natsSubscription_NextMsg(&raw, s.subscription.get(), kPollMs);
    if (status == NATS_TIMEOUT) continue;
    check(status, "receiving commands on " + s.options.subject);
    const MsgPtr msg(raw);
    const char* reply_to = natsMsg_GetReply(raw);
    const std::string answer = s.handle(std::string_view(
        natsMsg_GetData(raw), static_cast<std::size_t>(natsMsg_GetDataLength(raw))));
    if (reply_to != nullptr) {
      natsConnection_PublishString(s.link->connection(), reply_to, answer.c_str());
    }
  }
}

NatsCommandClient::NatsCommandClient(const std::string& url, const std::string& instance)
    : server_(parse_nats_url(url).server),
      instance_(instance),
      subject_(commands_subject(instance)),
      link_(NatsLink::connect(server_, LinkOptions{100, "evring cmd", true})) {}

NatsCommandClient::~NatsCommandClient() = default;

CommandReply NatsCommandClient::submit_text(std::span<const std::string_view> words,
                                            std::string_view id,
                                            std::chrono::milliseconds timeout) {
  nlohmann::json request{{"words", std::vector<std::string>(words.begin(), words.end())}};
  if (!id.empty()) request["id"] = std::string(id);
  const std::string body = request.dump();
  natsMsg* raw = nullptr;
  const natsStatus status =
      natsConnection_Request(&raw, link_->connection(), subject_.c_str(), body.data(),
                             static_cast<int>(body.size()), timeout.count());
  if (status == NATS_NO_RESPONDERS) {
    throw Error(ErrorCode::no_instance,
                fmt::format("no gateway serves {} on {}: start evring gateway --name {} --to {} "
                            "on the writer's machine",
                            subject_, server_, instance_, server_));
  }
  if (status == NATS_TIMEOUT) {
    throw Error(ErrorCode::timed_out,
                fmt::format("no answer from the gateway of {} within {} ms: the command may "
                            "still be applied; {}",
                            instance_, timeout.count(),
                            id.empty() ? "without --id a retry may apply it twice"
                                       : "resubmit it with the same --id, it applies once"));
  }
  check(status, "sending the command to " + subject_);
  const MsgPtr msg(raw);
  const nlohmann::json answer = nlohmann::json::parse(
      std::string_view(natsMsg_GetData(raw), static_cast<std::size_t>(natsMsg_GetDataLength(raw))),
      nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    throw Error(ErrorCode::corrupt, "the gateway of " + instance_ + " answered something not JSON");
  }
  if (answer.contains("error")) {
    throw Error(ErrorCode::writer_gone,
                fmt::format("the gateway of {} could not submit the command: {}", instance_,
                            answer["error"].get<std::string>()));
  }
  CommandReply reply;
  reply.status = static_cast<ReplyStatus>(answer.value("status", 0u));
  reply.code = static_cast<RejectCode>(answer.value("code", 0u));
  reply.seq = answer.value("seq", std::uint64_t{0});
  reply.reason = answer.value("reason", std::string());
  return reply;
}

CommandReply submit_via_nats(const std::string& url, const std::string& instance,
                             std::span<const std::string_view> words, std::string_view id,
                             std::chrono::milliseconds timeout) {
  return NatsCommandClient(url, instance).submit_text(words, id, timeout);
}

}  // namespace evring::remote
