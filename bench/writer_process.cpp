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

harness::ExecLaunch exec_launch(const WriterLaunch& launch) {
  harness::ExecLaunch exec;
  exec.binary = launch.binary;
  exec.args = {"--name", launch.instance};
  exec.cpu = launch.cpu;
  exec.capture_log = launch.capture_log;
  exec.args.insert(exec.args.end(), launch.args.begin(), launch.args.end());
  return exec;
}

}  // namespace

fs::path find_writer_binary(const std::string& given) {
  return harness::find_sibling_binary("evring-writer", given, "--writer");
}

WriterProcess::WriterProcess(const WriterLaunch& launch)
    : instance_(launch.instance), exec_(exec_launch(launch)) {}

void WriterProcess::wait_until_ready(std::int64_t deadline_ns) {
  harness::wait_for_writer(exec_.process(), instance_, deadline_ns);
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
