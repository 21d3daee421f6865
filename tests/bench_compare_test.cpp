// `evring-bench compare` run whole with tiny sample counts on the peers every machine has
// (the iceoryx peer needs Debian's iceoryx and a machine-wide RouDi, so it stays out):
// every system, wait and size gets its row, the figures are sane and every payload arrived
// intact, so the subcommand cannot rot unnoticed.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "writer_process_support.hpp"

namespace evring {
namespace {

using test::contains;
using test::run_tool;

constexpr std::uint64_t kSamples = 300;
constexpr std::uint64_t kWarmup = 100;

class BenchCompareTest : public test::ProcessTest {
 protected:
  BenchCompareTest() : ProcessTest("bench-compare") {}
};

std::vector<std::int64_t> percentiles_of(const nlohmann::json& row) {
  std::vector<std::int64_t> values;
  for (const char* key : {"p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"}) {
    values.push_back(row.at(key).get<std::int64_t>());
  }
  return values;
}

TEST_F(BenchCompareTest, MeasuresEveryPeerWaitAndSizeWithIntactPayloads) {
  const std::string json_path = (dir() / "compare.json").string();
  const std::string plot_path = (dir() / "compare.png").string();
  const test::ToolResult run = run_tool("evring-bench",
                                        {"compare",
                                         "--systems",
                                         "boost-message_queue,unix-socket,pipe,moodycamel-threads",
                                         "--payload",
                                         "64,1K",
                                         "--samples",
                                         std::to_string(kSamples),
                                         "--warmup",
                                         std::to_string(kWarmup),
                                         "--rate",
                                         "20000",
                                         "--scaling-payloads",
                                         "16,64K",
                                         "--scaling-readers",
                                         "1,2",
                                         "--scaling-samples",
                                         "200",
                                         "--json",
                                         json_path,
                                         "--plot",
                                         plot_path},
                                        dir(), std::chrono::seconds(90));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, "p50 vs evring")) << run.out;
  EXPECT_TRUE(contains(run.out, "targets (")) << run.out;

  std::ifstream file(json_path);
  const nlohmann::json document = nlohmann::json::parse(file);
  EXPECT_TRUE(contains(document.at("command").get<std::string>(), "compare")) << document;

  // (system, wait) -> payload sizes of the main rows.
  std::map<std::pair<std::string, std::string>, std::set<std::uint64_t>> main_rows;
  std::set<std::uint64_t> scaled_payloads;
  std::set<unsigned> scaled_readers;
  for (const nlohmann::json& row : document.at("results")) {
    const std::string system = row.at("system");
    const std::string mode = row.at("mode");
    const std::uint64_t payload = row.at("payload_bytes");
    SCOPED_TRACE(row.dump());
    const std::vector<std::int64_t> ns = percentiles_of(row);
    EXPECT_GT(ns.front(), 0);
    EXPECT_TRUE(std::is_sorted(ns.begin(), ns.end()));
    EXPECT_EQ(row.at("errors"), 0u);
    EXPECT_EQ(row.at("missed"), 0u);
    EXPECT_GT(row.at("msgs_per_s").get<double>(), 0.0);
    if (mode == "rate") {
      main_rows[{system, row.at("wait")}].insert(payload);
      EXPECT_EQ(row.at("samples"), kSamples);
      if (system == "floor") {
        EXPECT_TRUE(row.at("verified").is_null());
      } else {
        EXPECT_EQ(row.at("verified"), kSamples + kWarmup);  // every message, checked
      }
    } else if (mode == "payload-scaling") {
      scaled_payloads.insert(payload);
      EXPECT_EQ(row.at("wait"), "spin");
      EXPECT_GT(row.at("verified").get<std::uint64_t>(), 0u);
    } else {
      EXPECT_EQ(mode, "reader-scaling");
      EXPECT_EQ(system, "evring");
      scaled_readers.insert(row.at("readers").get<unsigned>());
      EXPECT_EQ(row.at("verified").get<std::uint64_t>(),
                row.at("readers").get<std::uint64_t>() * (200 + 1'000));
    }
  }
  const std::set<std::uint64_t> sizes{64, 1024};
  for (const char* system :
       {"evring", "boost-message_queue", "unix-socket", "pipe", "moodycamel-threads"}) {
    for (const char* wait : {"spin", "block"}) {
      EXPECT_EQ((main_rows[{system, wait}]), sizes) << system << " " << wait;
    }
  }
  EXPECT_EQ(main_rows.size(), 11u);  // the above and the floor
  EXPECT_EQ(scaled_payloads, (std::set<std::uint64_t>{16, 65536}));
  EXPECT_EQ(scaled_readers, (std::set<unsigned>{1, 2}));

  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    std::ifstream png(plot_path, std::ios::binary);
    char magic[4] = {};
    png.read(magic, 4);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << run.out;
  } else {
    EXPECT_TRUE(contains(run.out, "gnuplot is not installed")) << run.out;
  }
}

TEST_F(BenchCompareTest, RefusesAPayloadTheRingCannotHoldBeforeMeasuring) {
  const test::ToolResult run =
      run_tool("evring-bench", {"compare", "--payload", "1M", "--ring-bytes", "1M"}, dir());
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_TRUE(contains(run.err, "--ring-bytes")) << run.err;
  EXPECT_FALSE(contains(run.out, "one-way latency")) << run.out;
}

}  // namespace
}  // namespace evring
