// evring-bench remote: the bridge into NATS JetStream against a plain cnats async publisher
// (the same messages, headers, window, file storage and server, in the same run, rounds
// alternating), a remote reader's catch-up from the stream, and a command's round trip
// through evring gateway against the local shared-memory client.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bridge.hpp"
#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "gateway.hpp"
#include "harness/exec_process.hpp"
#include "jetstream_feed.hpp"
#include "local_server.hpp"
#include "replay_journal.hpp"
#include "report.hpp"
#include "ring_processes.hpp"
#include "scratch_folder.hpp"
#include "subcommands.hpp"
#include "sys/latency_recorder.hpp"
#include "writer_process.hpp"

namespace evring::bench {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kSecondNs = 1'000'000'000;

std::unique_ptr<remote::NatsLink> connect_when_up(const std::string& url) {
  const std::int64_t deadline = monotonic_ns() + 10 * kSecondNs;
  for (;;) {
    try {
      return remote::NatsLink::connect(url, remote::LinkOptions{});
    } catch (const Error&) {
      if (monotonic_ns() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// The baseline: `events` messages of `bytes` bytes through js_PublishMsgAsync with the
// bridge's headers (message id, expected last seq) and its window. Messages per second.
double plain_publisher(const remote::NatsLink& link, const remote::StreamSettings& settings,
                       std::uint64_t events, std::size_t bytes, std::size_t window) {
  remote::ensure_stream(link, settings, remote::StreamIdentity{"bench", 1, {"kv", ""}});
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = static_cast<int64_t>(window);
  jsCtx* js = nullptr;
  remote::check(natsConnection_JetStream(&js, link.connection(), &options), "JetStream context");
  const std::string payload(bytes, 'x');
  const std::int64_t start = monotonic_ns();
  for (std::uint64_t seq = 1; seq <= events; ++seq) {
    natsMsg* msg = nullptr;
    remote::check(natsMsg_Create(&msg, settings.subject.c_str(), nullptr, payload.data(),
                                 static_cast<int>(payload.size())),
                  "natsMsg_Create");
    natsMsgHeader_Set(msg, "Nats-Msg-Id", remote::message_id(1, seq).c_str());
    natsMsgHeader_Set(msg, "Nats-Expected-Last-Sequence", std::to_string(seq - 1).c_str());
    natsMsgHeader_Set(msg, remote::kTypeHeader, "1");
    natsMsgHeader_Set(msg, remote::kPublishNsHeader, std::to_string(start).c_str());
    // On success cnats owns the message.
    const natsStatus status = js_PublishMsgAsync(js, &msg, nullptr);
    if (status != NATS_OK) natsMsg_Destroy(msg);
    remote::check(status, "js_PublishMsgAsync");
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60'000;
  remote::check(js_PublishAsyncComplete(js, &complete), "js_PublishAsyncComplete");
  const std::int64_t elapsed = monotonic_ns() - start;
  jsCtx_Destroy(js);
  return static_cast<double>(events) * 1e9 / static_cast<double>(elapsed);
}

double bridge_rate(const RemoteOptions& options, const std::string& instance,
                   const std::string& server, const remote::StreamSettings& settings,
                   const fs::path& journal, std::uint64_t events) {
  remote::BridgeOptions bridge_options;
  bridge_options.instance = instance;
  bridge_options.server = server;
  bridge_options.stream = settings;
  bridge_options.journal = journal;
  bridge_options.window = options.window;
  bridge_options.stop_at_seq = events;
  const LogSink quiet = [](LogLevel, std::string_view) {};
  const auto bridge = remote::Bridge::start(bridge_options, quiet);
  const std::atomic<bool> never{false};
  const std::int64_t start = monotonic_ns();
  bridge->run(never);
  if (std::getenv("EVRING_BENCH_DEBUG") != nullptr) {
    fmt::print(stderr, "bridge: {} flushes\n", bridge->counters().flushes);
  }
  return static_cast<double>(events) * 1e9 / static_cast<double>(monotonic_ns() - start);
}

double catch_up_rate(const std::string& url, const std::string& instance, std::uint64_t events) {
  const auto feed = remote::JetStreamFeed::open(remote::FeedOptions{url, instance, nullptr});
  std::array<Event, 64> batch;
  const std::int64_t start = monotonic_ns();
  feed->start(1);
  std::uint64_t got = 0;
  while (got < events) {
    const std::size_t count = feed->next_batch(batch);
    if (count == 0) feed->wait(WaitKind::block, kSecondNs / 10);
    got += count;
    if (monotonic_ns() - start > 120 * kSecondNs) {
      throw Error(ErrorCode::timed_out, "the remote reader did not catch up in 120 s");
    }
  }
  return static_cast<double>(events) * 1e9 / static_cast<double>(monotonic_ns() - start);
}

template <class Submit>
LatencySummary round_trips(std::uint64_t samples, Submit submit) {
  LatencyRecorder recorder(samples);
  for (std::uint64_t i = 0; i < samples + samples / 10; ++i) {  // a tenth to warm up
    const std::string key = "k" + std::to_string(i % kPutKeys);
    const std::string_view words[] = {"put", key, "0123456789abcdef"};
    const std::int64_t start = monotonic_ns();
    const CommandReply reply = submit(std::span<const std::string_view>(words));
    const std::int64_t took = monotonic_ns() - start;
    if (!reply.accepted()) throw Error(ErrorCode::io, "a bench put was refused: " + reply.reason);
    if (i >= samples / 10) recorder.record(took);
  }
  return recorder.summarize();
}

// A command's way to a remote reader: submitted locally, bridged, delivered by the stream.
LatencySummary command_to_remote_view(const RemoteOptions& options, const std::string& url,
                                      const std::string& instance) {
  remote::BridgeOptions bridge_options;
  bridge_options.instance = instance;
  bridge_options.server = url;
  bridge_options.window = options.window;
  const auto bridge = remote::Bridge::start(bridge_options, [](LogLevel, std::string_view) {});
  std::atomic<bool> stop_bridge{false};
  std::thread bridging([&] { bridge->run(stop_bridge); });
  const auto feed = remote::JetStreamFeed::open(remote::FeedOptions{url, instance, nullptr});
  feed->start(0);
  Client client = Client::connect(instance);
  const LatencySummary summary =
      round_trips(options.round_trips, [&](std::span<const std::string_view> words) {
        const CommandReply reply = client.submit_text(words);
        Event event;
        do {
          while (!feed->next(event)) feed->wait(WaitKind::block, kSecondNs / 10);
        } while (event.seq < reply.seq);
        return reply;
      });
  stop_bridge = true;  // seq_cst: a plain flag
  bridging.join();
  return summary;
}

ResultRow rate_row(std::string system, double rate, std::size_t bytes, std::uint64_t events) {
  ResultRow row;
  row.system = std::move(system);
  row.mode = "throughput";
  row.payload_bytes = bytes;
  row.samples = events;
  row.msgs_per_s = rate;
  row.bytes_per_s = rate * static_cast<double>(bytes);
  return row;
}

}  // namespace

std::vector<ResultRow> run_remote(const RemoteOptions& options) {
  const ScratchFolder scratch(options.scratch);
  const fs::path journal = scratch.path() / "journal";
  const BuiltJournal built = build_replay_journal("kv", journal, options.events, kPutKeys);
  write_journal_domain(journal, DomainRecord{"kv", ""});  // as a writer would have
  const std::size_t bytes = built.payload_bytes / built.events;

  const int port = remote::free_local_port();
  const std::string url = remote::local_url(port);
  harness::ExecLaunch server_launch;
  server_launch.binary = remote::kNatsServerBinary;
  server_launch.args = remote::local_server_args(port, scratch.path() / "jetstream");
  server_launch.log_file = scratch.path() / "nats.log";
  harness::ExecProcess server(server_launch);
  const auto link = connect_when_up(url);
  fmt::print("nats-server on {}, file storage; {} events of {} B (kv puts), window {}\n", url,
             built.events, bytes, options.window);

  std::vector<double> plain, bridged;
  const std::string instance = unique_instance_name("remote");  // its journal, no writer
  std::string last_stream;
  for (unsigned round = 0; round < options.rounds; ++round) {
    const remote::StreamSettings base{"BASE" + std::to_string(round),
                                      "bench.base" + std::to_string(round)};
    plain.push_back(plain_publisher(*link, base, built.events, bytes, options.window));
    js_DeleteStream(link->jetstream(), base.stream.c_str(), nullptr, nullptr);
    if (!last_stream.empty()) {
      js_DeleteStream(link->jetstream(), last_stream.c_str(), nullptr, nullptr);
    }
    const remote::StreamSettings bridge{"BRIDGE" + std::to_string(round),
                                        "bench.bridge" + std::to_string(round)};
    bridged.push_back(bridge_rate(options, instance, url, bridge, journal, built.events));
    last_stream = bridge.stream;
  }
  const double catch_up = catch_up_rate(url + "/" + last_stream, instance, built.events);

  std::vector<ResultRow> rows;
  rows.push_back(rate_row("cnats async publisher", median(plain), bytes, built.events));
  rows.push_back(rate_row("evring bridge", median(bridged), bytes, built.events));
  rows.push_back(rate_row("remote reader catch-up", catch_up, bytes, built.events));

  // Round trips: evring-writer, and evring gateway in a thread of this process.
  WriterLaunch launch{find_writer_binary(options.writer_binary),
                      unique_instance_name("gw"),
                      {"--domain", "kv", "--wait", "block", "--durability", "async", "--quiet",
                       "--journal", (scratch.path() / "gateway-journal").string()},
                      0,
                      false};
  WriterProcess writer(launch);
  writer.wait_until_ready(monotonic_ns() + 10 * kSecondNs);
  const auto gateway = remote::Gateway::start(remote::GatewayOptions{launch.instance, url, ""},
                                              [](LogLevel, std::string_view) {});
  std::atomic<bool> stop_gateway{false};
  std::thread serving([&] { gateway->run(stop_gateway); });
  LatencySummary via_nats, local;
  {
    remote::NatsCommandClient nats_client(url, launch.instance);
    via_nats = round_trips(options.round_trips, [&](std::span<const std::string_view> words) {
      return nats_client.submit_text(words, {}, std::chrono::seconds(5));
    });
    Client client = Client::connect(launch.instance);
    local = round_trips(options.round_trips, [&](std::span<const std::string_view> words) {
      return client.submit_text(words);
    });
  }
  stop_gateway = true;  // seq_cst: a plain flag
  serving.join();
  const LatencySummary to_remote_view = command_to_remote_view(options, url, launch.instance);
  writer.stop(monotonic_ns() + 10 * kSecondNs);
  for (auto [name, summary] :
       {std::pair{"command via gateway", via_nats}, std::pair{"command, local client", local},
        std::pair{"command to remote view", to_remote_view}}) {
    ResultRow row;
    row.system = name;
    row.mode = "round-trip";
    row.latency = summary;
    row.samples = summary.samples;
    rows.push_back(row);
  }

  TextTable table({"what", "msgs/s", "ratio", "p50", "p99"});
  const double baseline = rows[0].msgs_per_s;
  for (const ResultRow& row : rows) {
    if (row.latency) {
      table.add_row({row.system, "",
                     fmt::format("{:.2f}x", static_cast<double>(row.latency->p50_ns) /
                                                static_cast<double>(local.p50_ns)),
                     format_ns(row.latency->p50_ns), format_ns(row.latency->p99_ns)});
    } else {
      table.add_row({row.system, format_count(row.msgs_per_s),
                     fmt::format("{:.2f}x", row.msgs_per_s / baseline), "", ""});
    }
  }
  table.print(stdout);
  fmt::print(
      "rates: median of {} alternating rounds; ratio to the cnats async publisher (same "
      "messages, headers, window and server). Round trips: {} sequential puts each; ratio "
      "to the local shared-memory client's p50; command to remote view: submitted locally, until a "
      "remote reader's feed has its event.\n",
      options.rounds, options.round_trips);
  return rows;
}

}  // namespace evring::bench
