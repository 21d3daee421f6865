// The bridge, remote readers and the gateway (remote/) against a real nats-server with
// JetStream: exactly once at the evring seq, resuming after a stop, the errors a user meets
// (no JetStream, no server, a stream of other settings or another history), which check
// the server applies first, remote views against local ones, checkpoints, retention, and
// commands through NATS request/reply with ids.
#include <signal.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/query_client.hpp"
#include "nats_server_support.hpp"
#include "stream_identity.hpp"

namespace evring {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::size_t start_lines(const std::string& log) {
  std::size_t count = 0;
  for (std::size_t at = 0; (at = log.find("bridge of instance", at)) != std::string::npos; ++at) {
    ++count;
  }
  return count;
}

class RemoteTest : public test::ProcessTest {
 protected:
  RemoteTest()
      : ProcessTest("remote"),
        instance(test::unique_instance("remote")),
        cleanup(instance),
        stream(remote::default_stream_name(instance)) {}

  void SetUp() override {
    ProcessTest::SetUp();
    server = std::make_unique<test::NatsServerProcess>(dir());
    writer = std::make_unique<test::WriterProcess>(instance, dir(),
                                                   std::vector<std::string>{"--domain", "kv"});
    link = remote::NatsLink::connect(server->url(), remote::LinkOptions{});
  }

  test::ToolResult evring(std::vector<std::string> args) const {
    return test::run_tool("evring", args, dir(), 30s);
  }

  // evring bridge of the instance into the server, ready once it said where it starts.
  std::unique_ptr<test::ServiceProcess> start_bridge(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"bridge", "--name", instance, "--to", server->url()};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::filesystem::path log = dir() / "bridge.log";
    // The log holds every start's lines: this start is ready at one start line more.
    const std::size_t starts = start_lines(test::read_file(log));
    return std::make_unique<test::ServiceProcess>(
        "evring", dir(), "bridge", args,
        [log, starts](pid_t) { return start_lines(test::read_file(log)) > starts; });
  }

  std::unique_ptr<test::ReaderProcess> start_remote_reader(const std::string& id,
                                                           const std::string& from) {
    return std::make_unique<test::ReaderProcess>(
        instance, id, dir(),
        std::vector<std::string>{"--view", "kv", "--from", from, "--source", server->url()});
  }

  std::uint64_t put_keys(int from, int count) {
    Client client = Client::connect(instance);
    std::uint64_t head = 0;
    for (int i = from; i < from + count; ++i) {
      const CommandReply reply =
          client.submit_text({"put", "k" + std::to_string(i), "value " + std::to_string(i)});
      EXPECT_TRUE(reply.accepted()) << reply.reason;
      head = reply.seq;
    }
    return head;
  }

  bool stream_reaches(std::uint64_t seq, std::chrono::milliseconds timeout = 15s) {
    return test::wait_until([&] { return test::stream_state(*link, stream).last_seq >= seq; },
                            timeout);
  }

  std::string query(const std::string& id, std::uint64_t after, std::string_view word,
                    std::string_view arg = {}) const {
    std::vector<std::string_view> words{word};
    if (!arg.empty()) words.push_back(arg);
    return test::view_answer(instance, id, words, after);
  }

  std::string instance;
  test::InstanceCleanup cleanup;
  std::string stream;
  std::unique_ptr<test::NatsServerProcess> server;
  std::unique_ptr<test::WriterProcess> writer;
  std::unique_ptr<remote::NatsLink> link;
};

TEST_F(RemoteTest, BridgePublishesEachEventOnceAtItsSeqAndResumesAfterAStop) {
  put_keys(0, 30);
  auto bridge = start_bridge();
  const std::uint64_t head = put_keys(30, 20);
  ASSERT_TRUE(stream_reaches(head)) << bridge->log();
  EXPECT_EQ(bridge->stop(), 0) << bridge->log();

  const std::uint64_t later = put_keys(50, 25);
  bridge = start_bridge();
  EXPECT_THAT(bridge->log(), HasSubstr("from seq " + std::to_string(head + 1)));
  ASSERT_TRUE(stream_reaches(later)) << bridge->log();
  const test::StreamState state = test::stream_state(*link, stream);
  EXPECT_EQ(state.messages, later);
  EXPECT_EQ(state.first_seq, 1u);
  EXPECT_EQ(state.last_seq, later);

  // Each message is the event of its seq: its id names the history and the seq.
  for (const std::uint64_t seq : {std::uint64_t{1}, head, head + 1, later}) {
    natsMsg* msg = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_GetMsg(&msg, link->jetstream(), stream.c_str(), seq, nullptr, &code), NATS_OK);
    const remote::MsgPtr owned(msg);
    const char* id = nullptr;
    ASSERT_EQ(natsMsgHeader_Get(msg, "Nats-Msg-Id", &id), NATS_OK);
    EXPECT_THAT(id, ::testing::EndsWith(":" + std::to_string(seq)));
  }
  // The bridge shows in stat, at the last seq the stream confirmed.
  const test::ToolResult stat = evring({"stat", "--name", instance});
  EXPECT_THAT(stat.out, HasSubstr("bridge"));
}

// The server checks the message id before the expected last seq: a resend of what it
// stored already is answered "duplicate" at its seq, not refused; a gap is refused.
TEST_F(RemoteTest, ServerAppliesDedupBeforeExpectedLastSeq) {
  const remote::StreamSettings settings{stream, remote::events_subject(instance)};
  remote::ensure_stream(*link, settings, remote::StreamIdentity{instance, 42, {"kv", ""}});
  const auto publish = [&](std::uint64_t id_seq, std::uint64_t expected_last) {
    const std::string id = remote::message_id(42, id_seq);
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = id.c_str();
    options.ExpectLastSeq = expected_last;
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status =
        js_Publish(&ack, link->jetstream(), settings.subject.c_str(), "x", 1, &options, &code);
    std::string outcome = status == NATS_OK ? (ack->Duplicate ? "duplicate at " : "stored at ") +
                                                  std::to_string(ack->Sequence)
                                            : "refused " + std::to_string(static_cast<int>(code));
    if (ack != nullptr) jsPubAck_Destroy(ack);
    return outcome;
  };
  EXPECT_EQ(publish(1, 0), "stored at 1");
  EXPECT_EQ(publish(2, 1), "stored at 2");
  EXPECT_EQ(publish(3, 2), "stored at 3");
  // Seq 2 again, as after a lost ack: its expected last seq (1) is wrong now, yet the id wins.
  EXPECT_EQ(publish(2, 1), "duplicate at 2");
  // A new id with a wrong expected last seq: refused (10071, wrong last sequence).
  EXPECT_EQ(publish(5, 4), "refused 10071");
  EXPECT_EQ(test::stream_state(*link, stream).last_seq, 3u);
}

TEST_F(RemoteTest, BridgeSaysWhatIsWrongWithTheServerOrTheStream) {
  const auto bridge_to = [&](const std::string& url, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"bridge", "--name", instance, "--to", url};
    args.insert(args.end(), extra.begin(), extra.end());
    return evring(args);
  };
  // No JetStream.
  test::NatsServerProcess plain(dir(), false);
  test::ToolResult result = bridge_to(plain.url());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("has JetStream off: start it with -js"));
  // Nothing listens.
  result = bridge_to("nats://127.0.0.1:" + std::to_string(remote::free_local_port()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("no NATS server answers"));
  // Not an address.
  result = bridge_to("127.0.0.1:4222");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("give nats://HOST:PORT"));

  // A remote reader of a stream nobody bridged yet.
  result = test::run_tool("evring-reader",
                          {"--name", instance, "--view", "kv", "--id", "early", "--source",
                           server->url(), "--checkpoint-dir", (dir() / "early").string()},
                          dir(), 30s);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err,
              HasSubstr("has no stream " + stream + ": start evring bridge --name " + instance));

  // A stream someone made with memory storage.
  const std::string subject = remote::events_subject(instance);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = "OTHER";
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_MemoryStorage;
  jsStreamInfo* info = nullptr;
  ASSERT_EQ(js_AddStream(&info, link->jetstream(), &config, nullptr, nullptr), NATS_OK);
  jsStreamInfo_Destroy(info);
  result = bridge_to(server->url(), {"--stream", "OTHER"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("was made with other settings: its storage is memory"));

  // A stream of another history: what the remedy says (a new stream) works.
  const remote::StreamSettings settings{stream, subject + "x"};
  remote::ensure_stream(*link, settings, remote::StreamIdentity{instance, 42, {"kv", ""}});
  result = bridge_to(server->url(), {"--subject", subject + "x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("holds history 000000000000002a"));
  EXPECT_THAT(result.err, HasSubstr("--stream NAME"));
  ASSERT_EQ(js_DeleteStream(link->jetstream(), "OTHER", nullptr, nullptr), NATS_OK);
  const std::uint64_t head = put_keys(0, 3);
  auto bridge = start_bridge({"--stream", "FRESH", "--subject", subject + "y"});
  EXPECT_TRUE(
      test::wait_until([&] { return test::stream_state(*link, "FRESH").last_seq == head; }, 15s))
      << bridge->log();
}

TEST_F(RemoteTest, RemoteReaderHasTheLocalViewAndResumesFromItsCheckpoint) {
  put_keys(0, 40);
  auto bridge = start_bridge();
  test::ReaderProcess local(instance, "local", dir(), {"--view", "kv", "--from", "start"});
  auto remote_reader = start_remote_reader("remote", "start");
  std::uint64_t head = put_keys(40, 20);
  EXPECT_EQ(query("remote", head, "count"), query("local", head, "count"));
  EXPECT_EQ(query("remote", head, "scan", "k"), query("local", head, "scan", "k"));

  // Stopped, then started from its checkpoint: it goes on after it, not from seq 1.
  EXPECT_EQ(remote_reader->stop(), 0) << remote_reader->log();
  head = put_keys(60, 15);
  remote_reader = start_remote_reader("remote", "checkpoint");
  EXPECT_THAT(remote_reader->log(), HasSubstr("from seq 61"));
  EXPECT_EQ(query("remote", head, "scan", "k"), query("local", head, "scan", "k"));
  EXPECT_EQ(query("remote", head, "get", "k70"), query("local", head, "get", "k70"));

  // Killed: it restarts from its last checkpoint and still ends equal.
  remote_reader->kill9();
  head = put_keys(75, 5);
  remote_reader->restart();
  EXPECT_EQ(query("remote", head, "scan", "k"), query("local", head, "scan", "k"));
}

TEST_F(RemoteTest, RemoteReaderFromLiveStartsWithTheNextEvent) {
  const std::uint64_t before = put_keys(0, 10);
  auto bridge = start_bridge();
  ASSERT_TRUE(stream_reaches(before));
  auto remote_reader = start_remote_reader("live", "live");
  const std::uint64_t head = put_keys(10, 3);
  EXPECT_EQ(query("live", head, "count"), "3");
}

TEST_F(RemoteTest, RemoteReaderThatFellBehindRetentionSaysSo) {
  const std::uint64_t head = put_keys(0, 20);
  auto bridge = start_bridge();
  ASSERT_TRUE(stream_reaches(head));
  jsOptions options;
  jsOptions_Init(&options);
  options.Stream.Purge.Sequence = 11;  // as a max-age or max-bytes limit would: 1..10 go
  ASSERT_EQ(js_PurgeStream(link->jetstream(), stream.c_str(), &options, nullptr), NATS_OK);
  const test::ToolResult result =
      test::run_tool("evring-reader",
                     {"--name", instance, "--view", "kv", "--id", "behind", "--from", "start",
                      "--source", server->url(), "--checkpoint-dir", (dir() / "behind").string()},
                     dir(), 30s);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("no longer holds seq 1 (it starts at seq 11 now"));
  // What the message offers: --from live goes on.
  auto live = start_remote_reader("behind", "live");
  const std::uint64_t next = put_keys(20, 1);
  EXPECT_EQ(query("behind", next, "count"), "1");
}

TEST_F(RemoteTest, GatewayAppliesACommandOnceForItsId) {
  const std::string subject = remote::commands_subject(instance);
  const std::vector<std::string> via{"cmd", "--via", server->url(), "--name", instance};
  const auto cmd = [&](std::vector<std::string> words) {
    std::vector<std::string> args = via;
    args.insert(args.end(), words.begin(), words.end());
    return evring(args);
  };
  // No gateway yet: said so, with what to start.
  test::ToolResult result = cmd({"put", "a", "1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("no gateway serves " + subject));
  EXPECT_THAT(result.err, HasSubstr("start evring gateway --name " + instance));

  const std::filesystem::path log = dir() / "gateway.log";
  test::ServiceProcess gateway(
      "evring", dir(), "gateway", {"gateway", "--name", instance, "--to", server->url()},
      [log](pid_t) { return test::contains(test::read_file(log), "gateway of instance"); });
  result = cmd({"--id", "req-1", "put", "a", "1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "seq=1\n");
  result = cmd({"--id", "req-1", "put", "a", "1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "seq=1\n");
  EXPECT_THAT(result.err, HasSubstr("duplicate"));
  result = cmd({"cas", "a", "7", "2"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.out, HasSubstr("rejected: "));
  result = cmd({"put", "b", "2"});
  EXPECT_EQ(result.out, "seq=2\n");

  // No answer in time (the gateway is stopped): said so, and the remedy named works: the
  // same id again applies once.
  gateway.signal(SIGSTOP);
  result = cmd({"--timeout", "300ms", "--id", "req-2", "put", "d", "4"});
  gateway.signal(SIGCONT);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("may still be applied; resubmit it with the same --id"));
  result = cmd({"--id", "req-2", "put", "d", "4"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "seq=3\n");
  result = cmd({"--id", "req-2", "put", "d", "4"});
  EXPECT_EQ(result.out, "seq=3\n");

  // The writer restarted: the gateway connects to the new one.
  writer->stop();
  writer->restart();
  result = cmd({"--id", "req-1", "put", "a", "1"});
  EXPECT_EQ(result.exit_code, 0) << result.err << gateway.log();
  result = cmd({"put", "c", "3"});
  EXPECT_EQ(result.exit_code, 0) << result.err << gateway.log();
  EXPECT_EQ(result.out, "seq=4\n");
}

// evring stat --json, and the row of reader `id` in it (null when it has none).
struct StatRow {
  nlohmann::json stat;
  nlohmann::json row;
};

class RemoteStatTest : public RemoteTest {
 protected:
  StatRow stat_row(const std::string& id) const {
    const test::ToolResult result = evring({"stat", "--name", instance, "--json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    StatRow out{nlohmann::json::parse(result.out), nullptr};
    for (const nlohmann::json& row : out.stat["readers"]) {
      if (row["id"] == id) out.row = row;
    }
    return out;
  }

  // Until stat's row of `id` satisfies `holds` (10 s at most); that row.
  nlohmann::json stat_row_until(const std::string& id,
                                const std::function<bool(const nlohmann::json&)>& holds) const {
    nlohmann::json last;
    test::wait_until(
        [&] {
          last = stat_row(id).row;
          return !last.is_null() && holds(last);
        },
        10s);
    return last;
  }
};

TEST_F(RemoteStatTest, RemoteReaderShowsBesideTheLocalOnesAndAloneWithoutAWriter) {
  auto bridge = start_bridge();
  test::ReaderProcess local(instance, "local", dir(), {"--view", "kv", "--from", "start"});
  auto remote_reader = start_remote_reader("remote", "start");
  const std::uint64_t head = put_keys(0, 12);
  EXPECT_EQ(query("remote", head, "count"), "12");

  const nlohmann::json row =
      stat_row_until("remote", [&](const nlohmann::json& r) { return r["position_seq"] == head; });
  EXPECT_EQ(row["source"], server->url() + "/" + stream) << row.dump();
  EXPECT_EQ(row["connected"], true);
  EXPECT_EQ(row["state"], "alive");
  EXPECT_EQ(row["view"], "kv");
  EXPECT_EQ(row["pid"].get<std::uint64_t>(), static_cast<std::uint64_t>(remote_reader->pid()));
  EXPECT_EQ(row["lag_events"], 0);
  const StatRow beside = stat_row("local");
  EXPECT_TRUE(beside.row["source"].is_null()) << beside.row.dump();
  EXPECT_EQ(beside.stat["writer"]["head_seq"], head);
  const test::ToolResult text = evring({"stat", "--name", instance});
  EXPECT_THAT(text.out, HasSubstr(server->url() + "/" + stream)) << text.out;

  // A second reader of that id is refused while the first runs.
  const test::ToolResult twin =
      test::run_tool("evring-reader",
                     {"--name", instance, "--id", "remote", "--view", "kv", "--source",
                      server->url(), "--checkpoint-dir", (dir() / "twin").string()},
                     dir(), 30s);
  EXPECT_EQ(twin.exit_code, 2);
  EXPECT_THAT(twin.err, HasSubstr("remote reader remote of instance " + instance +
                                  " already runs (pid " + std::to_string(remote_reader->pid())));

  // No writer on this machine: the remote reader alone.
  EXPECT_EQ(bridge->stop(), 0);
  EXPECT_EQ(local.stop(), 0);
  EXPECT_EQ(writer->stop(), 0);
  const StatRow alone = stat_row("remote");
  EXPECT_TRUE(alone.stat["writer"].is_null()) << alone.stat.dump();
  ASSERT_EQ(alone.stat["readers"].size(), 1u) << alone.stat.dump();
  EXPECT_EQ(alone.row["state"], "alive");
  EXPECT_EQ(alone.row["position_seq"], head);
  EXPECT_THAT(evring({"stat", "--name", instance}).out, HasSubstr("none on this machine"));

  // Killed: its row stays, dead; started again, it replaces the row and goes on.
  const pid_t killed = remote_reader->pid();
  remote_reader->kill9();
  EXPECT_EQ(stat_row("remote").row["state"], "dead");
  remote_reader->restart();
  const nlohmann::json again = stat_row_until("remote", [&](const nlohmann::json& r) {
    return r["state"] == "alive" && r["position_seq"] == head;
  });
  EXPECT_NE(again["pid"].get<std::uint64_t>(), static_cast<std::uint64_t>(killed)) << again.dump();
  EXPECT_EQ(stat_row("remote").stat["readers"].size(), 1u);

  // Stopped: its row goes, and with nothing left stat says what it said before.
  EXPECT_EQ(remote_reader->stop(), 0) << remote_reader->log();
  const test::ToolResult none = evring({"stat", "--name", instance});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("instance \"" + instance +
                                  "\" has no writer: start evring-writer --name " + instance));
}

TEST_F(RemoteStatTest, RemoteReaderLagCountsAgainstTheStreamsLastSeq) {
  auto bridge = start_bridge();
  const std::uint64_t before = put_keys(0, 9);
  ASSERT_TRUE(stream_reaches(before));
  // From live, its position is 0 until the next event: 9 behind the stream, as a local
  // reader from live is behind the writer's head.
  auto remote_reader = start_remote_reader("live", "live");
  const nlohmann::json behind = stat_row("live").row;
  EXPECT_EQ(behind["position_seq"], 0) << behind.dump();
  EXPECT_EQ(behind["lag_events"], before);
  const std::uint64_t head = put_keys(9, 1);
  EXPECT_EQ(query("live", head, "count"), "1");
  const nlohmann::json caught_up =
      stat_row_until("live", [&](const nlohmann::json& r) { return r["position_seq"] == head; });
  EXPECT_EQ(caught_up["lag_events"], 0) << caught_up.dump();
  EXPECT_EQ(caught_up["lag_us"], 0);
}

TEST_F(RemoteStatTest, RemoteReaderSaysItsServerIsUnreachableAndWhenItResumes) {
  auto bridge = start_bridge();
  auto remote_reader = start_remote_reader("remote", "start");
  std::uint64_t head = put_keys(0, 3);
  EXPECT_EQ(query("remote", head, "count"), "3");

  server->kill9();
  EXPECT_TRUE(test::log_shows(*remote_reader,
                              "warning: the NATS server at " + server->url() +
                                  " is unreachable; answering queries as of seq 3, and resuming "
                                  "when it is back",
                              15s))
      << remote_reader->log();
  EXPECT_THAT(remote_reader->log(), Not(HasSubstr("writer of instance")));
  EXPECT_EQ(
      stat_row_until("remote",
                     [](const nlohmann::json& r) { return r["connected"] == false; })["connected"],
      false);
  EXPECT_THAT(evring({"stat", "--name", instance}).out, HasSubstr("(unreachable)"));

  server->restart();
  EXPECT_TRUE(test::log_shows(
      *remote_reader, "the NATS server at " + server->url() + " is back: resuming after seq 3",
      15s))
      << remote_reader->log();
  head = put_keys(3, 2);
  EXPECT_EQ(query("remote", head, "count"), "5");
  EXPECT_EQ(
      stat_row_until("remote",
                     [](const nlohmann::json& r) { return r["connected"] == true; })["connected"],
      true);
}

}  // namespace
}  // namespace evring

namespace evring {
namespace {

TEST(RemoteDemo, ShowsARemoteReaderBesideTheLocalOne) {
  test::TempDir dir("remote-demo");
  test::use_private_folders(dir.path());
  const test::ToolResult result =
      test::run_tool("evring",
                     {"demo", "--remote", "--commands", "5000", "--latency-samples", "500", "--dir",
                      dir.path().string()},
                     dir.path(), std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // The demo fails by itself when the remote total differs from the local one.
  // The view's answer as it wrote it (keys in its order): every account is there.
  EXPECT_THAT(result.out, ::testing::ContainsRegex("bank-remote total \\{[^\n]*\"accounts\":1000"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("(fed from NATS JetStream through evring bridge)"));
}

}  // namespace
}  // namespace evring
