#include "plugin/plugin_library.hpp"

#include <dlfcn.h>

#include <utility>

#include "evring/error.hpp"
#include "plugin/plugin_state.hpp"

namespace evring::detail {

PluginEntry load_plugin_entry(const std::filesystem::path& given, const PluginKind& kind) {
  // dlopen looks for a bare name ("libv2.so") in the library path, never in the current
  // folder; a user who names a file here means that file.
  std::error_code ec;
  const bool bare = !given.string().empty() && given.string().find('/') == std::string::npos;
  const std::filesystem::path path = bare && std::filesystem::is_regular_file(given, ec)
                                         ? std::filesystem::absolute(given, ec)
                                         : given;
  // RTLD_LOCAL: two plugins' symbols never mix. RTLD_NOW: a missing symbol fails here,
  // with a message, not later in the middle of an event.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw Error(ErrorCode::invalid_argument,
                "cannot load " + std::string(kind.name) + " plugin " + path.string() + ": " +
                    (why != nullptr ? why : "unknown error") +
                    " (give the path of a shared library, or a built-in: " +
                    std::string(kind.builtins) + ")");
  }
  std::shared_ptr<void> library(handle, [](void* h) { ::dlclose(h); });
  void* entry = ::dlsym(handle, kind.entry_symbol);
  if (entry == nullptr) {
    throw Error(ErrorCode::invalid_argument, path.string() + " is not an evring " +
                                                 std::string(kind.name) + " plugin: it has no " +
                                                 kind.entry_symbol + " symbol (export one with " +
                                                 std::string(kind.export_macro) + ")");
  }
  return PluginEntry{std::move(library), entry};
}

void check_abi_version(std::uint32_t found, std::uint32_t oldest, std::uint32_t ours,
                       const std::string& origin, const PluginKind& kind) {
  if (found < oldest || found > ours) {
    throw Error(ErrorCode::incompatible,
                origin + " was built for " + std::string(kind.name) + " ABI version " +
                    std::to_string(found) + ", but this evring speaks " +
                    (oldest == ours
                         ? "version " + std::to_string(ours)
                         : "versions " + std::to_string(oldest) + " to " + std::to_string(ours)) +
                    ": rebuild it against this evring's headers");
  }
}

int TextSink::write(void* context, const void* data, std::size_t size) {
  auto* self = static_cast<TextSink*>(context);
  if (self->text->size() + size > self->limit) return 1;
  self->text->append(static_cast<const char*>(data), size);
  return 0;
}

int ByteSink::write(void* context, const void* data, std::size_t size) {
  auto* self = static_cast<ByteSink*>(context);
  if (self->bytes->size() + size > self->limit) return 1;
  const auto* raw = static_cast<const std::byte*>(data);
  self->bytes->insert(self->bytes->end(), raw, raw + size);
  return 0;
}

}  // namespace evring::detail

namespace evring {

PluginState::PluginState(std::shared_ptr<void> library, PluginLifecycle calls, std::string what,
                         std::string config)
    : library_(std::move(library)),
      calls_(calls),
      what_(std::move(what)),
      config_(std::move(config)),
      object_(create()) {}

PluginState::PluginState(PluginState&& other) noexcept
    : library_(std::move(other.library_)),
      calls_(other.calls_),
      what_(std::move(other.what_)),
      config_(std::move(other.config_)),
      prepare_(std::move(other.prepare_)),
      object_(std::exchange(other.object_, nullptr)) {}

PluginState& PluginState::operator=(PluginState&& other) noexcept {
  if (this != &other) {
    if (object_ != nullptr) calls_.destroy(object_);
    library_ = std::move(other.library_);
    calls_ = other.calls_;
    what_ = std::move(other.what_);
    config_ = std::move(other.config_);
    prepare_ = std::move(other.prepare_);
    object_ = std::exchange(other.object_, nullptr);
  }
  return *this;
}

PluginState::~PluginState() {
  if (object_ != nullptr) calls_.destroy(object_);
}

void* PluginState::create() const {
  std::string error;
  detail::TextSink sink(error, detail::kPluginMessageLimit);
  void* object = calls_.create(config_.empty() ? nullptr : config_.c_str(), &sink.sink);
  if (object == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                what_ + " could not start: " + (error.empty() ? "no reason given" : error));
  }
  if (prepare_) {
    try {
      prepare_(object);
    } catch (...) {
      calls_.destroy(object);
      throw;
    }
  }
  return object;
}

void PluginState::set_prepare(std::function<void(void* object)> prepare) {
  prepare(object_);
  prepare_ = std::move(prepare);
}

void PluginState::reset() {
  void* fresh = create();
  calls_.destroy(object_);
  object_ = fresh;
}

std::vector<std::byte> PluginState::snapshot() const {
  std::vector<std::byte> bytes;
  detail::ByteSink sink(bytes, detail::kPluginSnapshotLimit);
  if (calls_.snapshot(object_, &sink.sink) != EVRING_OK) {
    throw Error(ErrorCode::io, what_ + " could not take a snapshot");
  }
  return bytes;
}

void PluginState::restore(std::span<const std::byte> bytes) {
  void* fresh = create();
  std::string error;
  detail::TextSink sink(error, detail::kPluginMessageLimit);
  if (calls_.restore(fresh, bytes.data(), bytes.size(), &sink.sink) != EVRING_OK) {
    calls_.destroy(fresh);
    throw Error(ErrorCode::corrupt, what_ + " cannot restore its snapshot: " +
                                        (error.empty() ? "no reason given" : error));
  }
  calls_.destroy(object_);
  object_ = fresh;
}

}  // namespace evring
