// The C++ side of the view ABI (view_abi.h), for writing a query view pleasantly. A view is
// a class; view_table<View>() turns it into the C table, catching every exception at the
// boundary, and EVRING_EXPORT_VIEW(View) exports that table from a plugin:
//
//   struct Count {
//     static constexpr const char* name = "count";
//     std::uint64_t events = 0;
//     explicit Count(std::string_view config) {}
//     void on_event(const evring::Event& event) { ++events; }
//     std::string query(std::span<const std::string_view> words) const {
//       return std::to_string(events);  // one JSON value
//     }
//     std::vector<std::byte> snapshot() const;
//     void restore(std::span<const std::byte> bytes);
//     // Optional: the domain whose events it reads; the reader refuses other instances.
//     static constexpr const char* domain = "kv";
//     // Optional: told the instance's domain after construction, before any event; its
//     // table (describe, type_name) is nullptr when the reader could not load it.
//     void set_domain(std::string_view name, const evring_domain_v1* table);
//     // Optional: a run of events at once (ABI version 2's on_events), to look ahead at
//     // the events to come, e.g. prefetch the state they touch. Applies them in order,
//     // setting `applied` to how many it has applied; what it throws is then about
//     // events[applied]. Without it, the run is applied with on_event, one at a time.
//     void on_events(std::span<const evring::Event> events, std::size_t& applied);
//   };
//   EVRING_EXPORT_VIEW(Count)
//
// query() throws MalformedInput for words it does not know (the reader answers
// {"error": ...}); on_event() throws anything to refuse an event (a poison event).
// Header-only: a plugin links nothing of evring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evring/codec.hpp"
#include "evring/event.hpp"
#include "evring/plugin_helper.hpp"
#include "evring/view_abi.h"

namespace evring {

namespace detail {

template <class View>
struct ViewAdapter {
  static void* create(const char* config, evring_sink* error) noexcept {
    void* view = nullptr;
    guarded(error, [&] {
      view = new View(std::string_view(config == nullptr ? "" : config));
      return EVRING_OK;
    });
    return view;
  }
  static void destroy(void* view) noexcept { delete static_cast<View*>(view); }
  static int on_event(void* view, const evring_event* event, evring_sink* error) noexcept {
    return guarded_strict(error, [&] {
      static_cast<View*>(view)->on_event(event_of(*event));
      return EVRING_OK;
    });
  }
  static constexpr bool kTakesRuns =
      requires(View & view, std::span<const Event> run, std::size_t& done) {
    view.on_events(run, done);
  };
  static int on_events(void* view, const evring_event* events, std::size_t count,
                       std::size_t* applied, evring_sink* error) noexcept {
    return guarded_run<kTakesRuns>(
        *static_cast<View*>(view), events, count, applied, error,
        [](auto& self, auto run, std::size_t& done) { self.on_events(run, done); },
        [](auto& self, const Event& event) { self.on_event(event); });
  }
  static int query(const void* view, const char* const* words, std::size_t count, evring_sink* json,
                   evring_sink* error) noexcept {
    return guarded(error, [&] {
      std::vector<std::string_view> views(words, words + count);
      const std::string reply =
          static_cast<const View*>(view)->query(std::span<const std::string_view>(views));
      return write_bytes(json, std::as_bytes(std::span(reply)));
    });
  }
  static int snapshot(const void* view, evring_sink* out) noexcept {
    return guarded(nullptr,
                   [&] { return write_bytes(out, static_cast<const View*>(view)->snapshot()); });
  }
  static int restore(void* view, const void* data, std::size_t size, evring_sink* error) noexcept {
    return guarded_strict(error, [&] {
      static_cast<View*>(view)->restore(std::span(static_cast<const std::byte*>(data), size));
      return EVRING_OK;
    });
  }
  static int set_domain(void* view, const char* name, const evring_domain_v1* domain,
                        evring_sink* error) noexcept {
    return guarded_strict(error, [&] {
      static_cast<View*>(view)->set_domain(std::string_view(name), domain);
      return EVRING_OK;
    });
  }
  // The optional entries: NULL in the table unless View has them.
  static constexpr const char* domain_entry = [] {
    if constexpr (requires { View::domain; }) {
      return static_cast<const char*>(View::domain);
    } else {
      return static_cast<const char*>(nullptr);
    }
  }();
  using SetDomainFn = int (*)(void*, const char*, const evring_domain_v1*, evring_sink*);
  static constexpr SetDomainFn set_domain_entry = [] {
    if constexpr (requires(View & v) { v.set_domain(std::string_view(), nullptr); }) {
      return SetDomainFn{&ViewAdapter::set_domain};
    } else {
      return SetDomainFn{nullptr};
    }
  }();
};

}  // namespace detail

template <class View>
const evring_view_v1* view_table() noexcept {
  using Adapter = detail::ViewAdapter<View>;
  static const evring_view_v1 table{
      EVRING_VIEW_ABI_VERSION, sizeof(evring_view_v1),    View::name,
      &Adapter::create,        &Adapter::destroy,         &Adapter::on_event,
      &Adapter::query,         &Adapter::snapshot,        &Adapter::restore,
      Adapter::domain_entry,   Adapter::set_domain_entry, &Adapter::on_events};
  return &table;
}

}  // namespace evring

// Exports View from a shared library as an evring view plugin.
#define EVRING_EXPORT_VIEW(View)                                                             \
  extern "C" __attribute__((visibility("default"))) const evring_view_v1* evring_view_entry( \
      void) {                                                                                \
    return ::evring::view_table<View>();                                                     \
  }
