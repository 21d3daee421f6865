#include "workloads.hpp"

#include "test_support.hpp"

namespace evring::soak {
namespace {

// The choices for one command: a hash of seed, client and index, never a running generator,
// so any start of a client finds the same command at the same index.
std::uint64_t choice(std::uint64_t seed, int client, std::uint64_t index) {
  return test::splitmix64(test::splitmix64(seed ^ (static_cast<std::uint64_t>(client) << 56)) ^
                          index);
}

std::int64_t amount(const std::string& text) {
  return std::stoll(text);
}

}  // namespace

std::string account(int client, int k) {
  return "b" + std::to_string(client) + "a" + std::to_string(k);
}

std::string key(int client, int k) {
  return "k" + std::to_string(client) + "-" + std::to_string(k);
}

std::vector<std::string> bank_command(std::uint64_t seed, int clients, int client,
                                      std::uint64_t index) {
  if (index < kAccountsPerClient) return {"open", account(client, static_cast<int>(index))};
  const std::uint64_t r = choice(seed, client, index);
  const std::string own = account(client, static_cast<int>((r >> 8) % kAccountsPerClient));
  const std::string any = account(static_cast<int>((r >> 16) % static_cast<std::uint64_t>(clients)),
                                  static_cast<int>((r >> 24) % kAccountsPerClient));
  const std::uint64_t roll = r % 100;
  const std::uint64_t size = r >> 40;
  if (roll < 40) return {"deposit", own, std::to_string(1 + size % 1000)};
  if (roll < 65) return {"withdraw", own, std::to_string(1 + size % 600)};
  if (roll < 97 && own != any) return {"transfer", own, any, std::to_string(1 + size % 400)};
  return {"open", own};  // already open: rejected
}

std::vector<std::string> kv_command(std::uint64_t seed, int client, std::uint64_t index) {
  const std::uint64_t r = choice(seed, client, index);
  const std::string k = key(client, static_cast<int>((r >> 8) % kKeysPerClient));
  const std::string value = "v" + std::to_string(index);
  const std::uint64_t roll = r % 100;
  if (roll < 55) return {"put", k, value};
  if (roll < 70) return {"del", k};
  return {"cas", k, std::to_string((r >> 40) % 4), value};
}

std::string BankModel::apply(const std::vector<std::string>& words) {
  const std::string& verb = words.at(0);
  if (verb == "open") {
    if (!balances.emplace(words.at(1), 0).second) return "account " + words[1] + " opened twice";
    return {};
  }
  const auto find = [&](const std::string& name) -> std::int64_t* {
    const auto found = balances.find(name);
    return found == balances.end() ? nullptr : &found->second;
  };
  std::int64_t* from = find(words.at(1));
  if (from == nullptr) return verb + " on account " + words[1] + " that was never opened";
  if (verb == "deposit") {
    *from += amount(words.at(2));
    deposited += amount(words[2]);
    return {};
  }
  const std::int64_t sum = amount(words.at(verb == "transfer" ? 3 : 2));
  if (*from < sum) return verb + " of " + std::to_string(sum) + " overdraws " + words[1];
  *from -= sum;
  if (verb == "withdraw") {
    withdrawn += sum;
    return {};
  }
  std::int64_t* to = find(words.at(2));
  if (to == nullptr) return "transfer to account " + words[2] + " that was never opened";
  *to += sum;
  return {};
}

std::int64_t BankModel::total() const {
  std::int64_t sum = 0;
  for (const auto& [name, balance] : balances) sum += balance;
  return sum;
}

std::string KvModel::apply(const std::vector<std::string>& words) {
  const std::string& verb = words.at(0);
  const auto found = entries.find(words.at(1));
  const std::uint64_t version = found == entries.end() ? 0 : found->second.version;
  if (verb == "del") {
    if (found == entries.end()) return "del of missing key " + words[1] + " was accepted";
    entries.erase(found);
    return {};
  }
  if (verb == "cas" && std::stoull(words.at(2)) != version) {
    return "cas of " + words[1] + " on version " + words[2] + " was accepted at version " +
           std::to_string(version);
  }
  entries[words[1]] = KvEntry{words.back(), version + 1};
  return {};
}

}  // namespace evring::soak
