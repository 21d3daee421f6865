// A subscription's client side: a slot of the reader's query segment that watches one
// query (readers/subscriptions.hpp serves it).
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "query/query_segment.hpp"

using nlohmann::json;

namespace evring {

struct Subscription::State {
  explicit State(query_shm::QuerySlot claimed) : slot(std::move(claimed)) {}
  query_shm::QuerySlot slot;
  std::uint64_t last_seq = 0;
};

namespace {

// Why no slot could be had: the reader is not there, or not ours to map, or full.
[[noreturn]] void throw_no_slot(const std::string& instance, const std::string& reader_id) {
  // Throws no_reader with the socket's words (and the readers there are) if none runs.
  QueryClient::connect(instance, reader_id, QueryPath::socket);
  // Throws permission_denied naming the grant to ask for, if that is it.
  SharedSegment::open(segment_name(instance, query_shm::segment_part(reader_id)),
                      Access::read_write);
  throw Error(ErrorCode::resource, "reader \"" + reader_id + "\" of instance \"" + instance +
                                       "\" serves " + std::to_string(query_shm::kQuerySlots) +
                                       " clients through shared memory already: end one of "
                                       "them, or start another reader of the view");
}

std::uint64_t number(const json& line, const char* key) {
  const auto found = line.find(key);
  return found != line.end() && found->is_number_unsigned() ? found->get<std::uint64_t>() : 0;
}

}  // namespace

Subscription Subscription::open(const std::string& instance, const std::string& reader_id,
                                std::span<const std::string_view> words, std::uint64_t from_seq) {
  try {
    check_utf8_words(words);
  } catch (const MalformedInput& refused) {
    throw Error(ErrorCode::invalid_argument, std::string("watch refused: ") + refused.what());
  }
  std::optional<query_shm::QuerySlot> slot = query_shm::QuerySlot::claim(instance, reader_id);
  if (!slot) throw_no_slot(instance, reader_id);
  if (!slot->send(query_shm::RequestKind::watch, words, from_seq, 0)) {
    throw Error(ErrorCode::invalid_argument, "the query to watch is over the " +
                                                 std::to_string(query_shm::kRequestBytes) +
                                                 " bytes a subscription request may hold");
  }
  auto state = std::make_unique<State>(std::move(*slot));
  state->last_seq = from_seq;
  return Subscription(std::move(state));
}

Subscription::Subscription(std::unique_ptr<State> state) : state_(std::move(state)) {}
Subscription::Subscription(Subscription&&) noexcept = default;
Subscription& Subscription::operator=(Subscription&&) noexcept = default;
Subscription::~Subscription() = default;  // the slot closes with it

std::uint64_t Subscription::last_seq() const noexcept {
  return state_->last_seq;
}

std::optional<WatchLine> Subscription::next(std::chrono::milliseconds timeout) {
  State& s = *state_;
  const query_shm::RecordHeader* record =
      s.slot.wait_record(monotonic_ns() + std::chrono::nanoseconds(timeout).count());
  if (record == nullptr) return std::nullopt;
  WatchLine line;
  line.raw = s.slot.text(*record);
  s.slot.consume(*record);
  const json parsed = json::parse(line.raw, nullptr, false);
  if (!parsed.is_object()) {
    throw Error(ErrorCode::io, "the reader sent a subscription line that is not a JSON object: " +
                                   line.raw.substr(0, 200));
  }
  line.prev_seq = number(parsed, "prev_seq");
  if (const auto result = parsed.find("result"); result != parsed.end()) {
    line.result = result->dump();
  }
  if (parsed.contains("reset")) {
    line.kind = WatchLine::Kind::reset;
    line.reason = parsed["reset"].is_string() ? parsed["reset"].get<std::string>() : "";
    line.seq = line.prev_seq;
  } else if (parsed.contains("progress_seq")) {
    line.kind = WatchLine::Kind::progress;
    line.seq = number(parsed, "progress_seq");
  } else if (parsed.contains("as_of_seq")) {
    line.kind = WatchLine::Kind::snapshot;
    line.seq = number(parsed, "as_of_seq");
  } else {
    line.kind = WatchLine::Kind::change;
    line.seq = number(parsed, "seq");
  }
  if (line.kind != WatchLine::Kind::reset) s.last_seq = line.seq;
  return line;
}

}  // namespace evring
