// The hold files of a journal folder (journal_holds.hpp).
#include "journal/journal_holds.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "journal/segment_file.hpp"
#include "sys/file_errors.hpp"
#include "sys/process.hpp"

namespace fs = std::filesystem;

namespace evring {
namespace {

constexpr std::string_view kHoldsFolder = "journal's holds folder";
constexpr std::int64_t kRewriteNs = 1'000'000'000;  // a hold that moves with every event
constexpr mode_t kHoldMode = 0640;

// Part of a file name: letters, digits, '.', '_' and '-' (a reader id or stream name may
// hold others: they become '_').
std::string file_safe(std::string_view text) {
  std::string name(text);
  for (char& c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    if (!plain) c = '_';
  }
  if (!name.empty() && name.front() == '.') name.front() = '_';  // never a temporary's name
  return name;
}

std::optional<std::uint64_t> number_after(const std::string& text, std::string_view key) {
  const std::size_t at = text.find(std::string(key) + '=');
  if (at == std::string::npos) return std::nullopt;
  const char* begin = text.data() + at + key.size() + 1;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc{} || end == begin) return std::nullopt;
  return value;
}

}  // namespace

fs::path holds_folder(const fs::path& journal_dir) {
  return journal_dir / "holds";
}

std::string reader_holder(std::string_view reader_id) {
  return "reader-" + file_safe(reader_id);
}

std::string bridge_holder(std::string_view stream) {
  return "bridge-" + file_safe(stream);
}

void prepare_holds_folder(const fs::path& journal_dir, mode_t file_mode, gid_t group) {
  const fs::path folder = holds_folder(journal_dir);
  detail::create_folder(folder, file_mode, kHoldsFolder);
  if (group != kCreatorGroup) {
    // The group's readers create their own holds here: it writes the folder, and setgid
    // keeps their files in the group, so the writer's user can read them.
    detail::grant(folder, detail::folder_mode(file_mode) | S_IWGRP | S_IXGRP | S_ISGID, group,
                  kHoldsFolder);
  }
}

void write_hold(const fs::path& journal_dir, std::string_view holder, std::uint64_t needed_seq) {
  const fs::path folder = holds_folder(journal_dir);
  const std::string name = file_safe(holder);
  const fs::path path = folder / name;
  const fs::path temporary = folder / ("." + name + ".tmp");
  const ProcessIdentity self = ProcessIdentity::self();
  std::ostringstream text;
  text << "seq=" << needed_seq << "\npid=" << self.pid << "\nstart=" << self.start_ticks
       << "\nwritten_ns=" << journal_file::unix_ns() << '\n';
  const std::string body = text.str();
  // Readable by the group the folder gives it (setgid), so the writer's retention reads it.
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kHoldMode);
  if (fd < 0) detail::throw_file_error("cannot write the hold", temporary, errno, kHoldsFolder);
  // Whatever the holder's umask (077 would leave it 0600, unreadable to the writer's user).
  const bool written = ::fchmod(fd, kHoldMode) == 0 &&
                       ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) &&
                       ::fdatasync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int failed = written ? errno : err;
    ::unlink(temporary.c_str());
    detail::throw_file_error("cannot write the hold", path, failed, kHoldsFolder);
  }
}

std::vector<JournalHold> read_holds(const fs::path& journal_dir) {
  std::vector<JournalHold> holds;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(holds_folder(journal_dir), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;  // a hold being written
    std::ifstream in(entry.path());
    std::stringstream text;
    if (in) text << in.rdbuf();
    const std::string body = text.str();
    const auto seq = number_after(body, "seq");
    JournalHold hold;
    hold.holder = name;
    if (!in || !seq || *seq == 0) {
      // Its holder's need is unknown: it keeps everything rather than nothing.
      hold.needed_seq = 1;
      hold.unreadable = !in ? "cannot be read (" + errno_text(errno) + ")" : "cannot be parsed";
    } else {
      hold.needed_seq = *seq;
    }
    hold.pid = number_after(body, "pid").value_or(0);
    hold.start_ticks = number_after(body, "start").value_or(0);
    hold.written_unix_ns = static_cast<std::int64_t>(number_after(body, "written_ns").value_or(0));
    hold.path = entry.path();
    holds.push_back(std::move(hold));
  }
  std::sort(holds.begin(), holds.end(), [](const JournalHold& a, const JournalHold& b) {
    return a.needed_seq != b.needed_seq ? a.needed_seq < b.needed_seq : a.holder < b.holder;
  });
  return holds;
}

bool remove_hold(const fs::path& journal_dir, std::string_view holder) {
  const fs::path path = holds_folder(journal_dir) / file_safe(holder);
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  detail::throw_file_error("cannot remove the hold", path, errno, kHoldsFolder);
}

bool holder_alive(const JournalHold& hold) {
  return hold.pid != 0 && ProcessIdentity{hold.pid, hold.start_ticks}.alive();
}

HoldKeeper::HoldKeeper(fs::path journal_dir, std::string holder, LogSink log)
    : journal_dir_(std::move(journal_dir)), holder_(std::move(holder)), log_(std::move(log)) {}

void HoldKeeper::need(std::uint64_t seq, std::int64_t now_ns, bool force) {
  // Forced, also when unchanged: evring journal release --force may have removed it.
  if (journal_dir_.empty() || seq == 0 || (seq == held_ && !force)) return;
  if (!force && now_ns - written_ns_ < kRewriteNs) return;
  try {
    write_hold(journal_dir_, holder_, seq);
    held_ = seq;
    written_ns_ = now_ns;
  } catch (const Error& e) {
    if (warned_) return;
    warned_ = true;
    log_(LogLevel::warn,
         "cannot write the hold " + holder_ + " on the journal (" + e.what() +
             "): the writer's retention (--retain, --retain-for) may remove events from seq " +
             std::to_string(seq) +
             " on that it still needs, and a restart from there would "
             "fail. Let this user write " +
             holds_folder(journal_dir_).string() +
             " (the writer makes it writable for its --group), or run the writer without "
             "retention");
  }
}

}  // namespace evring
