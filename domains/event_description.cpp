#include "event_description.hpp"

#include <algorithm>

#include "builtin_domains.hpp"
#include "evring/error.hpp"

namespace evring::domains {
namespace {

constexpr std::size_t kHexBytes = 64;

}  // namespace

std::optional<DomainDescriber> builtin_describer(std::string_view name) {
  const evring_domain_v1* table = find_builtin_domain(name);
  if (table == nullptr) return std::nullopt;
  return DomainDescriber::from_table(table, "built-in domain " + std::string(name));
}

std::optional<DomainDescriber> load_describer(const DomainRecord& domain, std::string& why_not) {
  if (std::optional<DomainDescriber> builtin = builtin_describer(domain.name)) return builtin;
  if (domain.library.empty()) {
    why_not = "its writer recorded no library for domain \"" + domain.name +
              "\" (a writer older than this evring): restart the writer with this evring";
    return std::nullopt;
  }
  try {
    return DomainDescriber::load_library(domain.library);
  } catch (const Error& e) {
    why_not = e.what();
    return std::nullopt;
  }
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

std::string describe_event(const DomainDescriber* domain, std::uint32_t type,
                           std::span<const std::byte> payload) {
  if (domain != nullptr) {
    // Shown raw otherwise: the line says what arrived even when the domain cannot read it.
    if (std::optional<std::string> json = domain->describe(type, payload)) return *std::move(json);
  }
  return raw_event_description(type, payload);
}

void append_event_line(std::string& out, const DomainDescriber* domain, std::uint64_t seq,
                       std::uint32_t type, std::int64_t publish_ns,
                       std::span<const std::byte> payload) {
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

}  // namespace evring::domains
