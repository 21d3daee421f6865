#include "writer_process.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "evring/builtin/kv_events.hpp"
#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/interrupt.hpp"

namespace fs = std::filesystem;

namespace evring::bench {
namespace {

constexpr auto kReadyRetry = std::chrono::milliseconds(1);

ExecLaunch exec_launch(const WriterLaunch& launch) {
  ExecLaunch exec{launch.binary, {"--name", launch.instance}, launch.cpu, launch.capture_log};
  exec.args.insert(exec.args.end(), launch.args.begin(), launch.args.end());
  return exec;
}

}  // namespace

fs::path find_writer_binary(const std::string& given) {
  return find_sibling_binary("evring-writer", given, "--writer");
}

WriterProcess::WriterProcess(const WriterLaunch& launch)
    : instance_(launch.instance), exec_(exec_launch(launch)) {}

void WriterProcess::wait_until_ready(std::int64_t deadline_ns) {
  harness::ChildProcess& process = exec_.process();
  for (;;) {
    process.check_running();
    harness::throw_if_interrupted();
    try {
      const Client probe = Client::connect(instance_);
      if (probe.writer_pid() == static_cast<std::uint64_t>(process.pid())) return;
    } catch (const Error& e) {
      // Not there yet (or a dead writer's leftover, which ours replaces): look again.
      if (e.code() != ErrorCode::no_instance && e.code() != ErrorCode::writer_gone) throw;
    }
    if (monotonic_ns() > deadline_ns) {
      throw Error(ErrorCode::io, "evring-writer (pid " + std::to_string(process.pid()) +
                                     ") took no client before the deadline; see its messages");
    }
    std::this_thread::sleep_for(kReadyRetry);
  }
}

std::vector<std::vector<std::byte>> encode_put_commands(unsigned client) {
  const std::string value(kPutValueBytes, 'v');
  std::vector<std::vector<std::byte>> commands;
  commands.reserve(kPutKeys);
  for (std::uint32_t key = 0; key < kPutKeys; ++key) {
    const std::string name = fmt::format("c{}-key-{:04}", client, key);
    commands.push_back(kv::encode(kv::PutCommand{name, value}));
  }
  return commands;
}

}  // namespace evring::bench
