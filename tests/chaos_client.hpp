// Client processes that submit commands with ids while their writer (or they themselves)
// get kill -9, SIGSTOP and SIGCONT, and the check of their answers against the journal.
// Shared by the writer chaos test and the soak (tests/soak).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "journal/journal.hpp"

namespace evring::test {

// One command's final answer, in memory shared with the parent.
struct Outcome {
  std::uint32_t status;  // 0: no final answer yet, else ReplyStatus
  std::uint32_t code;
  std::uint64_t seq;
};

// What one client has done, in memory shared with the parent: a client started again after
// kill -9 resubmits what an earlier start sent and never saw answered. Written by one client
// process at a time; read by the next start (after the parent reaped the previous one) and by
// the parent for its report, so relaxed order is enough everywhere: nobody reads other data
// through these counters.
struct ClientProgress {
  std::atomic<std::uint64_t> sent;        // commands [0, sent) went to some writer
  std::atomic<std::uint64_t> answered;    // of them, how many have their final answer
  std::atomic<std::uint64_t> reconnects;  // after the writer died or the client restarted
};

struct ChaosClientPlan {
  std::string instance;
  std::string id_prefix;       // the command with index i carries the id <prefix><i>
  std::uint64_t capacity = 0;  // commands [0, capacity) at most
  // The command with index i: the same in every start of the client.
  std::function<std::vector<std::string>(std::uint64_t)> command;
  std::size_t window = 8;  // commands in flight
  double per_second = 0;   // 0: as fast as the writer answers
  // Set by the parent: send nothing new, finish what is in flight, exit 0.
  const std::atomic<bool>* stop = nullptr;
};

std::string command_id(const ChaosClientPlan& plan, std::uint64_t index);

// In a client process: resubmits what an earlier start left unanswered, then submits the
// plan's commands `window` in flight until capacity or stop, reconnecting and resubmitting
// what was in flight whenever the writer dies. Returns 0 once everything sent is answered.
int run_chaos_client(const ChaosClientPlan& plan, ClientProgress& progress, Outcome* outcomes);

// A journal read whole, with each command id's seqs and any gap.
struct JournalAudit {
  std::uint64_t last_seq = 0;
  std::unordered_map<std::string, std::vector<std::uint64_t>> seqs_by_id;
  std::vector<std::string> violations;
};

// Reads the journal in `directory` from seq 1 to its end, handing each record to `each`
// (which may add violations).
JournalAudit audit_journal(const std::filesystem::path& directory,
                           const std::function<void(const JournalRecord&, JournalAudit&)>& each);

struct AnswerCounts {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
};

// One client's answers against the journal: every command answered accepted or duplicate is
// in it exactly once, at the seq it was answered with; a rejected one (by a rule) never is;
// every command in [0, sent) has an answer. Adds to audit.violations; counts the answers.
AnswerCounts check_answers(const ChaosClientPlan& plan, std::span<const Outcome> outcomes,
                           std::uint64_t sent, JournalAudit& audit);

// The bank as its journal tells it: balances, and the invariant's two sides.
struct BankLedger {
  std::unordered_map<std::string, std::int64_t> balances;
  std::int64_t deposited = 0;
  std::int64_t withdrawn = 0;
  // Applies one bank event; an unknown type is a violation.
  void apply(const JournalRecord& record, JournalAudit& audit);
  // Violations of the invariant: a negative balance, or a total that is not deposited -
  // withdrawn.
  void check_invariant(JournalAudit& audit) const;
  std::int64_t total() const;
};

}  // namespace evring::test
