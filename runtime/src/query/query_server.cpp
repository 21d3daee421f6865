// A reader's query server: JSON lines on the one socket server (net/socket_server.hpp).
//
//   requests  the socket thread (the framing) enqueues, the view thread dequeues:
//             moodycamel::ConcurrentQueue, an enqueue is a release and the dequeue that
//             takes the element an acquire, so its words are complete when the view sees
//             them. The replies go back through SocketServer::reply.
#include "query/query_server.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <concurrentqueue/concurrentqueue.h>

#include "evring/clock.hpp"
#include "query/query_wire.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace evring {
namespace {

using namespace query_wire;

constexpr std::size_t kMaxLineBytes = 64u << 10;  // a request line, without its newline
constexpr std::size_t kMaxWords = 64;
constexpr int kBacklog = 64;

std::string error_reply(const std::string& problem) {
  return dump(json{{"as_of_seq", 0}, {"error", problem}});
}

// One request line into `out` (all but its ticket), or false and what is wrong with it.
bool parse_request(std::string_view line, QueryRequest& out, std::string& problem) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::exception& e) {
    problem = "not JSON: " + json_problem(e);
    return false;
  }
  constexpr const char* kShape =
      R"(; send {"words": ["get", "alice"], "after": 42, "timeout_ms": 1000})";
  if (!request.is_object()) {
    problem = std::string("expected a JSON object") + kShape;
    return false;
  }
  const auto words = request.find("words");
  if (words == request.end() || !words->is_array() || words->empty() || words->size() > kMaxWords) {
    problem =
        "\"words\" must be an array of 1 to " + std::to_string(kMaxWords) + " strings" + kShape;
    return false;
  }
  out.words.clear();
  out.words.reserve(words->size());
  for (const json& word : *words) {
    if (!word.is_string()) {
      problem = "\"words\" must hold only strings, not " + dump(word);
      return false;
    }
    out.words.push_back(word.get<std::string>());
  }
  out.after_seq = 0;
  if (const auto after = request.find("after"); after != request.end()) {
    if (!after->is_number_unsigned()) {
      problem = "\"after\" must be a sequence number (an integer >= 0), not " + dump(*after);
      return false;
    }
    out.after_seq = after->get<std::uint64_t>();
  }
  std::uint64_t timeout_ms = kDefaultTimeoutMs;
  if (const auto timeout = request.find("timeout_ms"); timeout != request.end()) {
    if (!timeout->is_number_unsigned() || timeout->get<std::uint64_t>() > kMaxTimeoutMs) {
      problem = "\"timeout_ms\" must be an integer from 0 to " + std::to_string(kMaxTimeoutMs) +
                ", not " + dump(*timeout);
      return false;
    }
    timeout_ms = timeout->get<std::uint64_t>();
  }
  out.deadline_ns = monotonic_ns() + static_cast<std::int64_t>(timeout_ms) * 1'000'000;
  return true;
}

// One JSON object per line each way. A malformed line is answered here; a line over
// kMaxLineBytes is answered and ends the connection (a stream is not read past it).
class JsonLines final : public net::Framing {
 public:
  moodycamel::ConcurrentQueue<QueryRequest> requests;
  moodycamel::ProducerToken producer{requests};  // the socket thread's

  Taken take(std::string_view input, bool eof, const net::Ticket& ticket,
             std::string& answer) override {
    std::size_t end = input.find('\n');
    std::size_t bytes = end + 1;
    if (end == std::string_view::npos) {
      if (input.size() > kMaxLineBytes) return too_long(input.size(), answer);
      // The last line of a client that hung up without a newline: still a request.
      if (!eof) return {Outcome::need_more, 0};
      end = bytes = input.size();
    }
    if (end > kMaxLineBytes) return too_long(bytes, answer);
    const std::string_view line = input.substr(0, end);
    // A blank line is no request (someone typing into nc); it gets no reply.
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      return {Outcome::skipped, bytes};
    }
    QueryRequest request;
    std::string problem;
    if (!parse_request(line, request, problem)) {
      answer = error_reply("malformed request: " + problem);
      return {Outcome::answered, bytes};
    }
    request.ticket = ticket;
    requests.enqueue(producer, std::move(request));
    return {Outcome::queued, bytes};
  }

  // One reply per line: a view's pretty-printed JSON keeps its meaning with spaces for
  // newlines (a newline inside a JSON string would be invalid JSON anyway).
  void seal(std::string& reply, std::string& output) override {
    std::replace(reply.begin(), reply.end(), '\n', ' ');
    output += reply;
    output += '\n';
  }

 private:
  static Taken too_long(std::size_t bytes, std::string& answer) {
    answer = error_reply("request too long: a request line may hold at most " +
                         std::to_string(kMaxLineBytes) + " bytes");
    return {Outcome::broken, bytes};
  }
};

}  // namespace

struct QueryServer::State {
  // Before `server`, so it is destroyed after it: the socket thread calls it until joined.
  JsonLines framing;
  std::optional<net::SocketServer> server;
};

std::unique_ptr<QueryServer> QueryServer::start(const fs::path& path, mode_t mode,
                                                std::function<void()> wake, gid_t group,
                                                bool consumer_polls) {
  auto state = std::make_unique<State>();
  net::ServerOptions options;
  options.listener.path = path;
  options.listener.mode = mode;
  options.listener.group = group;
  options.listener.backlog = kBacklog;
  options.listener.kind = "query socket";
  options.listener.in_use = "another evring-reader listens on {}: choose another --id";
  options.listener.choose_other = "choose another --id";
  options.listener.folder_fix = " (set XDG_RUNTIME_DIR to a folder you may write)";
  options.listener.long_path_fix =
      "choose a shorter --id, or set XDG_RUNTIME_DIR to a shorter folder";
  options.wake_consumer = std::move(wake);
  options.consumer_polls = consumer_polls;
  options.name = "query socket";
  state->server.emplace(std::move(options), state->framing);
  state->server->start();
  return std::unique_ptr<QueryServer>(new QueryServer(std::move(state)));
}

QueryServer::QueryServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

QueryServer::~QueryServer() {
  state_->server->stop(0);
}

bool QueryServer::next(QueryRequest& out) {
  // acquire (inside the queue): the request's words are as the socket thread wrote them.
  return state_->framing.requests.try_dequeue(out);
}

void QueryServer::reply(const QueryRequest& to, std::string json) {
  state_->server->reply(to.ticket, std::move(json));
}

net::SocketServer& QueryServer::server() noexcept {
  return *state_->server;
}

const fs::path& QueryServer::path() const noexcept {
  return state_->server->path();
}

}  // namespace evring
