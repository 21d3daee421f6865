// The life of one plugin object, shared by the domain and view hosts: the library it came
// from (kept loaded while the object lives), creating it, replacing it with a fresh or a
// restored one, taking its snapshot, destroying it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "evring/plugin_abi.h"

namespace evring {

// The four calls every plugin table has, with the same signatures.
struct PluginLifecycle {
  void* (*create)(const char* config, evring_sink* error);
  void (*destroy)(void* object);
  int (*snapshot)(const void* object, evring_sink* out);
  int (*restore)(void* object, const void* data, std::size_t size, evring_sink* error);
};

class PluginState {
 public:
  // Creates the object. `what` names it in messages ("domain built-in kv"). Throws
  // Error(invalid_argument) with the plugin's reason when create fails.
  PluginState(std::shared_ptr<void> library, PluginLifecycle calls, std::string what,
              std::string config);
  PluginState(PluginState&& other) noexcept;
  PluginState& operator=(PluginState&& other) noexcept;
  ~PluginState();

  void* get() const noexcept { return object_; }
  const std::string& what() const noexcept { return what_; }

  // Runs `prepare` on the object now and on every fresh one (reset, restore) before it is
  // used: for what a plugin is told after create. What it throws fails that create.
  void set_prepare(std::function<void(void* object)> prepare);
  // Replaces the object with a fresh, empty one.
  void reset();
  // Throws Error(io) when the plugin cannot take one.
  std::vector<std::byte> snapshot() const;
  // Into a fresh object that replaces the current one only if it succeeds; throws
  // Error(corrupt) with the plugin's reason otherwise (the current object stays).
  void restore(std::span<const std::byte> bytes);

 private:
  void* create() const;

  std::shared_ptr<void> library_;  // dlclose only after the object is gone
  PluginLifecycle calls_{};
  std::string what_;
  std::string config_;
  std::function<void(void*)> prepare_;
  void* object_ = nullptr;
};

}  // namespace evring
