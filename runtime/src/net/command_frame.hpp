// The command socket's frames: what evring::SocketClient sends and the writer's socket
// intake (writer/socket_intake.hpp) answers. The constants and encoders below are the
// format's one definition.
//
// FRAMES (host byte order; the socket never leaves the machine)
//
//   request  u32 body_bytes, then the body:
//              u16 format         CommandFormat: 1 bytes (the domain's encoding),
//                                 2 text (encode_text_command(words))
//              u16 id_bytes       at most kMaxCommandIdBytes; 0: no command id
//              u32 payload_bytes  at most kMaxCommandBytes
//              id_bytes of command id, then payload_bytes of command
//            body_bytes must be exactly 8 + id_bytes + payload_bytes.
//   reply    u32 body_bytes, then the body:
//              u32 status         ReplyStatus
//              u32 code           RejectCode
//              u64 seq
//              u32 reason_bytes   at most kMaxReasonBytes (longer reasons end in "...")
//              reason_bytes of reason
//            body_bytes is exactly 20 + reason_bytes; the fields are unaligned.
//
// A connection may pipeline: each request gets exactly one reply, in the order sent. A
// frame that breaks these rules (or states a length over the limits) gets, after the
// replies of the requests before it, one reply rejected{malformed} naming what was wrong,
// and the connection is closed: a byte stream cannot be trusted past a bad frame. A client
// that disconnects drops only its own replies; commands it sent completely are decided.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "evring/command.hpp"

namespace evring::socket_frame {

inline constexpr std::size_t kLengthBytes = 4;         // u32 body_bytes before each body
inline constexpr std::size_t kRequestHeaderBytes = 8;  // u16 format, u16 id, u32 payload
inline constexpr std::size_t kReplyHeaderBytes = 20;   // u32 status, u32 code, u64 seq, u32 reason
inline constexpr std::size_t kMaxRequestBody =
    kRequestHeaderBytes + kMaxCommandIdBytes + kMaxCommandBytes;
inline constexpr std::size_t kMaxReplyBody = kReplyHeaderBytes + kMaxReasonBytes;

// Appends one whole frame (length prefix included). The caller checks the limits.
void append_request(std::vector<std::byte>& out, CommandFormat format,
                    std::span<const std::byte> id, std::span<const std::byte> payload);
// Cuts a reason over kMaxReasonBytes and marks it "...", as the shared-memory intake does.
void append_reply(std::string& out, const CommandReply& reply);
// Decodes a reply body (without its length prefix); throws MalformedInput.
CommandReply decode_reply(std::span<const std::byte> body);

}  // namespace evring::socket_frame
