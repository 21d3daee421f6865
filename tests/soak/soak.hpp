// The chaos soak's pieces shared by its run (soak.cpp) and its end check (end_check.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos_client.hpp"
#include "workloads.hpp"
#include "writer_process_support.hpp"

namespace evring::soak {

// One instance of the soak: a writer of one domain, its readers and its clients.
struct Instance {
  std::string domain;  // "bank" or "kv"
  std::string name;
  std::filesystem::path folder;  // the journal, the readers' checkpoints, the logs
  std::unique_ptr<test::WriterProcess> writer;
  std::vector<test::ChaosClientPlan> plans;                    // one per client
  std::uint64_t capacity = 0;                                  // commands per client
  std::unique_ptr<test::SharedBlock<test::Outcome>> outcomes;  // client c at c * capacity
  std::unique_ptr<test::SharedBlock<test::ClientProgress>> progress;
  // Reader id -> its process; the tail reader's output files, oldest first.
  std::map<std::string, std::unique_ptr<test::ReaderProcess>> readers;
  std::vector<std::filesystem::path> tail_files;
  // The largest lapped and replay counts seen in each reader process's registry slot.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> reader_counts;
  // Built by check_views from the answers, in seq order: the model and its last seq.
  BankModel bank_model;
  KvModel kv_model;
  std::uint64_t last_seq = 0;
};

// What the run did and what the end check found.
struct Report {
  std::map<std::string, std::uint64_t> kills;  // by kind: writer, reader, client
  std::uint64_t stops = 0;                     // SIGSTOP, each followed by a SIGCONT or a kill
  std::map<std::string, std::uint64_t> clean_stops;  // SIGTERM or SIGINT, then a start again
  std::uint64_t commands = 0;
  test::AnswerCounts answers;
  std::uint64_t reconnects = 0;
  std::uint64_t events = 0;
  std::uint64_t laps = 0;
  std::uint64_t catch_ups = 0;
  std::vector<std::string> violations;
};

// The tail reader writes here; each start's file is moved aside (tail_files) when it ends.
std::filesystem::path tail_output(const Instance& instance);

// After the clients have finished: the views against the model the answers build, then (after
// the writer and readers are stopped cleanly) the journal against the answers, the model and
// the invariant, and the tail reader's files against the journal. Adds to report.
void check_views(Instance& instance, Report& report);
void check_journal(Instance& instance, Report& report);
// No segment of the instances, no socket in the runtime folder, no child process left.
void check_leftovers(const std::vector<Instance*>& instances, Report& report);

}  // namespace evring::soak
