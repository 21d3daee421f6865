#include "footprint.hpp"

#include <sys/stat.h>

#include <iterator>

#include <fmt/format.h>

#include "journal/journal.hpp"

namespace evring::tools {

JournalFootprint journal_footprint(const std::filesystem::path& folder) {
  JournalFootprint footprint;
  for (const std::filesystem::path& segment : journal_segments(folder)) {
    struct stat info {};
    if (::stat(segment.c_str(), &info) != 0) continue;  // removed meanwhile
    footprint.bytes += static_cast<std::uint64_t>(info.st_blocks) * 512;
    ++footprint.segments;
  }
  return footprint;
}

std::string bytes_text(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

}  // namespace evring::tools
