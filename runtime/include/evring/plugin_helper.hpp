// What the C++ helpers for plugins (domain.hpp, view.hpp) share: the exceptions a plugin
// throws to refuse, and the guard that turns any exception into a status and a message at
// the C boundary. Header-only: a plugin links nothing of evring.
#pragma once

#include <cstddef>
#include <exception>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "evring/codec.hpp"
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

// As guarded, for calls where any refusal is a failure (apply, restore, on_event).
template <class Body>
int guarded_strict(evring_sink* message, Body&& body) noexcept {
  const int status = guarded(message, std::forward<Body>(body));
  return status == EVRING_OK ? EVRING_OK : EVRING_FAILED;
}

}  // namespace detail
}  // namespace evring
