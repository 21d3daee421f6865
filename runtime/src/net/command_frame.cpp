#include "net/command_frame.hpp"

#include <cstring>

#include "evring/codec.hpp"

namespace evring::socket_frame {
namespace {

// resize + memcpy rather than insert: GCC 12 at -O3 mistakes growing inserts of a few
// bytes for overflows (-Wstringop-overflow), as in codec.hpp.
template <class Buffer>
void append(Buffer& out, const void* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t at = out.size();
  out.resize(at + size);
  std::memcpy(out.data() + at, data, size);
}

template <class Buffer, class Integer>
void append_int(Buffer& out, Integer value) {
  append(out, &value, sizeof value);
}

}  // namespace

void append_request(std::vector<std::byte>& out, CommandFormat format,
                    std::span<const std::byte> id, std::span<const std::byte> payload) {
  append_int(out, static_cast<std::uint32_t>(kRequestHeaderBytes + id.size() + payload.size()));
  append_int(out, static_cast<std::uint16_t>(format));
  append_int(out, static_cast<std::uint16_t>(id.size()));
  append_int(out, static_cast<std::uint32_t>(payload.size()));
  append(out, id.data(), id.size());
  append(out, payload.data(), payload.size());
}

void append_reply(std::string& out, const CommandReply& reply) {
  const std::string_view reason = reply.reason;
  const bool cut = reason.size() > kMaxReasonBytes;
  const std::size_t reason_bytes = cut ? kMaxReasonBytes : reason.size();
  append_int(out, static_cast<std::uint32_t>(kReplyHeaderBytes + reason_bytes));
  append_int(out, static_cast<std::uint32_t>(reply.status));
  append_int(out, static_cast<std::uint32_t>(reply.code));
  append_int(out, reply.seq);
  append_int(out, static_cast<std::uint32_t>(reason_bytes));
  if (cut) {
    append(out, reason.data(), kMaxReasonBytes - 3);
    append(out, "...", 3);
  } else {
    append(out, reason.data(), reason.size());
  }
}

CommandReply decode_reply(std::span<const std::byte> body) {
  ByteReader in(body, "socket reply");
  CommandReply reply;
  const auto status = in.get<std::uint32_t>();
  const auto code = in.get<std::uint32_t>();
  reply.seq = in.get<std::uint64_t>();
  const auto reason_bytes = in.get<std::uint32_t>();
  if (status < static_cast<std::uint32_t>(ReplyStatus::accepted) ||
      status > static_cast<std::uint32_t>(ReplyStatus::duplicate) ||
      code > static_cast<std::uint32_t>(RejectCode::unavailable) ||
      reason_bytes != body.size() - kReplyHeaderBytes) {
    throw MalformedInput("socket reply with status " + std::to_string(status) + ", code " +
                         std::to_string(code) + ", " + std::to_string(reason_bytes) +
                         " reason bytes in a body of " + std::to_string(body.size()));
  }
  reply.status = static_cast<ReplyStatus>(status);
  reply.code = static_cast<RejectCode>(code);
  reply.reason.assign(reinterpret_cast<const char*>(body.data()) + kReplyHeaderBytes, reason_bytes);
  return reply;
}

}  // namespace evring::socket_frame
