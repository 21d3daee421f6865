// evring-writer's Unix-socket intake (writer/socket_intake.hpp) as clients meet it: real
// writer processes started with --socket, the SocketClient, `evring cmd --socket`, and raw
// sockets that send what no well-behaved client would. Each test points XDG_RUNTIME_DIR at
// its own temporary folder, so the default socket path is its own.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/socket_client.hpp"
#include "intake/command_intake.hpp"
#include "net/command_frame.hpp"
#include "socket_intake.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::InstanceCleanup;
using test::run_tool;
using test::TempDir;
using test::unique_instance;
using test::WriterProcess;

// The test's own runtime folder, for this process and the writers it starts.
fs::path use_runtime_folder(const TempDir& dir) {
  ::setenv("XDG_RUNTIME_DIR", dir.path().c_str(), 1);
  return dir.path() / "evring";
}

// A raw connection, for frames SocketClient would never send.
class RawSocket {
 public:
  explicit RawSocket(const fs::path& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("connect " + path.string() + ": " + std::strerror(errno));
    }
    timeval timeout{10, 0};  // a test that waits longer has failed
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void write(const std::vector<std::byte>& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // One reply frame, or nullopt at end of stream.
  std::optional<CommandReply> read_reply() {
    std::uint32_t body_bytes = 0;
    if (!read_exactly(&body_bytes, sizeof body_bytes)) return std::nullopt;
    std::vector<std::byte> body(body_bytes);
    if (!read_exactly(body.data(), body.size())) return std::nullopt;
    return socket_frame::decode_reply(body);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool read_exactly(void* out, std::size_t size) {
    auto* at = static_cast<char*>(out);
    while (size > 0) {
      const ssize_t got = ::recv(fd_, at, size, 0);
      if (got <= 0) return false;
      at += got;
      size -= static_cast<std::size_t>(got);
    }
    return true;
  }

  int fd_;
};

std::vector<std::byte> text_frame(std::vector<std::string_view> words, std::string_view id = {}) {
  std::vector<std::byte> frame;
  const std::vector<std::byte> payload = encode_text_command(words);
  socket_frame::append_request(frame, CommandFormat::text, std::as_bytes(std::span(id)), payload);
  return frame;
}

std::vector<std::byte> raw_bytes(std::initializer_list<std::uint8_t> values) {
  std::vector<std::byte> out;
  for (const std::uint8_t value : values) out.push_back(static_cast<std::byte>(value));
  return out;
}

TEST(SocketIntake, SocketAndSharedMemoryCommandsShareOneSequenceAndTheSameReplies) {
  const std::string instance = unique_instance("sock-mix");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-mix");
  use_runtime_folder(dir);
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--socket"});
  Client shm = Client::connect(instance);
  SocketClient socket = SocketClient::connect(default_socket_path(instance));
  std::uint64_t expected = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string key = "k" + std::to_string(i);
    const CommandReply a = shm.submit_text({"put", key, "shm"});
    EXPECT_TRUE(a.accepted()) << a.reason;
    EXPECT_EQ(a.seq, ++expected);
    const CommandReply b = socket.submit_text({"cas", key, "1", "socket"});
    EXPECT_TRUE(b.accepted()) << b.reason;
    EXPECT_EQ(b.seq, ++expected) << "one sequence across both intakes";
  }
  // The same rejection, word for word, through either intake.
  const CommandReply shm_no = shm.submit_text({"cas", "k0", "1", "late"});
  const CommandReply socket_no = socket.submit_text({"cas", "k0", "1", "late"});
  EXPECT_TRUE(socket_no.rejected());
  EXPECT_EQ(socket_no.code, RejectCode::rule);
  EXPECT_EQ(socket_no.reason, shm_no.reason);
  EXPECT_EQ(socket_no.seq, shm_no.seq);
  const CommandReply shm_bad = shm.submit_text({"frob"});
  const CommandReply socket_bad = socket.submit_text({"frob"});
  EXPECT_EQ(socket_bad.code, RejectCode::malformed);
  EXPECT_EQ(socket_bad.reason, shm_bad.reason);
  // One duplicate window: an id first seen through shared memory is a duplicate by socket.
  const CommandReply first = shm.submit_text({"put", "once", "1"}, "id-once");
  const CommandReply again = socket.submit_text({"put", "once", "1"}, "id-once");
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.seq, first.seq);
  // Pipelined over the socket, past its window: replies come back in the order sent.
  const std::uint64_t base = first.seq;
  constexpr int kPipelined = 600;
  std::vector<CommandReply> replies;
  for (int i = 0; i < kPipelined; ++i) {
    socket.send_text(std::vector<std::string_view>{"put", "p", "v"});
    if (socket.in_flight() > 100) replies.push_back(socket.receive());
  }
  while (socket.in_flight() > 0) replies.push_back(socket.receive());
  ASSERT_EQ(replies.size(), static_cast<std::size_t>(kPipelined));
  for (int i = 0; i < kPipelined; ++i) {
    EXPECT_EQ(replies[i].seq, base + 1 + static_cast<std::uint64_t>(i)) << i;
  }
}

TEST(SocketIntake, AnIdleWriterIsWokenAtOnceBySocketCommands) {
  const std::string instance = unique_instance("sock-wake");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-wake");
  const fs::path path = use_runtime_folder(dir) / (instance + ".sock");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--socket"});
  SocketClient socket = SocketClient::connect(path);
  // Each command finds the apply thread asleep on the intake's futex (it sleeps after 50
  // µs idle, up to 100 ms): only the socket thread's wake makes it answer at once.
  constexpr int kCommands = 40;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCommands; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let it fall asleep
    ASSERT_TRUE(socket.submit_text({"put", "k", "v"}).accepted());
  }
  const auto took = std::chrono::steady_clock::now() - start;
  // Woken: ~kCommands * 2 ms. Left to its sleep slices: ~kCommands * 50 ms.
  EXPECT_LT(took, std::chrono::milliseconds(kCommands * 25))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST(SocketIntake, CmdThroughTheSocketExitsZeroThreeOrTwo) {
  const std::string instance = unique_instance("sock-cmd");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-cmd");
  use_runtime_folder(dir);
  const fs::path path = dir.path() / "orders.sock";
  WriterProcess writer(instance, dir.path(), {"--domain", "bank", "--socket-path", path.string()});
  const auto cmd = [&](std::vector<std::string> words, const fs::path& socket) {
    std::vector<std::string> args{"cmd", "--socket", socket.string()};
    args.insert(args.end(), words.begin(), words.end());
    return run_tool("evring", args, dir.path());
  };
  auto result = cmd({"open", "alice"}, path);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "seq=1\n");
  result = cmd({"--id", "d-1", "deposit", "alice", "100"}, path);
  EXPECT_EQ(result.out, "seq=2\n") << result.err;
  result = cmd({"--id", "d-1", "deposit", "alice", "100"}, path);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "seq=2\n");
  EXPECT_TRUE(contains(result.err, "duplicate")) << result.err;
  result = cmd({"withdraw", "alice", "500"}, path);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.out, "rejected: ")) << result.out;
  result = cmd({"frobnicate", "alice"}, path);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "malformed command")) << result.err;
  // Nothing listens there: exit 2, and the message says how to start one.
  result = cmd({"open", "bob"}, dir.path() / "nobody.sock");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "start evring-writer --name nobody --socket")) << result.err;
  // And the shared-memory path still answers, from the same sequence.
  result = run_tool("evring", {"cmd", "--name", instance, "open", "carol"}, dir.path());
  EXPECT_EQ(result.out, "seq=3\n") << result.err;
}

TEST(SocketIntake, AMalformedFrameIsAnsweredAndClosedWhileOthersAreServed) {
  const std::string instance = unique_instance("sock-bad");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-bad");
  const fs::path path = use_runtime_folder(dir) / (instance + ".sock");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--socket"});
  SocketClient good = SocketClient::connect(path);
  EXPECT_EQ(good.submit_text({"put", "a", "1"}).seq, 1u);

  // A body shorter than its header: the stream cannot be trusted past it.
  {
    RawSocket raw(path);
    raw.write(raw_bytes({3, 0, 0, 0, 'a', 'b', 'c'}));
    const auto reply = raw.read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(reply->rejected());
    EXPECT_EQ(reply->code, RejectCode::malformed);
    EXPECT_TRUE(contains(reply->reason, "malformed frame")) << reply->reason;
    EXPECT_FALSE(raw.read_reply().has_value()) << "the connection is closed";
  }
  // A good frame, then an unknown format and garbage after it: the good one's reply
  // first, in order, then the refusal.
  {
    RawSocket raw(path);
    std::vector<std::byte> bytes = text_frame({"put", "b", "2"});
    const std::vector<std::byte> bad = raw_bytes({8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0});
    bytes.insert(bytes.end(), bad.begin(), bad.end());
    const std::vector<std::byte> garbage(5000, std::byte{0x5a});
    bytes.insert(bytes.end(), garbage.begin(), garbage.end());
    raw.write(bytes);
    const auto first = raw.read_reply();
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(first->accepted()) << first->reason;
    EXPECT_EQ(first->seq, 2u);
    const auto second = raw.read_reply();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->code, RejectCode::malformed);
    EXPECT_TRUE(contains(second->reason, "format 9")) << second->reason;
    EXPECT_FALSE(raw.read_reply().has_value());
  }
  // A length over the limit is refused at once, without waiting for 4 GiB.
  {
    RawSocket raw(path);
    raw.write(raw_bytes({0xff, 0xff, 0xff, 0xff}));
    const auto reply = raw.read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->code, RejectCode::malformed);
  }
  // An id over kMaxCommandIdBytes.
  {
    RawSocket raw(path);
    std::vector<std::byte> frame;
    const std::string id(kMaxCommandIdBytes + 1, 'i');
    socket_frame::append_request(frame, CommandFormat::text, std::as_bytes(std::span(id)),
                                 encode_text_command(std::vector<std::string_view>{"del", "a"}));
    raw.write(frame);
    const auto reply = raw.read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->code, RejectCode::malformed);
  }
  // Nothing of it was applied, and the other connection never noticed.
  EXPECT_EQ(good.submit_text({"put", "c", "3"}).seq, 3u);
  Client shm = Client::connect(instance);
  EXPECT_EQ(shm.submit_text({"put", "d", "4"}).seq, 4u);
}

TEST(SocketIntake, ClientsThatHangUpMidFrameOrBeforeTheirReplyHarmNothing) {
  const std::string instance = unique_instance("sock-hangup");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-hangup");
  const fs::path path = use_runtime_folder(dir) / (instance + ".sock");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--socket"});
  SocketClient steady = SocketClient::connect(path);
  EXPECT_EQ(steady.submit_text({"put", "a", "1"}).seq, 1u);
  {
    // A frame that arrives in pieces is put together.
    RawSocket raw(path);
    const std::vector<std::byte> frame = text_frame({"put", "pieces", "1"});
    for (std::size_t at = 0; at < frame.size(); at += 5) {
      const std::size_t end = std::min(at + 5, frame.size());
      raw.write(std::vector<std::byte>(frame.begin() + static_cast<std::ptrdiff_t>(at),
                                       frame.begin() + static_cast<std::ptrdiff_t>(end)));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // each piece its own read
    }
    const auto reply = raw.read_reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(reply->accepted()) << reply->reason;
    EXPECT_EQ(reply->seq, 2u);
  }
  for (int i = 0; i < 20; ++i) {
    // Half a frame, then gone: never decided.
    RawSocket raw(path);
    std::vector<std::byte> frame = text_frame({"put", "half", "x"});
    frame.resize(frame.size() / 2 + static_cast<std::size_t>(i % 3));
    raw.write(frame);
  }
  {
    // Whole frames, then gone before the replies: decided (they were submitted), the
    // replies dropped.
    RawSocket raw(path);
    std::vector<std::byte> bytes = text_frame({"put", "whole", "1"}, "id-whole");
    const std::vector<std::byte> second = text_frame({"put", "whole", "2"});
    bytes.insert(bytes.end(), second.begin(), second.end());
    raw.write(bytes);
  }
  // cas on version 2 succeeds once both were applied (and only then).
  ASSERT_TRUE(test::wait_until(
      [&] {
        return steady.submit_text({"cas", "whole", "2", "3"}).accepted();
      },
      std::chrono::seconds(10)));
  const CommandReply dup = steady.submit_text({"put", "whole", "1"}, "id-whole");
  EXPECT_TRUE(dup.duplicate());
  EXPECT_EQ(dup.seq, 3u);
  EXPECT_EQ(steady.submit_text({"put", "b", "2"}).seq, 6u) << "nothing half-sent was applied";
  EXPECT_TRUE(Client::connect(instance).submit_text({"put", "c", "3"}).accepted());
}

TEST(SocketIntake, SyncDurabilityRepliesInOrderAfterTheGroupSync) {
  const std::string instance = unique_instance("sock-sync");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-sync");
  const fs::path path = use_runtime_folder(dir) / (instance + ".sock");
  WriterProcess writer(instance, dir.path(),
                       {"--domain", "kv", "--durability", "sync", "--socket"});
  SocketClient socket = SocketClient::connect(path);
  Client shm = Client::connect(instance);
  constexpr int kCommands = 1000;
  std::vector<CommandReply> replies;
  // Every 10th is rejected: decided at once, but it must not overtake the accepted commands
  // before it that wait for their group's fdatasync.
  const auto command = [](int i) {
    return i % 10 == 9 ? std::vector<std::string_view>{"cas", "absent", "7", "v"}
                       : std::vector<std::string_view>{"put", "k", "v"};
  };
  for (int i = 0; i < kCommands; ++i) {
    socket.send_text(command(i));
    if (i % 100 == 0) {
      EXPECT_TRUE(shm.submit_text({"put", "shm", "v"}).accepted());
    }
    if (socket.in_flight() >= 64) replies.push_back(socket.receive());
  }
  while (socket.in_flight() > 0) replies.push_back(socket.receive());
  ASSERT_EQ(replies.size(), static_cast<std::size_t>(kCommands));
  std::uint64_t last_seq = 0;
  for (int i = 0; i < kCommands; ++i) {
    if (i % 10 == 9) {
      EXPECT_TRUE(replies[i].rejected()) << i;
      EXPECT_GE(replies[i].seq, last_seq) << i;
    } else {
      EXPECT_TRUE(replies[i].accepted()) << i << ": " << replies[i].reason;
      EXPECT_GT(replies[i].seq, last_seq) << i;
      last_seq = replies[i].seq;
    }
  }
  ASSERT_EQ(writer.stop(), 0);
  // "stopped: ... N syncs": the socket's commands were group-committed too.
  const std::string log = writer.log();
  const auto at = log.find(" syncs");
  ASSERT_NE(at, std::string::npos) << log;
  const auto start = log.rfind(' ', at - 1) + 1;
  const int syncs = std::stoi(log.substr(start, at - start));
  EXPECT_GT(syncs, 0);
  EXPECT_LT(syncs, kCommands / 4) << log;
  EXPECT_FALSE(fs::exists(path)) << "a clean stop removes its socket file";
}

TEST(SocketIntake, AStaleSocketFileIsReplacedAndALiveOneRefused) {
  const std::string instance = unique_instance("sock-stale");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-stale");
  const fs::path path = use_runtime_folder(dir) / (instance + ".sock");
  WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--socket"});
  EXPECT_EQ(SocketClient::connect(path).submit_text({"put", "a", "1"}).seq, 1u);
  writer.kill9();
  ASSERT_TRUE(fs::exists(fs::symlink_status(path))) << "kill -9 leaves the file behind";
  try {
    SocketClient::connect(path);
    ADD_FAILURE() << "connected to a dead writer's socket";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::no_instance) << e.what();
  }
  writer.restart();
  EXPECT_TRUE(contains(writer.log(), "replaced the stale socket file")) << writer.log();
  EXPECT_EQ(SocketClient::connect(path).submit_text({"put", "b", "2"}).seq, 2u);
  // Another instance's writer on the same socket path: refused, the first keeps it.
  const std::string other = unique_instance("sock-stale-b");
  InstanceCleanup other_cleanup(other);
  const auto result =
      run_tool("evring-writer", {"--name", other, "--no-journal", "--socket-path", path.string()},
               dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "in use by another evring-writer")) << result.err;
  EXPECT_EQ(SocketClient::connect(path).submit_text({"put", "c", "3"}).seq, 3u);
}

TEST(SocketIntake, TheSocketFileIsModeOwnerOnlyUnlessToldAndItsFolderIsCreated0700) {
  const std::string instance = unique_instance("sock-mode");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-mode");
  const fs::path folder = use_runtime_folder(dir);
  ASSERT_FALSE(fs::exists(folder));
  {
    WriterProcess writer(instance, dir.path(), {"--domain", "kv", "--socket"});
    struct stat info {};
    ASSERT_EQ(::stat((folder / (instance + ".sock")).c_str(), &info), 0);
    EXPECT_TRUE(S_ISSOCK(info.st_mode));
    EXPECT_EQ(info.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(folder.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0700u);
    ASSERT_EQ(writer.stop(), 0);
  }
  const fs::path wide = dir.path() / "shared.sock";
  WriterProcess writer(instance, dir.path(),
                       {"--domain", "kv", "--socket-path", wide.string(), "--socket-mode", "0660"});
  struct stat info {};
  ASSERT_EQ(::stat(wide.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0660u);
  EXPECT_TRUE(SocketClient::connect(wide).submit_text({"put", "a", "1"}).accepted());
}

// In one process, so ThreadSanitizer can watch the handoff (build with
// -DEVRING_SANITIZE=thread and run this test): client threads pipeline bursts
// over the socket with pauses that let the apply thread fall asleep on a real intake's
// futex; an echoing apply thread answers each command with the number it carries. Every
// reply must come back, to its own connection, in order, and without waiting for a sleep
// slice to end.
TEST(SocketIntakeInProcess, PipelinedConnectionsAndASleepingApplyThreadAgreeOnEveryReply) {
  const std::string instance = unique_instance("sock-echo");
  InstanceCleanup cleanup(instance);
  TempDir dir("sock-echo");
  // EVRING_STRESS_SEED=<n> replays a run.
  std::uint32_t seed = std::random_device{}();
  if (const char* fixed = std::getenv("EVRING_STRESS_SEED")) {
    seed = static_cast<std::uint32_t>(std::stoul(fixed));
  }
  std::printf("socket intake seed %u (replay with EVRING_STRESS_SEED=%u)\n", seed, seed);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  writer::SocketIntakeOptions options;
  options.path = dir.path() / "echo.sock";
  options.instance = instance;
  writer::SocketIntake socket(
      options, [&] { intake.wake(); }, [](LogLevel, std::string_view) {});
  socket.start();

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sleeps{0};
  std::thread apply([&] {
    writer::SocketCommand command;
    CommandReply reply;
    reply.status = ReplyStatus::accepted;
    const std::function<bool()> pending = [&] { return socket.pending(); };
    // relaxed: a lone flag; the loop polls it and the sleep below is short.
    while (!stop.load(std::memory_order_relaxed)) {
      if (!socket.next(command)) {
        intake.sleep(100'000'000, pending);
        sleeps.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
        continue;
      }
      std::memcpy(&reply.seq, command.payload().data(), sizeof reply.seq);
      reply.reason.assign(reinterpret_cast<const char*>(command.id().data()), command.id().size());
      socket.reply(command, reply);
    }
  });

  constexpr int kClients = 4;
  constexpr std::uint64_t kCommands = 3000;
  std::vector<std::thread> clients;
  std::atomic<int> mismatches{0};
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 random(seed + static_cast<std::uint32_t>(c));
      SocketClient client = SocketClient::connect(options.path);
      std::uint64_t sent = 0;
      std::uint64_t received = 0;
      const auto check = [&](const CommandReply& reply) {
        ++received;
        const std::string id = std::to_string(c) + "-" + std::to_string(received);
        if (reply.seq != received || reply.reason != id) mismatches.fetch_add(1);
      };
      while (sent < kCommands) {
        const std::uint64_t burst = std::min<std::uint64_t>(1 + random() % 300, kCommands - sent);
        for (std::uint64_t i = 0; i < burst; ++i) {
          ++sent;
          std::array<std::byte, 8> payload;
          std::memcpy(payload.data(), &sent, sizeof sent);
          client.send(payload, std::to_string(c) + "-" + std::to_string(sent));
          if (client.in_flight() > random() % 400) check(client.receive());
        }
        while (client.in_flight() > 0) check(client.receive());
        if (random() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
    });
  }
  for (std::thread& client : clients) client.join();
  const auto took = std::chrono::steady_clock::now() - start;
  stop.store(true, std::memory_order_relaxed);
  intake.wake();
  apply.join();
  socket.stop_taking();
  socket.stop();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(sleeps.load(), 0u) << "the apply thread never slept: the wake path went untested";
  // A lost wake-up costs a 100 ms sleep slice; a few hundred pauses would add up to many
  // seconds.
  EXPECT_LT(took, std::chrono::seconds(20));
  EXPECT_FALSE(fs::exists(options.path)) << "stop() removes the socket file";
}

}  // namespace
}  // namespace evring
