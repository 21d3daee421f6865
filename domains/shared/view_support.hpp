// What the built-in views share (kv and bank here in domains/, stats and tail in
// readers/views): the wording of their refusals.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "evring/codec.hpp"

namespace evring::views {

// For the views that take no --view-config: a typo there should not pass silently.
inline void refuse_config(std::string_view view, std::string_view config) {
  if (!config.empty()) {
    throw MalformedInput("the " + std::string(view) + " view takes no configuration, got " +
                         json_string(config));
  }
}

// MalformedInput for words that name no query of `view`; `known` lists its queries.
[[noreturn]] inline void unknown_query(std::string_view view,
                                       std::span<const std::string_view> words,
                                       std::string_view known) {
  if (words.empty()) {
    throw MalformedInput("empty " + std::string(view) + " query: expected " + std::string(known));
  }
  throw MalformedInput("unknown " + std::string(view) + " query " + json_string(words[0]) +
                       ": expected " + std::string(known));
}

}  // namespace evring::views
