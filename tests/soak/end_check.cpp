// The soak's end check: views, journals and leftovers against the model.
#include <dirent.h>
#include <unistd.h>
#include <algorithm>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "event_description.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "soak.hpp"
#include "sys/paths.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace evring::soak {
namespace {

constexpr auto kConvergence = std::chrono::seconds(60);

// A query to a reader once its view has applied `after`; nullopt (and a violation) if it
// cannot answer, answers late or refuses.
std::optional<json> ask(QueryClient& client, const std::string& who,
                        std::vector<std::string_view> words, std::uint64_t after, Report& report) {
  std::string asked;
  for (const auto word : words) asked += " " + std::string(word);
  try {
    const QueryReply reply = client.query(words, after, kConvergence);
    if (reply.stale || !reply.result) {
      report.violations.push_back(who + asked + ": " + reply.raw);
      return std::nullopt;
    }
    return json::parse(*reply.result);
  } catch (const std::exception& e) {
    report.violations.push_back(who + asked + ": " + e.what());
    return std::nullopt;
  }
}

template <typename Value>
void expect_equal(const Value& seen, const Value& expected, const std::string& what,
                  Report& report) {
  if (seen == expected) return;
  std::ostringstream text;
  text << what << ": " << seen << ", expected " << expected;
  report.violations.push_back(text.str());
}

// The model from the answers: each command answered accepted or duplicate, in seq order,
// their seqs exactly 1..N (each command of these workloads has one event).
void build_model(Instance& instance, Report& report) {
  struct Applied {
    std::uint64_t seq;
    int client;
    std::uint64_t index;
  };
  std::vector<Applied> applied;
  for (int c = 0; c < static_cast<int>(instance.plans.size()); ++c) {
    const std::uint64_t sent = (*instance.progress)[c].sent.load(std::memory_order_relaxed);
    for (std::uint64_t i = 0; i < sent; ++i) {
      const test::Outcome& outcome = (*instance.outcomes)[c * instance.capacity + i];
      const auto status = static_cast<ReplyStatus>(outcome.status);
      if (status == ReplyStatus::accepted || status == ReplyStatus::duplicate) {
        applied.push_back({outcome.seq, c, i});
      }
    }
  }
  std::sort(applied.begin(), applied.end(),
            [](const Applied& a, const Applied& b) { return a.seq < b.seq; });
  for (const Applied& command : applied) {
    if (command.seq != instance.last_seq + 1) {
      report.violations.push_back(instance.domain + ": the answers give seq " +
                                  std::to_string(command.seq) + " after " +
                                  std::to_string(instance.last_seq));
    }
    instance.last_seq = command.seq;
    const auto words = instance.plans[command.client].command(command.index);
    const std::string wrong = instance.domain == "bank" ? instance.bank_model.apply(words)
                                                        : instance.kv_model.apply(words);
    if (!wrong.empty()) {
      report.violations.push_back(instance.domain + " model at seq " + std::to_string(command.seq) +
                                  ": " + wrong);
    }
  }
}

void check_bank_view(Instance& instance, Report& report) {
  QueryClient client = QueryClient::connect(instance.name, "bank");
  const BankModel& model = instance.bank_model;
  for (int c = 0; c < static_cast<int>(instance.plans.size()); ++c) {
    for (int k = 0; k < kAccountsPerClient; ++k) {
      const std::string name = account(c, k);
      const auto found = model.balances.find(name);
      const auto seen = ask(client, "bank view", {"balance", name}, instance.last_seq, report);
      if (!seen) continue;
      const std::string balance = seen->at("balance").dump();
      expect_equal(
          balance,
          found == model.balances.end() ? std::string("null") : std::to_string(found->second),
          "bank view: balance of " + name, report);
    }
  }
  if (const auto total = ask(client, "bank view", {"total"}, instance.last_seq, report)) {
    expect_equal(total->at("total").dump(), std::to_string(model.total()), "bank view: total",
                 report);
    expect_equal(total->at("deposited").dump(), std::to_string(model.deposited),
                 "bank view: deposited", report);
    expect_equal(total->at("withdrawn").dump(), std::to_string(model.withdrawn),
                 "bank view: withdrawn", report);
  }
  expect_equal(model.total(), model.deposited - model.withdrawn,
               "the bank's invariant in the model", report);
}

void check_kv_view(Instance& instance, const std::string& id, Report& report) {
  QueryClient client = QueryClient::connect(instance.name, id);
  const KvModel& model = instance.kv_model;
  for (int c = 0; c < static_cast<int>(instance.plans.size()); ++c) {
    for (int k = 0; k < kKeysPerClient; ++k) {
      const std::string name = key(c, k);
      const auto seen = ask(client, id + " view", {"get", name}, instance.last_seq, report);
      if (!seen) continue;
      const auto found = model.entries.find(name);
      const std::string expected = found == model.entries.end()
                                       ? "null"
                                       : json{{"key", name},
                                              {"value", found->second.value},
                                              {"version", found->second.version}}
                                             .dump();
      expect_equal(seen->dump(), expected, id + " view: get " + name, report);
    }
  }
  if (const auto count = ask(client, id + " view", {"count"}, instance.last_seq, report)) {
    expect_equal(count->dump(), std::to_string(model.entries.size()), id + " view: count", report);
  }
}

// Each command has one event, so the events by type follow from the model's commands; the
// journal check compares them with the journal too.
void check_count(Instance& instance, const std::string& id, std::vector<std::string_view> words,
                 const std::function<std::uint64_t(const json&)>& events, Report& report) {
  QueryClient client = QueryClient::connect(instance.name, id);
  if (const auto seen = ask(client, id + " view", words, instance.last_seq, report)) {
    expect_equal(events(*seen), instance.last_seq, id + " view: events", report);
  }
}

std::string line_seq_text(const std::string& line) {
  const auto at = line.find("\"seq\":");
  if (at == std::string::npos) return {};
  const auto end = line.find(',', at);
  return line.substr(at + 6, end - at - 6);
}

}  // namespace

fs::path tail_output(const Instance& instance) {
  return instance.folder / "tail.jsonl";
}

void check_views(Instance& instance, Report& report) {
  build_model(instance, report);
  if (instance.domain == "bank") {
    check_bank_view(instance, report);
    check_count(
        instance, "stats", {"summary"},
        [](const json& summary) { return summary.at("events").get<std::uint64_t>(); }, report);
    check_count(
        instance, "tail", {"count"}, [](const json& count) { return count.get<std::uint64_t>(); },
        report);
  } else {
    check_kv_view(instance, "kv", report);
    check_kv_view(instance, "kv-replay", report);
  }
}

void check_journal(Instance& instance, Report& report) {
  test::BankLedger bank;
  std::map<std::string, KvEntry> kv;
  std::map<std::uint32_t, std::uint64_t> by_type;
  // The tail view's line for each seq, hashed: what its output files must hold.
  std::vector<std::size_t> tail_lines(1);
  const std::optional<DomainDescriber> domain = domains::builtin_describer(instance.domain);
  test::JournalAudit audit;
  try {
    audit = test::audit_journal(
        instance.writer->journal(), [&](const JournalRecord& record, test::JournalAudit& into) {
          ++by_type[record.type];
          std::string line;
          domains::append_event_line(line, &*domain, record.seq, record.type, record.publish_ns,
                                     record.payload);
          tail_lines.push_back(std::hash<std::string>{}(line));
          if (instance.domain == "bank") {
            bank.apply(record, into);
          } else if (record.type == static_cast<std::uint32_t>(kv::EventType::put)) {
            const auto put = kv::decode_put_event(record.payload);
            kv[std::string(put.key)] = KvEntry{std::string(put.value), put.version};
          } else {
            kv.erase(std::string(kv::decode_deleted_event(record.payload).key));
          }
        });
  } catch (const Error& e) {
    report.violations.push_back(instance.domain + " journal: " + e.what());
    return;
  }
  for (std::size_t c = 0; c < instance.plans.size(); ++c) {
    const auto counts = test::check_answers(
        instance.plans[c],
        std::span(&(*instance.outcomes)[c * instance.capacity], instance.capacity),
        (*instance.progress)[c].sent.load(std::memory_order_relaxed), audit);
    report.answers.accepted += counts.accepted;
    report.answers.duplicates += counts.duplicates;
    report.answers.rejected += counts.rejected;
  }
  expect_equal(audit.last_seq, instance.last_seq,
               instance.domain + " journal: last seq against the answers", report);
  report.events += audit.last_seq;
  if (instance.domain == "bank") {
    bank.check_invariant(audit);
    const std::map<std::string, std::int64_t> journal_balances(bank.balances.begin(),
                                                               bank.balances.end());
    if (journal_balances != instance.bank_model.balances) {
      audit.violations.push_back("bank journal: the balances differ from the model");
    }
  } else if (kv != instance.kv_model.entries) {
    audit.violations.push_back("kv journal: the entries differ from the model");
  }
  for (std::string& violation : audit.violations) {
    report.violations.push_back(instance.domain + ": " + std::move(violation));
  }

  // The tail reader's files, in the order it wrote them: within a file consecutive seqs, each
  // line exactly the journal's; a file after a kill -9 starts again at most one past where
  // the previous ended (from its checkpoint); together they reach the last seq.
  if (instance.domain != "bank") return;
  std::uint64_t previous = 0;
  for (const fs::path& file : instance.tail_files) {
    std::ifstream in(file);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      const std::string seq_text = line_seq_text(line);
      const std::uint64_t seq = seq_text.empty() ? 0 : std::stoull(seq_text);
      const bool in_order = first ? (seq >= 1 && seq <= previous + 1) : seq == previous + 1;
      if (!in_order || seq >= tail_lines.size() ||
          std::hash<std::string>{}(line + "\n") != tail_lines[seq]) {
        report.violations.push_back("tail output " + file.filename().string() + " after seq " +
                                    std::to_string(previous) + ": " + line.substr(0, 200));
        return;
      }
      previous = seq;
      first = false;
    }
  }
  expect_equal(previous, audit.last_seq, "tail output: the last seq", report);
}

void check_leftovers(const std::vector<Instance*>& instances, Report& report) {
  for (const auto& entry : fs::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    for (const Instance* instance : instances) {
      if (name.starts_with("evring." + instance->name + ".")) {
        report.violations.push_back("segment left over: /dev/shm/" + name);
      }
    }
  }
  std::error_code none;
  for (const auto& entry : fs::directory_iterator(default_runtime_folder(), none)) {
    if (entry.is_socket()) {
      report.violations.push_back("socket left over: " + entry.path().string());
    }
  }
  // Every process this one started, and whatever they started, must be gone.
  const std::string parent = std::to_string(::getpid());
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 2));
    std::string state, ppid;
    fields >> state >> ppid;
    if (ppid == parent) report.violations.push_back("process left over: pid " + pid + " " + text);
  }
}

}  // namespace evring::soak
