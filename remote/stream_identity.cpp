#include "stream_identity.hpp"

#include <cstring>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "evring/error.hpp"

namespace evring::remote {
namespace {

constexpr std::string_view kPrefix = "evring ";

bool has_subject(const jsStreamConfig& config, const std::string& subject) {
  for (int i = 0; i < config.SubjectsLen; ++i) {
    if (subject == config.Subjects[i]) return true;
  }
  return false;
}

// Why the bridge cannot publish into a stream of this configuration; empty: it can.
std::string unfit_settings(const jsStreamConfig& config, const StreamSettings& settings) {
  if (!has_subject(config, settings.subject)) {
    return "it does not take subject " + settings.subject;
  }
  if (config.Storage != js_FileStorage) return "its storage is memory, not file";
  if (config.Retention != js_LimitsPolicy) {
    return "its retention is interest or work queue, not limits";
  }
  if (config.Duplicates <= 0) return "it keeps no duplicate window";
  if (config.Sealed) return "it is sealed";
  if (config.Mirror != nullptr || config.SourcesLen > 0) return "it mirrors or sources others";
  return {};
}

}  // namespace

std::string describe_identity(const StreamIdentity& identity) {
  return fmt::format("{}instance={} history={} domain={} library={}", kPrefix, identity.instance,
                     history_text(identity.history), identity.domain.name, identity.domain.library);
}

std::optional<StreamIdentity> parse_identity(const char* description) {
  if (description == nullptr || !std::string_view(description).starts_with(kPrefix)) {
    return std::nullopt;
  }
  std::istringstream words(description + kPrefix.size());
  StreamIdentity identity;
  std::string word;
  bool has_history = false;
  while (words >> word) {
    const std::size_t eq = word.find('=');
    if (eq == std::string::npos) return std::nullopt;
    const std::string key = word.substr(0, eq);
    std::string value = word.substr(eq + 1);
    if (key == "instance") {
      identity.instance = value;
    } else if (key == "history") {
      identity.history = std::stoull(value, nullptr, 16);
      has_history = true;
    } else if (key == "domain") {
      identity.domain.name = value;
    } else if (key == "library") {
      // The rest of the line: a path may hold spaces.
      std::string rest;
      std::getline(words, rest);
      identity.domain.library = value + rest;
    }
  }
  if (identity.instance.empty() || !has_history) return std::nullopt;
  return identity;
}

std::string message_id(std::uint64_t history, std::uint64_t seq) {
  return fmt::format("{}:{}", history_text(history), seq);
}

StreamInfoPtr ensure_stream(const NatsLink& link, const StreamSettings& settings,
                            const StreamIdentity& identity) {
  StreamInfoPtr info = link.stream_info(settings.stream);
  if (!info) {
    const std::string description = describe_identity(identity);
    const char* subjects[] = {settings.subject.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = settings.stream.c_str();
    config.Description = description.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Retention = js_LimitsPolicy;
    config.Duplicates = settings.duplicate_window_ns;
    config.Replicas = settings.replicas;
    jsStreamInfo* created = nullptr;
    jsErrCode js_code = static_cast<jsErrCode>(0);
    check(js_AddStream(&created, link.jetstream(), &config, nullptr, &js_code), js_code,
          "creating stream " + settings.stream + " on " + link.server());
    return StreamInfoPtr(created);
  }
  const std::string unfit = unfit_settings(*info->Config, settings);
  if (!unfit.empty()) {
    throw Error(ErrorCode::incompatible,
                fmt::format("stream {} on {} was made with other settings: {}. Give the bridge "
                            "a stream of its own (--stream NAME); it creates it",
                            settings.stream, link.server(), unfit));
  }
  const std::optional<StreamIdentity> found = parse_identity(info->Config->Description);
  if (!found) {
    throw Error(ErrorCode::incompatible,
                fmt::format("stream {} on {} was not made by evring bridge (its description "
                            "names no evring history): give the bridge a stream of its own "
                            "(--stream NAME)",
                            settings.stream, link.server()));
  }
  if (found->history != identity.history || found->instance != identity.instance) {
    throw Error(ErrorCode::incompatible,
                fmt::format("stream {} on {} holds history {} of instance {}, but instance {} "
                            "is history {} (its journal started again): publish it into a new "
                            "stream (--stream NAME), or delete the old one on the server",
                            settings.stream, link.server(), history_text(found->history),
                            found->instance, identity.instance, history_text(identity.history)));
  }
  return info;
}

StreamIdentity read_stream_identity(const NatsLink& link, const std::string& stream,
                                    const std::string& instance) {
  const StreamInfoPtr info = link.stream_info(stream);
  if (!info) {
    throw Error(ErrorCode::no_instance,
                fmt::format("{} has no stream {}: start evring bridge --name {} --to {} on the "
                            "writer's machine",
                            link.server(), stream, instance, link.server()));
  }
  const std::optional<StreamIdentity> found = parse_identity(info->Config->Description);
  if (!found || found->instance != instance) {
    throw Error(ErrorCode::incompatible,
                fmt::format("stream {} on {} does not hold the events of instance {}{}: give "
                            "the stream its bridge made (nats://HOST:PORT/STREAM)",
                            stream, link.server(), instance,
                            found ? " (it holds instance " + found->instance + "'s)" : ""));
  }
  return *found;
}

}  // namespace evring::remote
