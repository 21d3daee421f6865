// evring-microbench: Google Benchmark micro-benchmarks of the ring's two hot calls,
// RingWriter::publish and RingReader::poll, and of reading the journal back, in one process.
//
//   BM_Publish/<payload>/<readers>        publish cost with no reader, or with one reader
//                                         thread (pinned to another CPU) tailing the ring
//   BM_PublishStamped/<payload>/<readers> the same with the stamp passed in: the
//                                         difference is the cost of reading the clock
//   BM_PollRecord/<payload>               poll one record from a pre-filled ring
//   BM_PollEmpty                          poll a ring with nothing new
//   BM_WriterLivenessProbe                what an idle poll pays every 50 ms
//   BM_JournalReplay                      a late reader's catch-up: read 1M 64-byte events
//                                         back from a journal with JournalReader
//
// One ring serves every benchmark (creating and pre-faulting 64 MiB per run would dominate);
// its name is "bench-micro-<pid>" and its writer's destructor removes it at exit.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "payload_pattern.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/layout.hpp"
#include "sys/process.hpp"
#include "sys/stamp_clock.hpp"

namespace {

using namespace evring;

constexpr std::uint32_t kBenchRecordType = 1;
constexpr int kPublisherCpu = 0;
constexpr int kReaderCpu = 1;

std::optional<RingWriter> g_ring;  // created in main, destroyed before exit

RingWriter& ring() {
  return *g_ring;
}

// Best effort: on a one-CPU machine the reader thread simply shares the core.
void pin_current_thread(int cpu) {
  if (cpu >= static_cast<int>(std::thread::hardware_concurrency())) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

std::vector<std::byte> make_payload(std::int64_t bytes) {
  std::vector<std::byte> payload(static_cast<std::size_t>(bytes));
  bench::fill_pattern(1, payload);
  return payload;
}

RingReaderOptions reader_options(RingStart start) {
  RingReaderOptions options;
  options.instance = ring().instance();
  options.start = start;
  options.identity = ReaderIdentity{"microbench", "bench", WaitKind::spin};
  return options;
}

// A reader thread with its own read-only mapping, as a reader process would have, tailing
// the ring while the benchmark publishes.
class BackgroundReader {
 public:
  BackgroundReader() {
    thread_ = std::thread([this] {
      pin_current_thread(kReaderCpu);
      RingReader reader = RingReader::attach(reader_options(RingStart::live));
      RecordBuffer buffer(reader.max_payload());
      // release: pairs with the constructor's acquire wait; the reader is attached.
      attached_.store(true, std::memory_order_release);
      // relaxed: a stop request orders no data; the thread's counts are handed over by join.
      while (!stop_.load(std::memory_order_relaxed)) {
        const PollResult result = reader.poll(buffer);
        if (result.status == PollStatus::record) {
          ++records_;
        } else if (result.status == PollStatus::lapped) {
          ++lapped_;
        } else {
          cpu_relax();
        }
      }
    });
    // acquire: pairs with the thread's release store; publishing starts after it attached.
    while (!attached_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  BackgroundReader(const BackgroundReader&) = delete;
  BackgroundReader& operator=(const BackgroundReader&) = delete;
  ~BackgroundReader() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    stop_.store(true, std::memory_order_relaxed);  // relaxed: see the loop above
    thread_.join();                                // join: the counts are safe to read after this
  }
  std::uint64_t records() const { return records_; }
  std::uint64_t lapped() const { return lapped_; }

 private:
  std::thread thread_;
  std::atomic<bool> attached_{false};
  std::atomic<bool> stop_{false};
  std::uint64_t records_ = 0;
  std::uint64_t lapped_ = 0;
};

void report_bytes(benchmark::State& state, std::int64_t payload_bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * payload_bytes);
}

// How much of what was published the reader got, and how often it fell a ring behind.
void report_reader(benchmark::State& state, BackgroundReader& reader) {
  reader.stop();
  state.counters["read_fraction"] =
      static_cast<double>(reader.records()) / static_cast<double>(state.iterations());
  state.counters["lapped"] = static_cast<double>(reader.lapped());
}

void BM_Publish(benchmark::State& state) {
  pin_current_thread(kPublisherCpu);
  const std::vector<std::byte> payload = make_payload(state.range(0));
  std::optional<BackgroundReader> reader;
  if (state.range(1) != 0) reader.emplace();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring().publish(kBenchRecordType, payload));
  }
  report_bytes(state, state.range(0));
  if (reader) report_reader(state, *reader);
}

void BM_PublishStamped(benchmark::State& state) {
  pin_current_thread(kPublisherCpu);
  const std::vector<std::byte> payload = make_payload(state.range(0));
  std::optional<BackgroundReader> reader;
  if (state.range(1) != 0) reader.emplace();
  const std::int64_t stamp = monotonic_ns();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring().publish(kBenchRecordType, payload, stamp));
  }
  report_bytes(state, state.range(0));
  if (reader) report_reader(state, *reader);
}

// Publishes as many records as fit without lapping a reader that is fully caught up: the
// writer announces its intent up to capacity/16 ahead of its tail (W2 in
// ring_protocol.hpp), and a reader counts that as written, so a quarter of the ring is
// left free, and room for the padding of a wrap.
void refill(const std::vector<std::byte>& payload) {
  const std::uint64_t record = aligned_record_length(payload.size());
  const std::uint64_t fit = (ring().capacity() - ring().capacity() / 4) / record - 2;
  for (std::uint64_t i = 0; i < fit; ++i) ring().publish(kBenchRecordType, payload);
}

void BM_PollRecord(benchmark::State& state) {
  pin_current_thread(kPublisherCpu);
  const std::vector<std::byte> payload = make_payload(state.range(0));
  RingReader reader = RingReader::attach(reader_options(RingStart::live));
  RecordBuffer buffer(reader.max_payload());
  refill(payload);
  for (auto _ : state) {
    PollResult result = reader.poll(buffer);
    if (result.status == PollStatus::empty) [[unlikely]] {
      // Once per ring's worth of records: not part of the poll cost.
      state.PauseTiming();
      refill(payload);
      state.ResumeTiming();
      result = reader.poll(buffer);
    }
    if (result.status != PollStatus::record) {
      state.SkipWithError("poll did not return a record: the ring was lapped or closed");
      break;
    }
    benchmark::DoNotOptimize(buffer.seq());
  }
  report_bytes(state, state.range(0));
}

void BM_PollEmpty(benchmark::State& state) {
  pin_current_thread(kPublisherCpu);
  RingReader reader = RingReader::attach(reader_options(RingStart::live));
  RecordBuffer buffer(reader.max_payload());
  for (auto _ : state) {
    benchmark::DoNotOptimize(reader.poll(buffer).status);
  }
  state.SetItemsProcessed(state.iterations());
}

void payload_sizes(benchmark::internal::Benchmark* bench, bool with_reader_variant) {
  for (std::int64_t bytes : {16, 64, 256, 1024, 4096, 16384, 65536}) {
    if (with_reader_variant) {
      bench->Args({bytes, 0});
      bench->Args({bytes, 1});
    } else {
      bench->Arg(bytes);
    }
  }
}

BENCHMARK(BM_Publish)
    ->ArgNames({"payload", "readers"})
    ->Apply([](benchmark::internal::Benchmark* b) { payload_sizes(b, true); });
BENCHMARK(BM_PublishStamped)
    ->ArgNames({"payload", "readers"})
    ->Apply([](benchmark::internal::Benchmark* b) { payload_sizes(b, true); });
BENCHMARK(BM_PollRecord)->ArgName("payload")->Apply([](benchmark::internal::Benchmark* b) {
  payload_sizes(b, false);
});
BENCHMARK(BM_PollEmpty);

// The liveness probe an idle reader's poll makes every 50 ms (RingReader::check_writer):
// a spinning reader is deaf for this long, once per probe.
void BM_WriterLivenessProbe(benchmark::State& state) {
  const ProcessIdentity self = ProcessIdentity::self();
  for (auto _ : state) benchmark::DoNotOptimize(self.alive());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriterLivenessProbe);

// A publish stamp: clock_gettime through the vDSO, and the writer's stamp clock
// (sys/stamp_clock.hpp), which reads the TSC where it can.
void BM_MonotonicNs(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(monotonic_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MonotonicNs);

void BM_StampClock(benchmark::State& state) {
  StampClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
  state.SetLabel(clock.uses_tsc() ? "tsc" : "clock_gettime");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StampClock);

constexpr std::uint64_t kReplayEvents = 1'000'000;
constexpr std::int64_t kReplayPayloadBytes = 64;

// The journal BM_JournalReplay reads: written once, on first use, so that the benchmark's
// repeated runs measure reading only; removed at exit.
class ReplayJournal {
 public:
  static const std::filesystem::path& directory() {
    static ReplayJournal journal;
    return journal.directory_;
  }
  ReplayJournal(const ReplayJournal&) = delete;
  ReplayJournal& operator=(const ReplayJournal&) = delete;
  ~ReplayJournal() {
    std::error_code ignored;  // nothing useful to do at exit if it fails
    std::filesystem::remove_all(directory_, ignored);
  }

 private:
  ReplayJournal() {
    std::string name = (std::filesystem::temp_directory_path() / "evring-replay-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary folder for the journal: " +
                               errno_text(errno));
    }
    directory_ = name;
    try {
      JournalOptions options;
      options.directory = directory_;
      JournalWriter writer = JournalWriter::open(options);
      const std::vector<std::byte> payload = make_payload(kReplayPayloadBytes);
      for (std::uint64_t i = 0; i < kReplayEvents; ++i) {
        writer.append(kBenchRecordType, payload, static_cast<std::int64_t>(i));
      }
    } catch (...) {
      std::error_code ignored;  // the error being thrown says more than this one would
      std::filesystem::remove_all(directory_, ignored);
      throw;
    }
  }

  std::filesystem::path directory_;
};

// Each iteration opens a reader at seq 1 and reads to the end, as a reader process that
// starts late does before it joins the ring.
void BM_JournalReplay(benchmark::State& state) {
  pin_current_thread(kPublisherCpu);
  const std::filesystem::path* directory = nullptr;
  try {
    directory = &ReplayJournal::directory();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  std::uint64_t records = 0;
  for (auto _ : state) {
    JournalReader reader = JournalReader::open(*directory, 1);
    JournalRecord record;
    std::uint64_t read = 0;
    while (reader.next(record)) {
      benchmark::DoNotOptimize(record.payload.data());
      ++read;
    }
    if (read != kReplayEvents) {
      state.SkipWithError("the reader did not read back every event written");
      break;
    }
    records += read;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.SetBytesProcessed(static_cast<std::int64_t>(records) * kReplayPayloadBytes);
}
BENCHMARK(BM_JournalReplay)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  try {
    RingOptions options;
    options.instance = "bench-micro-" + std::to_string(::getpid());
    g_ring.emplace(RingWriter::create(options));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evring-microbench: cannot create the ring: %s\n", e.what());
    return 2;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_ring.reset();  // removes the segments
  return 0;
}
