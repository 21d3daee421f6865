// Which history a JetStream stream holds. The bridge writes it into the stream's
// description when it creates the stream; the bridge checks it before publishing more, and
// a remote reader reads its history (for checkpoints) and domain (for its view) from it.
//   description: "evring instance=N history=HEX domain=NAME library=PATH"
//   each message: Nats-Msg-Id "HEX:SEQ", Evring-Type, Evring-Publish-Ns; data the payload
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "journal/journal.hpp"
#include "nats_link.hpp"

namespace evring::remote {

inline constexpr const char* kTypeHeader = "Evring-Type";
inline constexpr const char* kPublishNsHeader = "Evring-Publish-Ns";

struct StreamIdentity {
  std::string instance;
  std::uint64_t history = 0;
  DomainRecord domain;
};

std::string describe_identity(const StreamIdentity& identity);
// std::nullopt for a description the bridge did not write.
std::optional<StreamIdentity> parse_identity(const char* description);
// The message id of event `seq` of `history`: the server's dedup key.
std::string message_id(std::uint64_t history, std::uint64_t seq);

struct StreamSettings {
  std::string stream;                                  // its name
  std::string subject;                                 // where the events go
  std::int64_t duplicate_window_ns = 120'000'000'000;  // the server's dedup memory
  std::int64_t replicas = 1;
};

// The stream as the bridge needs it: created (file storage, limits retention, the
// duplicate window) with `identity` when it does not exist; otherwise checked. Returns its
// info. Throws Error(incompatible) for a stream of other settings or another history, each
// saying what to do.
StreamInfoPtr ensure_stream(const NatsLink& link, const StreamSettings& settings,
                            const StreamIdentity& identity);

// A remote reader's look at the stream: its identity, checked to be instance's. Throws
// Error(no_instance) when there is no such stream and Error(incompatible) when evring did
// not make it.
StreamIdentity read_stream_identity(const NatsLink& link, const std::string& stream,
                                    const std::string& instance);

}  // namespace evring::remote
