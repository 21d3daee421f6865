// kill -9 of the writer at random moments while two client processes submit random bank
// commands with command ids, pipelined, resubmitting what was in flight after each crash.
// Afterwards: every command answered accepted (or duplicate) is in the journal exactly
// once at the seq it was answered with, the sequence has no gap, the balances rebuilt from
// the journal satisfy the bank's invariant, and the restarted writer's model agrees.
// EVRING_CHAOS_SEED=<n> replays a run's choices (the kill moments stay timing-dependent).
#include <atomic>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "evring/builtin/bank_events.hpp"
#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/journal.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using test::InstanceCleanup;
using test::TempDir;
using test::unique_instance;
using test::WriterProcess;

#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kCommandsPerClient = 20'000;  // ASan runs ~5x slower
#else
constexpr std::uint64_t kCommandsPerClient = 100'000;
#endif
constexpr int kClients = 2;
constexpr int kAccountsPerClient = 16;
constexpr std::size_t kWindow = 8;

struct Outcome {
  std::uint32_t status;  // 0: no final answer yet, else ReplyStatus
  std::uint32_t code;
  std::uint64_t seq;
};

std::string account(int client, int k) {
  return "c" + std::to_string(client) + "a" + std::to_string(k);
}

std::vector<std::vector<std::string>> workload(int client, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(client));
  std::vector<std::vector<std::string>> commands;
  commands.reserve(kCommandsPerClient);
  for (int k = 0; k < kAccountsPerClient; ++k) commands.push_back({"open", account(client, k)});
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  while (commands.size() < kCommandsPerClient) {
    const std::string own = account(client, pick(kAccountsPerClient));
    const std::string any = account(pick(kClients), pick(kAccountsPerClient));
    const int roll = pick(100);
    if (roll < 40) {
      commands.push_back({"deposit", own, std::to_string(1 + pick(1000))});
    } else if (roll < 65) {
      commands.push_back({"withdraw", own, std::to_string(1 + pick(600))});
    } else if (roll < 95) {
      commands.push_back({"transfer", own, any, std::to_string(1 + pick(400))});
    } else {
      commands.push_back({"open", own});  // a duplicate account: rejected
    }
  }
  return commands;
}

std::string command_id(int client, std::uint64_t index) {
  return "c" + std::to_string(client) + "-" + std::to_string(index);
}

// A client process: submits its workload, a window in flight, and after each crash of the
// writer reconnects and resubmits what was in flight with the same ids.
int run_client(const std::string& instance, int client, std::uint64_t seed, Outcome* outcomes,
               std::atomic<std::uint64_t>* reconnects) {
  const auto commands = workload(client, seed);
  Client connection = test::connect_with_retry(instance, std::chrono::seconds(60));
  std::deque<std::uint64_t> in_flight;
  std::uint64_t next = 0;
  bool resend = false;
  const auto send = [&](std::uint64_t index) {
    std::vector<std::string_view> words(commands[index].begin(), commands[index].end());
    connection.send_text(words, command_id(client, index));
  };
  for (;;) {
    try {
      if (resend) {
        for (const std::uint64_t index : in_flight) send(index);
        resend = false;
      }
      while (next < commands.size() && in_flight.size() < kWindow) {
        in_flight.push_back(next);
        send(next++);
      }
      if (in_flight.empty()) break;
      const TicketedReply reply = connection.receive();
      Outcome& outcome = outcomes[in_flight.front()];
      in_flight.pop_front();
      outcome.seq = reply.reply.seq;
      outcome.code = static_cast<std::uint32_t>(reply.reply.code);
      outcome.status = static_cast<std::uint32_t>(reply.reply.status);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::writer_gone && e.code() != ErrorCode::no_instance) throw;
      connection = test::connect_with_retry(instance, std::chrono::seconds(60));
      reconnects->fetch_add(1);
      resend = true;
    }
  }
  return 0;
}

std::string_view text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(WriterChaos, KillNineAtRandomMomentsLosesNoAcceptedCommand) {
  std::uint64_t seed = std::random_device{}();
  if (const char* fixed = std::getenv("EVRING_CHAOS_SEED")) seed = std::stoull(fixed);
  std::printf("writer chaos seed %llu (EVRING_CHAOS_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  const std::string instance = unique_instance("writer-chaos");
  InstanceCleanup cleanup(instance);
  TempDir dir("writer-chaos");
  WriterProcess writer(instance, dir.path(),
                       {"--domain", "bank", "--snapshot-every", "40000", "--quiet"});

  test::SharedBlock<Outcome> outcomes(kClients * kCommandsPerClient);
  test::SharedBlock<std::atomic<std::uint64_t>> reconnects(1);
  std::vector<test::ChildProcess> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(test::ChildProcess::spawn("client " + std::to_string(c), [&, c] {
      return run_client(instance, c, seed, &outcomes[c * kCommandsPerClient], &reconnects[0]);
    }));
  }

  std::mt19937_64 rng(seed);
  int kills = 0;
  const auto clients_done = [&] {
    for (auto& client : clients) {
      if (!client.poll_exit()) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(4);
  while (!clients_done()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "clients did not finish";
    // 200k commands take about a second unharmed: kill often enough to hit every phase.
    const auto pause = std::chrono::milliseconds(2 + rng() % 40);
    test::wait_until(clients_done, pause);
    if (clients_done()) break;
    writer.kill9();
    ++kills;
    writer.restart();
  }
  for (auto& client : clients) {
    ASSERT_EQ(client.wait_for_exit(std::chrono::seconds(1)), 0) << client.role();
  }

  // The journal: gapless, each id once, and the bank's invariant.
  std::unordered_map<std::string, std::vector<std::uint64_t>> seqs_by_id;
  std::map<std::string, std::int64_t, std::less<>> balances;
  std::int64_t deposited = 0;
  std::int64_t withdrawn = 0;
  std::uint64_t expected_seq = 1;
  {
    JournalReader reader = JournalReader::open(writer.journal(), 1);
    JournalRecord record;
    while (reader.next(record)) {
      ASSERT_EQ(record.seq, expected_seq) << "a gap in the journal";
      ++expected_seq;
      if (!record.meta.empty()) seqs_by_id[std::string(text_of(record.meta))].push_back(record.seq);
      switch (static_cast<bank::EventType>(record.type)) {
        case bank::EventType::opened:
          balances[std::string(bank::decode_opened_event(record.payload).account)] = 0;
          break;
        case bank::EventType::deposited: {
          const auto event = bank::decode_deposited_event(record.payload);
          deposited += event.amount;
          balances[std::string(event.account)] = event.balance;
          break;
        }
        case bank::EventType::withdrawn: {
          const auto event = bank::decode_withdrawn_event(record.payload);
          withdrawn += event.amount;
          balances[std::string(event.account)] = event.balance;
          break;
        }
        case bank::EventType::transferred: {
          const auto event = bank::decode_transferred_event(record.payload);
          balances[std::string(event.from)] = event.from_balance;
          balances[std::string(event.to)] = event.to_balance;
          break;
        }
        default:
          FAIL() << "unknown event type " << record.type << " at seq " << record.seq;
      }
    }
  }
  for (const auto& [id, seqs] : seqs_by_id) {
    ASSERT_EQ(seqs.size(), 1u) << "command " << id << " is in the journal " << seqs.size()
                               << " times";
  }
  std::uint64_t accepted = 0, rejected = 0, duplicates = 0;
  for (int c = 0; c < kClients; ++c) {
    for (std::uint64_t i = 0; i < kCommandsPerClient; ++i) {
      const Outcome& outcome = outcomes[c * kCommandsPerClient + i];
      const std::string id = command_id(c, i);
      ASSERT_NE(outcome.status, 0u) << id << " got no final answer";
      const auto status = static_cast<ReplyStatus>(outcome.status);
      if (status == ReplyStatus::rejected) {
        ++rejected;
        ASSERT_EQ(outcome.code, static_cast<std::uint32_t>(RejectCode::rule)) << id;
        ASSERT_FALSE(seqs_by_id.contains(id)) << id << " was rejected but is in the journal";
        continue;
      }
      (status == ReplyStatus::accepted ? accepted : duplicates)++;
      const auto found = seqs_by_id.find(id);
      ASSERT_NE(found, seqs_by_id.end())
          << id << " was answered " << outcome.seq << " but is not in the journal";
      ASSERT_EQ(found->second.front(), outcome.seq) << id;
    }
  }
  std::int64_t total = 0;
  for (const auto& [name, balance] : balances) {
    ASSERT_GE(balance, 0) << name;
    total += balance;
  }
  EXPECT_EQ(total, deposited - withdrawn) << "the bank's invariant";

  // The writer's model after the last restart agrees with the journal, balance by balance.
  Client client = test::connect_with_retry(instance, std::chrono::seconds(30));
  int checked = 0;
  for (const auto& [name, balance] : balances) {
    if (balance == 0 || ++checked > 8) continue;
    const auto too_much = client.submit_text({"withdraw", name, std::to_string(balance + 1)});
    EXPECT_TRUE(too_much.rejected()) << name << " holds more than the journal says";
    EXPECT_TRUE(client.submit_text({"withdraw", name, std::to_string(balance)}).accepted())
        << name << " holds less than the journal says";
  }
  std::printf(
      "writer chaos: %d kills, %llu accepted, %llu duplicate answers, %llu rejected, "
      "%llu events, %llu client reconnects\n",
      kills, static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(rejected), static_cast<unsigned long long>(expected_seq - 1),
      static_cast<unsigned long long>(reconnects[0].load()));
  EXPECT_GE(kills, 10) << "the run was too short to test crashes";
  EXPECT_EQ(accepted + duplicates + rejected, kClients * kCommandsPerClient);
}

}  // namespace
}  // namespace evring
