// A minimal domain plugin written with evring/domain.hpp, loaded by path in the tests:
// `add N` adds N to a counter (rejected when N is not positive); each event carries the
// new total.
#include <cstdint>
#include <string>

#include "evring/domain.hpp"

namespace {

struct Counter {
  static constexpr const char* name = "counter";
  std::int64_t total = 0;

  explicit Counter(std::string_view) {}
  void handle(std::span<const std::byte> command, evring::DomainEvents& events) const {
    evring::ByteReader in(command, "counter command");
    const auto amount = in.get<std::int64_t>();
    in.expect_end();
    if (amount <= 0) throw evring::CommandRejected("amount must be positive");
    evring::ByteWriter event;
    event.put(total + amount);
    events.emit(1, event);
  }
  void apply(std::uint32_t, std::span<const std::byte> payload) {
    evring::ByteReader in(payload, "counter event");
    total = in.get<std::int64_t>();
  }
  static std::vector<std::byte> parse(std::span<const std::string_view> words) {
    evring::expect_words(words, 2, "add N");
    if (words[0] != "add") throw evring::MalformedInput("the only verb is add");
    evring::ByteWriter out;
    out.put(evring::parse_integer<std::int64_t>(words[1], "N"));
    return out.take();
  }
  static std::string describe(std::uint32_t, std::span<const std::byte> payload) {
    evring::ByteReader in(payload, "counter event");
    return "{\"total\":" + std::to_string(in.get<std::int64_t>()) + "}";
  }
  std::vector<std::byte> snapshot() const {
    evring::ByteWriter out;
    out.put(total);
    return out.take();
  }
  void restore(std::span<const std::byte> bytes) {
    evring::ByteReader in(bytes, "counter snapshot");
    total = in.get<std::int64_t>();
    in.expect_end();
  }
};

}  // namespace

EVRING_EXPORT_DOMAIN(Counter)
