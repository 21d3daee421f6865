#include "stat_serve.hpp"

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "evring/error.hpp"
#include "exit_status.hpp"
#include "harness/interrupt.hpp"
#include "net/http_server.hpp"
#include "stat_render.hpp"
#include "stat_snapshot.hpp"

namespace evring::tools::stat {
namespace {

// One sample per scrape: Prometheus computes the rates from the counters. An instance that
// is not running is a writer that is down, not a failed scrape.
std::string metrics_now(const std::string& instance) {
  try {
    const Sample only = take_sample(instance);
    return render_prometheus(make_snapshot(instance, only, only));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::no_instance) throw;
    Snapshot down;
    down.instance = instance;
    down.local_writer = false;
    return render_prometheus(down);
  }
}

}  // namespace

int serve_metrics(const std::string& instance, const std::string& address) {
  validate_instance_name(instance);
  harness::install_interrupt_handlers();
  net::HttpServerOptions options;
  options.address = address;
  net::HttpServer server(options, [&instance](std::string_view path) {
    if (path != "/metrics") {
      return net::HttpResponse{404, "text/plain; charset=utf-8",
                               "not found: the metrics are at /metrics\n"};
    }
    try {
      return net::HttpResponse{200, kPrometheusContentType, metrics_now(instance)};
    } catch (const Error& e) {
      return net::HttpResponse{500, "text/plain; charset=utf-8", describe(e) + "\n"};
    }
  });
  fmt::print("serving the metrics of instance {} at http://{}/metrics (Ctrl-C to stop)\n", instance,
             server.bound_address());
  std::fflush(stdout);
  server.run([] { return harness::interrupted(); });
  return kExitOk;
}

}  // namespace evring::tools::stat
