// A nats-server on this machine, for evring demo --remote, evring-bench remote and the
// tests: a free localhost port, the command line of a server with JetStream and its store,
// and whether it accepts connections yet. Running it is the caller's (ExecProcess, or the
// tests' ServiceProcess), so it is stopped by pid like every child.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace evring::remote {

inline constexpr const char* kNatsServerBinary = "/usr/sbin/nats-server";  // Debian's

// A localhost TCP port nothing listens on now. Throws Error(io) if none can be had.
int free_local_port();
// "-a 127.0.0.1 -p PORT", and with a store "-js -sd STORE".
std::vector<std::string> local_server_args(int port, const std::filesystem::path& store);
bool accepts_connections(int port);
std::string local_url(int port);

}  // namespace evring::remote
