// The built-in views (domains/kv, domains/bank, readers/views) over queries and events
// they did not make.
//
// Input: a first line "VIEW [DOMAIN]" (view kv, bank, stats or tail; the domain whose
// commands make its events, by default the view's own, else kv), then one line each:
//   "!WORDS"       a command to the domain; its accepted events go to the view
//   "~TYPE BYTES"  an event of that type whose payload is the rest of the line
//   anything else  a query, as words separated by spaces
// The promises: nothing crashes; an answer is one JSON value and a refusal has a reason;
// a view takes every event its own domain makes; its snapshot restores.
#include <charconv>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builtin_domains.hpp"
#include "builtin_views.hpp"
#include "evring/error.hpp"
#include "fuzz_support.hpp"
#include "plugin/domain_plugin.hpp"
#include "plugin/view_plugin.hpp"

namespace {

constexpr std::size_t kMaxLines = 64;

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::string config_for(std::string_view view, std::string_view domain) {
  // The tail view prints each event: to nowhere here.
  if (view == "tail") return "out=/dev/null,domain=" + std::string(domain);
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = evring::fuzz::as_text(data, size);
  const std::vector<std::string_view> header = evring::fuzz::take_header_words(input);
  if (header.empty()) return 0;
  const std::string view_name(header[0]);
  const evring_view_v1* view_table = evring::find_builtin_view(view_name);
  if (view_table == nullptr) return 0;
  std::string domain_name = header.size() > 1 ? std::string(header[1]) : view_name;
  if (evring::find_builtin_domain(domain_name) == nullptr) domain_name = "kv";
  // The kv and bank views take only their own domain's events.
  const bool own_events = view_name == domain_name || view_name == "stats" || view_name == "tail";

  evring::ViewPlugin view = evring::ViewPlugin::from_table(view_table, "built-in " + view_name,
                                                           config_for(view_name, domain_name));
  evring::DomainPlugin domain = evring::DomainPlugin::from_table(
      evring::find_builtin_domain(domain_name), "built-in " + domain_name, "");
  evring::EventBatch events;
  std::vector<std::byte> command;
  std::string text;
  std::uint64_t seq = 0;
  const auto deliver = [&](std::uint32_t type, std::span<const std::byte> payload) {
    const evring_event event{++seq, type, 0, 1'000'000, payload.data(), payload.size()};
    const bool taken = view.on_event(event, text);
    EVRING_FUZZ_REQUIRE(taken || !text.empty(), "a view that refuses an event says why");
    return taken;
  };

  for (const std::string_view line : evring::fuzz::split(input, "\n", kMaxLines)) {
    if (line.starts_with('!')) {
      const std::vector<std::string_view> words = evring::fuzz::words_of(line.substr(1));
      if (!domain.parse(words, command, text)) continue;
      if (domain.handle(command, events, text) != evring::Verdict::accepted) continue;
      for (std::size_t i = 0; i < events.size(); ++i) {
        domain.apply(seq + 1, events[i].type, events[i].payload);
        const bool taken = deliver(events[i].type, events[i].payload);
        EVRING_FUZZ_REQUIRE(taken || !own_events, "a view takes every event of its own domain");
      }
    } else if (line.starts_with('~')) {
      const std::string_view rest = line.substr(1);
      const std::size_t space = std::min(rest.find(' '), rest.size());
      std::uint32_t type = 0;
      std::from_chars(rest.data(), rest.data() + space, type);
      deliver(type, as_bytes(rest.substr(std::min(space + 1, rest.size()))));
    } else {
      const std::vector<std::string_view> words = evring::fuzz::words_of(line);
      const evring::QueryOutcome outcome = view.query(words, text);
      if (outcome == evring::QueryOutcome::answered) {
        EVRING_FUZZ_REQUIRE(nlohmann::json::accept(text), "a view's answer is one JSON value");
      } else {
        EVRING_FUZZ_REQUIRE(!text.empty(), "a refused query says why");
      }
    }
  }

  const std::vector<std::byte> snapshot = view.snapshot();
  evring::ViewPlugin copy = evring::ViewPlugin::from_table(view_table, "built-in " + view_name,
                                                           config_for(view_name, domain_name));
  copy.restore(snapshot);
  EVRING_FUZZ_REQUIRE(copy.snapshot().size() == snapshot.size(),
                      "a view's snapshot restores whole");
  return 0;
}
