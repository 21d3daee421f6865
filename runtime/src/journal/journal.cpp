// The journal folder: its segments, its history id, its domain file, durability names.
#include "journal/journal.hpp"

#include <algorithm>
#include <fstream>

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "journal/segment_file.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring {

using namespace journal_file;

std::uint64_t new_history_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    if (::getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) {
      // No entropy source at all: the clock and pid still tell two histories apart.
      id = static_cast<std::uint64_t>(unix_ns()) ^ (static_cast<std::uint64_t>(::getpid()) << 48);
    }
  }
  return id;
}

std::string history_text(std::uint64_t history_id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, history_id >>= 4)
    text[static_cast<std::size_t>(i)] = kDigits[history_id & 0xf];
  return text;
}

std::optional<DomainRecord> read_journal_domain(const fs::path& directory) {
  std::ifstream in(directory / "domain");
  DomainRecord domain;
  if (!in || !std::getline(in, domain.name) || domain.name.empty()) return std::nullopt;
  std::getline(in, domain.library);  // none in a journal of a built-in domain
  return domain;
}

void journal_file::write_small_file(const fs::path& path, std::string_view text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  const bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (!written)
    throw Error(ErrorCode::io, "cannot write " + path.string() + ": " + errno_text(error));
}

void write_journal_domain(const fs::path& directory, const DomainRecord& domain) {
  std::string text = domain.name + '\n';
  if (!domain.library.empty()) text += domain.library + '\n';
  write_small_file(directory / "domain", text, 0600);
}

std::uint64_t journal_history(const fs::path& directory) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    throw Error(ErrorCode::no_instance,
                "the journal folder " + directory.string() +
                    (fs::exists(directory, ec) ? " is not a folder" : " does not exist") +
                    ": give the folder the writer journals to (evring-writer --journal; by "
                    "default ~/.local/state/evring/<name>/journal)");
  }
  // Every segment names the history. Retention may remove the oldest between the listing
  // and its opening: one gone by then is passed over (the newest, being written, stays).
  for (const fs::path& path : journal_segments(directory)) {
    const std::optional<MappedFile> file = map_if_present(path);
    if (!file) continue;
    check_segment_header(*file, *first_seq_from_name(path));
    return header_of(*file).history_id;
  }
  return 0;
}

Durability parse_durability(std::string_view text) {
  if (text == "none") return Durability::none;
  if (text == "async") return Durability::async;
  if (text == "sync") return Durability::sync;
  throw Error(ErrorCode::invalid_argument,
              "unknown durability \"" + std::string(text) + "\": use none, async or sync");
}

std::string_view to_string(Durability durability) {
  switch (durability) {
    case Durability::none:
      return "none";
    case Durability::async:
      return "async";
    case Durability::sync:
      return "sync";
  }
  return "unknown";
}

std::vector<fs::path> journal_segments(const fs::path& directory) {
  std::vector<std::pair<std::uint64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    if (const auto first = first_seq_from_name(entry.path()))
      found.emplace_back(*first, entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& [first, path] : found) paths.push_back(std::move(path));
  return paths;
}
}  // namespace evring
