// The retention soak (label soak, about a minute): a writer with small segments and a
// small --retain, kv readers killed with SIGKILL (and now and then stopped cleanly) and
// started again from their checkpoints while retention removes segments under them. No
// start may ever find that an event it needs was removed, and at the end every view equals
// the truth the accepted commands make. Prints its seed; --gtest_also_run_disabled_tests is
// not needed: EVRING_SOAK_SEED=<n> replays a run's choices.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/query_client.hpp"
#include "journal/journal.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::contains;
using test::ReaderProcess;
using test::wait_until;
using test::WriterProcess;

constexpr int kReaders = 3;
constexpr int kKeys = 200;
constexpr auto kRunFor = 50s;

class RetentionSoak : public test::ProcessTest {
 protected:
  RetentionSoak()
      : ProcessTest("retention-soak"),
        instance(test::unique_instance("rsoak")),
        cleanup(instance) {}
  std::string instance;
  test::InstanceCleanup cleanup;
};

std::vector<std::string> reader_args() {
  return {"--view", "kv", "--wait", "block", "--checkpoint-every", "25"};
}

TEST_F(RetentionSoak, ReadersKilledWhileSegmentsGoKeepEveryViewRight) {
  const char* seed_text = std::getenv("EVRING_SOAK_SEED");
  const std::uint64_t seed =
      seed_text != nullptr ? std::strtoull(seed_text, nullptr, 10) : std::random_device{}();
  std::cout << "retention soak seed " << seed << " (EVRING_SOAK_SEED=" << seed
            << " replays its choices)\n";
  std::mt19937_64 random(seed);

  WriterProcess writer(instance, dir(),
                       {"--journal-segment-bytes", "16K", "--max-payload", "1K", "--retain", "48K",
                        "--snapshot-every", "100", "--retention-interval", "100ms"});
  std::map<std::string, std::unique_ptr<ReaderProcess>> readers;
  for (int r = 0; r < kReaders; ++r) {
    const std::string id = "kv-soak-" + std::to_string(r);
    readers[id] = std::make_unique<ReaderProcess>(instance, id, dir(), reader_args());
  }

  // The truth: the value of each key after the last accepted put.
  std::map<std::string, std::string> truth;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> head{0};
  std::thread client_thread([&] {
    Client client = test::connect_with_retry(instance, 30s);
    std::uint64_t n = 0;
    while (!done.load(std::memory_order_relaxed)) {  // relaxed: a lone stop flag
      const std::string key = "k" + std::to_string(n % kKeys);
      // Values long enough that a few hundred events roll segments.
      const std::string value = std::to_string(n) + std::string(400, 'v');
      const CommandReply reply = client.submit_text({"put", key, value});
      if (reply.accepted()) {
        truth[key] = value;
        head.store(reply.seq, std::memory_order_relaxed);  // relaxed: progress for the log
      }
      ++n;
      if (n % 50 == 0) std::this_thread::sleep_for(5ms);  // leaves the 2 cores to the rest
    }
  });

  std::uint64_t kills = 0;
  std::uint64_t clean_stops = 0;
  const auto end = std::chrono::steady_clock::now() + kRunFor;
  while (std::chrono::steady_clock::now() < end && !HasFailure()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 700));
    auto it = readers.begin();
    std::advance(it, static_cast<long>(random() % readers.size()));
    ReaderProcess& reader = *it->second;
    if (random() % 5 == 0) {
      EXPECT_EQ(reader.stop(), 0) << reader.log();
      ++clean_stops;
    } else {
      reader.kill9();
      ++kills;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 400));
    // From its checkpoint: a start that found its events removed throws with its log.
    try {
      reader.restart();
    } catch (const std::exception& e) {
      ADD_FAILURE() << it->first << " could not start again: " << e.what();
    }
    EXPECT_FALSE(contains(reader.log(), "needs events the journal no longer has")) << reader.log();
  }
  done = true;
  client_thread.join();

  const std::vector<fs::path> segments = journal_segments(dir() / "journal");
  ASSERT_FALSE(segments.empty());
  EXPECT_NE(segments.front().filename(), "journal-00000000000000000001.evj")
      << "retention removed nothing: the soak tested nothing";
  const std::uint64_t last = head.load();
  for (const auto& [id, reader] : readers) {
    QueryClient client = QueryClient::connect(instance, id);
    const QueryReply reply = client.query({"scan", "k", std::to_string(kKeys + 1)}, last, 60s);
    ASSERT_FALSE(reply.stale) << id << " did not reach seq " << last << "\n" << reader->log();
    const nlohmann::json result = nlohmann::json::parse(reply.raw)["result"];
    std::map<std::string, std::string> view;
    for (const auto& entry : result) {
      view[entry["key"].get<std::string>()] = entry["value"].get<std::string>();
    }
    EXPECT_EQ(view, truth) << id << " differs from the accepted commands";
  }
  std::cout << "retention soak: " << last << " events, " << kills << " kills, " << clean_stops
            << " clean stops, journal from " << segments.front().filename() << "\n";
}

}  // namespace
}  // namespace evring
