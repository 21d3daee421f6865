// The host side of the domain ABI (domain_abi.h): loads a domain, checks its version and
// drives one model through it. Used by evring-writer (and by tools that decode events).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/domain_abi.h"
#include "plugin/plugin_state.hpp"

namespace evring {

// The events of one accepted command, in one arena: no allocation per command once warm.
class EventBatch {
 public:
  struct Event {
    std::uint32_t type;
    std::span<const std::byte> payload;
  };
  void clear() noexcept {
    bytes_.clear();
    events_.clear();
  }
  // False (and nothing added) when the payload is over max_payload.
  bool add(std::uint32_t type, const void* payload, std::size_t size);
  std::size_t size() const noexcept { return events_.size(); }
  bool empty() const noexcept { return events_.empty(); }
  Event operator[](std::size_t index) const noexcept {
    const Entry& entry = events_[index];
    return Event{entry.type, std::span(bytes_.data() + entry.offset, entry.size)};
  }
  void set_max_payload(std::size_t bytes) noexcept { max_payload_ = bytes; }

 private:
  struct Entry {
    std::uint32_t type;
    std::size_t offset;
    std::size_t size;
  };
  std::vector<std::byte> bytes_;
  std::vector<Entry> events_;
  std::size_t max_payload_ = 64u << 10;
};

// What a domain says of its events without a model (describe, type names): for the tools
// and views that show a stream. Copies share the library, kept loaded while one lives.
class DomainDescriber {
 public:
  // Loads and checks a domain library, with DomainPlugin::load_library's errors.
  static DomainDescriber load_library(const std::filesystem::path& path);
  // A table linked into this program (the built-in domains); checked like a library's.
  static DomainDescriber from_table(const evring_domain_v1* table, const std::string& origin);

  std::string_view name() const noexcept { return table_->name; }
  // The domain's table at this evring's full size: an entry the plugin's (older, shorter)
  // table lacks is NULL here, so a caller may read every field. Valid while this lives.
  const evring_domain_v1* table() const noexcept { return table_.get(); }
  // Any thread. One event as the domain's JSON object; std::nullopt when it cannot.
  std::optional<std::string> describe(std::uint32_t type, std::span<const std::byte> payload) const;
  // Any thread. The type's name, or nullptr when the domain gives none.
  const char* type_name(std::uint32_t type) const noexcept;

 private:
  DomainDescriber(std::shared_ptr<void> library, const evring_domain_v1* table,
                  const std::string& origin);
  friend class DomainPlugin;

  std::shared_ptr<void> library_;  // the table's functions and strings live in it
  std::shared_ptr<const evring_domain_v1> table_;
};

// What handle() decided.
enum class Verdict { accepted, rejected, malformed, failed };

class DomainPlugin {
 public:
  // A shared library exporting EVRING_DOMAIN_ENTRY_SYMBOL. Throws Error(invalid_argument)
  // when it cannot be loaded or has no entry point, Error(incompatible) for another ABI
  // version (naming both); each message says what to do.
  static DomainPlugin load_library(const std::filesystem::path& path, const std::string& config);
  // A table linked into this program (the built-in domains); checked like a library's.
  static DomainPlugin from_table(const evring_domain_v1* table, const std::string& origin,
                                 const std::string& config);

  DomainPlugin(DomainPlugin&&) noexcept;
  DomainPlugin& operator=(DomainPlugin&&) noexcept;
  ~DomainPlugin();

  std::string_view name() const noexcept { return table_->name; }
  const DomainDescriber& describer() const noexcept { return describer_; }
  // Where it came from: "built-in kv" or the library's path.
  const std::string& origin() const noexcept { return origin_; }

  // Decides one command; events go to `events` (cleared first), the reason to `reason`.
  Verdict handle(std::span<const std::byte> command, EventBatch& events, std::string& reason) const;
  // Applies one event; throws Error(corrupt) naming seq and the domain's message.
  void apply(std::uint64_t seq, std::uint32_t type, std::span<const std::byte> payload);
  // Applies a run of events, in one call where the domain takes runs (apply_events);
  // throws like apply() naming the event that failed, those before it applied.
  void apply_events(std::span<const evring_event> events);
  // Words to command bytes; false with the reason in `error` when they do not parse.
  bool parse(std::span<const std::string_view> words, std::vector<std::byte>& command,
             std::string& error) const;
  // One event as a JSON object; on failure an object that says so.
  std::string describe(std::uint32_t type, std::span<const std::byte> payload) const;
  std::vector<std::byte> snapshot() const;
  // Into a fresh model: replaces the current one. Throws Error(corrupt) on failure.
  void restore(std::span<const std::byte> bytes);
  // Replaces the model with a fresh, empty one.
  void reset();

 private:
  [[noreturn]] void throw_cannot_apply(std::uint64_t seq, std::uint32_t type,
                                       const std::string& error) const;
  DomainPlugin(DomainDescriber describer, std::string origin, std::string config);

  DomainDescriber describer_;
  const evring_domain_v1* table_ = nullptr;  // describer_'s
  std::string origin_;
  PluginState model_;
};

}  // namespace evring
