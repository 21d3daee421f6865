// The one socket server (runtime/src/net/socket_server.hpp) with a framing of its own:
// each request is a line, handed to the test thread, which plays the consumer. What both
// of evring's framings (query lines, command frames) rely on: replies go out in request
// order whatever order the consumer answers in, a client that does not read is not read
// past the flow-control limits, and a stale socket file is replaced while a live one is
// refused.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "net/socket_server.hpp"
#include "net/unix_socket.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A request is a line; it goes to the consumer with its text and ticket.
class Lines final : public net::Framing {
 public:
  struct Request {
    net::Ticket ticket;
    std::string text;
  };

  Taken take(std::string_view input, bool /*eof*/, const net::Ticket& ticket,
             std::string& /*answer*/) override {
    const std::size_t end = input.find('\n');
    if (end == std::string_view::npos) return {Outcome::need_more, 0};
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(Request{ticket, std::string(input.substr(0, end))});
    }
    return {Outcome::queued, end + 1};
  }
  void seal(std::string& reply, std::string& output) override {
    output += reply;
    output += '\n';
  }

  void wake() {
    std::lock_guard lock(mutex_);
    woken_.notify_all();
  }
  // Waits until `count` requests were queued in all, or `within` passes; the requests
  // not taken before, oldest first.
  std::vector<Request> take_until(std::size_t count, std::chrono::milliseconds within) {
    std::unique_lock lock(mutex_);
    woken_.wait_for(lock, within, [&] { return taken_ + requests_.size() >= count; });
    taken_ += requests_.size();
    return std::exchange(requests_, {});
  }

 private:
  std::mutex mutex_;
  std::condition_variable woken_;
  std::vector<Request> requests_;
  std::size_t taken_ = 0;
};

// Joins a client's helper thread at scope exit, also when an assertion returns early: the
// shutdown ends its send or receive.
class JoinAtExit {
 public:
  JoinAtExit(std::thread& thread, int fd) : thread_(thread), fd_(fd) {}
  ~JoinAtExit() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread& thread_;
  int fd_;
};

class SocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = "/tmp/evring-net-test-XXXXXX";
    ASSERT_NE(::mkdtemp(name.data()), nullptr) << "cannot create a folder under /tmp";
    root_ = name;
    path_ = root_ / "sub" / "test.sock";
  }
  void TearDown() override {
    server_.reset();
    clients_.clear();
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  net::ListenerOptions listener_options() const {
    net::ListenerOptions options;
    options.path = path_;
    options.in_use = "a test server listens on {}: pick another path";
    return options;
  }
  void start_server(bool consumer_polls = false) {
    net::ServerOptions options;
    options.listener = listener_options();
    options.wake_consumer = [this] { framing_.wake(); };
    options.consumer_polls = consumer_polls;
    server_.emplace(std::move(options), framing_);
    server_->start();
  }

  // A blocking client connection, closed at the end of the test.
  int connect_client() {
    int err = 0;
    net::Fd& fd =
        clients_.emplace_back(net::connect_unix(net::unix_address(path_, "test socket"), err));
    EXPECT_TRUE(fd.valid()) << "connect: " << err;
    return fd.get();
  }
  static void send_all(int fd, const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      const ssize_t wrote = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      ASSERT_GT(wrote, 0) << "send failed";
      sent += static_cast<std::size_t>(wrote);
    }
  }
  // Reads `count` lines, or fails after 10 s.
  static std::vector<std::string> read_lines(int fd, std::size_t count) {
    std::vector<std::string> lines;
    std::string input;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (lines.size() < count && std::chrono::steady_clock::now() < deadline) {
      pollfd ready{fd, POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) continue;
      char chunk[65536];
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) break;
      input.append(chunk, static_cast<std::size_t>(got));
      for (std::size_t end; (end = input.find('\n')) != std::string::npos;) {
        lines.push_back(input.substr(0, end));
        input.erase(0, end + 1);
      }
    }
    return lines;
  }

  fs::path root_;
  fs::path path_;
  std::deque<net::Fd> clients_;
  Lines framing_;  // before server_: the server's thread calls it until joined
  std::optional<net::SocketServer> server_;
};

TEST_F(SocketServerTest, RepliesGoOutInRequestOrderWhateverOrderTheyAreGiven) {
  start_server();
  const int client = connect_client();
  constexpr std::size_t kRequests = 200;
  std::string burst;
  for (std::size_t i = 0; i < kRequests; ++i) burst += std::to_string(i) + "\n";
  send_all(client, burst);

  std::vector<Lines::Request> requests;
  while (requests.size() < kRequests) {
    std::vector<Lines::Request> more = framing_.take_until(kRequests, 5s);
    ASSERT_FALSE(more.empty()) << "only " << requests.size() << " requests reached the consumer";
    requests.insert(requests.end(), more.begin(), more.end());
  }
  // Answered last first: the server still writes them in the order asked.
  for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
    server_->reply(it->ticket, "re " + it->text);
  }
  const std::vector<std::string> lines = read_lines(client, kRequests);
  ASSERT_EQ(lines.size(), kRequests);
  for (std::size_t i = 0; i < kRequests; ++i) EXPECT_EQ(lines[i], "re " + std::to_string(i));
}

// consumer_polls: no socket thread; each poll() of the consumer accepts, reads, and sends
// what was answered, in request order as the thread would.
TEST_F(SocketServerTest, AConsumerThatPollsServesWithoutASocketThread) {
  start_server(/*consumer_polls=*/true);
  const int client = connect_client();
  send_all(client, "a\nb\nc\n");
  std::vector<Lines::Request> requests;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (requests.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    server_->poll();
    std::vector<Lines::Request> more = framing_.take_until(3, 1ms);
    requests.insert(requests.end(), more.begin(), more.end());
  }
  ASSERT_EQ(requests.size(), 3u) << "poll() did not take what the client sent";
  server_->reply(requests[2].ticket, "re c");
  server_->reply(requests[0].ticket, "re a");
  server_->reply(requests[1].ticket, "re b");
  std::thread polling([&] {
    for (int i = 0; i < 200; ++i) {
      server_->poll();
      std::this_thread::sleep_for(1ms);
    }
  });
  const std::vector<std::string> lines = read_lines(client, 3);
  polling.join();
  EXPECT_EQ(lines, (std::vector<std::string>{"re a", "re b", "re c"}));
  // Nothing is sent without a poll: a reply given now waits for the next one.
  send_all(client, "d\n");
  requests.clear();
  while (requests.empty() && std::chrono::steady_clock::now() < deadline) {
    server_->poll();
    requests = framing_.take_until(4, 1ms);
  }
  ASSERT_EQ(requests.size(), 1u);
  server_->reply(requests[0].ticket, "re d");
  pollfd ready{client, POLLIN, 0};
  EXPECT_EQ(::poll(&ready, 1, 50), 0) << "a reply went out without a poll";
  server_->poll();
  EXPECT_EQ(read_lines(client, 1), std::vector<std::string>{"re d"});
}

TEST_F(SocketServerTest, AClientWithTooManyRequestsInFlightIsNotReadUntilTheyAreAnswered) {
  start_server();
  const int client = connect_client();
  constexpr std::size_t kRequests = 3000;
  std::string burst;
  for (std::size_t i = 0; i < kRequests; ++i) burst += std::to_string(i) + "\n";
  std::thread sender([&] { send_all(client, burst); });
  const JoinAtExit join_sender(sender, client);

  // Nobody answers: the server takes kMaxInFlight requests and no more.
  std::vector<Lines::Request> requests = framing_.take_until(net::kMaxInFlight, 5s);
  ASSERT_EQ(requests.size(), net::kMaxInFlight);
  std::vector<Lines::Request> more = framing_.take_until(net::kMaxInFlight + 1, 200ms);
  EXPECT_TRUE(more.empty()) << more.size() << " requests taken past the in-flight limit";

  // Answering makes room: every request comes through, and every reply in order.
  std::size_t answered = 0;
  while (answered < kRequests) {
    for (const Lines::Request& request : requests) server_->reply(request.ticket, request.text);
    answered += requests.size();
    if (answered == kRequests) break;
    requests = framing_.take_until(answered + 1, 5s);
    ASSERT_FALSE(requests.empty()) << "stuck after " << answered << " answers";
  }
  const std::vector<std::string> lines = read_lines(client, kRequests);
  ASSERT_EQ(lines.size(), kRequests);
  for (std::size_t i = 0; i < kRequests; ++i) ASSERT_EQ(lines[i], std::to_string(i));
}

TEST_F(SocketServerTest, AClientThatDoesNotReadItsRepliesIsNotReadPastTheOutputLimit) {
  start_server();
  const int client = connect_client();
  constexpr std::size_t kRequests = 300;
  const std::string big(16u << 10, 'x');  // each reply 16 KiB

  // One request at a time, each answered at once, and the client reads nothing: once
  // about kMaxPendingOutput (plus the socket's buffer) waits for it, the server stops
  // reading, and the next request does not come through.
  std::size_t sent = 0;
  std::size_t answered = 0;
  while (sent < kRequests) {
    send_all(client, std::to_string(sent++) + "\n");
    const std::vector<Lines::Request> requests = framing_.take_until(sent, 300ms);
    if (requests.empty()) break;
    for (const Lines::Request& request : requests) server_->reply(request.ticket, big);
    answered += requests.size();
  }
  ASSERT_LT(answered, kRequests) << "the server read on past its output limit";
  EXPECT_GE(answered * big.size(), net::kMaxPendingOutput);

  // Reading drains it: then every request comes through, in order.
  std::vector<std::string> lines;
  std::thread reader([&] { lines = read_lines(client, kRequests); });
  const JoinAtExit join_reader(reader, client);
  std::string rest;
  while (sent < kRequests) rest += std::to_string(sent++) + "\n";
  send_all(client, rest);
  while (answered < kRequests) {
    const std::vector<Lines::Request> requests = framing_.take_until(answered + 1, 5s);
    ASSERT_FALSE(requests.empty()) << "stuck after " << answered << " answers";
    for (const Lines::Request& request : requests) {
      EXPECT_EQ(request.text, std::to_string(answered++));
      server_->reply(request.ticket, big);
    }
  }
  reader.join();
  EXPECT_EQ(lines.size(), kRequests);
}

TEST_F(SocketServerTest, AStaleSocketFileIsReplacedALiveOneRefusedAndOnlyOursRemoved) {
  // A socket file that nothing listens on, as kill -9 leaves it.
  fs::create_directories(path_.parent_path());
  {
    net::Fd dead(::socket(AF_UNIX, SOCK_STREAM, 0));
    const sockaddr_un address = net::unix_address(path_, "test socket");
    ASSERT_EQ(::bind(dead.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  }
  ASSERT_TRUE(fs::exists(path_));
  net::UnixListener listener(listener_options());
  EXPECT_TRUE(listener.replaced_stale());

  try {
    net::UnixListener second(listener_options());
    ADD_FAILURE() << "a second listener on a live socket was not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::writer_running);
    EXPECT_NE(std::string(e.what()).find("a test server listens on " + path_.string()),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(fs::exists(path_)) << "the refused listener removed the live one's file";

  // A successor's file is not ours to remove.
  listener.close();
  EXPECT_FALSE(fs::exists(path_));
  net::UnixListener successor(listener_options());
  EXPECT_FALSE(successor.replaced_stale());
  listener.close();
  EXPECT_TRUE(fs::exists(path_));
}

}  // namespace
}  // namespace evring
