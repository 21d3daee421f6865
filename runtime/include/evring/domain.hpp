// The C++ side of the domain ABI (domain_abi.h), for writing a domain pleasantly. A model
// is a class; domain_table<Model>() turns it into the C table, catching every exception
// at the boundary, and EVRING_EXPORT_DOMAIN(Model) exports that table from a plugin:
//
//   struct Counter {
//     static constexpr const char* name = "counter";
//     explicit Counter(std::string_view config);
//     void handle(std::span<const std::byte> command, evring::DomainEvents& events) const;
//     void apply(std::uint32_t type, std::span<const std::byte> payload);
//     static std::vector<std::byte> parse(std::span<const std::string_view> words);
//     static std::string describe(std::uint32_t type, std::span<const std::byte> payload);
//     std::vector<std::byte> snapshot() const;
//     void restore(std::span<const std::byte> bytes);
//     // Optional: a run of events at once (the writer's replay), to look ahead at the
//     // state the next ones touch; sets `applied` as it goes, what it throws is about
//     // events[applied]. Without it, a run is applied with apply(), one at a time.
//     void apply_events(std::span<const evring::Event> events, std::size_t& applied);
//   };
//   EVRING_EXPORT_DOMAIN(Counter)
//
// handle() and parse() throw CommandRejected or MalformedInput to refuse; anything else
// they throw counts as the domain failing. Header-only: a plugin links nothing of evring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "evring/codec.hpp"
#include "evring/domain_abi.h"
#include "evring/event.hpp"
#include "evring/plugin_helper.hpp"

namespace evring {

// Hands the events of an accepted command to the host, in order.
class DomainEvents {
 public:
  explicit DomainEvents(evring_event_sink* sink) noexcept : sink_(sink) {}
  void emit(std::uint32_t type, std::span<const std::byte> payload) {
    if (sink_->emit(sink_->context, type, payload.data(), payload.size()) != 0) {
      throw std::length_error("event of " + std::to_string(payload.size()) +
                              " bytes is larger than this instance's ring or journal allow");
    }
  }
  void emit(std::uint32_t type, const ByteWriter& payload) { emit(type, payload.bytes()); }

 private:
  evring_event_sink* sink_;
};

namespace detail {

template <class Model>
struct DomainAdapter {
  static void* create(const char* config, evring_sink* error) noexcept {
    void* model = nullptr;
    guarded(error, [&] {
      model = new Model(std::string_view(config == nullptr ? "" : config));
      return EVRING_OK;
    });
    return model;
  }
  static void destroy(void* model) noexcept { delete static_cast<Model*>(model); }
  static int handle(const void* model, const void* command, std::size_t size,
                    evring_event_sink* events, evring_sink* reason) noexcept {
    return guarded(reason, [&] {
      DomainEvents out(events);
      static_cast<const Model*>(model)->handle(
          std::span(static_cast<const std::byte*>(command), size), out);
      return EVRING_OK;
    });
  }
  static int apply(void* model, std::uint32_t type, const void* payload, std::size_t size,
                   evring_sink* error) noexcept {
    // A refusal while applying the model's own history is a failure, whatever its kind.
    return guarded_strict(error, [&] {
      static_cast<Model*>(model)->apply(type,
                                        std::span(static_cast<const std::byte*>(payload), size));
      return EVRING_OK;
    });
  }
  static constexpr bool kTakesRuns =
      requires(Model & model, std::span<const Event> run, std::size_t& done) {
    model.apply_events(run, done);
  };
  static int apply_events(void* model, const evring_event* events, std::size_t count,
                          std::size_t* applied, evring_sink* error) noexcept {
    return guarded_run<kTakesRuns>(
        *static_cast<Model*>(model), events, count, applied, error,
        [](auto& self, auto run, std::size_t& done) { self.apply_events(run, done); },
        [](auto& self, const Event& event) { self.apply(event.type, event.payload); });
  }
  static int parse(const char* const* words, std::size_t count, evring_sink* command,
                   evring_sink* error) noexcept {
    return guarded(error, [&] {
      std::vector<std::string_view> views(words, words + count);
      return write_bytes(command, Model::parse(std::span<const std::string_view>(views)));
    });
  }
  static int describe(std::uint32_t type, const void* payload, std::size_t size,
                      evring_sink* json) noexcept {
    return guarded_strict(json, [&] {
      const std::string text =
          Model::describe(type, std::span(static_cast<const std::byte*>(payload), size));
      return write_bytes(json, std::as_bytes(std::span(text)));
    });
  }
  static int snapshot(const void* model, evring_sink* out) noexcept {
    return guarded(nullptr,
                   [&] { return write_bytes(out, static_cast<const Model*>(model)->snapshot()); });
  }
  static int restore(void* model, const void* data, std::size_t size, evring_sink* error) noexcept {
    return guarded_strict(error, [&] {
      static_cast<Model*>(model)->restore(std::span(static_cast<const std::byte*>(data), size));
      return EVRING_OK;
    });
  }
  static const char* type_name(std::uint32_t type) noexcept {
    try {
      return Model::type_name(type);
    } catch (...) {
      return nullptr;  // as for a type it does not know: shown by number
    }
  }
  // The optional entries: NULL in the table unless Model has them.
  using TypeNameFn = const char* (*)(std::uint32_t);
  static constexpr TypeNameFn type_name_entry = [] {
    if constexpr (requires { Model::type_name(std::uint32_t{}); }) {
      return TypeNameFn{&DomainAdapter::type_name};
    } else {
      return TypeNameFn{nullptr};
    }
  }();
};

}  // namespace detail

template <class Model>
const evring_domain_v1* domain_table() noexcept {
  using Adapter = detail::DomainAdapter<Model>;
  static const evring_domain_v1 table{
      EVRING_DOMAIN_ABI_VERSION, sizeof(evring_domain_v1), Model::name,
      &Adapter::create,          &Adapter::destroy,        &Adapter::handle,
      &Adapter::apply,           &Adapter::parse,          &Adapter::describe,
      &Adapter::snapshot,        &Adapter::restore,        Adapter::type_name_entry,
      &Adapter::apply_events};
  return &table;
}

}  // namespace evring

// Exports Model from a shared library as an evring domain plugin.
#define EVRING_EXPORT_DOMAIN(Model)                                                              \
  extern "C" __attribute__((visibility("default"))) const evring_domain_v1* evring_domain_entry( \
      void) {                                                                                    \
    return ::evring::domain_table<Model>();                                                      \
  }
