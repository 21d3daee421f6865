// What an instance costs, for the subcommands that show it (stat, ls): a journal folder
// on disk, and sizes as people read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace evring::tools {

struct JournalFootprint {
  std::uint64_t bytes = 0;  // blocks allocated to its segment files (reserved, so written or not)
  std::size_t segments = 0;
};

// The segment files of the journal in `folder`; zero of each if there is none. Any thread.
JournalFootprint journal_footprint(const std::filesystem::path& folder);

// "512 B", "64.0 KiB", "1.5 GiB".
std::string bytes_text(double bytes);

}  // namespace evring::tools
