// The command intake and the client API, with the writer's side driven by the test: round
// trips, pipelining across the request ring's wrap, replies in order, dead clients,
// a writer that goes away, full slots, and both sleep handshakes.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "intake/command_intake.hpp"
#include "test_support.hpp"

namespace evring {
namespace {

using test::InstanceCleanup;
using test::unique_instance;

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto* raw = reinterpret_cast<const std::byte*>(text.data());
  return {raw, raw + text.size()};
}

std::string text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Serves commands on a thread: replies accepted with seq = the command's length + ticket,
// so the client can check each reply belongs to its command.
class EchoWriter {
 public:
  explicit EchoWriter(CommandIntake& intake) : intake_(intake), thread_([this] { serve(); }) {}
  ~EchoWriter() {
    stop_.store(true);
    thread_.join();
  }
  std::uint64_t served() const { return served_.load(); }

 private:
  void serve() {
    IncomingCommand command;
    while (!stop_.load()) {
      if (!intake_.next(command)) {
        intake_.maintain();
        intake_.sleep(1'000'000);
        continue;
      }
      CommandReply reply;
      reply.status = ReplyStatus::accepted;
      reply.seq = command.payload.size() * 1'000'000 + command.from.ticket;
      reply.reason = text_of(command.id);
      intake_.finish(command);
      intake_.reply(command.from, reply);
      served_.fetch_add(1);
    }
  }
  CommandIntake& intake_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> served_{0};
  std::thread thread_;
};

TEST(Intake, ConnectingToAMissingInstanceSaysHowToStartIt) {
  const std::string instance = unique_instance("intake-missing");
  try {
    Client::connect(instance);
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::no_instance);
    EXPECT_NE(std::string(e.what()).find("evring-writer --name " + instance), std::string::npos)
        << e.what();
  }
}

TEST(Intake, RoundTripCarriesIdPayloadAndTicket) {
  const std::string instance = unique_instance("intake-round");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  EchoWriter writer(intake);
  Client client = Client::connect(instance);
  const std::vector<std::byte> command = bytes_of("hello");
  const CommandReply reply = client.submit(command, "id-1");
  EXPECT_TRUE(reply.accepted());
  EXPECT_EQ(reply.seq, 5 * 1'000'000 + 1);
  EXPECT_EQ(reply.reason, "id-1");
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST(Intake, PipelinedCommandsWrapTheRingAndReplyInOrder) {
  const std::string instance = unique_instance("intake-pipe");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  EchoWriter writer(intake);
  Client client = Client::connect(instance);
  constexpr std::uint64_t kCommands = 20'000;
  std::uint64_t received = 0;
  for (std::uint64_t i = 1; i <= kCommands; ++i) {
    // Sizes up to 3000 bytes: the 64 KiB request ring wraps many times, with padding.
    const std::vector<std::byte> command((i * 7919) % 3000, std::byte{0x5a});
    EXPECT_EQ(client.send(command, std::to_string(i)), i);
    while (auto reply = client.try_receive()) {
      ++received;
      ASSERT_EQ(reply->ticket, received);
      ASSERT_EQ(reply->reply.seq, ((received * 7919) % 3000) * 1'000'000 + received);
      ASSERT_EQ(reply->reply.reason, std::to_string(received));
    }
  }
  while (received < kCommands) {
    const TicketedReply reply = client.receive();
    ++received;
    ASSERT_EQ(reply.ticket, received);
    ASSERT_EQ(reply.reply.seq, ((received * 7919) % 3000) * 1'000'000 + received);
  }
  // The writer counts a command after its reply, which the client may already have read.
  EXPECT_TRUE(
      test::wait_until([&] { return writer.served() == kCommands; }, std::chrono::seconds(10)))
      << writer.served();
}

TEST(Intake, OversizedCommandOrIdIsRefusedBeforeSending) {
  const std::string instance = unique_instance("intake-big");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  Client client = Client::connect(instance);
  const std::vector<std::byte> big(kMaxCommandBytes + 1);
  EXPECT_THROW(client.send(big), Error);
  EXPECT_THROW(client.send(bytes_of("x"), std::string(kMaxCommandIdBytes + 1, 'i')), Error);
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST(Intake, ADeadClientsCommandsAreDecidedAndItsSlotFreed) {
  const std::string instance = unique_instance("intake-dead");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  test::ChildProcess child = test::ChildProcess::spawn("client", [&] {
    Client client = Client::connect(instance);
    for (int i = 0; i < 3; ++i) client.send(bytes_of("left behind"));
    ::_exit(0);  // dies without closing: no destructor runs
    return 0;
  });
  ASSERT_EQ(child.wait_for_exit(std::chrono::seconds(10)), 0);
  IncomingCommand command;
  int decided = 0;
  while (intake.next(command)) {
    EXPECT_EQ(text_of(command.payload), "left behind");
    intake.finish(command);
    intake.reply(command.from, CommandReply{ReplyStatus::accepted, RejectCode::none, 1, {}});
    ++decided;
  }
  EXPECT_EQ(decided, 3);
  EXPECT_EQ(intake.clients(), 1u);
  intake.maintain();
  EXPECT_EQ(intake.clients(), 0u);
  EXPECT_EQ(intake.dead_clients_reclaimed(), 1u);
  // The freed slot works for a new client.
  EchoWriter writer(intake);
  Client again = Client::connect(instance);
  EXPECT_TRUE(again.submit(bytes_of("ok")).accepted());
}

TEST(Intake, ClosedClientSlotIsFreedAfterItsLastCommand) {
  const std::string instance = unique_instance("intake-close");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  {
    Client client = Client::connect(instance);
    client.send(bytes_of("last words"));
  }
  intake.maintain();  // not drained yet: the slot stays until its command is decided
  EXPECT_EQ(intake.clients(), 1u);
  IncomingCommand command;
  ASSERT_TRUE(intake.next(command));
  EXPECT_EQ(text_of(command.payload), "last words");
  intake.finish(command);
  intake.maintain();
  EXPECT_EQ(intake.clients(), 0u);
  EXPECT_EQ(intake.dead_clients_reclaimed(), 0u);
}

TEST(Intake, WriterGoingAwayWakesAWaitingClientWithTheUnknownCount) {
  const std::string instance = unique_instance("intake-gone");
  InstanceCleanup cleanup(instance);
  auto intake =
      std::make_unique<CommandIntake>(CommandIntake::create(IntakeOptions{instance, 1, 0600}));
  Client client = Client::connect(instance, ClientOptions{WaitKind::block, 0});
  client.send(bytes_of("a"));
  client.send(bytes_of("b"));
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    intake.reset();  // closes the segment, wakes sleepers
  });
  const std::int64_t start = monotonic_ns();
  try {
    client.receive();
    ADD_FAILURE() << "got a reply from a writer that never answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::writer_gone);
    EXPECT_NE(std::string(e.what()).find("2 command(s) in flight"), std::string::npos) << e.what();
  }
  closer.join();
  EXPECT_LT(monotonic_ns() - start, 2'000'000'000);
}

TEST(Intake, AllSlotsTakenIsAResourceErrorThatSaysWhy) {
  const std::string instance = unique_instance("intake-full");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  std::vector<Client> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(Client::connect(instance));
  try {
    Client::connect(instance);
    FAIL() << "a 65th client got a slot";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::resource);
    EXPECT_NE(std::string(e.what()).find("client slots"), std::string::npos) << e.what();
  }
}

TEST(Intake, SleepingWriterAndSleepingClientAreBothWoken) {
  const std::string instance = unique_instance("intake-sleep");
  InstanceCleanup cleanup(instance);
  CommandIntake intake = CommandIntake::create(IntakeOptions{instance, 1, 0600});
  std::atomic<std::int64_t> woke_after{-1};
  std::thread writer([&] {
    IncomingCommand command;
    const std::int64_t start = monotonic_ns();
    while (!intake.next(command)) intake.sleep(5'000'000'000);  // would sleep 5 s unwoken
    woke_after = monotonic_ns() - start;
    intake.finish(command);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the client falls asleep
    intake.reply(command.from, CommandReply{ReplyStatus::accepted, RejectCode::none, 9, {}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the writer falls asleep
  Client client = Client::connect(instance, ClientOptions{WaitKind::block, 0});
  const std::int64_t start = monotonic_ns();
  const CommandReply reply = client.submit(bytes_of("wake up"));
  const std::int64_t waited = monotonic_ns() - start;
  writer.join();
  EXPECT_EQ(reply.seq, 9u);
  EXPECT_GE(woke_after.load(), 0);
  EXPECT_LT(woke_after.load(), 1'000'000'000);
  EXPECT_LT(waited, 1'000'000'000);
}

}  // namespace
}  // namespace evring
