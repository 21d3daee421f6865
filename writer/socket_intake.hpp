// The Unix-socket intake: commands from clients that cannot map the instance's
// shared-memory segments (other users, containers), read by one thread of the writer and
// handed to the one apply thread through a moodycamel::ConcurrentQueue. The apply thread
// is the only one that touches the model; this thread only moves bytes.
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
//
// THREADS
//
//   socket thread  epoll on the listener, an eventfd and the connections; parses frames
//                  and enqueues SocketCommand (the only producer of `requests`), then calls
//                  wake_apply; writes the replies it dequeues (the only consumer of
//                  `replies`), buffering per connection on EAGAIN.
//   apply thread   next() (the only consumer of `requests`), reply() (the only producer of
//                  `replies`): with one producer each, both queues are FIFO, which is what
//                  keeps replies in order per connection.
//
// Waking each other, without a system call while the other is busy:
//   socket -> apply  CommandIntake::wake() through wake_apply: the apply thread's sleep
//                    asks pending() in its last look after raising its sleeping flag (the
//                    intake's fence handshake), so either it sees the command or it is rung.
//   apply -> socket  reply() enqueues, issues a seq_cst fence and writes the eventfd only if
//                    the socket thread said it is about to block in epoll_wait; the socket
//                    thread raises that flag, issues a seq_cst fence and looks at `replies`
//                    once more before it blocks (the same Dekker handshake).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <concurrentqueue/concurrentqueue.h>

#include "evring/command.hpp"
#include "sys/log.hpp"

namespace evring::writer {

struct SocketIntakeOptions {
  std::filesystem::path path;            // the socket file; its folder is created 0700 if missing
  mode_t mode = 0600;                    // of the socket file: who may connect
  gid_t group = static_cast<gid_t>(-1);  // the socket file's group; -1: the writer's own
  std::string instance;                  // for messages
};

// Where a socket command's reply goes: the connection it came on (never reused).
struct SocketReplyAddress {
  std::uint64_t connection = 0;
};

// A command as the apply thread sees it; owns its bytes (id, then payload).
struct SocketCommand {
  SocketReplyAddress from;
  CommandFormat format = CommandFormat::bytes;
  std::uint16_t id_bytes = 0;
  std::vector<std::byte> bytes;

  std::span<const std::byte> id() const noexcept { return std::span(bytes).first(id_bytes); }
  std::span<const std::byte> payload() const noexcept { return std::span(bytes).subspan(id_bytes); }
};

class SocketIntake {
 public:
  using Log = LogSink;

  // Binds and listens on options.path: clients may connect from then on, and wait in the
  // backlog until start(). A socket file whose listener is dead (a writer killed with -9)
  // is replaced; a live one is refused with Error(writer_running). wake_apply is called on
  // the socket thread after it enqueued commands; log, from any thread, for what the
  // operator should know.
  SocketIntake(const SocketIntakeOptions& options, std::function<void()> wake_apply, Log log);
  // stop(), if not done yet.
  ~SocketIntake();
  // Starts the socket thread (once what wake_apply calls is ready).
  void start();
  SocketIntake(const SocketIntake&) = delete;
  SocketIntake& operator=(const SocketIntake&) = delete;

  // Apply thread only. The next command, if one is waiting (one try_dequeue).
  bool next(SocketCommand& out);
  // Apply thread only. Sends the reply of a command taken with next(); dropped if its
  // connection has closed.
  void reply(const SocketReplyAddress& to, const CommandReply& reply);
  void reply(const SocketCommand& command, const CommandReply& answer) {
    reply(command.from, answer);
  }
  // Any thread. Whether a command seems to be waiting (for the apply thread's last look
  // before it sleeps).
  bool pending() const;

  // Apply thread only. Closes the listener and stops reading; once it returns no command is
  // enqueued anymore, so next() drains what is left.
  void stop_taking();
  // Apply thread only. Sends the replies given so far (for at most ~2 s per connection that
  // does not read them), closes every connection and joins the socket thread; removes the
  // socket file if it is still ours.
  void stop();

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  enum class Phase : std::uint32_t { running = 0, no_more_commands = 1, finishing = 2 };

  struct Reply {
    SocketReplyAddress to;
    CommandReply reply;
  };

  void thread_main();
  void ring_socket_thread() noexcept;
  void set_phase(Phase phase);

  std::filesystem::path path_;
  Log log_;
  std::function<void()> wake_apply_;
  int listener_ = -1;
  int event_fd_ = -1;
  int epoll_fd_ = -1;
  dev_t socket_dev_ = 0;  // the socket file we bound, to remove only ours at the end
  ino_t socket_ino_ = 0;

  moodycamel::ConcurrentQueue<SocketCommand> requests_;
  moodycamel::ProducerToken request_producer_;  // the socket thread's
  moodycamel::ConsumerToken request_consumer_;  // the apply thread's
  moodycamel::ConcurrentQueue<Reply> replies_;
  moodycamel::ProducerToken reply_producer_;  // the apply thread's
  moodycamel::ConsumerToken reply_consumer_;  // the socket thread's

  // Set by the socket thread just before it may block in epoll_wait, cleared by whoever
  // wakes it: the apply thread writes the eventfd only when it takes it from true.
  std::atomic<bool> socket_idle_{false};
  std::atomic<Phase> phase_{Phase::running};
  // Set by the socket thread once it stopped reading (stop_taking waits on it).
  std::atomic<bool> taking_stopped_{false};
  std::thread thread_;
};

}  // namespace evring::writer
