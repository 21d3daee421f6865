#include "plugin/domain_plugin.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "evring/error.hpp"
#include "plugin/plugin_library.hpp"

namespace evring {
namespace {

using detail::ByteSink;
using detail::kPluginMessageLimit;
using detail::TextSink;

constexpr detail::PluginKind kDomainKind{"domain", EVRING_DOMAIN_ENTRY_SYMBOL, "kv, bank",
                                         "EVRING_EXPORT_DOMAIN"};

void check_table(const evring_domain_v1* table, const std::string& origin) {
  if (table == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                origin + ": its " + EVRING_DOMAIN_ENTRY_SYMBOL + "() returned no table");
  }
  detail::check_abi_version(table->abi_version, EVRING_DOMAIN_ABI_VERSION,
                            EVRING_DOMAIN_ABI_VERSION, origin, kDomainKind);
  if (table->table_bytes < EVRING_DOMAIN_V1_REQUIRED_BYTES || table->name == nullptr ||
      table->create == nullptr || table->destroy == nullptr || table->handle == nullptr ||
      table->apply == nullptr || table->parse == nullptr || table->describe == nullptr ||
      table->snapshot == nullptr || table->restore == nullptr) {
    throw Error(ErrorCode::incompatible,
                origin +
                    " has an incomplete domain table (a function or its name is missing): "
                    "build it with evring/domain.hpp's EVRING_EXPORT_DOMAIN");
  }
}

}  // namespace

DomainDescriber DomainDescriber::load_library(const std::filesystem::path& path) {
  detail::PluginEntry loaded = detail::load_plugin_entry(path, kDomainKind);
  const auto* table = reinterpret_cast<evring_domain_entry_fn>(loaded.entry)();
  return DomainDescriber(std::move(loaded.library), table, path.string());
}

DomainDescriber DomainDescriber::from_table(const evring_domain_v1* table,
                                            const std::string& origin) {
  return DomainDescriber(nullptr, table, origin);
}

DomainDescriber::DomainDescriber(std::shared_ptr<void> library, const evring_domain_v1* table,
                                 const std::string& origin)
    : library_(std::move(library)) {
  check_table(table, origin);
  table_ = detail::full_size_copy(table);
}

std::optional<std::string> DomainDescriber::describe(std::uint32_t type,
                                                     std::span<const std::byte> payload) const {
  std::string json;
  TextSink sink(json, 1u << 20);
  if (table_->describe(type, payload.data(), payload.size(), &sink.sink) != EVRING_OK) {
    return std::nullopt;
  }
  return json;
}

const char* DomainDescriber::type_name(std::uint32_t type) const noexcept {
  return table_->type_name == nullptr ? nullptr : table_->type_name(type);
}

bool EventBatch::add(std::uint32_t type, const void* payload, std::size_t size) {
  if (size > max_payload_) return false;
  const std::size_t offset = bytes_.size();
  const auto* raw = static_cast<const std::byte*>(payload);
  bytes_.insert(bytes_.end(), raw, raw + size);
  events_.push_back(Entry{type, offset, size});
  return true;
}

DomainPlugin DomainPlugin::load_library(const std::filesystem::path& path,
                                        const std::string& config) {
  return DomainPlugin(DomainDescriber::load_library(path), path.string(), config);
}

DomainPlugin DomainPlugin::from_table(const evring_domain_v1* table, const std::string& origin,
                                      const std::string& config) {
  return DomainPlugin(DomainDescriber::from_table(table, origin), origin, config);
}

DomainPlugin::DomainPlugin(DomainDescriber describer, std::string origin, std::string config)
    : describer_(std::move(describer)),
      table_(describer_.table()),
      origin_(origin),
      model_(describer_.library_,
             PluginLifecycle{table_->create, table_->destroy, table_->snapshot, table_->restore},
             "domain " + origin, std::move(config)) {}

DomainPlugin::DomainPlugin(DomainPlugin&&) noexcept = default;
DomainPlugin& DomainPlugin::operator=(DomainPlugin&&) noexcept = default;
DomainPlugin::~DomainPlugin() = default;

Verdict DomainPlugin::handle(std::span<const std::byte> command, EventBatch& events,
                             std::string& reason) const {
  events.clear();
  reason.clear();
  evring_event_sink sink{
      &events, [](void* context, std::uint32_t type, const void* payload, std::size_t size) {
        return static_cast<EventBatch*>(context)->add(type, payload, size) ? 0 : 1;
      }};
  TextSink why(reason, kPluginMessageLimit);
  const int status = table_->handle(model_.get(), command.data(), command.size(), &sink, &why.sink);
  switch (status) {
    case EVRING_OK:
      return Verdict::accepted;
    case EVRING_REJECTED:
      return Verdict::rejected;
    case EVRING_MALFORMED:
      return Verdict::malformed;
    default:
      if (reason.empty())
        reason = "the domain failed without a reason (status " + std::to_string(status) + ")";
      return Verdict::failed;
  }
}

void DomainPlugin::apply(std::uint64_t seq, std::uint32_t type,
                         std::span<const std::byte> payload) {
  std::string error;
  TextSink sink(error, kPluginMessageLimit);
  if (table_->apply(model_.get(), type, payload.data(), payload.size(), &sink.sink) != EVRING_OK) {
    throw_cannot_apply(seq, type, error);
  }
}

void DomainPlugin::throw_cannot_apply(std::uint64_t seq, std::uint32_t type,
                                      const std::string& error) const {
  throw Error(ErrorCode::corrupt, "domain " + origin_ + " cannot apply event seq " +
                                      std::to_string(seq) + " (type " + std::to_string(type) +
                                      "): " + (error.empty() ? "no reason given" : error));
}

void DomainPlugin::apply_events(std::span<const evring_event> events) {
  if (table_->apply_events == nullptr) {
    for (const evring_event& event : events) {
      apply(event.seq, event.type,
            std::span(static_cast<const std::byte*>(event.payload), event.size));
    }
    return;
  }
  std::string error;
  TextSink sink(error, kPluginMessageLimit);
  std::size_t applied = 0;
  if (events.empty() || table_->apply_events(model_.get(), events.data(), events.size(), &applied,
                                             &sink.sink) == EVRING_OK) {
    return;
  }
  const evring_event& failed = events[std::min(applied, events.size() - 1)];
  throw_cannot_apply(failed.seq, failed.type, error);
}

bool DomainPlugin::parse(std::span<const std::string_view> words, std::vector<std::byte>& command,
                         std::string& error) const {
  const detail::CWords pointers(words);
  command.clear();
  error.clear();
  ByteSink out(command, 1u << 20);
  TextSink why(error, kPluginMessageLimit);
  const int status = table_->parse(pointers.data(), pointers.size(), &out.sink, &why.sink);
  if (status == EVRING_OK) return true;
  if (error.empty()) error = "the command does not parse";
  return false;
}

std::string DomainPlugin::describe(std::uint32_t type, std::span<const std::byte> payload) const {
  if (std::optional<std::string> json = describer_.describe(type, payload)) return *std::move(json);
  return "{\"type\":" + std::to_string(type) + ",\"bytes\":" + std::to_string(payload.size()) +
         ",\"undecodable\":true}";
}

std::vector<std::byte> DomainPlugin::snapshot() const {
  return model_.snapshot();
}
void DomainPlugin::restore(std::span<const std::byte> bytes) {
  model_.restore(bytes);
}
void DomainPlugin::reset() {
  model_.reset();
}

}  // namespace evring
