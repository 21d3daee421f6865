#include "nats_link.hpp"

#include <fmt/format.h>

#include "evring/error.hpp"

namespace evring::remote {

NatsUrl parse_nats_url(std::string_view url) {
  constexpr std::string_view kScheme = "nats://";
  const auto refuse = [&] {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("\"{}\" is not a NATS address: give nats://HOST:PORT or "
                             "nats://HOST:PORT/STREAM, e.g. nats://127.0.0.1:4222",
                             url));
  };
  if (!url.starts_with(kScheme)) throw refuse();
  const std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string_view host_port = rest.substr(0, slash);
  const std::size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == host_port.size()) {
    throw refuse();
  }
  NatsUrl result;
  result.server = std::string(kScheme) + std::string(host_port);
  if (slash != std::string_view::npos) result.stream = std::string(rest.substr(slash + 1));
  if (result.stream.find_first_of("./ *>") != std::string::npos) throw refuse();
  return result;
}

std::string default_stream_name(std::string_view instance) {
  std::string name = "EVRING_" + std::string(instance);
  for (char& c : name) {
    if (c == '.' || c == '-') c = '_';
  }
  return name;
}

std::string events_subject(std::string_view instance) {
  return fmt::format("evring.{}.events", instance);
}

std::string commands_subject(std::string_view instance) {
  return fmt::format("evring.{}.commands", instance);
}

void check(natsStatus status, std::string_view what) {
  if (status == NATS_OK) return;
  throw Error(ErrorCode::io, fmt::format("{}: {} ({})", what, natsStatus_GetText(status),
                                         nats_GetLastError(nullptr)));
}

void check(natsStatus status, jsErrCode js_code, std::string_view what) {
  if (status == NATS_OK) return;
  if (js_code == 0) check(status, what);
  throw Error(ErrorCode::io, fmt::format("{}: JetStream error {}: {}", what,
                                         static_cast<int>(js_code), nats_GetLastError(nullptr)));
}

std::unique_ptr<NatsLink> NatsLink::connect(const std::string& server, const LinkOptions& options) {
  std::unique_ptr<NatsLink> link(new NatsLink());
  link->server_ = server;
  check(natsOptions_Create(&link->options_), "natsOptions_Create");
  natsOptions_SetURL(link->options_, server.c_str());
  natsOptions_SetName(link->options_, options.name.c_str());
  natsOptions_SetMaxReconnect(link->options_, -1);
  natsOptions_SetReconnectWait(link->options_, options.reconnect_wait_ms);
  // Messages published while reconnecting wait in cnats's buffer; the bridge's acks decide.
  natsOptions_SetReconnectBufSize(link->options_, 8 << 20);
  natsOptions_SetTimeout(link->options_, 2000);
  natsOptions_SetSendAsap(link->options_, options.send_asap);
  const natsStatus status = natsConnection_Connect(&link->connection_, link->options_);
  if (status == NATS_NO_SERVER || status == NATS_TIMEOUT || status == NATS_IO_ERROR) {
    throw Error(ErrorCode::no_instance,
                fmt::format("no NATS server answers at {} ({}): start one with JetStream on, "
                            "e.g. nats-server -js -sd /var/lib/nats -p PORT, or check the address",
                            server, natsStatus_GetText(status)));
  }
  check(status, "connecting to " + server);
  check(natsConnection_JetStream(&link->jetstream_, link->connection_, nullptr),
        "natsConnection_JetStream");

  jsAccountInfo* account = nullptr;
  jsErrCode js_code = static_cast<jsErrCode>(0);
  const natsStatus js_status = js_GetAccountInfo(&account, link->jetstream_, nullptr, &js_code);
  if (account != nullptr) jsAccountInfo_Destroy(account);
  if (js_status == NATS_NO_RESPONDERS || js_code == JSNotEnabledErr ||
      js_code == JSNotEnabledForAccountErr) {
    throw Error(ErrorCode::incompatible,
                fmt::format("the NATS server at {} has JetStream off: start it with -js "
                            "(nats-server -js -sd DIR), or enable jetstream in its configuration",
                            server));
  }
  check(js_status, js_code, "asking " + server + " for its JetStream account");
  return link;
}

NatsLink::~NatsLink() {
  if (jetstream_ != nullptr) jsCtx_Destroy(jetstream_);
  if (connection_ != nullptr) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
  if (options_ != nullptr) natsOptions_Destroy(options_);
}

bool NatsLink::connected() const noexcept {
  return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

StreamInfoPtr NatsLink::stream_info(const std::string& stream) const {
  jsStreamInfo* info = nullptr;
  jsErrCode js_code = static_cast<jsErrCode>(0);
  const natsStatus status = js_GetStreamInfo(&info, jetstream_, stream.c_str(), nullptr, &js_code);
  if (status == NATS_NOT_FOUND || js_code == JSStreamNotFoundErr) return nullptr;
  check(status, js_code, "asking " + server_ + " about stream " + stream);
  return StreamInfoPtr(info);
}

}  // namespace evring::remote
