// A reader's query socket as its clients see it: where it is, QueryClient and Session.
#include "evring/query_client.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "net/unix_socket.hpp"
#include "query/query_wire.hpp"
#include "shm/registry.hpp"
#include "sys/paths.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace evring {
namespace {

using namespace query_wire;

// The client waits this much longer than the timeout it asked for: the reader answers
// stale at the timeout, and the reply still has to come back.
constexpr std::int64_t kClientGraceMs = 5000;

}  // namespace

fs::path query_socket_path(const std::string& instance, const std::string& reader_id) {
  validate_instance_name(instance);
  if (reader_id.empty() || reader_id.find('/') != std::string::npos) {
    throw Error(ErrorCode::invalid_argument,
                "reader id \"" + reader_id + "\" must be non-empty and hold no '/'");
  }
  fs::path path = default_runtime_folder() / (instance + "." + reader_id + ".sock");
  constexpr std::size_t kMaxPathBytes = sizeof(sockaddr_un::sun_path) - 1;  // 107
  if (path.native().size() > kMaxPathBytes) {
    throw Error(ErrorCode::invalid_argument,
                "the query socket path " + path.string() + " is " +
                    std::to_string(path.native().size()) + " bytes, over the " +
                    std::to_string(kMaxPathBytes) +
                    " a Unix socket allows: choose a shorter --id, or set XDG_RUNTIME_DIR to a "
                    "shorter folder");
  }
  return path;
}

// ---- QueryClient ---------------------------------------------------------------------

struct QueryClient::State {
  net::Fd socket;
  std::string instance;
  std::string reader_id;
  fs::path path;
  std::string input;  // read, not yet a whole reply line

  [[noreturn]] void throw_closed() const {
    throw Error(ErrorCode::io, "reader \"" + reader_id + "\" of instance \"" + instance +
                                   "\" closed the connection: it stopped or crashed; check it "
                                   "with evring stat --name " +
                                   instance + " and restart it");
  }
};

namespace {

// "its readers are: kv-1, bank-1", or how to start one.
std::string what_readers_there_are(const std::string& instance, const std::string& reader_id) {
  std::string start_one = "start one with evring-reader --name " + instance +
                          " --view kv|bank|stats|tail|PATH.so --id " + reader_id;
  try {
    std::string ids;
    for (const ReaderInfo& reader : Registry::open(instance, Access::read_only).readers()) {
      if (!reader.alive || reader.id.empty()) continue;
      ids += (ids.empty() ? "" : ", ") + reader.id;
    }
    if (ids.empty()) return "it has no live reader: " + start_one;
    return "its readers are: " + ids + " (or " + start_one + ")";
  } catch (const std::exception&) {
    return start_one;  // no registry: no writer either, or not ours to read
  }
}

}  // namespace

QueryClient QueryClient::connect(const std::string& instance, const std::string& reader_id) {
  auto state = std::make_unique<State>();
  state->instance = instance;
  state->reader_id = reader_id;
  state->path = query_socket_path(instance, reader_id);
  const sockaddr_un address =
      net::unix_address(state->path, "query socket",
                        "choose a shorter --id, or set XDG_RUNTIME_DIR to a shorter folder");
  int err = 0;
  state->socket = net::connect_unix(address, err);
  if (!state->socket.valid()) {
    const std::string path = state->path.string();
    if (err == ENOENT || err == ECONNREFUSED) {
      throw Error(ErrorCode::no_reader,
                  "instance \"" + instance + "\" has no reader with id \"" + reader_id +
                      "\": nothing listens on " + path +
                      (err == ECONNREFUSED ? " (the socket file is a dead reader's)" : "") + "; " +
                      what_readers_there_are(instance, reader_id));
    }
    if (err == EACCES || err == EPERM) {
      throw Error(ErrorCode::permission_denied,
                  "cannot connect to " + path + ": " + errno_text(err) +
                      " (run as the reader's user, or start the reader with a socket mode "
                      "that lets you in)");
    }
    throw Error(ErrorCode::io, "cannot connect to " + path + ": " + errno_text(err));
  }
  return QueryClient(std::move(state));
}

QueryClient::QueryClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
QueryClient::QueryClient(QueryClient&&) noexcept = default;
QueryClient& QueryClient::operator=(QueryClient&&) noexcept = default;
QueryClient::~QueryClient() = default;

QueryReply QueryClient::query(std::initializer_list<std::string_view> words,
                              std::uint64_t after_seq, std::chrono::milliseconds timeout) {
  return query(std::span<const std::string_view>(words.begin(), words.size()), after_seq, timeout);
}

QueryReply QueryClient::query(std::span<const std::string_view> words, std::uint64_t after_seq,
                              std::chrono::milliseconds timeout) {
  State& s = *state_;
  try {
    check_utf8_words(words);
  } catch (const MalformedInput& refused) {
    // Sent as JSON it would turn into U+FFFD and ask about another key.
    throw Error(ErrorCode::invalid_argument, std::string("query refused: ") + refused.what());
  }
  const std::uint64_t timeout_ms =
      std::clamp<std::int64_t>(timeout.count(), 0, static_cast<std::int64_t>(kMaxTimeoutMs));
  json request = json::object();
  json& array = request["words"] = json::array();
  for (const std::string_view word : words) array.push_back(std::string(word));
  request["after"] = after_seq;
  request["timeout_ms"] = timeout_ms;
  const std::string line = dump(request) + '\n';

  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t wrote =
        ::send(s.socket.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (wrote > 0) {
      sent += static_cast<std::size_t>(wrote);
    } else if (wrote < 0 && errno == EINTR) {
      continue;
    } else if (wrote < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      s.throw_closed();
    } else {
      throw Error(ErrorCode::io,
                  "cannot send a query to " + s.path.string() + ": " + errno_text(errno));
    }
  }

  const std::int64_t wait_ms = static_cast<std::int64_t>(timeout_ms) + kClientGraceMs;
  const std::int64_t deadline = monotonic_ns() + wait_ms * 1'000'000;
  std::size_t end = std::string::npos;
  for (std::size_t scanned = 0; (end = s.input.find('\n', scanned)) == std::string::npos;) {
    scanned = s.input.size();
    const std::int64_t left_ns = deadline - monotonic_ns();
    if (left_ns <= 0) {
      throw Error(ErrorCode::io, "reader \"" + s.reader_id + "\" of instance \"" + s.instance +
                                     "\" did not answer within " + std::to_string(wait_ms) +
                                     " ms: it may be stuck; check it with evring stat --name " +
                                     s.instance);
    }
    pollfd ready{s.socket.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left_ns / 1'000'000 + 1));
    if (polled < 0 && errno != EINTR) {
      throw Error(ErrorCode::io, "poll on " + s.path.string() + ": " + errno_text(errno));
    }
    if (polled <= 0) continue;
    std::array<char, 4096> chunk;
    const ssize_t got = ::recv(s.socket.get(), chunk.data(), chunk.size(), 0);
    if (got > 0) {
      s.input.append(chunk.data(), static_cast<std::size_t>(got));
    } else if (got == 0 || errno == ECONNRESET) {
      s.throw_closed();
    } else if (errno != EINTR && errno != EAGAIN) {
      throw Error(ErrorCode::io,
                  "cannot read a reply from " + s.path.string() + ": " + errno_text(errno));
    }
  }

  QueryReply reply;
  reply.raw = s.input.substr(0, end);
  s.input.erase(0, end + 1);
  json parsed;
  try {
    parsed = json::parse(reply.raw);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::io, "reader \"" + s.reader_id + "\" sent a reply that is not JSON (" +
                                   json_problem(e) + "): " + reply.raw.substr(0, 200));
  }
  if (!parsed.is_object()) {
    throw Error(ErrorCode::io,
                "reader \"" + s.reader_id +
                    "\" sent a reply that is not a JSON object: " + reply.raw.substr(0, 200));
  }
  if (const auto stale = parsed.find("stale"); stale != parsed.end() && stale->is_boolean()) {
    reply.stale = stale->get<bool>();
  }
  if (const auto seq = parsed.find("as_of_seq"); seq != parsed.end() && seq->is_number_unsigned()) {
    reply.as_of_seq = seq->get<std::uint64_t>();
  }
  if (const auto result = parsed.find("result"); result != parsed.end()) {
    reply.result = dump(*result);
  }
  if (const auto error = parsed.find("error"); error != parsed.end()) {
    reply.error = error->is_string() ? error->get<std::string>() : dump(*error);
  }
  return reply;
}

// ---- Session -------------------------------------------------------------------------

Session::Session(Client commands, QueryClient queries) noexcept
    : commands_(std::move(commands)), queries_(std::move(queries)) {}

CommandReply Session::submit_text(std::initializer_list<std::string_view> words,
                                  std::string_view command_id) {
  return submit_text(std::span<const std::string_view>(words.begin(), words.size()), command_id);
}

CommandReply Session::submit_text(std::span<const std::string_view> words,
                                  std::string_view command_id) {
  CommandReply reply = commands_.submit_text(words, command_id);
  // A duplicate's seq is its original's, maybe older than the last: keep the larger, so a
  // query waits for everything this session wrote.
  if (reply.accepted() || reply.duplicate()) last_seq_ = std::max(last_seq_, reply.seq);
  return reply;
}

QueryReply Session::query(std::initializer_list<std::string_view> words,
                          std::chrono::milliseconds timeout) {
  return queries_.query(words, last_seq_, timeout);
}

QueryReply Session::query(std::span<const std::string_view> words,
                          std::chrono::milliseconds timeout) {
  return queries_.query(words, last_seq_, timeout);
}

}  // namespace evring
