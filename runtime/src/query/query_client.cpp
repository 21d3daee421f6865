// A reader's query socket as its clients see it: where it is, QueryClient and Session.
#include "evring/query_client.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <utility>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "net/unix_socket.hpp"
#include "query/query_segment.hpp"
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
constexpr std::int64_t kSpinBeforePollNs = 20'000;

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
  std::optional<query_shm::QuerySlot> slot;  // the reader's query segment, when we may map it
  net::Fd socket;                            // connected at once without a slot, else lazily
  std::string instance;
  std::string reader_id;
  fs::path path;
  std::string input;  // read, not yet a whole reply line

  void connect_socket();
  QueryReply ask_socket(std::span<const std::string_view> words, std::uint64_t after_seq,
                        std::uint64_t timeout_ms);
  // nullopt: the reply is too large for the segment, or the words for its request area.
  std::optional<QueryReply> ask_segment(std::span<const std::string_view> words,
                                        std::uint64_t after_seq, std::uint64_t timeout_ms);

  [[noreturn]] void throw_closed() const {
    throw Error(ErrorCode::io, "reader \"" + reader_id + "\" of instance \"" + instance +
                                   "\" closed the connection: it stopped or crashed; check it "
                                   "with evring stat --name " +
                                   instance + " and restart it");
  }
  [[noreturn]] void throw_no_answer(std::int64_t wait_ms) const {
    throw Error(ErrorCode::io, "reader \"" + reader_id + "\" of instance \"" + instance +
                                   "\" did not answer within " + std::to_string(wait_ms) +
                                   " ms: it may be stuck; check it with evring stat --name " +
                                   instance);
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

QueryClient QueryClient::connect(const std::string& instance, const std::string& reader_id,
                                 QueryPath path) {
  auto state = std::make_unique<State>();
  state->instance = instance;
  state->reader_id = reader_id;
  state->path = query_socket_path(instance, reader_id);
  if (path == QueryPath::fastest) state->slot = query_shm::QuerySlot::claim(instance, reader_id);
  if (!state->slot) state->connect_socket();
  return QueryClient(std::move(state));
}

void QueryClient::State::connect_socket() {
  const sockaddr_un address = net::unix_address(
      path, "query socket", "choose a shorter --id, or set XDG_RUNTIME_DIR to a shorter folder");
  int err = 0;
  socket = net::connect_unix(address, err);
  if (!socket.valid()) {
    const std::string where = path.string();
    if (err == ENOENT || err == ECONNREFUSED) {
      throw Error(ErrorCode::no_reader,
                  "instance \"" + instance + "\" has no reader with id \"" + reader_id +
                      "\": nothing listens on " + where +
                      (err == ECONNREFUSED ? " (the socket file is a dead reader's)" : "") + "; " +
                      what_readers_there_are(instance, reader_id));
    }
    if (err == EACCES || err == EPERM) {
      throw Error(ErrorCode::permission_denied,
                  "cannot connect to " + where + ": " + errno_text(err) +
                      " (run as the reader's user, or start the reader with a socket mode "
                      "that lets you in)");
    }
    throw Error(ErrorCode::io, "cannot connect to " + where + ": " + errno_text(err));
  }
}

QueryClient::QueryClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
QueryClient::QueryClient(QueryClient&&) noexcept = default;
QueryClient& QueryClient::operator=(QueryClient&&) noexcept = default;
QueryClient::~QueryClient() = default;

bool QueryClient::shared_memory() const noexcept {
  return state_->slot.has_value();
}

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
  if (s.slot) {
    if (std::optional<QueryReply> reply = s.ask_segment(words, after_seq, timeout_ms)) {
      return std::move(*reply);
    }
    if (!s.socket.valid()) s.connect_socket();
  }
  return s.ask_socket(words, after_seq, timeout_ms);
}

std::optional<QueryReply> QueryClient::State::ask_segment(std::span<const std::string_view> words,
                                                          std::uint64_t after_seq,
                                                          std::uint64_t timeout_ms) {
  using namespace query_shm;
  if (!slot->send(RequestKind::query, words, after_seq, static_cast<std::uint32_t>(timeout_ms))) {
    return std::nullopt;
  }
  const std::int64_t wait_ms = static_cast<std::int64_t>(timeout_ms) + kClientGraceMs;
  const RecordHeader* record = nullptr;
  try {
    record = slot->wait_record(monotonic_ns() + wait_ms * 1'000'000);
  } catch (const Error&) {
    throw_closed();
  }
  if (record == nullptr) throw_no_answer(wait_ms);
  const RecordHeader header = *record;
  QueryReply reply;
  reply.raw = slot->text(*record);
  slot->consume(*record);
  if (header.kind == RecordKind::too_large) return std::nullopt;
  reply.as_of_seq = header.as_of_seq;
  reply.stale = header.status == QueryStatus::stale;
  const std::string_view part =
      std::string_view(reply.raw).substr(header.result_offset, header.result_bytes);
  if (header.status == QueryStatus::answered) {
    reply.result = std::string(part);
  } else if (header.status == QueryStatus::error) {
    const json message = json::parse(part, nullptr, false);
    reply.error = message.is_string() ? message.get<std::string>() : std::string(part);
  }
  return reply;
}

QueryReply QueryClient::State::ask_socket(std::span<const std::string_view> words,
                                          std::uint64_t after_seq, std::uint64_t timeout_ms) {
  State& s = *this;
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
  // A reply usually comes within microseconds: look without sleeping first, since a
  // sleeping client's wake-up would cost more than the whole answer.
  const std::int64_t spin_until = monotonic_ns() + kSpinBeforePollNs;
  std::size_t end = std::string::npos;
  for (std::size_t scanned = 0; (end = s.input.find('\n', scanned)) == std::string::npos;) {
    scanned = s.input.size();
    const std::int64_t now = monotonic_ns();
    const std::int64_t left_ns = deadline - now;
    if (left_ns <= 0) s.throw_no_answer(wait_ms);
    int flags = MSG_DONTWAIT;
    if (now >= spin_until) {
      pollfd ready{s.socket.get(), POLLIN, 0};
      const int polled = ::poll(&ready, 1, static_cast<int>(left_ns / 1'000'000 + 1));
      if (polled < 0 && errno != EINTR) {
        throw Error(ErrorCode::io, "poll on " + s.path.string() + ": " + errno_text(errno));
      }
      if (polled <= 0) continue;
      flags = 0;
    }
    std::array<char, 4096> chunk;
    const ssize_t got = ::recv(s.socket.get(), chunk.data(), chunk.size(), flags);
    if (got > 0) {
      s.input.append(chunk.data(), static_cast<std::size_t>(got));
    } else if (got == 0 || errno == ECONNRESET) {
      s.throw_closed();
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
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
