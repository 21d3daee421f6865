// The bridge's hold on the journal (journal_holds.hpp): evring bridge writes
// <journal>/holds/bridge-<stream> with the seq after the last one JetStream acknowledged,
// and leaves it when stopped, so the writer's retention keeps what a restarted bridge
// resumes from. A real nats-server (tests/nats_server_support.hpp).
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "journal/journal_holds.hpp"
#include "nats_server_support.hpp"
#include "stream_identity.hpp"

namespace evring {
namespace {

using namespace std::chrono_literals;

class RetentionBridgeTest : public test::ProcessTest {
 protected:
  RetentionBridgeTest()
      : ProcessTest("retention-bridge"),
        instance(test::unique_instance("rbridge")),
        cleanup(instance) {}
  std::string instance;
  test::InstanceCleanup cleanup;
};

TEST_F(RetentionBridgeTest, StoppedBridgeKeepsItsHold) {
  test::NatsServerProcess server(dir());
  test::WriterProcess writer(instance, dir(), {"--domain", "kv"});
  Client client = test::connect_with_retry(instance, 30s);
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    last = client.submit_text({"put", "k" + std::to_string(i), "v"}).seq;
  }
  const std::string stream = remote::default_stream_name(instance);
  const auto hold_seq = [&]() -> std::uint64_t {
    for (const JournalHold& hold : read_holds(writer.journal())) {
      if (hold.holder == bridge_holder(stream)) return hold.needed_seq;
    }
    return 0;
  };
  test::ServiceProcess bridge("evring", dir(), "bridge",
                              {"bridge", "--name", instance, "--to", server.url()},
                              [&](pid_t) { return hold_seq() != 0; });
  ASSERT_EQ(test::stream_at(server.url(), stream, last, 15s).last_seq, last);
  ASSERT_EQ(bridge.stop(), 0);
  // Stopped, it still holds what it resumes from: the seq after the last one acknowledged.
  EXPECT_EQ(hold_seq(), last + 1) << bridge.log();
}

}  // namespace
}  // namespace evring
