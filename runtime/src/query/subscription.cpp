// Subscriptions' client side: a slot of the reader's query segment that watches one query
// or many, its lines told apart by their watch request's serial (readers/subscriptions.hpp
// serves them).
#include <charconv>
#include <deque>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "evring/clock.hpp"
#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "query/query_segment.hpp"

using nlohmann::json;

namespace evring {

struct SubscriptionSet::State {
  explicit State(query_shm::QuerySlot claimed) : slot(std::move(claimed)) {}
  query_shm::QuerySlot slot;
  std::uint64_t first_serial = 0;  // query i's watch request is first_serial + i
  std::vector<std::uint64_t> last_seq;
  std::deque<Line> pending;  // read while the watches were being sent
};

struct Subscription::State {
  explicit State(SubscriptionSet subscribed) : set(std::move(subscribed)) {}
  SubscriptionSet set;
};

namespace {

constexpr int kClaimAttempts = 3;
constexpr auto kClaimRetry = std::chrono::milliseconds(2);

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

// The number after `"key":` in `text`, or nullopt.
std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
  const std::size_t at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = text.data() + at + key.size();
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc()) return std::nullopt;
  return value;
}

// {"as_of_seq":S,"result":R} | {"seq":S,"prev_seq":P,"result":R} |
// {"progress_seq":S,"prev_seq":P} | {"reset":"why","prev_seq":P}
bool parse_line(WatchLine& line) {
  const std::string_view text = line.raw;
  constexpr std::string_view kResult = R"("result":)";
  if (const std::size_t at = text.find(kResult);
      at != std::string_view::npos && text.ends_with('}')) {
    const std::size_t from = at + kResult.size();
    line.result = std::string(text.substr(from, text.size() - 1 - from));
  }
  const std::optional<std::uint64_t> prev = number_after(text, R"("prev_seq":)");
  line.prev_seq = prev.value_or(0);
  std::optional<std::uint64_t> seq;
  if (text.starts_with(R"({"reset":)")) {
    line.kind = WatchLine::Kind::reset;
    const json reason = json::parse(text, nullptr, false);
    if (reason.is_object() && reason["reset"].is_string()) line.reason = reason["reset"];
    seq = prev;
  } else if (text.starts_with(R"({"progress_seq":)")) {
    line.kind = WatchLine::Kind::progress;
    seq = number_after(text, R"({"progress_seq":)");
  } else if (text.starts_with(R"({"as_of_seq":)")) {
    line.kind = WatchLine::Kind::snapshot;
    seq = number_after(text, R"({"as_of_seq":)");
  } else if (text.starts_with(R"({"seq":)")) {
    line.kind = WatchLine::Kind::change;
    seq = number_after(text, R"({"seq":)");
  }
  if (!seq) return false;
  line.seq = *seq;
  return line.kind == WatchLine::Kind::snapshot || prev.has_value();
}

// The record's line, parsed; throws when the reader sent one evring cannot read.
SubscriptionSet::Line take_line(query_shm::QuerySlot& slot, const query_shm::RecordHeader& record,
                                std::uint64_t first_serial, std::size_t count) {
  SubscriptionSet::Line line;
  line.line.raw = slot.text(record);
  const std::uint64_t serial = record.serial;
  slot.consume(record);
  // The reader writes these lines itself, keys in a fixed order (readers/subscriptions.hpp):
  // read them as text, not through a JSON parser (half the subscriber's time).
  if (serial < first_serial || serial - first_serial >= count || !parse_line(line.line)) {
    throw Error(ErrorCode::io, "the reader sent a subscription line evring cannot read: " +
                                   line.line.raw.substr(0, 200));
  }
  line.index = static_cast<std::size_t>(serial - first_serial);
  return line;
}

}  // namespace

SubscriptionSet SubscriptionSet::open(const std::string& instance, const std::string& reader_id,
                                      std::span<const Query> queries) {
  if (queries.empty()) throw Error(ErrorCode::invalid_argument, "no query to watch");
  std::vector<std::vector<std::string_view>> words;
  words.reserve(queries.size());
  for (const Query& query : queries) {
    words.emplace_back(query.words.begin(), query.words.end());
    try {
      check_utf8_words(words.back());
    } catch (const MalformedInput& refused) {
      throw Error(ErrorCode::invalid_argument, std::string("watch refused: ") + refused.what());
    }
  }
  std::optional<query_shm::QuerySlot> slot = query_shm::QuerySlot::claim(instance, reader_id);
  // A reader that just restarted replaces its segment under the same name: a look at the
  // dead one's in between finds no slot; the next finds the new one.
  for (int again = 0; !slot && again < kClaimAttempts; ++again) {
    std::this_thread::sleep_for(kClaimRetry);
    slot = query_shm::QuerySlot::claim(instance, reader_id);
  }
  if (!slot) throw_no_slot(instance, reader_id);
  auto state = std::make_unique<State>(std::move(*slot));
  State& s = *state;
  s.first_serial = s.slot.sent_serial() + 1;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    if (!s.slot.send(query_shm::RequestKind::watch, words[i], queries[i].from_seq, 0)) {
      throw Error(ErrorCode::invalid_argument, "the query to watch is over the " +
                                                   std::to_string(query_shm::kRequestBytes) +
                                                   " bytes a subscription request may hold");
    }
    s.last_seq.push_back(queries[i].from_seq);
    // The snapshots come while the next watches go: read them, so that they do not fill
    // the slot's buffer (a deadline passed: no wait).
    while (const query_shm::RecordHeader* record = s.slot.wait_record(0)) {
      s.pending.push_back(take_line(s.slot, *record, s.first_serial, i + 1));
    }
  }
  return SubscriptionSet(std::move(state));
}

SubscriptionSet::SubscriptionSet(std::unique_ptr<State> state) : state_(std::move(state)) {}
SubscriptionSet::SubscriptionSet(SubscriptionSet&&) noexcept = default;
SubscriptionSet& SubscriptionSet::operator=(SubscriptionSet&&) noexcept = default;
SubscriptionSet::~SubscriptionSet() = default;  // the slot closes with it

std::size_t SubscriptionSet::size() const noexcept {
  return state_->last_seq.size();
}

std::uint64_t SubscriptionSet::last_seq(std::size_t index) const {
  return state_->last_seq.at(index);
}

std::optional<SubscriptionSet::Line> SubscriptionSet::next(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::optional<Line> line;
  if (!s.pending.empty()) {
    line = std::move(s.pending.front());
    s.pending.pop_front();
  } else {
    const query_shm::RecordHeader* record =
        s.slot.wait_record(monotonic_ns() + std::chrono::nanoseconds(timeout).count());
    if (record == nullptr) return std::nullopt;
    line = take_line(s.slot, *record, s.first_serial, s.last_seq.size());
  }
  if (line->line.kind != WatchLine::Kind::reset) s.last_seq[line->index] = line->line.seq;
  return line;
}

Subscription Subscription::open(const std::string& instance, const std::string& reader_id,
                                std::span<const std::string_view> words, std::uint64_t from_seq) {
  const SubscriptionSet::Query query{std::vector<std::string>(words.begin(), words.end()),
                                     from_seq};
  return Subscription(
      std::make_unique<State>(SubscriptionSet::open(instance, reader_id, {&query, 1})));
}

Subscription::Subscription(std::unique_ptr<State> state) : state_(std::move(state)) {}
Subscription::Subscription(Subscription&&) noexcept = default;
Subscription& Subscription::operator=(Subscription&&) noexcept = default;
Subscription::~Subscription() = default;  // the slot closes with it

std::uint64_t Subscription::last_seq() const noexcept {
  return state_->set.last_seq(0);
}

std::optional<WatchLine> Subscription::next(std::chrono::milliseconds timeout) {
  std::optional<SubscriptionSet::Line> line = state_->set.next(timeout);
  if (!line) return std::nullopt;
  return std::move(line->line);
}

}  // namespace evring
