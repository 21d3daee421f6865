#include "net/http_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "evring/clock.hpp"
#include "evring/error.hpp"

namespace evring::net {
namespace {

constexpr int kAcceptSliceMs = 100;                // how often run() asks stop_requested
constexpr std::int64_t kLingerNs = 1'000'000'000;  // for the client to close after the reply

struct Endpoint {
  std::string host;  // empty: every interface
  std::string port;
};

// HOST:PORT split at the last colon; [v6]:PORT unbracketed.
Endpoint split_address(const std::string& address) {
  const auto bad = [&address](const std::string& why) {
    return Error(ErrorCode::invalid_argument,
                 "bad listen address \"" + address + "\": " + why +
                     ": give HOST:PORT, e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464 or :9464 "
                     "(port 0 picks a free one)");
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw bad("no port");
  Endpoint endpoint{address.substr(0, colon), address.substr(colon + 1)};
  if (endpoint.host.size() >= 2 && endpoint.host.front() == '[' && endpoint.host.back() == ']') {
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  }
  unsigned port = 0;
  const char* end = endpoint.port.data() + endpoint.port.size();
  const auto [at, ec] = std::from_chars(endpoint.port.data(), end, port);
  if (endpoint.port.empty() || ec != std::errc{} || at != end || port > 65535) {
    throw bad("the port must be a number from 0 to 65535");
  }
  return endpoint;
}

std::string address_text(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
  ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
}

// A listening socket on the first of `endpoint`'s addresses that takes it; every interface
// when the host is empty: IPv6 and IPv4 both where the machine has IPv6.
Fd listen_on(const Endpoint& endpoint, const std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // Numeric hosts only (and localhost): a name to resolve could hang a start on DNS.
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  const std::string numeric = endpoint.host == "localhost" ? "127.0.0.1" : endpoint.host;
  const char* host = endpoint.host.empty() ? nullptr : numeric.c_str();
  if (endpoint.host.empty()) hints.ai_family = AF_INET6;  // "::", dual stack below
  int rc = ::getaddrinfo(host, endpoint.port.c_str(), &hints, &found);
  if (rc != 0 && endpoint.host.empty()) {
    hints.ai_family = AF_INET;  // no IPv6 here: 0.0.0.0
    rc = ::getaddrinfo(host, endpoint.port.c_str(), &hints, &found);
  }
  if (rc != 0) {
    throw Error(ErrorCode::invalid_argument,
                "bad listen address \"" + address + "\": " + ::gai_strerror(rc) +
                    ": give HOST:PORT with a numeric HOST of this machine (127.0.0.1, ::1, "
                    "0.0.0.0, localhost)");
  }
  int err = 0;
  Fd listener;
  for (const addrinfo* ai = found; ai != nullptr && !listener.valid(); ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) {
      err = errno;
      continue;
    }
    const int on = 1;
    const int off = 0;
    // A restart while the last run's connections sit in TIME_WAIT may bind again; a live
    // listener still makes bind() fail with EADDRINUSE.
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (ai->ai_family == AF_INET6 && endpoint.host.empty()) {
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 64) != 0) {
      err = errno;
      continue;
    }
    listener = std::move(fd);
  }
  ::freeaddrinfo(found);
  if (listener.valid()) return listener;
  if (err == EADDRINUSE) {
    throw Error(ErrorCode::writer_running,
                "cannot listen on " + address +
                    ": the address is already in use: stop what listens there (ss -ltnp names "
                    "it) or choose another port");
  }
  if (err == EADDRNOTAVAIL) {
    throw Error(ErrorCode::invalid_argument,
                "cannot listen on " + address +
                    ": no interface of this machine has that address: give HOST:PORT with HOST "
                    "127.0.0.1, ::1 or 0.0.0.0");
  }
  if (err == EACCES) {
    throw Error(ErrorCode::permission_denied,
                "cannot listen on " + address + ": " + errno_text(err) +
                    ": ports below 1024 need privileges; choose a port from 1024 up");
  }
  throw Error(ErrorCode::io, "cannot listen on " + address + ": " + errno_text(err));
}

// Waits for `events` on `fd` until `deadline_ns`; false at the deadline or on an error.
bool wait_for(int fd, short events, std::int64_t deadline_ns) {
  for (;;) {
    const std::int64_t left_ns = deadline_ns - monotonic_ns();
    if (left_ns <= 0) return false;
    pollfd one{fd, events, 0};
    const int rc = ::poll(&one, 1,
                          static_cast<int>(std::min<std::int64_t>((left_ns + 999'999) / 1'000'000,
                                                                  kAcceptSliceMs * 10)));
    if (rc > 0) return (one.revents & (events | POLLHUP)) != 0;
    if (rc < 0 && errno != EINTR) return false;
  }
}

// Sends all of `data` by `deadline_ns`; false if the client went or did not read in time.
bool send_all(int fd, std::string_view data, std::int64_t deadline_ns) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        wait_for(fd, POLLOUT, deadline_ns)) {
      continue;
    }
    return false;
  }
  return true;
}

std::string head_of(const HttpResponse& response, std::string_view extra_headers = {}) {
  // No fmt here: the runtime library does not depend on it.
  std::string head = "HTTP/1.1 " + std::string(http_status_text(response.status)) +
                     "\r\nContent-Type: " + std::string(response.content_type) +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) +
                     "\r\nConnection: close\r\n";
  head += extra_headers;
  head += "\r\n";
  return head;
}

HttpResponse plain(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

}  // namespace

struct HttpServer::Shared {
  HttpServerOptions options;
  Handler handler;
  std::mutex mutex;
  std::condition_variable drained;
  std::size_t active = 0;  // connection threads running; under mutex
};

namespace {

// One connection's exchange, on its own thread.
void serve(const std::shared_ptr<HttpServer::Shared>& shared, Fd connection) noexcept;

}  // namespace

std::string_view http_status_text(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 400:
      return "400 Bad Request";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    case 408:
      return "408 Request Timeout";
    case 431:
      return "431 Request Header Fields Too Large";
    case 500:
      return "500 Internal Server Error";
    case 503:
      return "503 Service Unavailable";
    default:
      return "500 Internal Server Error";
  }
}

HttpServer::HttpServer(const HttpServerOptions& options, Handler handler)
    : shared_(std::make_shared<Shared>()) {
  shared_->options = options;
  shared_->handler = std::move(handler);
  listener_ = listen_on(split_address(options.address), options.address);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  bound_ = address_text(bound);
}

HttpServer::~HttpServer() {
  // The handler may refer to what its owner destroys next: no call of it may be running.
  std::unique_lock lock(shared_->mutex);
  shared_->drained.wait(lock, [this] { return shared_->active == 0; });
}

void HttpServer::run(const std::function<bool()>& stop_requested) {
  while (!stop_requested()) {
    pollfd one{listener_.get(), POLLIN, 0};
    if (::poll(&one, 1, kAcceptSliceMs) <= 0) continue;  // a slice passed, or EINTR
    Fd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid()) continue;  // the client gave up already, or out of fds: later
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->active < shared_->options.max_connections) {
        ++shared_->active;
        try {
          std::thread([shared = shared_, fd = std::move(connection)]() mutable {
            serve(shared, std::move(fd));
          }).detach();
        } catch (const std::system_error&) {
          // No thread to be had (RLIMIT_NPROC, memory): the connection, moved into the
          // lambda, closes unanswered, and the count must not wait for a thread that never ran.
          --shared_->active;
        }
        continue;
      }
    }
    const HttpResponse busy = plain(503, "too many connections: try again\n");
    send_all(connection.get(), head_of(busy) + busy.body,
             monotonic_ns() + shared_->options.request_timeout_ns / 10);
  }
}

namespace {

void serve(const std::shared_ptr<HttpServer::Shared>& shared, Fd connection) noexcept {
  const HttpServerOptions& options = shared->options;
  const int fd = connection.get();
  const std::int64_t deadline = monotonic_ns() + options.request_timeout_ns;
  const auto respond = [&](const HttpResponse& response, bool with_body,
                           std::string_view extra = {}) {
    send_all(fd, head_of(response, extra) + (with_body ? response.body : std::string()), deadline);
  };
  try {
    std::string request;
    std::size_t head_end = std::string::npos;
    char buffer[2048];
    while (head_end == std::string::npos) {
      if (request.size() > options.max_request_bytes) {
        respond(plain(431, "request head too large\n"), true);
        break;
      }
      if (!wait_for(fd, POLLIN, deadline)) {
        respond(plain(408, "request not received in time\n"), true);
        break;
      }
      const ssize_t got = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (got <= 0) break;  // the client went
      request.append(buffer, static_cast<std::size_t>(got));
      head_end = request.find("\r\n\r\n");
      if (head_end == std::string::npos) head_end = request.find("\n\n");  // lenient: bare LF
    }
    if (head_end != std::string::npos && head_end <= options.max_request_bytes) {
      // METHOD SP TARGET SP HTTP/1.x
      const std::string_view line(request.data(), request.find_first_of("\r\n"));
      const std::size_t first = line.find(' ');
      const std::size_t second =
          first == std::string_view::npos ? first : line.find(' ', first + 1);
      const bool parsed = second != std::string_view::npos &&
                          line.substr(second + 1).starts_with("HTTP/1.") && second > first + 1 &&
                          line[first + 1] == '/';
      if (!parsed) {
        respond(plain(400, "bad request: expected GET /metrics HTTP/1.1\n"), true);
      } else {
        const std::string_view method = line.substr(0, first);
        std::string_view path = line.substr(first + 1, second - first - 1);
        path = path.substr(0, path.find('?'));
        if (method != "GET" && method != "HEAD") {
          respond(plain(405, "only GET and HEAD\n"), true, "Allow: GET, HEAD\r\n");
        } else {
          respond(shared->handler(path), method == "GET");
        }
      }
    } else if (head_end != std::string::npos) {
      respond(plain(431, "request head too large\n"), true);
    }
  } catch (const std::exception& e) {
    respond(plain(500, std::string(e.what()) + "\n"), true);
  }
  // Half-close, then read what the client still sends until it closes (a lingering close):
  // closing with unread input would reset the connection, and the client could lose the
  // reply (a 431 to a request that was still coming).
  ::shutdown(fd, SHUT_WR);
  const std::int64_t linger_until = std::min(deadline, monotonic_ns() + kLingerNs);
  char discard[4096];
  while (wait_for(fd, POLLIN, linger_until) &&
         ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
  connection.reset();
  std::lock_guard lock(shared->mutex);
  --shared->active;
  shared->drained.notify_all();
}

}  // namespace
}  // namespace evring::net
