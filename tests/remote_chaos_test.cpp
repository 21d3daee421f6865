// kill -9 of the bridge, the writer, the NATS server and the remote reader, one at a time
// at random, while a client submits commands with ids (resubmitting after each crash).
// Afterwards the stream holds each event exactly once at its seq (messages == last seq ==
// the writer's head, and message S is the journal's event S), and the remote view equals
// the local one. EVRING_CHAOS_SEED=<n> replays a run's choices (the moments stay
// timing-dependent).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "evring/query_client.hpp"
#include "nats_server_support.hpp"
#include "stream/event_stream.hpp"
#include "stream_identity.hpp"

namespace evring {
namespace {

using namespace std::chrono_literals;

constexpr auto kChaosTime = 10s;

// Submits put k<i % 50> v<i> with id c<i> until `stop`, one every ~half millisecond;
// after a writer crash, reconnects and resubmits the same id. Returns the last seq.
std::uint64_t submit_until(const std::string& instance, const std::atomic<bool>& stop) {
  std::uint64_t last_seq = 0;
  std::optional<Client> client;
  for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed);) {  // relaxed: a lone flag
    try {
      if (!client) client.emplace(test::connect_with_retry(instance, 20s));
      const CommandReply reply = client->submit_text(
          {"put", "k" + std::to_string(i % 50), "v" + std::to_string(i)}, "c" + std::to_string(i));
      EXPECT_FALSE(reply.rejected()) << reply.reason;
      last_seq = std::max(last_seq, reply.seq);
      ++i;
      std::this_thread::sleep_for(500us);
    } catch (const Error&) {
      client.reset();  // the writer died: the same id again on its successor
    }
  }
  return last_seq;
}

TEST(RemoteChaos, EveryEventOnceAtItsSeqAndTheRemoteViewEqualsTheLocal) {
  const char* seed_text = std::getenv("EVRING_CHAOS_SEED");
  const std::uint64_t seed = seed_text != nullptr
                                 ? std::strtoull(seed_text, nullptr, 10)
                                 : static_cast<std::uint64_t>(std::random_device{}());
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("EVRING_CHAOS_SEED=" + std::to_string(seed));

  test::TempDir dir("remote-chaos");
  test::use_private_folders(dir.path());
  const std::string instance = test::unique_instance("remote-chaos");
  test::InstanceCleanup cleanup(instance);
  const std::string stream = remote::default_stream_name(instance);

  test::NatsServerProcess server(dir.path());
  test::WriterProcess writer(instance, dir.path(), {"--domain", "kv"});
  const std::filesystem::path bridge_log = dir.path() / "bridge.log";
  test::ServiceProcess bridge(
      "evring", dir.path(), "bridge",
      {"bridge", "--name", instance, "--to", server.url(), "--ack-timeout", "500ms"},
      [&](pid_t) { return std::filesystem::exists(bridge_log); });
  test::ReaderProcess local(instance, "local", dir.path(), {"--view", "kv", "--from", "start"});
  // Its stream must exist before a remote reader opens it.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto link = remote::NatsLink::connect(server.url(), remote::LinkOptions{});
        return link->stream_info(stream) != nullptr;
      },
      15s))
      << bridge.log();
  test::ReaderProcess remote_reader(instance, "remote", dir.path(),
                                    {"--view", "kv", "--from", "checkpoint", "--checkpoint-seconds",
                                     "1", "--source", server.url()});

  std::atomic<bool> stop{false};
  std::uint64_t submitted_head = 0;
  std::thread client([&] { submitted_head = submit_until(instance, stop); });

  std::vector<test::ServiceProcess*> victims{&bridge, &writer, &server, &remote_reader};
  const char* names[] = {"bridge", "writer", "server", "remote reader"};
  int kills[4] = {0, 0, 0, 0};
  const auto end = std::chrono::steady_clock::now() + kChaosTime;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 600));
    const std::size_t victim = rng() % victims.size();
    victims[victim]->kill9();
    ++kills[victim];
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    victims[victim]->restart();
  }
  stop = true;  // seq_cst: plain flag
  client.join();
  for (int i = 0; i < 4; ++i) std::printf("%s killed %d times\n", names[i], kills[i]);

  // The head: one more command, after all that was answered.
  Client last = test::connect_with_retry(instance, 20s);
  const std::uint64_t head = last.submit_text({"put", "last", "x"}, "last").seq;
  ASSERT_GT(head, submitted_head);
  std::printf("%llu events\n", static_cast<unsigned long long>(head));

  const test::StreamState state = test::stream_at(server.url(), stream, head, 30s);
  ASSERT_GE(state.last_seq, head) << bridge.log();
  EXPECT_EQ(state.first_seq, 1u);
  EXPECT_EQ(state.last_seq, head);
  EXPECT_EQ(state.messages, head);

  // Message S is the journal's event S, byte for byte.
  const auto link = remote::NatsLink::connect(server.url(), remote::LinkOptions{});
  JournalSource journal(writer.journal(), 1);
  Event event;
  std::uint64_t checked = 0;
  while (checked < head && journal.next(event)) {
    natsMsg* msg = nullptr;
    ASSERT_EQ(js_GetMsg(&msg, link->jetstream(), stream.c_str(), event.seq, nullptr, nullptr),
              NATS_OK)
        << "seq " << event.seq;
    const remote::MsgPtr owned(msg);
    ASSERT_EQ(static_cast<std::size_t>(natsMsg_GetDataLength(msg)), event.payload.size());
    ASSERT_EQ(std::memcmp(natsMsg_GetData(msg), event.payload.data(), event.payload.size()), 0)
        << "seq " << event.seq;
    ++checked;
  }
  EXPECT_EQ(checked, head);

  const std::string local_view = test::view_answer(instance, "local", {"scan", "k"}, head);
  EXPECT_EQ(test::view_answer(instance, "remote", {"scan", "k"}, head), local_view);
  EXPECT_NE(local_view, "[]");
}

}  // namespace
}  // namespace evring
