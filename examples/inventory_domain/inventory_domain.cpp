// An example domain built outside the evring tree: a shop's stock, where nothing is taken
// that is not there.
//
//   evring-writer --name shop --domain ./build/libinventory_domain.so
//   evring cmd --name shop stock apples 5   -> seq=1
//   evring cmd --name shop take apples 7    -> rejected: only 5 apples in stock, 7 asked for
//   evring tail --name shop --from 1        -> seq=1 stocked item=apples count=5 level=5
//
// Event-sourced: handle() decides against the levels and emits an event carrying the new
// level; apply() is the only place the levels change, live and when the writer replays its
// journal. The writer calls it from one thread, so the model needs no locks.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evring/domain.hpp"

namespace {

enum class Verb : std::uint8_t { stock = 1, take = 2 };
enum class EventType : std::uint32_t { stocked = 1, taken = 2 };

// The payload of both events: the item, how many came or went, and the level after.
struct Movement {
  std::string_view item;
  std::uint64_t count = 0;
  std::uint64_t level = 0;
};

Movement decode_movement(std::span<const std::byte> payload) {
  evring::ByteReader in(payload, "inventory event");
  Movement movement;
  movement.item = in.get_text();
  movement.count = in.get<std::uint64_t>();
  movement.level = in.get<std::uint64_t>();
  in.expect_end();
  return movement;
}

class Inventory {
 public:
  static constexpr const char* name = "inventory";

  explicit Inventory(std::string_view config) {
    if (!config.empty()) throw evring::MalformedInput("the inventory domain takes no config");
  }

  void handle(std::span<const std::byte> command, evring::DomainEvents& events) const {
    evring::ByteReader in(command, "inventory command");
    const auto verb = static_cast<Verb>(in.get<std::uint8_t>());
    const std::string_view item = in.get_text();
    const auto count = in.get<std::uint64_t>();
    in.expect_end();
    const std::uint64_t level = level_of(item);
    evring::ByteWriter event;
    switch (verb) {
      case Verb::stock:
        event.put_text(item).put(count).put(level + count);
        events.emit(static_cast<std::uint32_t>(EventType::stocked), event);
        return;
      case Verb::take:
        if (count > level) {
          throw evring::CommandRejected("only " + std::to_string(level) + " " + std::string(item) +
                                        " in stock, " + std::to_string(count) + " asked for");
        }
        event.put_text(item).put(count).put(level - count);
        events.emit(static_cast<std::uint32_t>(EventType::taken), event);
        return;
    }
    throw evring::MalformedInput("unknown inventory verb " +
                                 std::to_string(static_cast<unsigned>(verb)));
  }

  void apply(std::uint32_t, std::span<const std::byte> payload) {
    const Movement movement = decode_movement(payload);
    levels_[std::string(movement.item)] = movement.level;
  }

  // stock ITEM N | take ITEM N
  static std::vector<std::byte> parse(std::span<const std::string_view> words) {
    evring::expect_words(words, 3, "stock ITEM N or take ITEM N");
    evring::ByteWriter out;
    if (words[0] == "stock") {
      out.put(static_cast<std::uint8_t>(Verb::stock));
    } else if (words[0] == "take") {
      out.put(static_cast<std::uint8_t>(Verb::take));
    } else {
      throw evring::MalformedInput("unknown verb \"" + std::string(words[0]) +
                                   "\": expected stock ITEM N or take ITEM N");
    }
    const auto count = evring::parse_integer<std::uint64_t>(words[2], "N");
    if (count == 0) throw evring::MalformedInput("N must be at least 1");
    out.put_text(words[1]).put(count);
    return out.take();
  }

  // {"type":"stocked","item":"apples","count":5,"level":5}, for evring tail.
  static std::string describe(std::uint32_t type, std::span<const std::byte> payload) {
    const char* type_text = type_name(type);
    if (type_text == nullptr) throw evring::MalformedInput("unknown inventory event type");
    const Movement movement = decode_movement(payload);
    return std::string(R"({"type":")") + type_text + R"(","item":)" +
           evring::json_string(movement.item) + R"(,"count":)" + std::to_string(movement.count) +
           R"(,"level":)" + std::to_string(movement.level) + "}";
  }

  // The stats view counts events under these names.
  static const char* type_name(std::uint32_t type) noexcept {
    switch (static_cast<EventType>(type)) {
      case EventType::stocked:
        return "stocked";
      case EventType::taken:
        return "taken";
    }
    return nullptr;
  }

  std::vector<std::byte> snapshot() const {
    evring::ByteWriter out;
    out.put(static_cast<std::uint64_t>(levels_.size()));
    for (const auto& [item, level] : levels_) out.put_text(item).put(level);
    return out.take();
  }

  void restore(std::span<const std::byte> bytes) {
    evring::ByteReader in(bytes, "inventory snapshot");
    std::map<std::string, std::uint64_t, std::less<>> levels;
    for (auto items = in.get<std::uint64_t>(); items > 0; --items) {
      const std::string item(in.get_text());
      levels[item] = in.get<std::uint64_t>();
    }
    in.expect_end();
    levels_ = std::move(levels);
  }

 private:
  std::uint64_t level_of(std::string_view item) const {
    const auto found = levels_.find(item);
    return found == levels_.end() ? 0 : found->second;
  }

  std::map<std::string, std::uint64_t, std::less<>> levels_;
};

}  // namespace

EVRING_EXPORT_DOMAIN(Inventory)
