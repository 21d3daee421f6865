// A nats-server (Debian's, /usr/sbin) for the tests of remote/: JetStream on, its store in
// the test's folder, on a free localhost port; stopped and killed by pid like any
// ServiceProcess. Also a look at a stream from the test, through cnats.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nats_link.hpp"
#include "writer_process_support.hpp"

namespace evring::test {

// A localhost TCP port nothing listens on now.
int free_port();

class NatsServerProcess : public ServiceProcess {
 public:
  // jetstream false: a server without -js (for the error it must cause).
  NatsServerProcess(const std::filesystem::path& folder, bool jetstream = true,
                    std::vector<std::string> extra_args = {});
  int port() const noexcept { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  NatsServerProcess(const std::filesystem::path& folder, bool jetstream,
                    std::vector<std::string> extra_args, int port);
  int port_;
};

// The stream's messages, first and last seq; all 0 when it does not exist.
struct StreamState {
  std::uint64_t messages = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
};
StreamState stream_state(const remote::NatsLink& link, const std::string& stream);

// Waits until a ServiceProcess's log holds `text`, up to `timeout`.
bool log_shows(const ServiceProcess& process, const std::string& text,
               std::chrono::milliseconds timeout);

}  // namespace evring::test
