// The soak's two workloads, bank and kv: the command a client sends at each index (the same
// in every start of the client, so a restarted client resends exactly what it had in
// flight), and the models the accepted commands build when applied in seq order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace evring::soak {

inline constexpr int kAccountsPerClient = 16;
inline constexpr int kKeysPerClient = 64;

std::string account(int client, int k);  // "b<client>a<k>"
std::string key(int client, int k);      // "k<client>-<k>"

// Opens the client's accounts first, then deposits, withdrawals (some overdraw: rejected),
// transfers to any client's account and a few duplicate opens (rejected).
std::vector<std::string> bank_command(std::uint64_t seed, int clients, int client,
                                      std::uint64_t index);
// put, del (of a key that may be missing: rejected) and cas with a guessed version (often
// rejected) on the client's own keys.
std::vector<std::string> kv_command(std::uint64_t seed, int client, std::uint64_t index);

// The bank as the accepted commands build it. apply() returns a violation, or "".
struct BankModel {
  std::map<std::string, std::int64_t> balances;
  std::int64_t deposited = 0;
  std::int64_t withdrawn = 0;
  std::string apply(const std::vector<std::string>& words);
  std::int64_t total() const;
};

struct KvEntry {
  std::string value;
  std::uint64_t version = 0;
  bool operator==(const KvEntry&) const = default;
};

// The kv store as the accepted commands build it. apply() returns a violation, or "".
struct KvModel {
  std::map<std::string, KvEntry> entries;
  std::string apply(const std::vector<std::string>& words);
};

}  // namespace evring::soak
