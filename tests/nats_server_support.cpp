#include "nats_server_support.hpp"

#include <thread>

#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "local_server.hpp"

namespace evring::test {
namespace {

std::vector<std::string> server_args(const std::filesystem::path& folder, bool jetstream,
                                     std::vector<std::string> extra, int port) {
  std::vector<std::string> args =
      remote::local_server_args(port, jetstream ? folder / "jetstream" : std::filesystem::path());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

NatsServerProcess::NatsServerProcess(const std::filesystem::path& folder, bool jetstream,
                                     std::vector<std::string> extra_args)
    : NatsServerProcess(folder, jetstream, std::move(extra_args), remote::free_local_port()) {}

NatsServerProcess::NatsServerProcess(const std::filesystem::path& folder, bool jetstream,
                                     std::vector<std::string> extra_args, int port)
    : ServiceProcess(remote::kNatsServerBinary, folder, "nats-" + std::to_string(port),
                     server_args(folder, jetstream, std::move(extra_args), port),
                     [port](pid_t) { return remote::accepts_connections(port); }),
      port_(port) {}

StreamState stream_state(const remote::NatsLink& link, const std::string& stream) {
  const remote::StreamInfoPtr info = link.stream_info(stream);
  if (!info) return {};
  return StreamState{info->State.Msgs, info->State.FirstSeq, info->State.LastSeq};
}

StreamState stream_at(const std::string& url, const std::string& stream, std::uint64_t seq,
                      std::chrono::milliseconds timeout) {
  std::unique_ptr<remote::NatsLink> link;
  StreamState state;
  wait_until(
      [&] {
        try {
          if (!link) link = remote::NatsLink::connect(url, remote::LinkOptions{});
          state = stream_state(*link, stream);
          return state.last_seq >= seq;
        } catch (const Error&) {
          return false;
        }
      },
      timeout);
  return state;
}

std::string view_answer(const std::string& instance, const std::string& id,
                        std::vector<std::string_view> words, std::uint64_t after) {
  QueryClient client = QueryClient::connect(instance, id);
  const QueryReply reply = client.query(words, after, std::chrono::seconds(30));
  EXPECT_FALSE(reply.stale) << id << " did not reach seq " << after;
  return reply.result.value_or(reply.raw);
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
