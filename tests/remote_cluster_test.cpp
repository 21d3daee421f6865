// A three-node JetStream cluster on localhost and a stream of three replicas: the node the
// bridge is connected to is killed (-9) while commands flow; the bridge carries on through
// another node (cnats learns them from the cluster), the remote reader on a second node
// carries on, and at the end the stream holds each event once at its seq and the remote
// view equals the local one.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "nats_server_support.hpp"
#include "stream_identity.hpp"

namespace evring {
namespace {

using namespace std::chrono_literals;

// Until a stream of three replicas can be made: the cluster has a JetStream leader.
bool cluster_ready(const std::string& url) {
  try {
    const auto link = remote::NatsLink::connect(url, remote::LinkOptions{});
    const char* subjects[] = {"probe"};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = "PROBE";
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Replicas = 3;
    jsStreamInfo* info = nullptr;
    if (js_AddStream(&info, link->jetstream(), &config, nullptr, nullptr) != NATS_OK) {
      return false;
    }
    jsStreamInfo_Destroy(info);
    js_DeleteStream(link->jetstream(), "PROBE", nullptr, nullptr);
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(RemoteCluster, BridgeAndRemoteReaderCarryOnWhenANodeDies) {
  test::TempDir dir("remote-cluster");
  test::use_private_folders(dir.path());
  const std::string instance = test::unique_instance("remote-cluster");
  test::InstanceCleanup cleanup(instance);
  const std::string stream = remote::default_stream_name(instance);

  const int route_ports[] = {remote::free_local_port(), remote::free_local_port(),
                             remote::free_local_port()};
  std::string routes;
  for (const int port : route_ports) {
    routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(port);
  }
  std::vector<std::unique_ptr<test::NatsServerProcess>> nodes;
  for (int i = 0; i < 3; ++i) {
    const std::filesystem::path folder = dir.path() / ("node" + std::to_string(i));
    std::filesystem::create_directories(folder);
    nodes.push_back(std::make_unique<test::NatsServerProcess>(
        folder, true,
        std::vector<std::string>{"-n", "node" + std::to_string(i), "--cluster_name", "evring",
                                 "--cluster", "nats://127.0.0.1:" + std::to_string(route_ports[i]),
                                 "--routes", routes}));
  }
  ASSERT_TRUE(test::wait_until([&] { return cluster_ready(nodes[1]->url()); }, 20s))
      << nodes[0]->log();

  test::WriterProcess writer(instance, dir.path(), {"--domain", "kv"});
  const std::filesystem::path bridge_log = dir.path() / "bridge.log";
  test::ServiceProcess bridge(
      "evring", dir.path(), "bridge",
      {"bridge", "--name", instance, "--to", nodes[0]->url(), "--replicas", "3", "--ack-timeout",
       "1s"},
      [&](pid_t) { return test::contains(test::read_file(bridge_log), "bridge of instance"); });
  test::ReaderProcess local(instance, "local", dir.path(), {"--view", "kv", "--from", "start"});
  test::ReaderProcess remote_reader(
      instance, "remote", dir.path(),
      {"--view", "kv", "--from", "start", "--source", nodes[1]->url()});

  std::atomic<bool> stop{false};
  std::thread client([&] {
    Client commands = Client::connect(instance);
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {  // relaxed: a lone flag
      const CommandReply reply =
          commands.submit_text({"put", "k" + std::to_string(i % 40), "v" + std::to_string(i)});
      EXPECT_TRUE(reply.accepted()) << reply.reason;
      std::this_thread::sleep_for(1ms);
    }
  });
  std::this_thread::sleep_for(1s);
  nodes[0]->kill9();  // the bridge's node
  std::this_thread::sleep_for(3s);
  stop = true;  // seq_cst: a plain flag
  client.join();

  Client last = Client::connect(instance);
  const std::uint64_t head = last.submit_text({"put", "last", "x"}).seq;
  const test::StreamState state = test::stream_at(nodes[2]->url(), stream, head, 30s);
  ASSERT_GE(state.last_seq, head) << bridge.log() << nodes[2]->log();
  EXPECT_EQ(state.first_seq, 1u);
  EXPECT_EQ(state.last_seq, head);
  EXPECT_EQ(state.messages, head);

  EXPECT_EQ(test::view_answer(instance, "remote", {"scan", "k"}, head),
            test::view_answer(instance, "local", {"scan", "k"}, head));
}

}  // namespace
}  // namespace evring
