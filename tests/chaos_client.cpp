#include "chaos_client.hpp"

#include <chrono>
#include <deque>
#include <thread>

#include "evring/builtin/bank_events.hpp"
#include "evring/client.hpp"
#include "evring/error.hpp"
#include "writer_process_support.hpp"

namespace evring::test {
namespace {

std::string_view text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::string command_id(const ChaosClientPlan& plan, std::uint64_t index) {
  return plan.id_prefix + std::to_string(index);
}

int run_chaos_client(const ChaosClientPlan& plan, ClientProgress& progress, Outcome* outcomes) {
  Client connection = connect_with_retry(plan.instance, std::chrono::seconds(60));
  // What an earlier start of this client sent and never saw answered: first in line.
  std::deque<std::uint64_t> in_flight;
  std::uint64_t next = progress.sent.load(std::memory_order_relaxed);
  for (std::uint64_t index = 0; index < next; ++index) {
    if (outcomes[index].status == 0) in_flight.push_back(index);
  }
  bool resend = !in_flight.empty();
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t sent_here = 0;
  // The pace: sent_here stays under per_second times the time since this start.
  const auto may_send = [&] {
    if (plan.per_second <= 0) return true;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    return static_cast<double>(sent_here) < plan.per_second * elapsed.count() + 1;
  };
  const auto send = [&](std::uint64_t index) {
    const std::vector<std::string> words = plan.command(index);
    const std::vector<std::string_view> views(words.begin(), words.end());
    connection.send_text(views, command_id(plan, index));
  };
  // relaxed: the parent only reads the flag; nothing else is published through it.
  const auto stopping = [&] {
    return plan.stop != nullptr && plan.stop->load(std::memory_order_relaxed);
  };
  for (;;) {
    try {
      if (resend) {
        for (const std::uint64_t index : in_flight) send(index);
        resend = false;
      }
      while (next < plan.capacity && in_flight.size() < plan.window && !stopping() && may_send()) {
        in_flight.push_back(next);
        // Counted before it leaves: a start after a kill -9 resends it rather than lose it.
        progress.sent.store(++next, std::memory_order_relaxed);
        ++sent_here;
        send(in_flight.back());
      }
      if (in_flight.empty()) {
        if (next >= plan.capacity || stopping()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the pace
        continue;
      }
      const TicketedReply reply = connection.receive();
      Outcome& outcome = outcomes[in_flight.front()];
      in_flight.pop_front();
      outcome.seq = reply.reply.seq;
      outcome.code = static_cast<std::uint32_t>(reply.reply.code);
      // Last: a start after a kill -9 between these stores resends the command.
      outcome.status = static_cast<std::uint32_t>(reply.reply.status);
      progress.answered.fetch_add(1, std::memory_order_relaxed);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::writer_gone && e.code() != ErrorCode::no_instance) throw;
      connection = connect_with_retry(plan.instance, std::chrono::seconds(60));
      progress.reconnects.fetch_add(1, std::memory_order_relaxed);
      resend = true;
    }
  }
  return 0;
}

JournalAudit audit_journal(const std::filesystem::path& directory,
                           const std::function<void(const JournalRecord&, JournalAudit&)>& each) {
  JournalAudit audit;
  JournalReader reader = JournalReader::open(directory, 1);
  JournalRecord record;
  while (reader.next(record)) {
    if (record.seq != audit.last_seq + 1) {
      audit.violations.push_back("a gap in the journal: seq " + std::to_string(record.seq) +
                                 " after " + std::to_string(audit.last_seq));
    }
    audit.last_seq = record.seq;
    if (!record.meta.empty()) {
      audit.seqs_by_id[std::string(text_of(record.meta))].push_back(record.seq);
    }
    each(record, audit);
  }
  for (const auto& [id, seqs] : audit.seqs_by_id) {
    if (seqs.size() != 1) {
      audit.violations.push_back("command " + id + " is in the journal " +
                                 std::to_string(seqs.size()) + " times");
    }
  }
  return audit;
}

AnswerCounts check_answers(const ChaosClientPlan& plan, std::span<const Outcome> outcomes,
                           std::uint64_t sent, JournalAudit& audit) {
  AnswerCounts counts;
  for (std::uint64_t i = 0; i < sent; ++i) {
    const Outcome& outcome = outcomes[i];
    const std::string id = command_id(plan, i);
    if (outcome.status == 0) {
      audit.violations.push_back(id + " got no final answer");
      continue;
    }
    const auto found = audit.seqs_by_id.find(id);
    const auto status = static_cast<ReplyStatus>(outcome.status);
    if (status == ReplyStatus::rejected) {
      ++counts.rejected;
      if (outcome.code != static_cast<std::uint32_t>(RejectCode::rule)) {
        audit.violations.push_back(id + " was rejected with code " + std::to_string(outcome.code) +
                                   ", not by a rule of the domain");
      }
      if (found != audit.seqs_by_id.end()) {
        audit.violations.push_back(id + " was rejected but is in the journal");
      }
      continue;
    }
    (status == ReplyStatus::accepted ? counts.accepted : counts.duplicates)++;
    if (found == audit.seqs_by_id.end()) {
      audit.violations.push_back(id + " was answered seq " + std::to_string(outcome.seq) +
                                 " but is not in the journal");
    } else if (found->second.front() != outcome.seq) {
      audit.violations.push_back(id + " was answered seq " + std::to_string(outcome.seq) +
                                 " but the journal has it at " +
                                 std::to_string(found->second.front()));
    }
  }
  return counts;
}

void BankLedger::apply(const JournalRecord& record, JournalAudit& audit) {
  switch (static_cast<bank::EventType>(record.type)) {
    case bank::EventType::opened:
      balances[std::string(bank::decode_opened_event(record.payload).account)] = 0;
      return;
    case bank::EventType::deposited: {
      const auto event = bank::decode_deposited_event(record.payload);
      deposited += event.amount;
      balances[std::string(event.account)] = event.balance;
      return;
    }
    case bank::EventType::withdrawn: {
      const auto event = bank::decode_withdrawn_event(record.payload);
      withdrawn += event.amount;
      balances[std::string(event.account)] = event.balance;
      return;
    }
    case bank::EventType::transferred: {
      const auto event = bank::decode_transferred_event(record.payload);
      balances[std::string(event.from)] = event.from_balance;
      balances[std::string(event.to)] = event.to_balance;
      return;
    }
  }
  audit.violations.push_back("unknown bank event type " + std::to_string(record.type) + " at seq " +
                             std::to_string(record.seq));
}

std::int64_t BankLedger::total() const {
  std::int64_t sum = 0;
  for (const auto& [name, balance] : balances) sum += balance;
  return sum;
}

void BankLedger::check_invariant(JournalAudit& audit) const {
  for (const auto& [name, balance] : balances) {
    if (balance < 0) {
      audit.violations.push_back("account " + name + " is overdrawn: " + std::to_string(balance));
    }
  }
  if (total() != deposited - withdrawn) {
    audit.violations.push_back("the bank's invariant: the balances add up to " +
                               std::to_string(total()) + ", deposits minus withdrawals to " +
                               std::to_string(deposited - withdrawn));
  }
}

}  // namespace evring::test
