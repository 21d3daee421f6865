#include "nats_server_support.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace evring::test {
namespace {

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

std::vector<std::string> server_args(const std::filesystem::path& folder, bool jetstream,
                                     std::vector<std::string> extra, int port) {
  std::vector<std::string> args{"-a", "127.0.0.1", "-p", std::to_string(port)};
  if (jetstream) {
    args.insert(args.end(), {"-js", "-sd", (folder / "jetstream").string()});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

NatsServerProcess::NatsServerProcess(const std::filesystem::path& folder, bool jetstream,
                                     std::vector<std::string> extra_args)
    : NatsServerProcess(folder, jetstream, std::move(extra_args), free_port()) {}

NatsServerProcess::NatsServerProcess(const std::filesystem::path& folder, bool jetstream,
                                     std::vector<std::string> extra_args, int port)
    : ServiceProcess("/usr/sbin/nats-server", folder, "nats-" + std::to_string(port),
                     server_args(folder, jetstream, std::move(extra_args), port),
                     [port](pid_t) { return accepts_connections(port); }),
      port_(port) {}

StreamState stream_state(const remote::NatsLink& link, const std::string& stream) {
  const remote::StreamInfoPtr info = link.stream_info(stream);
  if (!info) return {};
  return StreamState{info->State.Msgs, info->State.FirstSeq, info->State.LastSeq};
}

bool log_shows(const ServiceProcess& process, const std::string& text,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!contains(process.log(), text)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace evring::test
