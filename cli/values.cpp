#include "cli/values.hpp"

#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "evring/error.hpp"

namespace evring::cli {
namespace {

constexpr std::uint64_t kDayMs = 24ull * 3'600'000;
constexpr std::uint64_t kWeekMs = 7 * kDayMs;
constexpr std::string_view kSizeForms =
    "a whole number of bytes with K, M or G (or KiB, MiB, "
    "GiB, in either case), like 4096, 64K or 16M";
constexpr std::string_view kDurationForms = "like 500ms, 2s, 1m, 1h or 7d, or plain milliseconds";

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

[[noreturn]] void refuse(std::string_view flag, std::string_view text, std::string_view why) {
  throw Error(ErrorCode::invalid_argument, fmt::format("{} \"{}\": {}", flag, text, why));
}

// The leading whole number of `text` and the rest; refuses a sign, a fraction or no digits.
std::pair<std::uint64_t, std::string_view> leading_number(std::string_view flag,
                                                          std::string_view text,
                                                          std::string_view forms) {
  std::uint64_t value = 0;
  const char* const end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    refuse(flag, text, fmt::format("a sign is not allowed: write {}", forms));
  }
  if (ec == std::errc::result_out_of_range) refuse(flag, text, "is far too large");
  if (ec != std::errc{} || rest == text.data()) refuse(flag, text, fmt::format("write {}", forms));
  if (rest != end && (*rest == '.' || *rest == ',')) {
    refuse(flag, text, fmt::format("fractions are not accepted: write {}", forms));
  }
  return {value, std::string_view(rest, static_cast<std::size_t>(end - rest))};
}

template <class Parse>
CLI::Option* add_parsed(CLI::App& app, const std::string& flag, const std::string& description,
                        Parse parse) {
  return app.add_option_function<std::string>(
      flag,
      [flag, parse](const std::string& text) {
        try {
          parse(text);
        } catch (const Error& e) {
          // A CLI11 error: reported as every parse error is, with the program's name.
          throw CLI::ValidationError(e.what());
        }
      },
      description);
}

}  // namespace

std::uint64_t parse_size(std::string_view flag, std::string_view text, std::uint64_t minimum) {
  const auto [number, unit_text] = leading_number(flag, text, kSizeForms);
  const std::string unit = lower(unit_text);
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    shift = 10;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    shift = 20;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    shift = 30;
  } else {
    refuse(flag, text, fmt::format("unknown unit \"{}\": write {}", unit_text, kSizeForms));
  }
  if (number > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    refuse(flag, text, "is far too large");
  }
  const std::uint64_t bytes = number << shift;
  if (bytes < minimum) {
    refuse(flag, text, fmt::format("is below the minimum of {}", size_text(minimum)));
  }
  return bytes;
}

std::chrono::milliseconds parse_duration(std::string_view flag, std::string_view text,
                                         std::chrono::milliseconds plain_unit,
                                         std::chrono::milliseconds maximum) {
  const auto [number, unit_text] = leading_number(flag, text, kDurationForms);
  const std::string unit = lower(unit_text);
  std::uint64_t scale = 0;
  if (unit.empty()) {
    scale = static_cast<std::uint64_t>(plain_unit.count());
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m" || unit == "min") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else if (unit == "d") {
    scale = kDayMs;
  } else {
    refuse(flag, text,
           fmt::format("unknown unit \"{}\": the units are ms, s, m, h and d ({})", unit_text,
                       kDurationForms));
  }
  const auto max_ms = static_cast<std::uint64_t>(maximum.count());
  if (number > max_ms / scale) {
    refuse(flag, text,
           max_ms == kWeekMs ? std::string("is more than a week")
                             : fmt::format("is more than {} days", max_ms / kDayMs));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * scale));
}

std::uint64_t parse_count(std::string_view flag, std::string_view text, std::uint64_t minimum) {
  const auto [number, rest] = leading_number(
      flag, text,
      minimum == 0 ? "a whole number from 0" : fmt::format("a whole number from {}", minimum));
  if (!rest.empty()) refuse(flag, text, "is not a whole number");
  if (number < minimum) refuse(flag, text, fmt::format("is below the minimum of {}", minimum));
  return number;
}

CLI::Option* add_size_option(CLI::App& app, const std::string& flag, std::uint64_t& target,
                             const std::string& description, std::uint64_t minimum) {
  const std::string told = minimum > 1 && description.find("at least") == std::string::npos
                               ? description + " (at least " + size_text(minimum) + ")"
                               : description;
  CLI::Option* option =
      add_parsed(app, flag, told, [&target, flag, minimum](const std::string& text) {
        target = parse_size(flag, text, minimum);
      });
  option->type_name("SIZE");
  option->default_str(size_text(target));
  return option;
}

CLI::Option* add_duration_option(CLI::App& app, const std::string& flag,
                                 std::chrono::milliseconds& target, const std::string& description,
                                 std::chrono::milliseconds plain_unit,
                                 std::chrono::milliseconds maximum) {
  CLI::Option* option = add_parsed(app, flag, description,
                                   [&target, flag, plain_unit, maximum](const std::string& text) {
                                     target = parse_duration(flag, text, plain_unit, maximum);
                                   });
  option->type_name("DURATION");
  option->default_str(duration_text(target));
  return option;
}

std::string duration_text(std::chrono::milliseconds duration) {
  const std::int64_t ms = duration.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

CLI::Option* add_count_option(CLI::App& app, const std::string& flag, std::uint64_t& target,
                              const std::string& description, std::uint64_t minimum) {
  const std::string told =
      minimum > 0 ? description + " (at least " + std::to_string(minimum) + ")" : description;
  CLI::Option* option =
      add_parsed(app, flag, told, [&target, flag, minimum](const std::string& text) {
        target = parse_count(flag, text, minimum);
      });
  option->type_name("N");
  option->default_str(std::to_string(target));
  return option;
}

std::string size_text(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  std::uint64_t whole = bytes;
  while (unit < 4 && whole >= 1024 && whole % 1024 == 0) {
    whole /= 1024;
    ++unit;
  }
  return std::to_string(whole) + " " + kUnits[unit];
}

}  // namespace evring::cli
