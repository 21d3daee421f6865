// A reader's two query paths through real processes: its query segment (shared memory) and
// its socket give the same replies, read-your-writes works on both, with a spinning and a
// blocking reader, and a reply too large for the segment comes through the socket.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/query_client.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using nlohmann::json;
using test::InstanceCleanup;
using test::ReaderProcess;
using test::unique_instance;
using test::WriterProcess;

class QueryPathsTest : public test::ProcessTest, public ::testing::WithParamInterface<const char*> {
 protected:
  QueryPathsTest() : ProcessTest("query-paths") {}
};

TEST_P(QueryPathsTest, BothPathsGiveTheSameRepliesAndReadYourWrites) {
  const std::string instance = unique_instance("query-paths");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  ReaderProcess reader(instance, "kv-p", dir(), {"--view", "kv", "--wait", GetParam()});
  QueryClient fast = QueryClient::connect(instance, "kv-p");
  QueryClient socket = QueryClient::connect(instance, "kv-p", QueryPath::socket);
  EXPECT_TRUE(fast.shared_memory());
  EXPECT_FALSE(socket.shared_memory());
  Client client = Client::connect(instance);
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t seq = client.submit_text({"put", "k", std::to_string(i)}).seq;
    for (QueryClient* path : {&fast, &socket}) {
      const QueryReply reply = path->query({"get", "k"}, seq);
      ASSERT_FALSE(reply.stale) << reply.raw;
      ASSERT_GE(reply.as_of_seq, seq) << reply.raw;
      ASSERT_TRUE(reply.result.has_value()) << reply.raw;
      ASSERT_EQ(json::parse(*reply.result)["value"], std::to_string(i)) << reply.raw;
    }
  }
  // Quiet now: the very same lines, for an answer, a refusal and a stale reply.
  for (const std::vector<std::string_view>& words :
       {std::vector<std::string_view>{"get", "k"}, std::vector<std::string_view>{"count"},
        std::vector<std::string_view>{"no-such-query"}}) {
    const QueryReply a = fast.query(words);
    const QueryReply b = socket.query(words);
    EXPECT_EQ(a.raw, b.raw);
    EXPECT_EQ(a.as_of_seq, b.as_of_seq);
    EXPECT_EQ(a.error, b.error);
    EXPECT_EQ(a.result.has_value(), b.result.has_value());
    if (a.result && b.result) {
      EXPECT_EQ(json::parse(*a.result), json::parse(*b.result));
    }
  }
  const QueryReply stale_fast = fast.query({"get", "k"}, 1'000'000, std::chrono::milliseconds(50));
  const QueryReply stale_socket =
      socket.query({"get", "k"}, 1'000'000, std::chrono::milliseconds(50));
  EXPECT_TRUE(stale_fast.stale);
  EXPECT_EQ(stale_fast.raw, stale_socket.raw);

  // A scan over values far larger than half the segment's record ring (32 KiB).
  const std::string big(4000, 'v');
  std::uint64_t last = 0;
  for (int i = 0; i < 40; ++i)
    last = client.submit_text({"put", "big" + std::to_string(i), big}).seq;
  const QueryReply large = fast.query({"scan", "big", "100"}, last);
  ASSERT_TRUE(large.result.has_value()) << large.raw.substr(0, 200);
  EXPECT_GT(large.raw.size(), 100'000u);
  EXPECT_EQ(large.raw, socket.query({"scan", "big", "100"}, last).raw);
}

INSTANTIATE_TEST_SUITE_P(ReaderWaits, QueryPathsTest, ::testing::Values("spin", "block"));

}  // namespace
}  // namespace evring
