// A small HTTP/1.1 server for read-only endpoints over TCP (evring stat --serve: Prometheus'
// /metrics). One request per connection (the reply says Connection: close), so a client
// holds a connection only as long as one exchange takes.
//
// THREADS: the thread that calls run() accepts; each connection is served by a thread of
// its own, at most max_connections at a time (one more is answered 503 at once and closed),
// so concurrent scrapes do not wait for each other and a slow one holds only its thread.
// A connection that has not sent its whole request head within request_timeout_ns, or sends
// more than max_request_bytes of it, is answered (408, 431) and closed; a client that does
// not read its reply is dropped at the same deadline.
//
// Methods: GET and HEAD reach the handler (HEAD: the reply without its body); any other is
// 405 with Allow. A request that does not parse is 400.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/fd.hpp"

namespace evring::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpServerOptions {
  // HOST:PORT: 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464 or ::1:9464, :9464 (every
  // interface); port 0 picks a free one (bound_address() says which).
  std::string address;
  std::size_t max_connections = 16;
  std::size_t max_request_bytes = 8192;
  std::int64_t request_timeout_ns = 5'000'000'000;
};

class HttpServer {
 public:
  // Called on a connection's thread, for GET and HEAD, with the path of the target (its
  // query string cut off). Must be safe to call from several threads at once.
  using Handler = std::function<HttpResponse(std::string_view path)>;

  // Binds and listens. Throws Error(invalid_argument) for an address that does not parse,
  // Error(writer_running) when another socket listens there, Error(io) otherwise; each
  // message names the address and what to do.
  HttpServer(const HttpServerOptions& options, Handler handler);
  // Waits for the connections being served (each ends by its deadline at the latest).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The address it listens on, port resolved: "127.0.0.1:40123", "[::1]:9464".
  const std::string& bound_address() const noexcept { return bound_; }
  // The calling thread accepts until `stop_requested` says so (asked every 100 ms).
  void run(const std::function<bool()>& stop_requested);

  // What the connection threads use; theirs until the last one ends. Internal.
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  Fd listener_;
  std::string bound_;
};

// "200 OK", "404 Not Found", ...: the status line's text after the version.
std::string_view http_status_text(int status);

}  // namespace evring::net
