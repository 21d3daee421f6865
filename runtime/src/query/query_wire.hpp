// What the query server and the query client agree on beyond evring/query_client.hpp: the
// limits of a request and how JSON is written and its errors told.
#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

namespace evring::query_wire {

inline constexpr std::uint64_t kDefaultTimeoutMs = 5000;
// Bounds a deadline well inside int64 whatever the client asks for.
inline constexpr std::uint64_t kMaxTimeoutMs = 24ull * 3600 * 1000;

// Text from a client or a view may hold bytes that are not UTF-8: dumped as U+FFFD rather
// than throwing.
inline std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// nlohmann's messages start with "[json.exception.parse_error.101] ": noise to a user.
inline std::string json_problem(const std::exception& e) {
  std::string text = e.what();
  if (const std::size_t end = text.find("] "); text.starts_with("[json.") && end != text.npos) {
    text.erase(0, end + 2);
  }
  return text;
}

}  // namespace evring::query_wire
