// The built-in kv domain's commands and events as bytes: the one definition shared by the
// domain and the kv view (both in domains/kv/ of the source tree), the other views that
// decode its events and the clients that submit binary commands. Decoded structs hold views
// into the bytes (or words) they were decoded from, so decoding allocates nothing; copy
// what must outlive them. Decoding a temporary std::vector does not compile, since the
// views would dangle.
//
// Layouts (codec.hpp: little-endian integers; text is a u32 length, then the bytes):
//
//   event 1 put      text key, text value, u64 version   the key's version after the put (>= 1)
//   event 2 deleted  text key, u64 version               the version the key had when deleted
//
//   command          u8 kind, then
//     1 put          text key, text value
//     2 del          text key
//     3 cas          text key, u64 expected version, text value   (0: the key must not exist)
//
// Keys are 1 to kMaxKeyBytes bytes and values 0 to kMaxValueBytes; every encode and decode
// checks it, so no size outside the limits reaches a model or a view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "evring/builtin/sized_writer.hpp"
#include "evring/codec.hpp"

namespace evring::kv {

inline constexpr std::size_t kMaxKeyBytes = 256;
inline constexpr std::size_t kMaxValueBytes = 4096;

enum class EventType : std::uint32_t { put = 1, deleted = 2 };
enum class CommandKind : std::uint8_t { put = 1, del = 2, cas = 3 };

struct PutEvent {
  static constexpr EventType type = EventType::put;
  std::string_view key;
  std::string_view value;
  std::uint64_t version = 0;
};

struct DeletedEvent {
  static constexpr EventType type = EventType::deleted;
  std::string_view key;
  std::uint64_t version = 0;
};

struct PutCommand {
  std::string_view key;
  std::string_view value;
};

struct DelCommand {
  std::string_view key;
};

struct CasCommand {
  std::string_view key;
  std::uint64_t expected_version = 0;
  std::string_view value;
};

using Command = std::variant<PutCommand, DelCommand, CasCommand>;

namespace detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_key(std::string_view key) {
  if (key.empty()) {
    throw MalformedInput("kv key is empty: keys are 1 to " + std::to_string(kMaxKeyBytes) +
                         " bytes");
  }
  throw MalformedInput("kv key is " + std::to_string(key.size()) +
                       " bytes, more than the limit of " + std::to_string(kMaxKeyBytes));
}

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_value(std::string_view value) {
  throw MalformedInput("kv value is " + std::to_string(value.size()) +
                       " bytes, more than the limit of " + std::to_string(kMaxValueBytes));
}

}  // namespace detail

// MalformedInput naming the limit when a key or value is out of bounds. Inline checks with
// the messages out of line: replay and catch-up run them for every event.
inline void check_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) [[unlikely]] {
    detail::throw_bad_key(key);
  }
}

inline void check_value(std::string_view value) {
  if (value.size() > kMaxValueBytes) [[unlikely]] {
    detail::throw_bad_value(value);
  }
}

namespace detail {

// A command's key and value are also valid UTF-8: they came from outside (events are
// checked for their bounds only, being the writer's own).
inline void check_command_key(std::string_view key) {
  check_key(key);
  check_utf8("key", key);
}

inline void check_command_value(std::string_view value) {
  check_value(value);
  check_utf8("value", value);
}

}  // namespace detail

// ---- events ----

// Events: `reuse` lends its storage (SizedWriter), for a caller that encodes many.
inline std::vector<std::byte> encode(const PutEvent& event, std::vector<std::byte> reuse = {}) {
  check_key(event.key);
  check_value(event.value);
  builtin::SizedWriter out(
      builtin::SizedWriter::text_size(event.key) + builtin::SizedWriter::text_size(event.value) + 8,
      std::move(reuse));
  out.put_text(event.key).put_text(event.value).put(event.version);
  return out.take();
}

inline std::vector<std::byte> encode(const DeletedEvent& event, std::vector<std::byte> reuse = {}) {
  check_key(event.key);
  builtin::SizedWriter out(builtin::SizedWriter::text_size(event.key) + 8, std::move(reuse));
  out.put_text(event.key).put(event.version);
  return out.take();
}

inline PutEvent decode_put_event(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "kv put event");
  PutEvent event;
  event.key = in.get_text();
  event.value = in.get_text();
  event.version = in.get<std::uint64_t>();
  in.expect_end();
  check_key(event.key);
  check_value(event.value);
  if (event.version == 0) throw MalformedInput("kv put event has version 0; versions start at 1");
  return event;
}
PutEvent decode_put_event(std::vector<std::byte>&&) = delete;

inline DeletedEvent decode_deleted_event(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "kv deleted event");
  DeletedEvent event;
  event.key = in.get_text();
  event.version = in.get<std::uint64_t>();
  in.expect_end();
  check_key(event.key);
  if (event.version == 0) {
    throw MalformedInput("kv deleted event has version 0; a key that exists is at 1 or more");
  }
  return event;
}
DeletedEvent decode_deleted_event(std::vector<std::byte>&&) = delete;

// One event as one JSON object, e.g. {"type":"put","key":"a","value":"x","version":3}.
inline std::string describe_event(std::uint32_t type, std::span<const std::byte> payload) {
  switch (static_cast<EventType>(type)) {
    case EventType::put: {
      const PutEvent event = decode_put_event(payload);
      return R"({"type":"put","key":)" + json_string(event.key) + R"(,"value":)" +
             json_string(event.value) + R"(,"version":)" + std::to_string(event.version) + "}";
    }
    case EventType::deleted: {
      const DeletedEvent event = decode_deleted_event(payload);
      return R"({"type":"deleted","key":)" + json_string(event.key) + R"(,"version":)" +
             std::to_string(event.version) + "}";
    }
  }
  throw MalformedInput("kv event type " + std::to_string(type) +
                       " is unknown (known: 1 put, 2 deleted)");
}

// ---- commands ----

inline std::vector<std::byte> encode(const PutCommand& command) {
  check_key(command.key);
  check_value(command.value);
  builtin::SizedWriter out(1 + builtin::SizedWriter::text_size(command.key) +
                           builtin::SizedWriter::text_size(command.value));
  out.put(static_cast<std::uint8_t>(CommandKind::put))
      .put_text(command.key)
      .put_text(command.value);
  return out.take();
}

inline std::vector<std::byte> encode(const DelCommand& command) {
  check_key(command.key);
  builtin::SizedWriter out(1 + builtin::SizedWriter::text_size(command.key));
  out.put(static_cast<std::uint8_t>(CommandKind::del)).put_text(command.key);
  return out.take();
}

inline std::vector<std::byte> encode(const CasCommand& command) {
  check_key(command.key);
  check_value(command.value);
  builtin::SizedWriter out(1 + builtin::SizedWriter::text_size(command.key) + 8 +
                           builtin::SizedWriter::text_size(command.value));
  out.put(static_cast<std::uint8_t>(CommandKind::cas))
      .put_text(command.key)
      .put(command.expected_version)
      .put_text(command.value);
  return out.take();
}

inline std::vector<std::byte> encode(const Command& command) {
  return std::visit([](const auto& alternative) { return encode(alternative); }, command);
}

inline Command decode_command(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "kv command");
  const auto kind = in.get<std::uint8_t>();
  switch (static_cast<CommandKind>(kind)) {
    case CommandKind::put: {
      PutCommand command;
      command.key = in.get_text();
      command.value = in.get_text();
      in.expect_end();
      detail::check_command_key(command.key);
      detail::check_command_value(command.value);
      return command;
    }
    case CommandKind::del: {
      DelCommand command;
      command.key = in.get_text();
      in.expect_end();
      detail::check_command_key(command.key);
      return command;
    }
    case CommandKind::cas: {
      CasCommand command;
      command.key = in.get_text();
      command.expected_version = in.get<std::uint64_t>();
      command.value = in.get_text();
      in.expect_end();
      detail::check_command_key(command.key);
      detail::check_command_value(command.value);
      return command;
    }
  }
  throw MalformedInput("kv command kind " + std::to_string(kind) +
                       " is unknown (known: 1 put, 2 del, 3 cas)");
}
Command decode_command(std::vector<std::byte>&&) = delete;

inline constexpr std::string_view kVerbs = "put KEY VALUE, del KEY or cas KEY VERSION VALUE";

// The words typed after `evring cmd --name N`, e.g. {"cas", "a", "3", "x"}. The command
// points into the words.
inline Command parse_command(std::span<const std::string_view> words) {
  if (words.empty()) {
    throw MalformedInput("empty kv command: expected " + std::string(kVerbs));
  }
  const std::string_view verb = words[0];
  if (verb == "put") {
    expect_words(words, 3, "put KEY VALUE");
    check_key(words[1]);
    check_value(words[2]);
    return PutCommand{words[1], words[2]};
  }
  if (verb == "del") {
    expect_words(words, 2, "del KEY");
    check_key(words[1]);
    return DelCommand{words[1]};
  }
  if (verb == "cas") {
    expect_words(words, 4, "cas KEY VERSION VALUE");
    check_key(words[1]);
    check_value(words[3]);
    return CasCommand{words[1], parse_integer<std::uint64_t>(words[2], "version"), words[3]};
  }
  throw MalformedInput("unknown kv command " + json_string(verb) + ": expected " +
                       std::string(kVerbs));
}

}  // namespace evring::kv
