// What the C++ helpers for plugins (domain.hpp, view.hpp) share: the exceptions a plugin
// throws to refuse, and the guard that turns any exception into a status and a message at
// the C boundary. Header-only: a plugin links nothing of evring.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "evring/codec.hpp"
#include "evring/event.hpp"
#include "evring/plugin_abi.h"

namespace evring {

// The command breaks a rule of the domain (overdraft, unknown account, version mismatch).
class CommandRejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

inline void write_text(evring_sink* sink, std::string_view text) noexcept {
  if (sink != nullptr) sink->write(sink->context, text.data(), text.size());
}

inline int write_bytes(evring_sink* sink, std::span<const std::byte> bytes) noexcept {
  return sink->write(sink->context, bytes.data(), bytes.size()) == 0 ? EVRING_OK : EVRING_FAILED;
}

// Runs body; maps what it throws to a status and a message. Nothing crosses the C boundary.
template <class Body>
int guarded(evring_sink* message, Body&& body) noexcept {
  try {
    return body();
  } catch (const CommandRejected& rejected) {
    write_text(message, rejected.what());
    return EVRING_REJECTED;
  } catch (const MalformedInput& malformed) {
    write_text(message, malformed.what());
    return EVRING_MALFORMED;
  } catch (const std::exception& failure) {
    write_text(message, failure.what());
    return EVRING_FAILED;
  } catch (...) {
    write_text(message, "the plugin threw something that is not a std::exception");
    return EVRING_FAILED;
  }
}

inline Event event_of(const evring_event& event) noexcept {
  return Event{event.seq, event.type, event.publish_ns,
               std::span(static_cast<const std::byte*>(event.payload), event.size)};
}

// How many events a plugin's run call (on_events, apply_events) sees at once: a run of the
// host's is handed over in pieces this long, converted to evring::Event on the stack.
inline constexpr std::size_t kEventRun = 64;

// Hands a run of the C ABI's events to apply(std::span<const Event> piece, std::size_t&
// done), piece by piece; apply sets `done` as it applies. *applied counts the events
// applied, also when apply throws (its exception then is about events[*applied]).
template <class Apply>
void for_each_run(const evring_event* events, std::size_t count, std::size_t* applied,
                  Apply&& apply) {
  // Left unset until filled: a whole array of Event set to its defaults first would cost
  // a run as much as converting it.
  union Run {
    Run() noexcept {}
    Event events[kEventRun];
  } run;
  *applied = 0;
  while (*applied < count) {
    const std::size_t length = std::min(count - *applied, kEventRun);
    for (std::size_t i = 0; i < length; ++i) {
      std::construct_at(&run.events[i], event_of(events[*applied + i]));
    }
    std::size_t done = 0;
    try {
      apply(std::span<const Event>(run.events, length), done);
    } catch (...) {
      *applied += done;
      throw;
    }
    *applied += length;
  }
}

// As guarded, for calls where any refusal is a failure (apply, restore, on_event).
template <class Body>
int guarded_strict(evring_sink* message, Body&& body) noexcept {
  const int status = guarded(message, std::forward<Body>(body));
  return status == EVRING_OK ? EVRING_OK : EVRING_FAILED;
}

// A run call of the C ABI (on_events, apply_events) made of the C++ object's calls: with
// kTakesRuns, whole(object, piece, done) for each piece of the run, else one(object,
// event) for each event (generic lambdas: only the one used is instantiated). Any
// exception becomes EVRING_FAILED and a message, *applied saying how far it got.
template <bool kTakesRuns, class Object, class Whole, class One>
int guarded_run(Object& object, const evring_event* events, std::size_t count, std::size_t* applied,
                evring_sink* error, Whole&& whole, One&& one) noexcept {
  *applied = 0;
  return guarded_strict(error, [&] {
    for_each_run(events, count, applied, [&](std::span<const Event> run, std::size_t& done) {
      if constexpr (kTakesRuns) {
        whole(object, run, done);
      } else {
        for (; done < run.size(); ++done) one(object, run[done]);
      }
    });
    return EVRING_OK;
  });
}

}  // namespace detail
}  // namespace evring
