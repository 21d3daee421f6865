#include "event_description.hpp"

#include <algorithm>

#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/codec.hpp"

namespace evring::views {
namespace {

constexpr std::size_t kHexBytes = 64;

}  // namespace

std::optional<EventDomain> parse_event_domain(std::string_view name) noexcept {
  if (name == "raw") return EventDomain::raw;
  if (name == "kv") return EventDomain::kv;
  if (name == "bank") return EventDomain::bank;
  return std::nullopt;
}

std::string raw_event_description(std::uint32_t type, std::span<const std::byte> payload) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = R"({"type":)" + std::to_string(type) + R"(,"bytes":)" +
                    std::to_string(payload.size()) + R"(,"hex":")";
  for (const std::byte byte : payload.first(std::min(payload.size(), kHexBytes))) {
    out.push_back(kHex[std::to_integer<unsigned>(byte) >> 4]);
    out.push_back(kHex[std::to_integer<unsigned>(byte) & 0xf]);
  }
  out += "\"}";
  return out;
}

std::string describe_event(EventDomain domain, std::uint32_t type,
                           std::span<const std::byte> payload) {
  try {
    switch (domain) {
      case EventDomain::kv:
        return kv::describe_event(type, payload);
      case EventDomain::bank:
        return bank::describe_event(type, payload);
      case EventDomain::raw:
        break;
    }
  } catch (const MalformedInput&) {
    // Shown raw below: the line says what arrived even when the domain cannot read it.
  }
  return raw_event_description(type, payload);
}

void append_event_line(std::string& out, EventDomain domain, std::uint64_t seq, std::uint32_t type,
                       std::int64_t publish_ns, std::span<const std::byte> payload) {
  out += R"({"seq":)";
  out += std::to_string(seq);
  out += R"(,"type":)";
  out += std::to_string(type);
  out += R"(,"publish_ns":)";
  out += std::to_string(publish_ns);
  out += R"(,"event":)";
  out += describe_event(domain, type, payload);
  out += "}\n";
}

}  // namespace evring::views
