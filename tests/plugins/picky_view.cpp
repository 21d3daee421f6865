// A view plugin for the tests: counts kv puts, and fails on a put whose value is "poison"
// (a poison event), or on the query "explode" (a view that throws).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "evring/builtin/kv_events.hpp"
#include "evring/view.hpp"

namespace {

struct Picky {
  static constexpr const char* name = "picky";
  std::uint64_t puts = 0;

  explicit Picky(std::string_view) {}
  void on_event(const evring::Event& event) {
    if (event.type != static_cast<std::uint32_t>(evring::kv::EventType::put)) return;
    const auto put = evring::kv::decode_put_event(event.payload);
    if (put.value == "poison") throw std::runtime_error("refusing the value \"poison\"");
    ++puts;
  }
  std::string query(std::span<const std::string_view> words) const {
    if (words.size() == 1 && words[0] == "puts") return std::to_string(puts);
    if (words.size() == 1 && words[0] == "explode") throw std::logic_error("the view exploded");
    throw evring::MalformedInput("queries: puts, explode");
  }
  std::vector<std::byte> snapshot() const {
    evring::ByteWriter out;
    out.put(puts);
    return out.take();
  }
  void restore(std::span<const std::byte> bytes) {
    evring::ByteReader in(bytes, "picky snapshot");
    puts = in.get<std::uint64_t>();
    in.expect_end();
  }
};

}  // namespace

EVRING_EXPORT_VIEW(Picky)
