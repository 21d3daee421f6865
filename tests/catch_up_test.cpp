// Catch-up from the journal through real evring-reader processes, in runs of events (view
// ABI version 2's on_events): a plugin of each ABI version ends with the built-in kv view's
// answers; a record whose checksum fails never reaches a view, and stops the catch-up
// saying where; a reader killed with SIGKILL mid-catch-up goes on from its checkpoint to
// the view a fresh reader builds.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/builtin/kv_events.hpp"
#include "evring/clock.hpp"
#include "evring/query_client.hpp"
#include "journal/journal.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::ReaderProcess;
using test::WriterProcess;

constexpr std::uint32_t kKeys = 3000;  // a scan of every key fits in one reply

class CatchUpTest : public test::ProcessTest {
 protected:
  CatchUpTest() : ProcessTest("catch-up") {}
  static std::string plugin(const std::string& name) {
    return std::string(EVRING_PLUGIN_DIR) + "/lib" + name + ".so";
  }
};

// A journal of `events` kv events as the kv domain would have emitted them (each version
// follows from the ones before, deletes only of present keys), written straight through
// the journal's API: far faster than commands, so a catch-up has something to chew on.
// The value of key 7's first put is `first_value`.
std::uint64_t write_kv_journal(const fs::path& folder, std::uint64_t events,
                               std::uint32_t segment_bytes, const std::string& first_value) {
  JournalOptions options;
  options.directory = folder;
  options.segment_bytes = segment_bytes;
  options.max_payload = 1024;  // small segments must hold four of the largest records
  JournalWriter journal = JournalWriter::open(options);
  std::mt19937_64 rng(0xCA7C'4B0F);
  std::vector<std::uint64_t> versions(kKeys, 0);
  for (std::uint64_t n = 0; n < events; ++n) {
    const auto key = static_cast<std::uint32_t>(n < kKeys ? n : rng() % kKeys);
    const std::string name = "key" + std::to_string(key);
    if (versions[key] != 0 && rng() % 16 == 0) {
      journal.append(static_cast<std::uint32_t>(kv::EventType::deleted),
                     kv::encode(kv::DeletedEvent{name, versions[key]}), monotonic_ns());
      versions[key] = 0;
      continue;
    }
    const std::string value = key == 7 && versions[key] == 0 && n < kKeys
                                  ? first_value
                                  : "value-" + std::to_string(rng() % 1'000'000);
    journal.append(static_cast<std::uint32_t>(kv::EventType::put),
                   kv::encode(kv::PutEvent{name, value, ++versions[key]}), monotonic_ns());
  }
  journal.sync();
  return journal.last_seq();
}

// The whole view as a reader answers it once it has applied `after`: its count and every
// key (kKeys fit in one scan).
std::string whole_view(const std::string& instance, const std::string& reader,
                       std::uint64_t after) {
  QueryClient client = QueryClient::connect(instance, reader);
  const QueryReply count = client.query({"count"}, after, std::chrono::seconds(60));
  EXPECT_FALSE(count.stale) << reader << " did not reach seq " << after << ": " << count.raw;
  const QueryReply scan = client.query({"scan", "key", "10000"}, after, std::chrono::seconds(60));
  EXPECT_FALSE(scan.stale) << scan.raw;
  return nlohmann::json::parse(count.raw)["result"].dump() + " " +
         nlohmann::json::parse(scan.raw)["result"].dump();
}

// An instance whose writer starts on a journal of `events` kv events (replaying them).
struct KvInstance {
  KvInstance(const std::string& hint, const fs::path& folder, std::uint64_t events)
      : instance(test::unique_instance(hint)),
        cleanup(instance),
        last(write_kv_journal(folder / "journal", events, 64u << 20, "first")),
        writer(instance, folder, {"--domain", "kv", "--journal", (folder / "journal").string()}) {}
  std::string instance;
  test::InstanceCleanup cleanup;
  std::uint64_t last;
  WriterProcess writer;
};

TEST_F(CatchUpTest, PluginsOfBothAbiVersionsEndWithTheBuiltInKvViewsAnswers) {
  const KvInstance kv("catchup-abi", dir(), 200'000);
  const std::string& instance = kv.instance;
  const std::uint64_t last = kv.last;
  ReaderProcess builtin(instance, "builtin", dir(), {"--view", "kv", "--from", "start"});
  ReaderProcess v2(instance, "v2", dir(), {"--view", plugin("kv_mirror_view"), "--from", "start"});
  ReaderProcess v1(instance, "v1", dir(),
                   {"--view", plugin("kv_mirror_view_v1"), "--from", "start"});
  const std::string expected = whole_view(instance, "builtin", last);
  EXPECT_GT(expected.size(), 1000u * 40) << "most keys are there: " << expected.substr(0, 200);
  EXPECT_EQ(whole_view(instance, "v2", last), expected);
  EXPECT_EQ(whole_view(instance, "v1", last), expected);
}

TEST_F(CatchUpTest, ARecordWhoseChecksumFailsStopsTheCatchUpAndNeverReachesTheView) {
  const fs::path journal = dir() / "journal";
  // Small segments, so the damaged record (key 7's first put, in the first segment) is
  // followed by others: not a torn tail a writer would cut, but damage.
  write_kv_journal(journal, 20'000, 64u << 10, "poisom");
  const std::vector<fs::path> segments = journal_segments(journal);
  ASSERT_GE(segments.size(), 3u);
  // One byte of the value turns it into the one the view refuses: had the record reached
  // the view, its error would be the view's ("poison"), not the journal's.
  std::string bytes = test::read_file(segments.front());
  const std::size_t at = bytes.find("poisom");
  ASSERT_NE(at, std::string::npos);
  {
    FILE* file = std::fopen(segments.front().c_str(), "r+b");
    ASSERT_NE(file, nullptr);
    std::fseek(file, static_cast<long>(at + 5), SEEK_SET);
    std::fputc('n', file);
    std::fclose(file);
  }
  const std::string instance = test::unique_instance("catchup-crc");
  test::InstanceCleanup cleanup(instance);
  // No writer: the reader reads the journal while it waits for one, and meets the damage.
  const auto result = test::run_tool(
      "evring-reader",
      {"--name", instance, "--id", "crc", "--journal", journal.string(), "--checkpoint-dir",
       (dir() / "crc").string(), "--view", plugin("kv_mirror_view"), "--from", "start"},
      dir(), std::chrono::seconds(20));
  EXPECT_NE(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "is damaged at seq 8 (checksum mismatch)")) << result.err;
  EXPECT_FALSE(contains(result.err, "poison")) << result.err;
}

TEST_F(CatchUpTest, AReaderKilledMidCatchUpGoesOnFromItsCheckpointToTheSameView) {
  const KvInstance kv("catchup-kill", dir(), 2'000'000);
  const std::string& instance = kv.instance;
  const std::uint64_t last = kv.last;
  // The kv mirror (a std::map) catches up several times slower than the built-in kv
  // view, which takes 2M events in less than one of the reader's 100 ms ticks (where it
  // checkpoints): long enough to be killed mid-way.
  const std::string view_plugin = plugin("kv_mirror_view");
  const std::vector<std::string> args{
      "--view", view_plugin,   "--from", "start", "--checkpoint-every",
      "100000", "--log-level", "debug"};
  std::uint64_t restored = 0;
  {
    ReaderProcess killed(instance, "killed", dir(), args);
    // Killed at its first checkpoint, while the journal still has most of its events to
    // come (a slow sanitizer build may get further).
    ASSERT_TRUE(test::wait_until([&] { return contains(killed.log(), "checkpoint at seq"); },
                                 std::chrono::seconds(60)))
        << killed.log();
    killed.kill9();
  }
  ReaderProcess again(instance, "killed", dir(),
                      {"--view", view_plugin, "--from", "checkpoint", "--log-level", "debug"});
  const std::string view = whole_view(instance, "killed", last);
  const std::string log = again.log();
  constexpr std::string_view kRestored = "restored the view at seq ";
  const std::size_t said = log.rfind(kRestored);
  ASSERT_NE(said, std::string::npos) << log;
  restored = std::stoull(log.substr(said + kRestored.size()));
  EXPECT_GT(restored, 0u) << log;
  EXPECT_LT(restored, last) << "the kill came after the catch-up: " << log;
  // And the built-in kv view, fresh from the start, answers the same.
  ReaderProcess fresh(instance, "fresh", dir(), {"--view", "kv", "--from", "start"});
  EXPECT_EQ(view, whole_view(instance, "fresh", last));
}

}  // namespace
}  // namespace evring
