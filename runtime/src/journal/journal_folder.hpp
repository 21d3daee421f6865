// The journal folder's own files beside its segments: writer.lock, held by the one writer
// of the journal, and domain, which names the domain whose events it holds.
#pragma once

#include <filesystem>

#include "journal/journal.hpp"

namespace evring {

// An exclusive flock on <journal>/writer.lock, held for the writer's life: two writers
// never share a journal, and kill -9 releases it with the process. Creates the folder
// (0700) if missing; Error(writer_running) naming the holder's pid if another has it.
class JournalLock {
 public:
  JournalLock() = default;
  explicit JournalLock(const std::filesystem::path& directory);
  JournalLock(JournalLock&& other) noexcept;
  JournalLock& operator=(JournalLock&& other) noexcept;
  ~JournalLock();

 private:
  int fd_ = -1;
};

// Checks that <journal>/domain names `domain` (Error(incompatible) saying which --domain to
// use if not) and writes it when missing, or when a plugin domain's library moved, so
// tools find it.
void check_journal_domain(const std::filesystem::path& directory, const DomainRecord& domain);

}  // namespace evring
