// The command intake under TSan: client threads pipeline commands of random sizes through
// their own slots while one thread plays the writer, sleeping on the doorbell when idle and
// answering each command with a checksum of its bytes. Every reply must match its command.
// EVRING_STRESS_SEED=<n> replays a run.
#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "intake/command_intake.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

std::uint64_t checksum(std::span<const std::byte> bytes) {
  std::uint64_t sum = 1469598103934665603ull;
  for (const std::byte b : bytes) sum = (sum ^ static_cast<std::uint8_t>(b)) * 1099511628211ull;
  return sum;
}

TEST(IntakeStress, PipelinedClientsAndASleepingWriterAgreeOnEveryReply) {
  std::uint64_t seed = std::random_device{}();
  if (const char* fixed = std::getenv("EVRING_STRESS_SEED")) seed = std::stoull(fixed);
  std::printf("intake stress seed %llu\n", static_cast<unsigned long long>(seed));
  const std::string instance = test::unique_instance("intake-stress");
  test::InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});

  constexpr int kClients = 3;
  constexpr int kCommandsPerClient = 20'000;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> served{0};
  std::thread writer([&] {
    IncomingCommand command;
    while (!stop.load(std::memory_order_relaxed)) {
      if (!intake.next(command)) {
        intake.maintain();
        intake.sleep(1'000'000);
        continue;
      }
      CommandReply reply;
      reply.status = ReplyStatus::accepted;
      reply.seq = checksum(command.payload) ^ checksum(command.id);
      intake.finish(command);
      intake.reply(command.from, reply);
      served.fetch_add(1, std::memory_order_relaxed);
    }
  });

  std::atomic<int> mismatches{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(c));
      // Block after no spin at all for one client, so the reply futex is exercised too.
      Client client = Client::connect(
          instance, ClientOptions{c == 0 ? WaitKind::block : WaitKind::yield, c == 0 ? 0 : 50'000});
      std::vector<std::uint64_t> expected;
      std::size_t next_reply = 0;
      for (int i = 0; i < kCommandsPerClient; ++i) {
        std::vector<std::byte> command(rng() % 2048);
        for (auto& b : command) b = static_cast<std::byte>(rng());
        const std::string id = std::to_string(c) + "-" + std::to_string(i);
        expected.push_back(checksum(command) ^
                           checksum(std::as_bytes(std::span(id.data(), id.size()))));
        client.send(command, id);
        while (client.in_flight() > rng() % 300) {
          if (client.receive().reply.seq != expected[next_reply++]) mismatches.fetch_add(1);
        }
      }
      while (client.in_flight() > 0) {
        if (client.receive().reply.seq != expected[next_reply++]) mismatches.fetch_add(1);
      }
    });
  }
  for (auto& client : clients) client.join();
  stop.store(true);
  writer.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(served.load(), static_cast<std::uint64_t>(kClients) * kCommandsPerClient);
}

}  // namespace
}  // namespace evring
