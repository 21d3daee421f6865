// What the plugin hosts (DomainPlugin, ViewPlugin) share: loading a library and finding its
// entry point with messages that say what to do, the ABI version check, and the sinks
// through which a plugin hands bytes back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/plugin_abi.h"

namespace evring::detail {

// What kind of plugin, for messages: "domain" or "view", the symbol it must export, the
// built-ins a user could name instead, and the macro that exports it.
struct PluginKind {
  std::string_view name;
  const char* entry_symbol;
  std::string_view builtins;
  std::string_view export_macro;
};

struct PluginEntry {
  std::shared_ptr<void> library;  // dlclose when the last user is gone
  void* entry = nullptr;
};

// dlopen (RTLD_NOW | RTLD_LOCAL) and dlsym. Throws Error(invalid_argument) when the
// library cannot be loaded or lacks the entry point.
PluginEntry load_plugin_entry(const std::filesystem::path& path, const PluginKind& kind);

// Throws Error(incompatible) naming both when `found` is not one of the versions from
// `oldest` to `ours` that this host loads.
void check_abi_version(std::uint32_t found, std::uint32_t oldest, std::uint32_t ours,
                       const std::string& origin, const PluginKind& kind);

// A plugin's table at this evring's size: the entries a shorter one (built against an older
// header) lacks are NULL, so the host reads every field without looking at table_bytes.
template <class Table>
std::shared_ptr<const Table> full_size_copy(const Table* table) {
  auto copy = std::make_shared<Table>();
  std::memcpy(copy.get(), table, std::min<std::size_t>(table->table_bytes, sizeof *copy));
  copy->table_bytes = sizeof *copy;
  return copy;
}

// A sink that appends to a std::string up to a limit.
struct TextSink {
  std::string* text;
  std::size_t limit;
  evring_sink sink{this, &TextSink::write};

  TextSink(std::string& target, std::size_t max) : text(&target), limit(max) {}
  TextSink(const TextSink&) = delete;
  TextSink& operator=(const TextSink&) = delete;
  static int write(void* context, const void* data, std::size_t size);
};

// A sink that appends to a byte vector up to a limit.
struct ByteSink {
  std::vector<std::byte>* bytes;
  std::size_t limit;
  evring_sink sink{this, &ByteSink::write};

  ByteSink(std::vector<std::byte>& target, std::size_t max) : bytes(&target), limit(max) {}
  ByteSink(const ByteSink&) = delete;
  ByteSink& operator=(const ByteSink&) = delete;
  static int write(void* context, const void* data, std::size_t size);
};

// Words as the C ABI takes them: NUL-terminated, an array of pointers.
class CWords {
 public:
  explicit CWords(std::span<const std::string_view> words) : owned_(words.begin(), words.end()) {
    pointers_.reserve(owned_.size());
    for (const std::string& word : owned_) pointers_.push_back(word.c_str());
  }
  const char* const* data() const noexcept { return pointers_.data(); }
  std::size_t size() const noexcept { return pointers_.size(); }

 private:
  std::vector<std::string> owned_;
  std::vector<const char*> pointers_;
};

inline constexpr std::size_t kPluginMessageLimit = 4096;
inline constexpr std::size_t kPluginSnapshotLimit = std::size_t{1} << 40;

}  // namespace evring::detail
