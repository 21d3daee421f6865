// evring stat --serve: the instance's metrics over HTTP for Prometheus to scrape.
#pragma once

#include <string>

namespace evring::tools::stat {

// Listens on `address` (HOST:PORT; net/http_server.hpp) and answers GET /metrics with a
// fresh sample of `instance` in the text exposition format, until SIGINT or SIGTERM
// (returns 0). Prints the address it listens on, port resolved, first. Throws Error when
// it cannot listen there.
int serve_metrics(const std::string& instance, const std::string& address);

}  // namespace evring::tools::stat
