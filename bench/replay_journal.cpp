#include "replay_journal.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "progress.hpp"

namespace evring::bench {
namespace {

constexpr std::uint64_t kSeed = 0x5EED'0FE7'B126'0001ull;
constexpr std::int64_t kMaxAmount = 1'000;
constexpr std::size_t kValueBytes = 32;
constexpr std::uint64_t kProgressEvery = 1u << 16;

// splitmix64: fast, and good enough to spread accounts and keys.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E37'79B9'7F4A'7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58'476D'1CE4'E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D0'49BB'1331'11EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t bound) noexcept { return next() % bound; }

 private:
  std::uint64_t state_;
};

// Appends events and counts what they take in the segment files.
class Appender {
 public:
  Appender(const std::filesystem::path& folder, const std::string& domain, std::uint64_t total)
      : journal_(JournalWriter::open(JournalOptions{folder})),
        progress_("building a " + domain + " journal, events", total) {}

  template <class Event>
  void append(const Event& event) {
    const std::vector<std::byte> payload = encode(event);
    journal_.append(static_cast<std::uint32_t>(Event::type), payload, monotonic_ns());
    ++built_.events;
    built_.payload_bytes += payload.size();
    built_.record_bytes += sizeof(JournalRecordHeader) + (payload.size() + 7) / 8 * 8;
    if (built_.events % kProgressEvery == 0) progress_.update(built_.events);
  }

  // Synced, so the replay that follows does not share the disk with the write-back.
  BuiltJournal finish() {
    journal_.sync();
    progress_.finish();
    return built_;
  }

 private:
  JournalWriter journal_;
  Progress progress_;
  BuiltJournal built_;
};

BuiltJournal build_bank(Appender& out, std::uint64_t events, std::uint32_t accounts) {
  using namespace evring::bank;
  std::vector<std::string> names;
  std::vector<std::int64_t> balances(accounts, 0);
  for (std::uint32_t i = 0; i < accounts; ++i) names.push_back(fmt::format("acct-{:05}", i));
  Random random(kSeed);
  for (std::uint64_t n = 0; n < events; ++n) {
    if (n < accounts) {
      out.append(OpenedEvent{names[n]});
      continue;
    }
    const auto from = static_cast<std::uint32_t>(random.below(accounts));
    std::int64_t& balance = balances[from];
    const std::uint64_t pick = random.below(10);
    // An empty account can only take a deposit, so it gets one whatever the pick.
    if (pick < 2 || balance == 0) {
      const auto amount = static_cast<std::int64_t>(1 + random.below(kMaxAmount));
      balance += amount;
      out.append(DepositedEvent{names[from], amount, balance});
    } else if (pick < 3) {
      const auto amount = static_cast<std::int64_t>(
          1 + random.below(static_cast<std::uint64_t>(std::min(balance, kMaxAmount))));
      balance -= amount;
      out.append(WithdrawnEvent{names[from], amount, balance});
    } else {
      // Any account but `from`: a transfer to itself is refused.
      const auto to =
          static_cast<std::uint32_t>((from + 1 + random.below(accounts - 1)) % accounts);
      const auto amount = static_cast<std::int64_t>(
          1 + random.below(static_cast<std::uint64_t>(std::min(balance, kMaxAmount))));
      balance -= amount;
      balances[to] += amount;
      out.append(TransferredEvent{names[from], names[to], amount, balance, balances[to]});
    }
  }
  return out.finish();
}

BuiltJournal build_kv(Appender& out, std::uint64_t events, std::uint32_t keys) {
  using namespace evring::kv;
  std::vector<std::string> names;
  std::vector<std::uint64_t> versions(keys, 0);  // 0: not present
  for (std::uint32_t i = 0; i < keys; ++i) names.push_back(fmt::format("key-{:06}", i));
  const std::string value(kValueBytes, 'v');
  Random random(kSeed);
  for (std::uint64_t n = 0; n < events; ++n) {
    const auto key = static_cast<std::uint32_t>(random.below(keys));
    std::uint64_t& version = versions[key];
    if (version != 0 && random.below(16) == 0) {
      out.append(DeletedEvent{names[key], version});
      version = 0;
    } else {
      ++version;
      out.append(PutEvent{names[key], value, version});
    }
  }
  return out.finish();
}

}  // namespace

BuiltJournal build_replay_journal(const std::string& domain, const std::filesystem::path& folder,
                                  std::uint64_t events, std::uint32_t keys) {
  if (keys < 2) {
    throw Error(ErrorCode::invalid_argument, "a replay journal needs at least 2 accounts or keys");
  }
  if (domain != "bank" && domain != "kv") {
    throw Error(ErrorCode::invalid_argument,
                "no replay journal for domain \"" + domain + "\": choose bank or kv");
  }
  Appender out(folder, domain, events);
  return domain == "bank" ? build_bank(out, events, keys) : build_kv(out, events, keys);
}

}  // namespace evring::bench
