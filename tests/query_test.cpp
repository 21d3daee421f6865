// The query socket in one process: a QueryServer driven by a test thread that plays the
// view, asked by QueryClient and by plain sockets that send whatever bytes a test needs.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "query/query_server.hpp"
#include "shm/registry.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Plays the reader's view thread: answers as of `applied`; parks a request whose `after`
// is past it until advance() gets there, or answers it stale at its deadline.
//   echo WORDS...  {"as_of_seq": N, "result": {"words": [...]}}
//   bad            {"as_of_seq": N, "error": "no such query: bad"}
//   pretty         a reply spread over several lines
class FakeView {
 public:
  explicit FakeView(const fs::path& path, mode_t mode = 0600) {
    server_ = QueryServer::start(path, mode, [this] { poke(); });
    thread_ = std::thread([this] { run(); });
  }
  ~FakeView() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wakeup_.notify_all();
    thread_.join();
    server_.reset();  // before the members its wake callback touches
  }

  void advance(std::uint64_t seq) {
    {
      std::lock_guard lock(mutex_);
      applied_ = seq;
      woken_ = true;
    }
    wakeup_.notify_all();
  }
  // seq_cst loads: plain counters the test polls; nothing else rides on them.
  std::uint64_t requests_seen() const { return seen_.load(); }
  std::uint64_t replies_given() const { return replied_.load(); }
  std::int64_t last_deadline_ns() const { return last_deadline_ns_.load(); }
  QueryServer& server() { return *server_; }

 private:
  void poke() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wakeup_.notify_all();
  }

  void answer(const QueryRequest& request, std::uint64_t applied) {
    std::string reply;
    if (request.words.front() == "bad") {
      reply = json{{"as_of_seq", applied}, {"error", "no such query: bad"}}.dump();
    } else if (request.words.front() == "pretty") {
      reply = json{{"as_of_seq", applied}, {"result", {{"a", 1}, {"b", {1, 2}}}}}.dump(2);
    } else {
      reply = json{{"as_of_seq", applied}, {"result", {{"words", request.words}}}}.dump();
    }
    server_->reply(request, std::move(reply));
    ++replied_;
  }

  void run() {
    std::multimap<std::uint64_t, QueryRequest> parked;
    std::unique_lock lock(mutex_);
    for (;;) {
      const auto woken = [&] { return woken_ || stop_; };
      if (parked.empty()) {
        wakeup_.wait(lock, woken);
      } else {
        std::int64_t earliest = INT64_MAX;
        for (const auto& [after, request] : parked) {
          earliest = std::min(earliest, request.deadline_ns);
        }
        const std::int64_t left = std::max<std::int64_t>(earliest - monotonic_ns(), 0);
        wakeup_.wait_for(lock, std::chrono::nanoseconds(left), woken);
      }
      if (stop_) return;
      woken_ = false;
      std::uint64_t applied = applied_;
      lock.unlock();

      QueryRequest request;
      while (server_->next(request)) {
        // As of what the view has when it takes the request, as a reader answers: a
        // request sent after advance() may arrive in a pass that began before it.
        {
          std::lock_guard fresh(mutex_);
          applied = applied_;
        }
        ++seen_;
        last_deadline_ns_ = request.deadline_ns;
        if (request.after_seq > applied) {
          const std::uint64_t after = request.after_seq;
          parked.emplace(after, std::move(request));
        } else {
          answer(request, applied);
        }
      }
      const std::int64_t now = monotonic_ns();
      for (auto it = parked.begin(); it != parked.end();) {
        if (it->first <= applied) {
          answer(it->second, applied);
        } else if (now >= it->second.deadline_ns) {
          server_->reply(it->second, json{{"stale", true}, {"as_of_seq", applied}}.dump());
          ++replied_;
        } else {
          ++it;
          continue;
        }
        it = parked.erase(it);
      }
      lock.lock();
    }
  }

  std::unique_ptr<QueryServer> server_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool woken_ = false;
  bool stop_ = false;
  std::uint64_t applied_ = 0;
  std::atomic<std::uint64_t> seen_{0};
  std::atomic<std::uint64_t> replied_{0};
  std::atomic<std::int64_t> last_deadline_ns_{0};
  std::thread thread_;
};

// A plain socket to a query server, for the bytes QueryClient would never send.
class RawConnection {
 public:
  explicit RawConnection(const fs::path& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { close(); }
  bool connected() const { return connected_; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t wrote = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (wrote <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(wrote));
    }
    return true;
  }
  // The next line without its newline; nullopt if none came within `timeout` or the
  // server closed the connection (then closed_by_peer()).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 5s) {
    const std::int64_t deadline = monotonic_ns() + timeout.count() * 1'000'000;
    for (;;) {
      if (const std::size_t end = input_.find('\n'); end != std::string::npos) {
        std::string line = input_.substr(0, end);
        input_.erase(0, end + 1);
        return line;
      }
      const std::int64_t left = deadline - monotonic_ns();
      if (left <= 0 || peer_closed_) return std::nullopt;
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(left / 1'000'000 + 1)) <= 0) continue;
      char chunk[4096];
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got <= 0) {
        peer_closed_ = true;
        continue;
      }
      input_.append(chunk, static_cast<std::size_t>(got));
    }
  }
  bool closed_by_peer(std::chrono::milliseconds timeout = 5s) {
    while (!peer_closed_) {
      if (read_line(timeout)) return false;  // a line, not the end
      if (!peer_closed_) return false;       // timed out
    }
    return input_.empty();
  }
  void stop_sending() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool peer_closed_ = false;
  std::string input_;
};

json parse(const std::string& line) {
  return json::parse(line);
}

// Each test with its own XDG_RUNTIME_DIR, so sockets of other tests and users never meet.
class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = "/tmp/evring-query-test-XXXXXX";
    ASSERT_NE(::mkdtemp(name.data()), nullptr) << "cannot create a folder under /tmp";
    root_ = name;
    if (const char* old = std::getenv("XDG_RUNTIME_DIR")) saved_runtime_dir_ = old;
    ::setenv("XDG_RUNTIME_DIR", root_.c_str(), 1);
    path_ = query_socket_path("orders", "kv-1");
  }
  void TearDown() override {
    if (saved_runtime_dir_) {
      ::setenv("XDG_RUNTIME_DIR", saved_runtime_dir_->c_str(), 1);
    } else {
      ::unsetenv("XDG_RUNTIME_DIR");
    }
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  static QueryClient client() { return QueryClient::connect("orders", "kv-1"); }

  fs::path root_;
  fs::path path_;
  std::optional<std::string> saved_runtime_dir_;
};

TEST_F(QueryTest, SocketPathIsInTheRuntimeFolder) {
  EXPECT_EQ(path_, root_ / "evring" / "orders.kv-1.sock");
}

TEST_F(QueryTest, AnswersAsOfTheAppliedSeq) {
  FakeView view(path_);
  view.advance(5);
  QueryClient queries = client();
  const std::int64_t before = monotonic_ns();
  const QueryReply reply = queries.query({"echo", "alice"});
  const std::int64_t after = monotonic_ns();
  EXPECT_FALSE(reply.stale);
  EXPECT_EQ(reply.as_of_seq, 5u);
  ASSERT_TRUE(reply.result.has_value()) << reply.raw;
  EXPECT_EQ(parse(*reply.result), json::parse(R"({"words": ["echo", "alice"]})"));
  EXPECT_FALSE(reply.error.has_value());
  EXPECT_EQ(parse(reply.raw)["as_of_seq"], 5);
  // The default timeout, 5 s, becomes a deadline on the monotonic clock.
  EXPECT_GE(view.last_deadline_ns(), before + 5'000'000'000);
  EXPECT_LE(view.last_deadline_ns(), after + 5'000'000'000);

  // The same connection goes on answering.
  view.advance(6);
  EXPECT_EQ(queries.query({"echo", "bob"}).as_of_seq, 6u);
}

TEST_F(QueryTest, ViewErrorIsAnErrorReply) {
  FakeView view(path_);
  view.advance(2);
  const QueryReply reply = client().query({"bad"});
  EXPECT_FALSE(reply.stale);
  EXPECT_EQ(reply.as_of_seq, 2u);
  EXPECT_FALSE(reply.result.has_value());
  ASSERT_TRUE(reply.error.has_value()) << reply.raw;
  EXPECT_EQ(*reply.error, "no such query: bad");
}

TEST_F(QueryTest, MultiLineReplyIsSentAsOneLine) {
  FakeView view(path_);
  view.advance(1);
  const QueryReply reply = client().query({"pretty"});
  EXPECT_EQ(reply.raw.find('\n'), std::string::npos);
  ASSERT_TRUE(reply.result.has_value()) << reply.raw;
  EXPECT_EQ(parse(*reply.result), json::parse(R"({"a": 1, "b": [1, 2]})"));
}

TEST_F(QueryTest, StaleWhenAfterIsNotReachedInTime) {
  FakeView view(path_);
  view.advance(3);
  const auto start = std::chrono::steady_clock::now();
  const QueryReply reply = client().query({"echo", "x"}, 10, 150ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(reply.stale) << reply.raw;
  EXPECT_EQ(reply.as_of_seq, 3u);
  EXPECT_FALSE(reply.result.has_value());
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 5s);
}

TEST_F(QueryTest, AfterWaitsUntilTheViewAppliedIt) {
  FakeView view(path_);
  view.advance(3);
  std::thread writer([&] {
    // The query must be parked (seen, not answered) before the view gets there.
    ASSERT_TRUE(test::wait_until([&] { return view.requests_seen() == 1; }, 5s));
    std::this_thread::sleep_for(20ms);  // let it sit parked a moment: it must not answer
    EXPECT_EQ(view.replies_given(), 0u);
    view.advance(9);
    view.advance(10);
  });
  const QueryReply reply = client().query({"echo", "mine"}, 10, 5s);
  writer.join();
  EXPECT_FALSE(reply.stale) << reply.raw;
  EXPECT_GE(reply.as_of_seq, 10u) << "read-your-writes: never a reply before seq 10";
  EXPECT_TRUE(reply.result.has_value());
}

TEST_F(QueryTest, RepliesKeepTheOrderOfTheRequestsOnAConnection) {
  FakeView view(path_);
  view.advance(3);
  RawConnection raw(path_);
  ASSERT_TRUE(raw.connected());
  // The first waits for seq 10; the second can be answered at once, and is, by the view.
  ASSERT_TRUE(raw.send(R"({"words": ["echo", "first"], "after": 10})"
                       "\n"
                       R"({"words": ["echo", "second"]})"
                       "\n"));
  ASSERT_TRUE(test::wait_until([&] { return view.replies_given() == 1; }, 5s));
  EXPECT_FALSE(raw.read_line(100ms).has_value()) << "the second reply overtook the first";
  view.advance(10);
  const std::optional<std::string> first = raw.read_line();
  const std::optional<std::string> second = raw.read_line();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(parse(*first)["result"]["words"][1], "first");
  EXPECT_EQ(parse(*first)["as_of_seq"], 10);
  EXPECT_EQ(parse(*second)["result"]["words"][1], "second");
  EXPECT_EQ(parse(*second)["as_of_seq"], 3);
}

TEST_F(QueryTest, ManyConnectionsAtOnce) {
  FakeView view(path_);
  view.advance(1);
  constexpr int kThreads = 4;
  constexpr int kQueries = 300;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      QueryClient queries = client();
      for (int i = 0; i < kQueries; ++i) {
        const std::string me = std::to_string(t);
        const std::string n = std::to_string(i);
        const QueryReply reply = queries.query({"echo", me, n});
        if (!reply.result ||
            parse(*reply.result) != json{{"words", json::array({"echo", me, n})}}) {
          ++wrong;
        }
      }
    });
  }
  // Pipelined on one more connection, while the others run.
  RawConnection raw(path_);
  ASSERT_TRUE(raw.connected());
  std::string lines;
  for (int i = 0; i < 100; ++i) {
    lines += json{{"words", {"echo", std::to_string(i)}}}.dump() + "\n";
  }
  ASSERT_TRUE(raw.send(lines));
  for (int i = 0; i < 100; ++i) {
    const std::optional<std::string> line = raw.read_line();
    ASSERT_TRUE(line.has_value()) << "reply " << i;
    EXPECT_EQ(parse(*line)["result"]["words"][1], std::to_string(i));
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(view.requests_seen(), std::uint64_t{kThreads * kQueries + 100});
}

// More lines than the server keeps in flight per connection (1024), a third malformed, from
// a client that reads nothing until it has sent them all and then stops sending.
TEST_F(QueryTest, PipelinedFloodIsAnsweredInFullAndInOrder) {
  FakeView view(path_);
  view.advance(1);
  RawConnection raw(path_);
  ASSERT_TRUE(raw.connected());
  constexpr int kLines = 3000;
  std::thread sender([&] {
    std::string lines;
    for (int i = 0; i < kLines; ++i) {
      lines += i % 3 == 2 ? "oops " + std::to_string(i) + "\n"
                          : json{{"words", {"echo", std::to_string(i)}}}.dump() + "\n";
    }
    EXPECT_TRUE(raw.send(lines));
    raw.stop_sending();
  });
  for (int i = 0; i < kLines; ++i) {
    const std::optional<std::string> line = raw.read_line();
    ASSERT_TRUE(line.has_value()) << "reply " << i;
    const json reply = parse(*line);
    if (i % 3 == 2) {
      EXPECT_EQ(reply["as_of_seq"], 0) << *line;
      EXPECT_TRUE(reply.contains("error")) << *line;
    } else {
      EXPECT_EQ(reply["result"]["words"][1], std::to_string(i)) << *line;
    }
  }
  sender.join();
  EXPECT_TRUE(raw.closed_by_peer());
  EXPECT_EQ(view.requests_seen(), std::uint64_t{kLines - kLines / 3});
}

TEST_F(QueryTest, MalformedLinesAreAnsweredAndTheServerGoesOn) {
  FakeView view(path_);
  view.advance(4);
  RawConnection raw(path_);
  ASSERT_TRUE(raw.connected());
  std::string too_many_words = R"({"words": [)";
  for (int i = 0; i < 65; ++i) too_many_words += (i ? ",\"w\"" : "\"w\"");
  too_many_words += "]}";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"hello", "not JSON"},
      {"[1, 2]", "JSON object"},
      {"{}", "\"words\""},
      {R"({"words": []})", "\"words\""},
      {R"({"words": "get alice"})", "\"words\""},
      {R"({"words": ["get", 1]})", "only strings"},
      {too_many_words, "1 to 64"},
      {R"({"words": ["get"], "after": -1})", "\"after\""},
      {R"({"words": ["get"], "after": "5"})", "\"after\""},
      {R"({"words": ["get"], "timeout_ms": 1.5})", "\"timeout_ms\""},
      {"{\"words\": [\"\xff\xfe\"]}", "not JSON"},
  };
  for (const auto& [line, problem] : cases) ASSERT_TRUE(raw.send(line + "\n"));
  // A blank line is no request and gets no reply; the good line after it is answered.
  ASSERT_TRUE(
      raw.send("\n"
               R"({"words": ["echo", "fine"]})"
               "\n"));
  for (const auto& [line, problem] : cases) {
    const std::optional<std::string> reply = raw.read_line();
    ASSERT_TRUE(reply.has_value()) << "no reply to " << line;
    const json parsed = parse(*reply);
    EXPECT_EQ(parsed["as_of_seq"], 0) << *reply;
    const std::string error = parsed["error"];
    EXPECT_TRUE(error.starts_with("malformed request: ")) << error;
    EXPECT_NE(error.find(problem), std::string::npos) << line << " -> " << error;
  }
  const std::optional<std::string> fine = raw.read_line();
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(parse(*fine)["result"]["words"][1], "fine");
  EXPECT_EQ(view.requests_seen(), 1u) << "malformed lines never reach the view";
  EXPECT_EQ(client().query({"echo", "other"}).as_of_seq, 4u);
}

TEST_F(QueryTest, TooLongLineIsRefusedThenTheConnectionClosed) {
  FakeView view(path_);
  view.advance(1);
  RawConnection raw(path_);
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send(R"({"words": ["echo", "before"]})"
                       "\n"));
  ASSERT_TRUE(raw.send(std::string(70'000, 'x')));  // no newline: it could only get longer
  const std::optional<std::string> before = raw.read_line();
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(parse(*before)["result"]["words"][1], "before");
  const std::optional<std::string> refused = raw.read_line();
  ASSERT_TRUE(refused.has_value());
  const std::string error = parse(*refused)["error"];
  EXPECT_NE(error.find("request too long"), std::string::npos) << error;
  EXPECT_TRUE(raw.closed_by_peer());
  EXPECT_EQ(view.requests_seen(), 1u);

  // A line of exactly the limit is still taken (and answered malformed: it is no JSON).
  RawConnection at_limit(path_);
  ASSERT_TRUE(at_limit.send(std::string(64u << 10, ' ') + "x\n"));
  const std::optional<std::string> over = at_limit.read_line();
  ASSERT_TRUE(over.has_value());
  EXPECT_NE(over->find("request too long"), std::string::npos) << *over;
  RawConnection just_fits(path_);
  ASSERT_TRUE(just_fits.send(std::string((64u << 10) - 1, ' ') + "x\n"));
  const std::optional<std::string> fits = just_fits.read_line();
  ASSERT_TRUE(fits.has_value());
  EXPECT_NE(fits->find("malformed request"), std::string::npos) << *fits;

  EXPECT_EQ(client().query({"echo", "after"}).as_of_seq, 1u);
}

TEST_F(QueryTest, ClientLeavingMidLineHarmsNobody) {
  FakeView view(path_);
  view.advance(1);
  {
    RawConnection raw(path_);
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send(R"({"words": ["ec)"));
  }
  EXPECT_EQ(client().query({"echo", "next"}).as_of_seq, 1u);
  EXPECT_EQ(view.requests_seen(), 1u) << "half a line is no request";

  // A last line without its newline, from a client that only stopped sending, is answered.
  RawConnection half_closed(path_);
  ASSERT_TRUE(half_closed.send(R"({"words": ["echo", "last"]})"));
  half_closed.stop_sending();
  const std::optional<std::string> last = half_closed.read_line();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(parse(*last)["result"]["words"][1], "last");
  EXPECT_TRUE(half_closed.closed_by_peer()) << "nothing more can come: the server closes";
}

TEST_F(QueryTest, RepliesToClosedConnectionsAreDropped) {
  FakeView view(path_);
  view.advance(1);
  constexpr int kGone = 20;
  for (int i = 0; i < kGone; ++i) {
    RawConnection raw(path_);
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send(R"({"words": ["echo", "gone"], "after": 5, "timeout_ms": 60000})"
                         "\n"));
    ASSERT_TRUE(test::wait_until([&] { return view.requests_seen() == std::uint64_t(i + 1); }, 5s));
  }  // each closed with its query parked in the view
  // Some of their connections the server has noticed closing, some maybe not yet: either way
  // the replies go nowhere.
  view.advance(5);
  ASSERT_TRUE(test::wait_until([&] { return view.replies_given() == kGone; }, 5s));
  QueryClient queries = client();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(queries.query({"echo", "alive"}).as_of_seq, 5u);
}

TEST_F(QueryTest, ReaderGoingAwayIsAnIoError) {
  auto view = std::make_unique<FakeView>(path_);
  QueryClient queries = client();
  std::optional<Error> failure;
  std::thread asking([&] {
    try {
      queries.query({"echo", "waits"}, 100, 30s);
    } catch (const Error& e) {
      failure = e;
    }
  });
  ASSERT_TRUE(test::wait_until([&] { return view->requests_seen() == 1; }, 5s));
  view.reset();  // the reader stops with the query parked
  asking.join();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->code(), ErrorCode::io);
  EXPECT_NE(std::string(failure->what()).find("closed the connection"), std::string::npos)
      << failure->what();
  EXPECT_FALSE(fs::exists(path_)) << "the server removes its socket file";
  try {
    queries.query({"echo", "again"});
    ADD_FAILURE() << "a query to a reader that has gone succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io) << e.what();
  }
}

TEST_F(QueryTest, StaleSocketFileIsReplaced) {
  // What a reader killed with -9 leaves behind: a socket file nobody listens on.
  fs::create_directories(path_.parent_path());
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    ::close(fd);
  }
  ASSERT_TRUE(fs::is_socket(path_));
  try {
    client();
    ADD_FAILURE() << "connected to a dead socket";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::no_reader);
    EXPECT_NE(std::string(e.what()).find("dead reader"), std::string::npos) << e.what();
  }
  FakeView view(path_);
  view.advance(7);
  EXPECT_EQ(client().query({"echo", "x"}).as_of_seq, 7u);
}

TEST_F(QueryTest, SomethingElseAtThePathIsRefused) {
  fs::create_directories(path_.parent_path());
  std::ofstream(path_) << "not a socket";
  try {
    FakeView view(path_);
    ADD_FAILURE() << "replaced a regular file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_regular_file(path_));
}

TEST_F(QueryTest, LiveSocketIsRefused) {
  FakeView view(path_);
  view.advance(2);
  try {
    QueryServer::start(path_, 0600, [] {});
    ADD_FAILURE() << "a second server took a live socket";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::writer_running);
    EXPECT_NE(std::string(e.what()).find("another evring-reader listens on " + path_.string()),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--id"), std::string::npos) << e.what();
  }
  EXPECT_EQ(client().query({"echo", "still"}).as_of_seq, 2u);
}

TEST_F(QueryTest, FolderModeSocketModeAndCleanup) {
  ASSERT_FALSE(fs::exists(path_.parent_path()));
  {
    FakeView view(path_, 0660);
    struct stat folder {};
    struct stat socket {};
    ASSERT_EQ(::stat(path_.parent_path().c_str(), &folder), 0);
    ASSERT_EQ(::stat(path_.c_str(), &socket), 0);
    EXPECT_EQ(folder.st_mode & 07777, 0700u);
    EXPECT_TRUE(S_ISSOCK(socket.st_mode));
    EXPECT_EQ(socket.st_mode & 07777, 0660u);
  }
  EXPECT_FALSE(fs::exists(path_)) << "the server removes its socket file";
}

TEST_F(QueryTest, MissingReaderIsNoReaderAndSaysHowToStartOne) {
  try {
    QueryClient::connect("orders", "kv-9");
    ADD_FAILURE() << "connected to nothing";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::no_reader);
    EXPECT_NE(message.find(R"(instance "orders" has no reader with id "kv-9")"), std::string::npos)
        << message;
    EXPECT_NE(message.find("evring-reader --name orders"), std::string::npos) << message;
    EXPECT_NE(message.find("--id kv-9"), std::string::npos) << message;
  }
}

TEST_F(QueryTest, MissingReaderListsTheLiveReaders) {
  const std::string instance = test::unique_instance("query");
  test::InstanceCleanup cleanup(instance);
  Registry registry = Registry::create(instance, 1, 0600, WriterInfo{});
  registry.claim_slot(ReaderIdentity{"kv-1", "kv", WaitKind::spin});
  registry.claim_slot(ReaderIdentity{"bank-1", "bank", WaitKind::block});
  try {
    QueryClient::connect(instance, "stats-1");
    ADD_FAILURE() << "connected to nothing";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::no_reader);
    EXPECT_NE(message.find("has no reader with id \"stats-1\""), std::string::npos) << message;
    EXPECT_NE(message.find("its readers are: kv-1, bank-1"), std::string::npos) << message;
  }
}

TEST_F(QueryTest, SocketPathTooLongSaysWhatToDo) {
  const fs::path deep = root_ / std::string(100, 'd');
  ::setenv("XDG_RUNTIME_DIR", deep.c_str(), 1);
  try {
    query_socket_path("orders", "kv-1");
    ADD_FAILURE() << "a path over 107 bytes";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(message.find("107"), std::string::npos) << message;
    EXPECT_NE(message.find("--id"), std::string::npos) << message;
    EXPECT_NE(message.find("XDG_RUNTIME_DIR"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace evring
