// evring stat's output: a snapshot as text fitted to a width, as JSON, or in the
// Prometheus text exposition format.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "stat_snapshot.hpp"

namespace evring::tools::stat {

inline constexpr std::size_t kNoWidthLimit = std::numeric_limits<std::size_t>::max();
inline constexpr std::size_t kNarrowestWidth = 40;  // below this, lines are cut, not laid out

// The terminal's width in columns: TIOCGWINSZ on stdout, else $COLUMNS, else 80.
std::size_t terminal_width();
std::string duration_text(std::int64_t ns);
// A header line: `label` then `fields` three spaces apart, flowed onto indented lines of at
// most `width` columns; a field wider than a line is cut.
std::string flow(std::string_view label, const std::vector<std::string>& fields, std::size_t width);

// The snapshot as text, each line at most `width` columns (kNoWidthLimit: as long as it
// takes).
std::string render_text(const Snapshot& s, std::size_t width = kNoWidthLimit);
nlohmann::ordered_json render_json(const Snapshot& s);
// The text exposition format (stat_prometheus.cpp); an instance without a writer here has
// evring_writer_up 0 and its remote readers, if any.
std::string render_prometheus(const Snapshot& s);
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace evring::tools::stat
