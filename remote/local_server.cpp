#include "local_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "evring/error.hpp"

namespace evring::remote {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopback(0);
  socklen_t size = sizeof address;
  const bool bound = fd >= 0 &&
                     ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  if (fd >= 0) ::close(fd);
  if (!bound) throw Error(ErrorCode::io, "cannot find a free localhost port for nats-server");
  return ntohs(address.sin_port);
}

std::vector<std::string> local_server_args(int port, const std::filesystem::path& store) {
  std::vector<std::string> args{"-a", "127.0.0.1", "-p", std::to_string(port)};
  if (!store.empty()) args.insert(args.end(), {"-js", "-sd", store.string()});
  return args;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in address = loopback(port);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

std::string local_url(int port) {
  return "nats://127.0.0.1:" + std::to_string(port);
}

}  // namespace evring::remote
