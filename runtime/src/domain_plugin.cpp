#include "evring/domain_plugin.hpp"

#include <cstring>
#include <utility>

#include <dlfcn.h>

#include "evring/error.hpp"

namespace evring {
namespace {

// A sink that appends to a std::string up to a limit.
struct TextSink {
  std::string* text;
  std::size_t limit;
  evring_sink sink{this, &TextSink::write};

  TextSink(std::string& target, std::size_t max) : text(&target), limit(max) {}
  static int write(void* context, const void* data, std::size_t size) {
    auto* self = static_cast<TextSink*>(context);
    if (self->text->size() + size > self->limit) return 1;
    self->text->append(static_cast<const char*>(data), size);
    return 0;
  }
};

struct ByteSink {
  std::vector<std::byte>* bytes;
  std::size_t limit;
  evring_sink sink{this, &ByteSink::write};

  ByteSink(std::vector<std::byte>& target, std::size_t max) : bytes(&target), limit(max) {}
  static int write(void* context, const void* data, std::size_t size) {
    auto* self = static_cast<ByteSink*>(context);
    if (self->bytes->size() + size > self->limit) return 1;
    const auto* raw = static_cast<const std::byte*>(data);
    self->bytes->insert(self->bytes->end(), raw, raw + size);
    return 0;
  }
};

constexpr std::size_t kMessageLimit = 4096;
constexpr std::size_t kSnapshotLimit = std::size_t{1} << 40;

void check_table(const evring_domain_v1* table, const std::string& origin) {
  if (table == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                origin + ": its " + EVRING_DOMAIN_ENTRY_SYMBOL + "() returned no table");
  }
  if (table->abi_version != EVRING_DOMAIN_ABI_VERSION) {
    throw Error(ErrorCode::incompatible, origin + " was built for domain ABI version " +
                                             std::to_string(table->abi_version) +
                                             ", but this evring speaks version " +
                                             std::to_string(EVRING_DOMAIN_ABI_VERSION) +
                                             ": rebuild it against this evring's headers");
  }
  if (table->table_bytes < sizeof(evring_domain_v1) || table->name == nullptr ||
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
  // RTLD_LOCAL: two plugins' symbols never mix. RTLD_NOW: a missing symbol fails here,
  // with a message, not later in the middle of a command.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw Error(ErrorCode::invalid_argument,
                "cannot load domain plugin " + path.string() + ": " +
                    (why != nullptr ? why : "unknown error") +
                    " (give the path of a shared library, or a built-in: kv, bank)");
  }
  std::shared_ptr<void> library(handle, [](void* h) { ::dlclose(h); });
  void* entry = ::dlsym(handle, EVRING_DOMAIN_ENTRY_SYMBOL);
  if (entry == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                path.string() + " is not an evring domain plugin: it has no " +
                    EVRING_DOMAIN_ENTRY_SYMBOL + " symbol (export one with EVRING_EXPORT_DOMAIN)");
  }
  const auto* table = reinterpret_cast<evring_domain_entry_fn>(entry)();
  check_table(table, path.string());
  return DomainPlugin(std::move(library), table, path.string(), config);
}

DomainPlugin DomainPlugin::from_table(const evring_domain_v1* table, const std::string& origin,
                                      const std::string& config) {
  check_table(table, origin);
  return DomainPlugin(nullptr, table, origin, config);
}

DomainPlugin::DomainPlugin(std::shared_ptr<void> library, const evring_domain_v1* table,
                           std::string origin, std::string config)
    : library_(std::move(library)),
      table_(table),
      origin_(std::move(origin)),
      config_(std::move(config)) {
  model_ = create_model();
}

void* DomainPlugin::create_model() const {
  std::string error;
  TextSink sink(error, kMessageLimit);
  void* model = table_->create(config_.c_str(), &sink.sink);
  if (model == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                "domain " + origin_ + " could not start: " + (error.empty() ? "no reason" : error));
  }
  return model;
}

DomainPlugin::DomainPlugin(DomainPlugin&& other) noexcept
    : library_(std::move(other.library_)),
      table_(other.table_),
      origin_(std::move(other.origin_)),
      config_(std::move(other.config_)),
      model_(std::exchange(other.model_, nullptr)) {}

DomainPlugin& DomainPlugin::operator=(DomainPlugin&& other) noexcept {
  if (this != &other) {
    if (model_ != nullptr) table_->destroy(model_);
    library_ = std::move(other.library_);
    table_ = other.table_;
    origin_ = std::move(other.origin_);
    config_ = std::move(other.config_);
    model_ = std::exchange(other.model_, nullptr);
  }
  return *this;
}

DomainPlugin::~DomainPlugin() {
  if (model_ != nullptr) table_->destroy(model_);
}

Verdict DomainPlugin::handle(std::span<const std::byte> command, EventBatch& events,
                             std::string& reason) const {
  events.clear();
  reason.clear();
  evring_event_sink sink{
      &events, [](void* context, std::uint32_t type, const void* payload, std::size_t size) {
        return static_cast<EventBatch*>(context)->add(type, payload, size) ? 0 : 1;
      }};
  TextSink why(reason, kMessageLimit);
  const int status = table_->handle(model_, command.data(), command.size(), &sink, &why.sink);
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
  TextSink sink(error, kMessageLimit);
  if (table_->apply(model_, type, payload.data(), payload.size(), &sink.sink) != EVRING_OK) {
    throw Error(ErrorCode::corrupt, "domain " + origin_ + " cannot apply event seq " +
                                        std::to_string(seq) + " (type " + std::to_string(type) +
                                        "): " + (error.empty() ? "no reason given" : error));
  }
}

bool DomainPlugin::parse(std::span<const std::string_view> words, std::vector<std::byte>& command,
                         std::string& error) const {
  // The C ABI takes NUL-terminated words.
  std::vector<std::string> owned(words.begin(), words.end());
  std::vector<const char*> pointers;
  pointers.reserve(owned.size());
  for (const std::string& word : owned) pointers.push_back(word.c_str());
  command.clear();
  error.clear();
  ByteSink out(command, 1u << 20);
  TextSink why(error, kMessageLimit);
  const int status = table_->parse(pointers.data(), pointers.size(), &out.sink, &why.sink);
  if (status == EVRING_OK) return true;
  if (error.empty()) error = "the command does not parse";
  return false;
}

std::string DomainPlugin::describe(std::uint32_t type, std::span<const std::byte> payload) const {
  std::string json;
  TextSink sink(json, 1u << 20);
  if (table_->describe(type, payload.data(), payload.size(), &sink.sink) == EVRING_OK) return json;
  return "{\"type\":" + std::to_string(type) + ",\"bytes\":" + std::to_string(payload.size()) +
         ",\"undecodable\":true}";
}

std::vector<std::byte> DomainPlugin::snapshot() const {
  std::vector<std::byte> bytes;
  ByteSink sink(bytes, kSnapshotLimit);
  if (table_->snapshot(model_, &sink.sink) != EVRING_OK) {
    throw Error(ErrorCode::io, "domain " + origin_ + " could not take a snapshot of its model");
  }
  return bytes;
}

void DomainPlugin::restore(std::span<const std::byte> bytes) {
  void* fresh = create_model();
  std::string error;
  TextSink sink(error, kMessageLimit);
  if (table_->restore(fresh, bytes.data(), bytes.size(), &sink.sink) != EVRING_OK) {
    table_->destroy(fresh);
    throw Error(ErrorCode::corrupt, "domain " + origin_ + " cannot restore its snapshot: " +
                                        (error.empty() ? "no reason given" : error));
  }
  table_->destroy(model_);
  model_ = fresh;
}

void DomainPlugin::reset() {
  void* fresh = create_model();
  table_->destroy(model_);
  model_ = fresh;
}

}  // namespace evring
