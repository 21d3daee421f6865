// A nats-server (Debian's, /usr/sbin) for the tests of remote/: JetStream on, its store in
// the test's folder, on a free localhost port; stopped and killed by pid like any
// ServiceProcess. Also a look at a stream from the test, through cnats.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "local_server.hpp"
#include "nats_link.hpp"
#include "writer_process_support.hpp"

namespace evring::test {

class NatsServerProcess : public ServiceProcess {
 public:
  // jetstream false: a server without -js (for the error it must cause).
  NatsServerProcess(const std::filesystem::path& folder, bool jetstream = true,
                    std::vector<std::string> extra_args = {});
  int port() const noexcept { return port_; }
  std::string url() const { return remote::local_url(port_); }

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

// The stream's state once its last seq is `seq` or past it, or at `timeout`: through a
// server at `url`, reconnecting while it (or its cluster, electing a leader) does not answer.
StreamState stream_at(const std::string& url, const std::string& stream, std::uint64_t seq,
                      std::chrono::milliseconds timeout);

// Reader `id`'s answer to `words` once it has applied `after` (a failed expectation if it
// does not within 30 s): the result's JSON text.
std::string view_answer(const std::string& instance, const std::string& id,
                        std::vector<std::string_view> words, std::uint64_t after);

// Waits until a ServiceProcess's log holds `text`, up to `timeout`.
bool log_shows(const ServiceProcess& process, const std::string& text,
               std::chrono::milliseconds timeout);

}  // namespace evring::test
