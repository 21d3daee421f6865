// What a client sends the writer and what it gets back: shared by the client API, the
// writer and the tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace evring {

inline constexpr std::size_t kMaxCommandBytes = 16u << 10;  // encoded command, or text words
inline constexpr std::size_t kMaxCommandIdBytes = 64;
inline constexpr std::size_t kMaxReasonBytes = 200;  // longer reasons are cut, marked "..."

// How the command's bytes are to be read: the domain's own encoding, or words of text the
// writer parses with the domain (what `evring cmd` sends).
enum class CommandFormat : std::uint16_t { bytes = 1, text = 2 };

enum class ReplyStatus : std::uint32_t {
  accepted = 1,   // seq: the sequence number of its last event (the head, if it had none)
  rejected = 2,   // code and reason say why; seq: the head when it was decided
  duplicate = 3,  // its command id was seen within the window; seq: the original's seq
};

enum class RejectCode : std::uint32_t {
  none = 0,
  rule = 1,         // the domain refused it (overdraft, version mismatch, ...)
  malformed = 2,    // it does not parse
  failed = 3,       // the domain failed on it (an exception, an event too large)
  unavailable = 4,  // the writer cannot take commands now (disk full, shutting down)
};

struct CommandReply {
  ReplyStatus status = ReplyStatus::rejected;
  RejectCode code = RejectCode::none;
  std::uint64_t seq = 0;
  std::string reason;

  bool accepted() const noexcept { return status == ReplyStatus::accepted; }
  bool rejected() const noexcept { return status == ReplyStatus::rejected; }
  bool duplicate() const noexcept { return status == ReplyStatus::duplicate; }
};

std::string_view to_string(ReplyStatus status);
std::string_view to_string(RejectCode code);

}  // namespace evring
