// The built-in kv domain: keys with values and versions; put, del and compare-and-set.
// Its byte layouts are in the public runtime/include/evring/builtin/kv_events.hpp; its
// state and that state's snapshot codec, shared with the kv view, in kv_state.hpp.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "evring/builtin/kv_events.hpp"
#include "evring/domain.hpp"
#include "kv_state.hpp"
#include "kv_tables.hpp"
#include "state_snapshot.hpp"

namespace evring {
namespace {

// "kvS1": a snapshot of another layout is refused, not misread.
constexpr std::uint32_t kSnapshotMagic = 0x3153766b;

class KvModel {
 public:
  static constexpr const char* name = "kv";

  explicit KvModel(std::string_view config) {
    if (!config.empty()) {
      throw MalformedInput("the kv domain takes no configuration, got " + json_string(config));
    }
  }

  void handle(std::span<const std::byte> bytes, DomainEvents& events) const {
    const kv::Command command = kv::decode_command(bytes);
    if (const auto* put = std::get_if<kv::PutCommand>(&command)) {
      emit(events, kv::PutEvent{put->key, put->value, next_version(put->key)});
    } else if (const auto* del = std::get_if<kv::DelCommand>(&command)) {
      const Node* entry = entries_.find(del->key);
      if (entry == nullptr) throw CommandRejected("no such key " + json_string(del->key));
      emit(events, kv::DeletedEvent{del->key, entry->value.version});
    } else {
      const auto& cas = std::get<kv::CasCommand>(command);
      const std::uint64_t current = version_of(cas.key);
      if (cas.expected_version != current) {
        throw CommandRejected("version mismatch: key " + json_string(cas.key) + " is at version " +
                              std::to_string(current) + ", not " +
                              std::to_string(cas.expected_version));
      }
      emit(events, kv::PutEvent{cas.key, cas.value, next_version(cas.key)});
    }
  }

  // Checks each event against the state it lands on: an event out of step with the model
  // means the history (or the snapshot it was replayed onto) is not this model's, and the
  // host must stop rather than carry on with a state nobody decided.
  void apply(std::uint32_t type, std::span<const std::byte> payload,
             const look_ahead::Looked& looked = {}) {
    switch (static_cast<kv::EventType>(type)) {
      case kv::EventType::put: {
        const kv::PutEvent event = kv::decode_put_event(payload);
        Node* entry = look_ahead::find(entries_, event.key, looked);
        const std::uint64_t expected = entry == nullptr ? 1 : entry->value.version + 1;
        if (event.version != expected) out_of_step("put", event.key, event.version, expected);
        if (entry == nullptr) {
          entries_.try_emplace(event.key, Entry{std::string(event.value), event.version});
        } else {
          // assign() reuses the old value's buffer: no allocation unless the value grows.
          entry->value.value.assign(event.value);
          entry->value.version = event.version;
        }
        return;
      }
      case kv::EventType::deleted: {
        const kv::DeletedEvent event = kv::decode_deleted_event(payload);
        const Node* entry = look_ahead::find(entries_, event.key, looked);
        const std::uint64_t current = entry == nullptr ? 0 : entry->value.version;
        if (entry == nullptr || event.version != current) {
          out_of_step("deleted", event.key, event.version, current);
        }
        entries_.erase(entry);
        return;
      }
    }
    throw std::runtime_error("kv event type " + std::to_string(type) +
                             " is unknown (known: 1 put, 2 deleted)");
  }

  // The writer's replay: as apply for each, looking ahead at the keys of the events to
  // come (look_ahead.hpp), their slots, nodes and value bytes.
  void apply_events(std::span<const Event> events, std::size_t& applied) {
    look_ahead::apply_run(
        entries_, events, applied, kv::peek_key,
        [this](const Event& event, const look_ahead::Looked& looked) {
          apply(event.type, event.payload, looked);
        },
        [](const Node& node) noexcept { __builtin_prefetch(node.value.value.data(), 1); });
  }

  static std::vector<std::byte> parse(std::span<const std::string_view> words) {
    return kv::encode(kv::parse_command(words));
  }

  static std::string describe(std::uint32_t type, std::span<const std::byte> payload) {
    return kv::describe_event(type, payload);
  }

  static const char* type_name(std::uint32_t type) noexcept {
    switch (static_cast<kv::EventType>(type)) {
      case kv::EventType::put:
        return "put";
      case kv::EventType::deleted:
        return "deleted";
    }
    return nullptr;
  }

  // Sorted by key so that equal states give equal bytes.
  std::vector<std::byte> snapshot() const {
    ByteWriter out;
    out.put(kSnapshotMagic);
    kv::put_entries(out, state_snapshot::sorted_nodes(entries_));
    return out.take();
  }

  // Builds the new state aside, so bytes that turn out malformed leave the model as it was.
  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "kv snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "kv snapshot");
    kv::Entries restored = kv::get_entries(in, bytes.size(), "kv snapshot");
    in.expect_end();
    entries_ = std::move(restored);
  }

 private:
  using Entry = kv::Entry;
  using Node = kv::EntryNode;

  std::uint64_t version_of(std::string_view key) const {
    const Node* entry = entries_.find(key);
    return entry == nullptr ? 0 : entry->value.version;
  }

  std::uint64_t next_version(std::string_view key) const {
    const std::uint64_t current = version_of(key);
    if (current == std::numeric_limits<std::uint64_t>::max()) {
      throw CommandRejected("key " + json_string(key) + " is at the largest version there is");
    }
    return current + 1;
  }

  // One buffer for every event: no allocation per command once it has grown. (The host
  // calls handle() from one thread: the writer's apply loop.)
  template <class Event>
  void emit(DomainEvents& events, const Event& event) const {
    scratch_ = kv::encode(event, std::move(scratch_));
    events.emit(static_cast<std::uint32_t>(Event::type), scratch_);
  }

  [[noreturn]] static void out_of_step(std::string_view event, std::string_view key,
                                       std::uint64_t version, std::uint64_t expected) {
    throw std::runtime_error("kv " + std::string(event) + " event for key " + json_string(key) +
                             " carries version " + std::to_string(version) +
                             " where the model expects " + std::to_string(expected) +
                             ": the history does not belong to this state");
  }

  kv::Entries entries_;
  mutable std::vector<std::byte> scratch_;  // emit()'s
};

}  // namespace

const evring_domain_v1* kv_domain() noexcept {
  return domain_table<KvModel>();
}

}  // namespace evring
