// Events described as JSON, the way the tail view writes them and `evring tail` prints
// them: one definition, so the two never disagree on what a line looks like.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace evring::views {

// How payloads are decoded: with a built-in domain's event formats, or shown as bytes.
enum class EventDomain { raw, kv, bank };

// "kv", "bank" or "raw"; std::nullopt for any other name (a plugin's domain).
std::optional<EventDomain> parse_event_domain(std::string_view name) noexcept;

// {"type":T,"bytes":N,"hex":"<the first 64 bytes>"}
std::string raw_event_description(std::uint32_t type, std::span<const std::byte> payload);

// The domain's description of the event (evring/builtin/kv_events.hpp, bank_events.hpp),
// e.g. {"type":"put","key":"a","value":"x","version":3}; for the raw domain, or a payload
// the domain cannot decode, the raw description. Never refuses an event: a stream is
// shown as it is, bad events included. Any thread.
std::string describe_event(EventDomain domain, std::uint32_t type,
                           std::span<const std::byte> payload);

// One event as one JSON line (with its '\n') appended to `out`:
//   {"seq":S,"type":T,"publish_ns":P,"event":<describe_event>}
void append_event_line(std::string& out, EventDomain domain, std::uint64_t seq, std::uint32_t type,
                       std::int64_t publish_ns, std::span<const std::byte> payload);

}  // namespace evring::views
