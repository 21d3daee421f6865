// Journals of the built-in domains' events, written straight through the journal API (no
// writer, no commands: a 2M-event journal takes a second, not a benchmark run of its own),
// so `evring-bench commands` can time how fast evring-writer replays them. The events are
// the ones the domain itself would have emitted: each balance and version follows from
// the events before it, since the writer's replay stops at the first event out of step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace evring::bench {

struct BuiltJournal {
  std::uint64_t events = 0;
  std::uint64_t record_bytes = 0;   // in the segment files: headers, payloads, padding
  std::uint64_t payload_bytes = 0;  // the events' own bytes
};

// "bank": `accounts` accounts opened first, then deposits (20%), withdrawals (10%) and
// transfers (70%) between random accounts, never overdrawn. "kv": puts of 32-byte values
// to `keys` random keys, and a delete of a present key one time in 16. The same seed
// gives the same journal. Throws Error(invalid_argument) for another domain and the
// journal's Error for the file system's refusals.
BuiltJournal build_replay_journal(const std::string& domain, const std::filesystem::path& folder,
                                  std::uint64_t events, std::uint32_t keys);

}  // namespace evring::bench
