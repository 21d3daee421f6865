#include "evring/journal.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.hpp"
#include "evring/error.hpp"
#include "evring/layout.hpp"

namespace fs = std::filesystem;

namespace evring {
namespace {

constexpr std::string_view kSegmentPrefix = "journal-";
constexpr std::string_view kSegmentSuffix = ".evj";

[[noreturn]] void throw_file_error(const std::string& what, const fs::path& path, int err) {
  if (err == EACCES || err == EPERM || err == EROFS) {
    throw Error(ErrorCode::permission_denied,
                what + " " + path.string() + ": " + errno_text(err) +
                    " (choose a writable --journal folder, or fix its owner and mode)");
  }
  if (err == ENOSPC || err == EDQUOT) {
    throw Error(ErrorCode::resource, what + " " + path.string() + ": " + errno_text(err) +
                                         " (free disk space, or point --journal elsewhere)");
  }
  throw Error(ErrorCode::io, what + " " + path.string() + ": " + errno_text(err));
}

std::string segment_file_name(std::uint64_t first_seq) {
  std::string digits = std::to_string(first_seq);
  return std::string(kSegmentPrefix) + std::string(20 - digits.size(), '0') + digits +
         std::string(kSegmentSuffix);
}

std::optional<std::uint64_t> first_seq_from_name(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.size() != kSegmentPrefix.size() + 20 + kSegmentSuffix.size() ||
      !name.starts_with(kSegmentPrefix) || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const char* begin = name.data() + kSegmentPrefix.size();
  const auto [end, ec] = std::from_chars(begin, begin + 20, value);
  if (ec != std::errc{} || end != begin + 20) return std::nullopt;
  return value;
}

std::uint32_t header_crc(const JournalSegmentHeader& header) {
  return detail::crc32c(0, &header, offsetof(JournalSegmentHeader, header_crc));
}

std::uint32_t record_crc(const JournalRecordHeader& header, const std::byte* payload) {
  const std::uint32_t crc =
      detail::crc32c(0, reinterpret_cast<const std::byte*>(&header) + 4, sizeof header - 4);
  return detail::crc32c(crc, payload, header.payload_bytes);
}

// A whole file mapped with mmap. Process-local.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const fs::path& path, bool writable) : path_(path) {
    fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd_ < 0) throw_file_error("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_file_error("cannot stat", path, errno);
    size_ = static_cast<std::size_t>(st.st_size);
    map(writable);
  }
  MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }
  MappedFile& operator=(MappedFile&& other) noexcept {
    std::swap(fd_, other.fd_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(path_, other.path_);
    return *this;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
    if (fd_ >= 0) ::close(fd_);
  }

  // Grows the file to `bytes` with blocks reserved (so later stores cannot hit a full
  // disk as SIGBUS) and maps it again.
  void grow(std::size_t bytes) {
    if (const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes)); err != 0) {
      throw_file_error("cannot reserve space for", path_, err);
    }
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = bytes;
    map(true);
  }

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  int fd() const { return fd_; }
  const fs::path& path() const { return path_; }

 private:
  void map(bool writable) {
    if (size_ == 0) return;
    void* p =
        ::mmap(nullptr, size_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) throw_file_error("cannot map", path_, errno);
    data_ = static_cast<std::byte*>(p);
  }

  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  fs::path path_;
};

// Checks a segment's header against its file name; throws with what is wrong.
void check_segment_header(const MappedFile& file, std::uint64_t named_first_seq) {
  if (file.size() < sizeof(JournalSegmentHeader)) {
    throw Error(ErrorCode::corrupt, "journal segment " + file.path().string() + " is truncated (" +
                                        std::to_string(file.size()) + " bytes, no header)");
  }
  JournalSegmentHeader header;
  std::memcpy(&header, file.data(), sizeof header);
  if (header.magic != kJournalMagic) {
    throw Error(ErrorCode::incompatible,
                file.path().string() + " is not an evring journal segment (bad magic)");
  }
  if (header.format_version != kJournalFormatVersion) {
    throw Error(ErrorCode::incompatible,
                "journal segment " + file.path().string() + " has format version " +
                    std::to_string(header.format_version) + "; this build reads version " +
                    std::to_string(kJournalFormatVersion) +
                    ": use the evring build that wrote it, or move the journal away");
  }
  if (header.header_crc != header_crc(header) || header.first_seq != named_first_seq ||
      header.header_bytes != sizeof(JournalSegmentHeader)) {
    throw Error(ErrorCode::corrupt, "journal segment " + file.path().string() +
                                        " has a damaged header (checksum or first seq)");
  }
}

// The verdict on the bytes at one offset of a segment.
struct RecordScan {
  enum Kind { found, end, bad } kind = end;
  JournalRecord record;
  std::size_t next_offset = 0;
  std::string reason;  // for `bad`
};

RecordScan scan_record(const MappedFile& file, std::size_t offset, std::uint64_t expected_seq) {
  RecordScan scan;
  if (offset + sizeof(JournalRecordHeader) > file.size()) return scan;  // no room: end
  JournalRecordHeader header;
  std::memcpy(&header, file.data() + offset, sizeof header);
  if (header.crc == 0 && header.payload_bytes == 0 && header.seq == 0 && header.type == 0) {
    return scan;  // zeros: nothing was ever written here
  }
  scan.kind = RecordScan::bad;
  const std::size_t total = sizeof header + align_up(header.payload_bytes, 8);
  if (offset + total > file.size()) {
    scan.reason = "record runs past the end of the file";
    return scan;
  }
  const std::byte* payload = file.data() + offset + sizeof header;
  if (header.crc != record_crc(header, payload)) {
    scan.reason = "checksum mismatch";
    return scan;
  }
  if (header.seq != expected_seq) {
    scan.reason = "sequence " + std::to_string(header.seq) + " where " +
                  std::to_string(expected_seq) + " was due";
    return scan;
  }
  scan.kind = RecordScan::found;
  scan.record = {header.seq, header.type, header.publish_ns, {payload, header.payload_bytes}};
  scan.next_offset = offset + total;
  return scan;
}

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void fsync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_file_error("cannot open", directory, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_file_error("cannot sync", directory, err);
}

// Creates a segment atomically: written under a temporary name, then renamed, so a reader
// never sees a segment without its header.
MappedFile create_segment(const JournalOptions& options, std::uint64_t first_seq) {
  const fs::path final_path = options.directory / segment_file_name(first_seq);
  const fs::path temp_path = final_path.string() + ".tmp";
  ::unlink(temp_path.c_str());
  const int fd = ::open(temp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) throw_file_error("cannot create", temp_path, errno);
  ::close(fd);
  MappedFile file(temp_path, true);
  try {
    file.grow(options.segment_bytes);
  } catch (...) {
    ::unlink(temp_path.c_str());
    throw;
  }
  JournalSegmentHeader header{};
  header.magic = kJournalMagic;
  header.format_version = kJournalFormatVersion;
  header.header_bytes = sizeof header;
  header.first_seq = first_seq;
  header.segment_bytes = options.segment_bytes;
  header.created_unix_ns = unix_ns();
  header.header_crc = header_crc(header);
  std::memcpy(file.data(), &header, sizeof header);
  if (::fdatasync(file.fd()) != 0) throw_file_error("cannot sync", temp_path, errno);
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    throw_file_error("cannot rename", temp_path, errno);
  }
  fsync_directory(options.directory);
  return MappedFile(final_path, true);
}

}  // namespace

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

// ---- writer ---------------------------------------------------------------------------

struct JournalWriter::State {
  JournalOptions options;
  MappedFile segment;
  std::size_t offset = 0;
  std::uint64_t next_seq = 1;
};

JournalWriter::JournalWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
JournalWriter::JournalWriter(JournalWriter&&) noexcept = default;
JournalWriter& JournalWriter::operator=(JournalWriter&&) noexcept = default;
JournalWriter::~JournalWriter() = default;

JournalWriter JournalWriter::open(const JournalOptions& options, JournalRecovery* recovery) {
  const std::uint64_t largest = sizeof(JournalRecordHeader) + align_up(options.max_payload, 8);
  if (options.segment_bytes < sizeof(JournalSegmentHeader) + 4 * largest) {
    throw Error(ErrorCode::invalid_argument,
                "journal segments of " + std::to_string(options.segment_bytes) +
                    " bytes cannot hold four of the largest records: raise the segment size");
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) throw_file_error("cannot create journal folder", options.directory, ec.value());
  if (::access(options.directory.c_str(), W_OK | X_OK) != 0) {
    throw_file_error("cannot write to journal folder", options.directory, errno);
  }

  auto state = std::make_unique<State>();
  state->options = options;
  JournalRecovery found;
  const std::vector<fs::path> segments = journal_segments(options.directory);
  found.segments = segments.size();
  if (segments.empty()) {
    state->segment = create_segment(options, 1);
    state->offset = sizeof(JournalSegmentHeader);
    state->next_seq = 1;
    found.segments = 1;
  } else {
    for (const fs::path& path : segments) {
      check_segment_header(MappedFile(path, false), *first_seq_from_name(path));
    }
    const std::uint64_t first_of_last = *first_seq_from_name(segments.back());
    found.first_seq = *first_seq_from_name(segments.front());
    state->segment = MappedFile(segments.back(), true);
    if (state->segment.size() < options.segment_bytes) state->segment.grow(options.segment_bytes);
    std::size_t offset = sizeof(JournalSegmentHeader);
    std::uint64_t expected = first_of_last;
    for (;;) {
      const RecordScan scan = scan_record(state->segment, offset, expected);
      if (scan.kind == RecordScan::found) {
        offset = scan.next_offset;
        ++expected;
        continue;
      }
      if (scan.kind == RecordScan::bad) {
        found.cut_torn_tail = true;
        found.cut_at_offset = offset;
        found.cut_reason = scan.reason;
        found.cut_segment = segments.back();
        // Zero the torn record and anything after it so no scan ever sees it again.
        std::memset(state->segment.data() + offset, 0, state->segment.size() - offset);
        if (::fdatasync(state->segment.fd()) != 0) {
          throw_file_error("cannot sync", segments.back(), errno);
        }
      }
      break;
    }
    state->offset = offset;
    state->next_seq = expected;
  }
  found.last_seq = state->next_seq - 1;
  if (found.last_seq == 0) found.first_seq = 0;
  if (recovery != nullptr) *recovery = found;
  return JournalWriter(std::move(state));
}

std::uint64_t JournalWriter::append(std::uint32_t type, std::span<const std::byte> payload,
                                    std::int64_t publish_ns) {
  State& s = *state_;
  if (payload.size() > s.options.max_payload) {
    throw Error(ErrorCode::invalid_argument, "event of " + std::to_string(payload.size()) +
                                                 " bytes exceeds the journal's maximum of " +
                                                 std::to_string(s.options.max_payload));
  }
  const std::size_t total = sizeof(JournalRecordHeader) + align_up(payload.size(), 8);
  if (s.offset + total > s.segment.size()) {
    // Roll: the old segment's unused tail stays zero, which readers read as its end. Its
    // records are made durable now, since sync() only reaches the current segment.
    if (::fdatasync(s.segment.fd()) != 0) throw_file_error("cannot sync", s.segment.path(), errno);
    MappedFile next = create_segment(s.options, s.next_seq);
    s.segment = std::move(next);
    s.offset = sizeof(JournalSegmentHeader);
  }
  JournalRecordHeader header{
      0, static_cast<std::uint32_t>(payload.size()), type, 0, s.next_seq, publish_ns};
  std::byte* at = s.segment.data() + s.offset;
  std::memcpy(at + sizeof header, payload.data(), payload.size());
  header.crc = record_crc(header, at + sizeof header);
  std::memcpy(at, &header, sizeof header);
  s.offset += total;
  return s.next_seq++;
}

void JournalWriter::sync() {
  if (::fdatasync(state_->segment.fd()) != 0) {
    throw_file_error("cannot sync", state_->segment.path(), errno);
  }
}

std::uint64_t JournalWriter::next_seq() const noexcept {
  return state_->next_seq;
}
const fs::path& JournalWriter::directory() const noexcept {
  return state_->options.directory;
}

// ---- reader ---------------------------------------------------------------------------

struct JournalReader::State {
  fs::path directory;
  MappedFile segment;
  std::size_t offset = 0;
  std::uint64_t next_seq = 1;

  // Maps the segment that starts at `first_seq`, if it exists yet.
  bool enter(std::uint64_t first_seq) {
    const fs::path path = directory / segment_file_name(first_seq);
    if (::access(path.c_str(), F_OK) != 0) return false;
    MappedFile file(path, false);
    check_segment_header(file, first_seq);
    segment = std::move(file);
    offset = sizeof(JournalSegmentHeader);
    return true;
  }
};

JournalReader::JournalReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
JournalReader::JournalReader(JournalReader&&) noexcept = default;
JournalReader& JournalReader::operator=(JournalReader&&) noexcept = default;
JournalReader::~JournalReader() = default;

JournalReader JournalReader::open(const fs::path& directory, std::uint64_t from_seq) {
  const std::vector<fs::path> segments = journal_segments(directory);
  if (segments.empty()) {
    throw Error(ErrorCode::no_instance,
                "no journal in " + directory.string() + " (is it the writer's --journal folder?)");
  }
  // The newest segment that starts at or before from_seq.
  fs::path chosen = segments.front();
  for (const fs::path& path : segments) {
    if (*first_seq_from_name(path) <= from_seq) chosen = path;
  }
  auto state = std::make_unique<State>();
  state->directory = directory;
  const std::uint64_t first = *first_seq_from_name(chosen);
  if (first > from_seq) {
    throw Error(ErrorCode::corrupt, "the journal in " + directory.string() + " starts at seq " +
                                        std::to_string(first) + ", after the requested " +
                                        std::to_string(from_seq));
  }
  state->enter(first);
  state->next_seq = first;
  JournalReader reader(std::move(state));
  JournalRecord skipped;
  while (reader.state_->next_seq < from_seq && reader.next(skipped)) {
  }
  return reader;
}

bool JournalReader::next(JournalRecord& out) {
  State& s = *state_;
  for (;;) {
    const RecordScan scan = scan_record(s.segment, s.offset, s.next_seq);
    if (scan.kind == RecordScan::found) {
      out = scan.record;
      s.offset = scan.next_offset;
      ++s.next_seq;
      return true;
    }
    // At this segment's end (or a record still being written): a later segment that
    // continues the sequence means this one is complete.
    const fs::path current = s.segment.path();
    if (!s.enter(s.next_seq)) return false;
    if (scan.kind == RecordScan::bad) {
      throw Error(ErrorCode::corrupt,
                  "journal segment " + current.string() + " is damaged at seq " +
                      std::to_string(s.next_seq) + " (" + scan.reason +
                      ") and later segments exist: this is not a torn tail; restore the "
                      "segment from a copy or move the journal away");
    }
  }
}

std::uint64_t JournalReader::next_seq() const noexcept {
  return state_->next_seq;
}

}  // namespace evring
