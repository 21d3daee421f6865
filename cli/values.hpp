// Values on the command line, read the same way by every evring program, each refusal
// naming the flag, what was given and the accepted forms.
//   sizes      4096, 64K, 16m, 1G, 64KiB, 1gib (bytes; K/M/G powers of 1024, either case)
//   durations  500ms, 2s, 1m, 1h, 7d, or a plain number (milliseconds, or the flag's unit),
//              at most a week unless a flag says more
//   counts     whole numbers from 0 (or a stated minimum); "-1" is refused, never wrapped
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace evring::cli {

// Each throws Error(invalid_argument) naming `flag`, the text and the accepted forms.
std::uint64_t parse_size(std::string_view flag, std::string_view text, std::uint64_t minimum = 0);
// A plain number counts in `plain_unit` (milliseconds unless a flag's name says otherwise).
// A week is far more than any wait needs, and keeps the arithmetic far from overflow; an
// age (--retain-for) may ask for more.
inline constexpr std::chrono::milliseconds kWeek{7ll * 24 * 3'600'000};
std::chrono::milliseconds parse_duration(
    std::string_view flag, std::string_view text,
    std::chrono::milliseconds plain_unit = std::chrono::milliseconds(1),
    std::chrono::milliseconds maximum = kWeek);
std::uint64_t parse_count(std::string_view flag, std::string_view text, std::uint64_t minimum = 0);

// Options whose value is read as above while CLI11 parses, so a bad one is a parse error
// like any other (and its help line says the minimum).
CLI::Option* add_size_option(CLI::App& app, const std::string& flag, std::uint64_t& target,
                             const std::string& description, std::uint64_t minimum = 0);
CLI::Option* add_duration_option(
    CLI::App& app, const std::string& flag, std::chrono::milliseconds& target,
    const std::string& description,
    std::chrono::milliseconds plain_unit = std::chrono::milliseconds(1),
    std::chrono::milliseconds maximum = kWeek);
CLI::Option* add_count_option(CLI::App& app, const std::string& flag, std::uint64_t& target,
                              const std::string& description, std::uint64_t minimum = 0);

// "64 MiB", "4 KiB", "1000 B": how a size is shown in help and messages.
std::string size_text(std::uint64_t bytes);
// "5s", "2m", "1h", "250ms": how a duration is shown.
std::string duration_text(std::chrono::milliseconds duration);

}  // namespace evring::cli
