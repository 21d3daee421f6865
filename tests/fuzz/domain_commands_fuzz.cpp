// The built-in domains (domains/kv, domains/bank) over commands and events they did not make.
//
// Input: a first line naming the domain and the form, then the rest.
//   "kv" or "bank": each further line is one text command, as words separated by spaces;
//     it goes through the client's wire encoding and back (decode_text_command), the
//     domain's parser, then handle; accepted events are applied, as the writer does.
//   "kv bytes" or "bank bytes": the rest, cut at "\n--\n", are raw byte strings, each
//     tried as a wire text command, as a binary command, and as an event of every type.
// The promises: nothing crashes; a refusal has a reason; handle never changes the model;
// a refused event leaves the model as it was; the domain's own events always apply; the
// model's snapshot restores, and each event describes itself as JSON.
#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builtin_domains.hpp"
#include "evring/client.hpp"
#include "evring/domain.hpp"
#include "evring/error.hpp"
#include "fuzz_support.hpp"
#include "plugin/domain_plugin.hpp"

namespace {

constexpr std::size_t kMaxCommands = 64;
constexpr std::uint32_t kEventTypesTried = 4;  // the built-ins use types 1 to 3

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

class Model {
 public:
  explicit Model(std::string_view domain)
      : plugin_(evring::DomainPlugin::from_table(evring::find_builtin_domain(domain),
                                                 "built-in " + std::string(domain), "")) {}

  // The writer's path for one command's bytes: handle, then apply what it emitted.
  void decide(std::span<const std::byte> command) {
    const std::vector<std::byte> before = plugin_.snapshot();
    const evring::Verdict verdict = plugin_.handle(command, events_, reason_);
    EVRING_FUZZ_REQUIRE(plugin_.snapshot() == before, "handle never changes the model");
    if (verdict != evring::Verdict::accepted) {
      EVRING_FUZZ_REQUIRE(!reason_.empty(), "a refused command has a reason");
      return;
    }
    for (std::size_t i = 0; i < events_.size(); ++i) {
      const evring::EventBatch::Event event = events_[i];
      EVRING_FUZZ_REQUIRE(nlohmann::json::accept(plugin_.describe(event.type, event.payload)),
                          "an event describes itself as JSON");
      try {
        plugin_.apply(++seq_, event.type, event.payload);
      } catch (const evring::Error&) {
        EVRING_FUZZ_REQUIRE(false, "the domain's own events apply");
      }
    }
  }

  // An event from elsewhere (a journal, another build): applied whole or refused whole.
  void apply_foreign(std::uint32_t type, std::span<const std::byte> payload) {
    const std::vector<std::byte> before = plugin_.snapshot();
    EVRING_FUZZ_REQUIRE(nlohmann::json::accept(plugin_.describe(type, payload)),
                        "any event describes itself as JSON, if only as undecodable");
    try {
      plugin_.apply(seq_ + 1, type, payload);
      ++seq_;
    } catch (const evring::Error&) {
      EVRING_FUZZ_REQUIRE(plugin_.snapshot() == before,
                          "a refused event leaves the model as it was");
    }
  }

  void parse_and_decide(std::span<const std::string_view> words) {
    std::vector<std::byte> command;
    std::string error;
    if (!plugin_.parse(words, command, error)) {
      EVRING_FUZZ_REQUIRE(!error.empty(), "a command that does not parse says why");
      return;
    }
    decide(command);
  }

  // A snapshot restores into a fresh model, which snapshots to the same size.
  void check_snapshot(std::string_view domain) const {
    const std::vector<std::byte> bytes = plugin_.snapshot();
    Model copy(domain);
    copy.plugin_.restore(bytes);
    EVRING_FUZZ_REQUIRE(copy.plugin_.snapshot().size() == bytes.size(),
                        "a snapshot restores whole");
  }

  void restore_foreign(std::span<const std::byte> bytes) {
    try {
      plugin_.restore(bytes);
    } catch (const evring::Error&) {
    }
  }

 private:
  evring::DomainPlugin plugin_;
  evring::EventBatch events_;
  std::string reason_;
  std::uint64_t seq_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = evring::fuzz::as_text(data, size);
  const std::vector<std::string_view> header = evring::fuzz::take_header_words(input);
  if (header.empty() || evring::find_builtin_domain(header[0]) == nullptr) return 0;
  const std::string_view domain = header[0];
  Model model(domain);

  if (header.size() > 1 && header[1] == "bytes") {
    for (const std::string_view part : evring::fuzz::split(input, "\n--\n", kMaxCommands)) {
      try {
        const std::vector<std::string_view> words = evring::decode_text_command(as_bytes(part));
        model.parse_and_decide(words);
      } catch (const evring::MalformedInput&) {
      }
      model.decide(as_bytes(part));
      for (std::uint32_t type = 0; type < kEventTypesTried; ++type) {
        model.apply_foreign(type, as_bytes(part));
      }
      Model(domain).restore_foreign(as_bytes(part));
    }
  } else {
    for (const std::string_view line : evring::fuzz::split(input, "\n", kMaxCommands)) {
      const std::vector<std::string_view> words = evring::fuzz::words_of(line);
      // The wire form the writer receives: encoded by the client, decoded by the writer.
      const std::vector<std::byte> wire = evring::encode_text_command(words);
      const bool text = std::all_of(words.begin(), words.end(), [](std::string_view word) {
        return evring::first_invalid_utf8(word) == std::string_view::npos;
      });
      std::vector<std::string_view> decoded;
      try {
        decoded = evring::decode_text_command(wire);
      } catch (const evring::MalformedInput&) {
        // Refused exactly when a word is not UTF-8: such a key could not be queried back.
        EVRING_FUZZ_REQUIRE(!text, "a text command of UTF-8 words is decoded");
        continue;
      }
      EVRING_FUZZ_REQUIRE(text, "a word that is not UTF-8 is refused at decoding");
      EVRING_FUZZ_REQUIRE(decoded == words, "the text command's wire form decodes to its words");
      model.parse_and_decide(decoded);
    }
  }
  model.check_snapshot(domain);
  return 0;
}
