// Events described as JSON, the way the tail view writes them and `evring tail` prints
// them: one definition, so the two never disagree on what a line looks like. It sits with
// the built-in domains, whose tables describe their events, so that the tools describe
// events without linking a view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "journal/journal.hpp"
#include "plugin/domain_plugin.hpp"

namespace evring::domains {

// The built-in domain called `name` (kv, bank), for its describe() and type names;
// std::nullopt for any other name.
std::optional<DomainDescriber> builtin_describer(std::string_view name);

// The domain an instance runs, ready to describe its events: a built-in's, or its plugin
// library loaded from where the writer recorded it. std::nullopt, with the reason in
// `why_not`, when the library cannot be loaded (it moved, or speaks another ABI).
std::optional<DomainDescriber> load_describer(const DomainRecord& domain, std::string& why_not);

// {"type":T,"bytes":N,"hex":"<the first 64 bytes>"}
std::string raw_event_description(std::uint32_t type, std::span<const std::byte> payload);

// The domain's description of the event (its describe(): for the built-ins,
// evring/builtin/kv_events.hpp, bank_events.hpp), e.g.
// {"type":"put","key":"a","value":"x","version":3}; with no domain (nullptr), or for a
// payload the domain cannot decode, the raw description. Never refuses an event: a stream
// is shown as it is, bad events included. Any thread.
std::string describe_event(const DomainDescriber* domain, std::uint32_t type,
                           std::span<const std::byte> payload);

// One event as one JSON line (with its '\n') appended to `out`:
//   {"seq":S,"type":T,"publish_ns":P,"event":<describe_event>}
void append_event_line(std::string& out, const DomainDescriber* domain, std::uint64_t seq,
                       std::uint32_t type, std::int64_t publish_ns,
                       std::span<const std::byte> payload);

}  // namespace evring::domains
