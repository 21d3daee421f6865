// What evring stat prints, for other subcommands (the demo) to show.
#pragma once

#include <string>

namespace evring::tools {

// The table `evring stat --name instance` prints: the writer, its ring and one row per
// reader, with rates from two samples 200 ms apart. Throws Error(no_instance) if there is
// no such instance. Any thread.
std::string stat_table(const std::string& instance);

}  // namespace evring::tools
