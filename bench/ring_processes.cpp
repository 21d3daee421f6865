#include "ring_processes.hpp"

#include <unistd.h>

#include <algorithm>

#include "evring/error.hpp"
#include "harness/cpu_pinning.hpp"

namespace evring::bench {

std::string unique_instance_name(const std::string& tag) {
  static unsigned counter = 0;
  return "bench-" + std::to_string(::getpid()) + "-" + tag + "-" + std::to_string(counter++);
}

RingWriter create_bench_ring(const std::string& tag, std::uint64_t ring_bytes,
                             std::uint32_t largest_payload) {
  RingOptions options;
  options.instance = unique_instance_name(tag);
  options.capacity = ring_bytes;
  options.max_payload = largest_payload;
  return RingWriter::create(options);
}

std::vector<unsigned> reader_cpus(unsigned count, unsigned writer_cpu, unsigned reader_cpu) {
  std::vector<unsigned> order{reader_cpu};
  for (unsigned cpu = 0; cpu < harness::online_cpus(); ++cpu) {
    if (cpu != writer_cpu && cpu != reader_cpu) order.push_back(cpu);
  }
  if (writer_cpu != reader_cpu) order.push_back(writer_cpu);
  std::vector<unsigned> cpus;
  for (unsigned i = 0; i < count; ++i) cpus.push_back(order[i % order.size()]);
  return cpus;
}

harness::ChildProcess spawn_ring_reader(const std::string& role, const RingWriter& writer,
                                        unsigned cpu, WaitKind wait, ReadyFlag& ready,
                                        const std::function<int(RingReader&)>& body) {
  const std::string instance = writer.instance();
  return harness::ChildProcess::spawn(role, [&, instance] {
    harness::pin_to_cpu(cpu);
    RingReaderOptions options;
    options.instance = instance;
    options.start = RingStart::earliest;
    options.identity = ReaderIdentity{role, "bench", wait};
    RingReader reader = RingReader::attach(options);
    ready.announce();
    return body(reader);
  });
}

void throw_if_writer_lost(const PollResult& result, const std::string& instance) {
  if (result.status == PollStatus::writer_gone || result.status == PollStatus::writer_replaced) {
    throw Error(ErrorCode::io, "the writer of benchmark instance \"" + instance +
                                   "\" went away mid-run; run evring-bench again");
  }
}

}  // namespace evring::bench
