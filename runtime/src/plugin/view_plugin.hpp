// The host side of the view ABI (view_abi.h): loads a view, checks its version and drives
// one view object through it. Used by evring-reader, on the one thread that owns the view.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/view_abi.h"
#include "plugin/domain_plugin.hpp"
#include "plugin/plugin_state.hpp"

namespace evring {

enum class QueryOutcome { answered, malformed, failed };

class ViewPlugin {
 public:
  // A shared library exporting EVRING_VIEW_ENTRY_SYMBOL. Throws Error(invalid_argument)
  // when it cannot be loaded or has no entry point, Error(incompatible) for another ABI
  // version (naming both).
  static ViewPlugin load_library(const std::filesystem::path& path, const std::string& config);
  // A table linked into this program (the built-in views); checked like a library's.
  static ViewPlugin from_table(const evring_view_v1* table, const std::string& origin,
                               const std::string& config);

  std::string_view name() const noexcept { return table_->name; }
  const std::string& origin() const noexcept { return origin_; }
  // The domain the view says it reads; empty when it reads any.
  std::string_view declared_domain() const noexcept {
    return table_->domain == nullptr ? std::string_view() : table_->domain;
  }
  // Whether the view asks to be told its instance's domain (and its describe, type names).
  bool wants_domain() const noexcept { return table_->set_domain != nullptr; }
  // Tells the view the domain that `instance` runs: throws Error(incompatible) when the view
  // declares another, naming both and what to do; else hands the view the domain now and
  // after every fresh start (reset, restore). `describer` is empty when the domain could
  // not be loaded; the view then has its name only. Throws what the view's set_domain says.
  void set_domain(std::string_view instance, const std::string& domain,
                  std::optional<DomainDescriber> describer);

  // Applies one event; false with the view's message in `error` (a poison event).
  bool on_event(const evring_event& event, std::string& error);
  // Applies a run of events (in one call for a version 2 view, else one by one): true when
  // all were applied; false with the view's message when events[applied] failed, the ones
  // before it applied and the ones after it not.
  bool on_events(std::span<const evring_event> events, std::size_t& applied, std::string& error);
  // Whether the view takes a run per call (ABI version 2's on_events).
  bool takes_runs() const noexcept { return table_->on_events != nullptr; }
  // Answers a query: `out` holds the JSON value when answered, the reason otherwise.
  QueryOutcome query(std::span<const std::string_view> words, std::string& out) const;
  std::vector<std::byte> snapshot() const { return view_.snapshot(); }
  void restore(std::span<const std::byte> bytes) { view_.restore(bytes); }
  void reset() { view_.reset(); }

 private:
  ViewPlugin(std::shared_ptr<void> library, const evring_view_v1* table, std::string origin,
             std::string config);

  std::shared_ptr<const evring_view_v1> table_;  // at this evring's size (domain_plugin.cpp)
  std::string origin_;
  std::optional<DomainDescriber> domain_;  // what set_domain handed the view, kept loaded
  PluginState view_;
};

}  // namespace evring
