#include "journal/journal.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "journal/crc32c.hpp"
#include "shm/layout.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring {
namespace {

constexpr std::string_view kSegmentPrefix = "journal-";
constexpr std::string_view kSegmentSuffix = ".evj";
constexpr std::string_view kJournalFolder = "--journal folder";

[[noreturn]] void throw_file_error(const std::string& what, const fs::path& path, int err) {
  detail::throw_file_error(what, path, err, kJournalFolder);
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

// `body` is the metadata followed by the payload.
std::uint32_t record_crc(const JournalRecordHeader& header, const std::byte* body) {
  const std::uint32_t crc =
      detail::crc32c(0, reinterpret_cast<const std::byte*>(&header) + 4, sizeof header - 4);
  return detail::crc32c(crc, body, std::size_t{header.meta_bytes} + header.payload_bytes);
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
  // disk as SIGBUS) and maps it again. On failure (a full disk) the file keeps its mapping.
  void grow(std::size_t bytes) {
    if (const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes)); err != 0) {
      throw_file_error("cannot reserve space for", path_, err);
    }
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = bytes;
    map(true);
  }

  // Read-only users: maps the file again if another process has grown it since; true if
  // it did (one fstat otherwise).
  bool follow_growth() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_file_error("cannot stat", path_, errno);
    const auto bytes = static_cast<std::size_t>(st.st_size);
    if (bytes <= size_) return false;
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = bytes;
    map(false);
    return true;
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
    throw Error(ErrorCode::corrupt,
                "journal segment " + file.path().string() + " is truncated (" +
                    std::to_string(file.size()) +
                    " bytes, shorter than its header): restore it from a copy, or move it and "
                    "the segments after it away (their records are lost)");
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
    throw Error(ErrorCode::corrupt,
                "journal segment " + file.path().string() +
                    " has a damaged header (checksum or first seq): restore it from a copy, or "
                    "move it and the segments after it away (their records are lost)");
  }
}

JournalSegmentHeader header_of(const MappedFile& file) {
  JournalSegmentHeader header;
  std::memcpy(&header, file.data(), sizeof header);
  return header;
}

[[noreturn]] void throw_mixed_histories(const fs::path& segment, std::uint64_t found,
                                        std::uint64_t expected) {
  throw Error(ErrorCode::corrupt,
              "journal segment " + segment.string() + " belongs to history " + history_text(found) +
                  ", the segments before it to history " + history_text(expected) +
                  ": two journals were mixed in one folder; move the segments of one away");
}

// The verdict on the bytes at one offset of a segment.
// Trivially copyable, so that a replay's scan of a good record builds no string: a bad
// record's reason is put into words only when asked for.
struct RecordScan {
  enum Kind { found, end, bad } kind = end;
  enum class Damage { none, uncommitted, metadata_too_long, past_the_end, checksum, sequence };
  JournalRecord record;
  std::size_t next_offset = 0;
  Damage damage = Damage::none;  // for `bad`
  std::uint64_t seen = 0;        // metadata_too_long: its bytes; sequence: the seq found
  std::uint64_t expected_seq = 0;

  std::string reason() const {
    switch (damage) {
      case Damage::metadata_too_long:
        return "metadata of " + std::to_string(seen) + " bytes, over the " +
               std::to_string(kJournalMaxMetaBytes) + " allowed";
      case Damage::uncommitted:
        return "record header without its commit word (seq 0)";
      case Damage::past_the_end:
        return "record runs past the end of the file";
      case Damage::checksum:
        return "checksum mismatch";
      case Damage::sequence:
        return "sequence " + std::to_string(seen) + " where " + std::to_string(expected_seq) +
               " was due";
      case Damage::none:
        break;
    }
    return "no damage";
  }
};

// The record header's commit word, as Aeron's frame length: a record exists once its seq
// (never 0) is there. Written last, with release, by JournalWriter::append.
// Records start 8-aligned (a 64-byte segment header, records padded to 8), so seq is too.
std::atomic_ref<std::uint64_t> commit_word(std::byte* header) {
  return std::atomic_ref<std::uint64_t>(
      *reinterpret_cast<std::uint64_t*>(header + offsetof(JournalRecordHeader, seq)));
}

// Copies a record header but its commit word: the 16 bytes before seq and the 8 after it.
void copy_around_commit_word(void* to, const void* from) {
  static_assert(offsetof(JournalRecordHeader, seq) == 16 && sizeof(JournalRecordHeader) == 32);
  std::memcpy(to, from, 16);
  std::memcpy(static_cast<std::byte*>(to) + 24, static_cast<const std::byte*>(from) + 24, 8);
}

bool is_zero(const JournalRecordHeader& header) {
  return header.crc == 0 && header.payload_bytes == 0 && header.type == 0 &&
         header.meta_bytes == 0 && header.seq == 0 && header.publish_ns == 0;
}

JournalRecordHeader load_header(const MappedFile& file, std::size_t offset) {
  // A reader maps the segment read-only; an atomic load of an aligned word only reads.
  std::byte* const at = const_cast<std::byte*>(file.data() + offset);
  JournalRecordHeader header;
  // acquire: pairs with the release store of the commit word in JournalWriter::append.
  // Whoever has read a record's seq then sees the rest of its header, its body and the
  // zeroed slot after it, never bytes a crash left there.
  header.seq = commit_word(at).load(std::memory_order_acquire);
  // With seq 0 the rest is either zero (the end) or a record still being written or torn
  // by a crash: scan_record tells them apart.
  copy_around_commit_word(&header, at);
  return header;
}

RecordScan scan_record(const MappedFile& file, std::size_t offset, std::uint64_t expected_seq) {
  RecordScan scan;
  if (offset + sizeof(JournalRecordHeader) > file.size()) return scan;  // no room: end
  const JournalRecordHeader header = load_header(file, offset);
  if (is_zero(header)) return scan;  // the end: see FORMAT in journal.hpp
  scan.kind = RecordScan::bad;
  scan.expected_seq = expected_seq;
  if (header.seq == 0) {
    scan.damage = RecordScan::Damage::uncommitted;
    return scan;
  }
  if (header.meta_bytes > kJournalMaxMetaBytes) {
    scan.damage = RecordScan::Damage::metadata_too_long;
    scan.seen = header.meta_bytes;
    return scan;
  }
  const std::size_t total = JournalWriter::record_bytes(header.meta_bytes, header.payload_bytes);
  if (offset + total > file.size()) {
    scan.damage = RecordScan::Damage::past_the_end;
    return scan;
  }
  const std::byte* body = file.data() + offset + sizeof header;
  // record_crc's value in one pass: in the file the header's fields after the CRC run on
  // into the body, and on the short records of a replay the split costs a tenth of a scan.
  if (header.crc != detail::crc32c(0, file.data() + offset + sizeof header.crc,
                                   sizeof header - sizeof header.crc +
                                       std::size_t{header.meta_bytes} + header.payload_bytes)) {
    scan.damage = RecordScan::Damage::checksum;
    return scan;
  }
  if (header.seq != expected_seq) {
    scan.damage = RecordScan::Damage::sequence;
    scan.seen = header.seq;
    return scan;
  }
  scan.kind = RecordScan::found;
  scan.record = {header.seq,
                 header.type,
                 header.publish_ns,
                 {body, header.meta_bytes},
                 {body + header.meta_bytes, header.payload_bytes}};
  scan.next_offset = offset + total;
  return scan;
}

// A place in a segment: the offset where the record `seq` is due.
struct Position {
  std::size_t offset = 0;
  std::uint64_t seq = 0;
};

// Moves toward the record `seq` of the segment that starts at `first_seq` by trusting the
// lengths in the headers, without checksums, so skipping is cheap. A damaged length lands
// on a header with the wrong seq, which stops the walk; the last record walked over must
// pass its checksum, which proves the position after it. Where that fails, the segment's
// start: the caller then reads record by record, and meets the damage as a reader would.
Position skip_toward(const MappedFile& file, std::uint64_t first_seq, std::uint64_t seq) {
  const Position start{sizeof(JournalSegmentHeader), first_seq};
  Position at = start;
  std::size_t last_offset = 0;
  while (at.seq < seq && at.offset + sizeof(JournalRecordHeader) <= file.size()) {
    const JournalRecordHeader header = load_header(file, at.offset);
    if (header.seq != at.seq || header.meta_bytes > kJournalMaxMetaBytes) break;
    const std::size_t total = JournalWriter::record_bytes(header.meta_bytes, header.payload_bytes);
    if (at.offset + total > file.size()) break;
    last_offset = at.offset;
    at.offset += total;
    ++at.seq;
  }
  if (at.seq == first_seq) return start;
  if (scan_record(file, last_offset, at.seq - 1).kind != RecordScan::found) return start;
  return at;
}

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Creates a segment atomically: written under a temporary name, then renamed, so a reader
// never sees a segment without its header.
MappedFile create_segment(const JournalOptions& options, std::uint64_t first_seq,
                          std::uint64_t history_id) {
  const fs::path final_path = options.directory / segment_file_name(first_seq);
  const fs::path temp_path = final_path.string() + ".tmp";
  ::unlink(temp_path.c_str());
  const int fd = ::open(temp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) throw_file_error("cannot create", temp_path, errno);
  ::close(fd);
  if (options.group != kCreatorGroup) {
    detail::grant(temp_path, options.mode, options.group, kJournalFolder);
  }
  MappedFile file(temp_path, true);
  try {
    file.grow(std::min<std::uint64_t>(kJournalSegmentFirstBytes, options.segment_bytes));
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
  header.history_id = history_id;
  header.header_crc = header_crc(header);
  std::memcpy(file.data(), &header, sizeof header);
  if (::fdatasync(file.fd()) != 0) throw_file_error("cannot sync", temp_path, errno);
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    throw_file_error("cannot rename", temp_path, errno);
  }
  detail::fsync_folder(options.directory, kJournalFolder);
  return MappedFile(final_path, true);
}

// A segment written before history ids existed gets the journal's id, in place (the writer
// holds the journal's lock; readers see the old header or the new one, both valid).
void stamp_history(const fs::path& path, std::uint64_t history_id) {
  MappedFile file(path, true);
  JournalSegmentHeader header = header_of(file);
  header.history_id = history_id;
  header.header_crc = header_crc(header);
  if (::pwrite(file.fd(), &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header) ||
      ::fdatasync(file.fd()) != 0) {
    throw_file_error("cannot write the history id into", path, errno);
  }
}

}  // namespace

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

void write_journal_domain(const fs::path& directory, const DomainRecord& domain) {
  const fs::path path = directory / "domain";
  std::string text = domain.name + '\n';
  if (!domain.library.empty()) text += domain.library + '\n';
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (!written)
    throw Error(ErrorCode::io, "cannot write " + path.string() + ": " + errno_text(error));
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
  const std::vector<fs::path> segments = journal_segments(directory);
  if (segments.empty()) return 0;
  const MappedFile file(segments.front(), false);
  check_segment_header(file, *first_seq_from_name(segments.front()));
  return header_of(file).history_id;
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

// ---- writer ---------------------------------------------------------------------------

struct JournalWriter::State {
  JournalOptions options;
  MappedFile segment;
  std::uint64_t segment_limit = 0;  // what `segment` may grow to: its header's segment_bytes
  std::size_t offset = 0;
  std::uint64_t next_seq = 1;
  std::uint64_t history_id = 0;
};

JournalWriter::JournalWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
JournalWriter::JournalWriter(JournalWriter&&) noexcept = default;
JournalWriter& JournalWriter::operator=(JournalWriter&&) noexcept = default;
JournalWriter::~JournalWriter() = default;

JournalWriter JournalWriter::open(const JournalOptions& options, JournalRecovery* recovery) {
  const std::uint64_t largest =
      JournalWriter::record_bytes(kJournalMaxMetaBytes, options.max_payload);
  if (options.segment_bytes < sizeof(JournalSegmentHeader) + 4 * largest) {
    throw Error(ErrorCode::invalid_argument,
                "journal segments of " + std::to_string(options.segment_bytes) +
                    " bytes cannot hold four of the largest records: give "
                    "--journal-segment-bytes at least " +
                    std::to_string(sizeof(JournalSegmentHeader) + 4 * largest) +
                    " (or lower --max-payload)");
  }
  detail::create_folder(options.directory, options.mode, kJournalFolder);
  if (::access(options.directory.c_str(), W_OK | X_OK) != 0) {
    throw_file_error("cannot write to journal folder", options.directory, errno);
  }

  auto state = std::make_unique<State>();
  state->options = options;
  JournalRecovery found;
  const std::vector<fs::path> segments = journal_segments(options.directory);
  if (options.group != kCreatorGroup) {
    // The grant covers the history too: a reader catches up from the first segment.
    detail::grant(options.directory, detail::folder_mode(options.mode), options.group,
                  kJournalFolder);
    for (const fs::path& path : segments) {
      detail::grant(path, options.mode, options.group, kJournalFolder);
    }
  }
  found.segments = segments.size();
  if (segments.empty()) {
    state->history_id = new_history_id();
    state->segment = create_segment(options, 1, state->history_id);
    state->segment_limit = options.segment_bytes;
    state->offset = sizeof(JournalSegmentHeader);
    state->next_seq = 1;
    found.segments = 1;
  } else {
    std::vector<fs::path> unstamped;
    for (const fs::path& path : segments) {
      const MappedFile file(path, false);
      check_segment_header(file, *first_seq_from_name(path));
      const std::uint64_t id = header_of(file).history_id;
      if (id == 0) {
        unstamped.push_back(path);
      } else if (state->history_id == 0) {
        state->history_id = id;
      } else if (id != state->history_id) {
        throw_mixed_histories(path, id, state->history_id);
      }
    }
    if (state->history_id == 0) state->history_id = new_history_id();
    for (const fs::path& path : unstamped) stamp_history(path, state->history_id);
    const std::uint64_t first_of_last = *first_seq_from_name(segments.back());
    found.first_seq = *first_seq_from_name(segments.front());
    state->segment = MappedFile(segments.back(), true);
    // Grown only as records need it, and never past what its header says, which is what
    // its readers expect of it (a writer started with another segment size included).
    state->segment_limit = header_of(state->segment).segment_bytes;
    std::size_t offset = sizeof(JournalSegmentHeader);
    std::uint64_t expected = first_of_last;
    for (;;) {
      const RecordScan scan = scan_record(state->segment, offset, expected);
      if (scan.kind == RecordScan::found) {
        offset = scan.next_offset;
        ++expected;
        continue;
      }
      // The file may end in less than a record header (a crash while a record was being
      // written at the end): bytes there that are not zero are a torn record too.
      const std::byte* const rest = state->segment.data() + offset;
      const std::byte* const end = state->segment.data() + state->segment.size();
      const bool torn_stub = scan.kind == RecordScan::end &&
                             offset + sizeof(JournalRecordHeader) > state->segment.size() &&
                             std::any_of(rest, end, [](std::byte b) { return b != std::byte{0}; });
      if (scan.kind == RecordScan::bad || torn_stub) {
        found.cut_torn_tail = true;
        found.cut_at_offset = offset;
        found.cut_reason = torn_stub ? "record runs past the end of the file" : scan.reason();
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
                                    std::int64_t publish_ns, std::span<const std::byte> meta) {
  State& s = *state_;
  if (payload.size() > s.options.max_payload) {
    throw Error(ErrorCode::invalid_argument, "event of " + std::to_string(payload.size()) +
                                                 " bytes exceeds the journal's maximum of " +
                                                 std::to_string(s.options.max_payload));
  }
  if (meta.size() > kJournalMaxMetaBytes) {
    throw Error(ErrorCode::invalid_argument,
                "journal metadata of " + std::to_string(meta.size()) + " bytes exceeds the " +
                    std::to_string(kJournalMaxMetaBytes) + " a record can carry: shorten it");
  }
  const std::size_t total = record_bytes(meta.size(), payload.size());
  make_room(total);
  JournalRecordHeader header{0,          static_cast<std::uint32_t>(payload.size()),
                             type,       static_cast<std::uint32_t>(meta.size()),
                             s.next_seq, publish_ns};
  std::byte* at = s.segment.data() + s.offset;
  std::byte* body = at + sizeof header;
  if (!meta.empty()) std::memcpy(body, meta.data(), meta.size());
  if (!payload.empty()) std::memcpy(body + meta.size(), payload.data(), payload.size());
  header.crc = record_crc(header, body);
  // The slot after this record must read as the end, though a crash may have left bytes
  // there (a record whose payload was written but not its header): zero it first. Its
  // commit word through an atomic, since a reader may be looking at it right now.
  if (s.offset + total + sizeof header <= s.segment.size()) {
    std::byte* const next = at + total;
    // relaxed: ordered before this record's commit by the release store below.
    commit_word(next).store(0, std::memory_order_relaxed);
    const JournalRecordHeader free_slot{};
    copy_around_commit_word(next, &free_slot);
  }
  // The header but its commit word, which is 0 in a free slot.
  copy_around_commit_word(at, &header);
  // release: pairs with the acquire load in load_header. A reader that sees this seq also
  // sees the header, the metadata, the payload and the zeroed slot after it.
  commit_word(at).store(header.seq, std::memory_order_release);
  s.offset += total;
  return s.next_seq++;
}

// Header, metadata and payload, padded together.
std::size_t JournalWriter::record_bytes(std::size_t meta_bytes, std::size_t payload_bytes) {
  return sizeof(JournalRecordHeader) + align_up(meta_bytes + payload_bytes, 8);
}

void JournalWriter::make_room(std::size_t bytes) {
  State& s = *state_;
  if (s.offset + bytes <= s.segment.size()) return;
  // Grow: the segment doubles (up to its limit) with its blocks reserved, so a full disk
  // is refused here, before any record is written, never as SIGBUS at a store. A growth
  // that fails leaves the segment as it was.
  const auto grow_to = [&s](std::uint64_t needed) {
    std::uint64_t size = std::max<std::uint64_t>(s.segment.size(), 1);
    while (size < needed) size *= 2;
    s.segment.grow(std::min(size, s.segment_limit));
  };
  if (s.offset + bytes <= s.segment_limit) {
    grow_to(s.offset + bytes);
    return;
  }
  // Roll: the old segment's unused tail stays zero, which readers read as its end. Its
  // records are made durable now, since sync() only reaches the current segment. A new
  // segment that cannot be made (a full disk) leaves the old one current, so a later
  // append, once there is room, continues the sequence without a gap.
  if (::fdatasync(s.segment.fd()) != 0) throw_file_error("cannot sync", s.segment.path(), errno);
  MappedFile next = create_segment(s.options, s.next_seq, s.history_id);
  s.segment = std::move(next);
  s.segment_limit = s.options.segment_bytes;
  s.offset = sizeof(JournalSegmentHeader);
  // The records may need more than a new segment's first size; more than a whole segment
  // (events of one command) and they roll again as they are appended.
  if (s.offset + bytes > s.segment.size()) {
    grow_to(std::min<std::uint64_t>(s.offset + bytes, s.segment_limit));
  }
}

void JournalWriter::sync() {
  if (::fdatasync(state_->segment.fd()) != 0) {
    throw_file_error("cannot sync", state_->segment.path(), errno);
  }
}

std::uint64_t JournalWriter::next_seq() const noexcept {
  return state_->next_seq;
}
std::uint64_t JournalWriter::last_seq() const noexcept {
  return state_->next_seq - 1;
}
std::uint64_t JournalWriter::history_id() const noexcept {
  return state_->history_id;
}
const fs::path& JournalWriter::directory() const noexcept {
  return state_->options.directory;
}

// ---- reader ---------------------------------------------------------------------------

struct JournalReader::State {
  fs::path directory;
  MappedFile segment;
  std::uint64_t segment_bytes = 0;  // as its header says; the file may have been cut short
  std::uint64_t segment_first_seq = 0;
  std::size_t offset = 0;
  std::uint64_t next_seq = 1;  // of the record at `offset`
  // open()'s from_seq: the records before it are passed over, also those written after
  // open() when it was asked for a seq past the end.
  std::uint64_t from_seq = 1;
  bool entered_any = false;
  std::uint64_t history_id = 0;  // of the first segment entered

  // Maps the segment that starts at `first_seq`, if it exists yet.
  bool enter(std::uint64_t first_seq) {
    const fs::path path = directory / segment_file_name(first_seq);
    if (::access(path.c_str(), F_OK) != 0) return false;
    MappedFile file(path, false);
    check_segment_header(file, first_seq);
    const JournalSegmentHeader header = header_of(file);
    if (!entered_any) {
      history_id = header.history_id;
      entered_any = true;
    } else if (header.history_id != history_id && history_id != 0 && header.history_id != 0) {
      throw_mixed_histories(path, header.history_id, history_id);
    }
    segment_bytes = header.segment_bytes;
    segment = std::move(file);
    segment_first_seq = first_seq;
    offset = sizeof(JournalSegmentHeader);
    return true;
  }

  // Scans the record at `offset` of the mapped segment; moves past a found one.
  RecordScan take() {
    RecordScan scan = scan_record(segment, offset, next_seq);
    if (scan.kind == RecordScan::found) {
      offset = scan.next_offset;
      ++next_seq;
    }
    return scan;
  }

  // The first segment after the current one that starts at or after `seq`, if any.
  std::optional<fs::path> segment_from(std::uint64_t seq) const {
    for (fs::path& path : journal_segments(directory)) {
      const std::uint64_t first = *first_seq_from_name(path);
      if (first >= seq && first != segment_first_seq) return std::move(path);
    }
    return std::nullopt;
  }
};

JournalReader::JournalReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
JournalReader::JournalReader(JournalReader&&) noexcept = default;
JournalReader& JournalReader::operator=(JournalReader&&) noexcept = default;
JournalReader::~JournalReader() = default;

JournalReader JournalReader::open(const fs::path& directory, std::uint64_t from_seq) {
  if (from_seq == 0) {
    throw Error(ErrorCode::invalid_argument,
                "journal sequence numbers start at 1: read from seq 1 for the whole journal");
  }
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
  const Position position = skip_toward(state->segment, first, from_seq);
  state->offset = position.offset;
  state->next_seq = position.seq;
  state->from_seq = from_seq;
  return JournalReader(std::move(state));
}

bool JournalReader::next(JournalRecord& out) {
  State& s = *state_;
  for (;;) {
    const RecordScan scan = s.take();
    if (scan.kind == RecordScan::found) {
      if (scan.record.seq < s.from_seq) continue;  // where skip_toward could not reach
      out = scan.record;
      return true;
    }
    const bool bad = scan.kind == RecordScan::bad;
    const bool cut_short = s.segment.size() < s.segment_bytes;
    // A segment grows as the writer needs room: mapped before it grew, it may go on past
    // the end of the mapping. Map it again and read on, before judging an end or damage.
    if (cut_short && s.segment.follow_growth()) continue;
    if (!bad) {
      // At this segment's end: a later segment that continues the sequence means this one
      // is complete.
      // (In a segment with no record yet, next_seq names that same segment.)
      if (s.next_seq != s.segment_first_seq && s.enter(s.next_seq)) continue;
      if (!cut_short) return false;
    }
    // Damage: a bad record, or a file shorter than its header says. At the live end that is
    // a record still being written, or a torn tail the writer cuts when it restarts: wait
    // for it. But once a later segment exists the writer has gone on past it, and waiting
    // would never end. Only damage pays for listing the directory.
    const auto later = s.segment_from(s.next_seq);
    if (!later) return false;  // the live end, still growing: look again next time
    const std::string damage = bad ? scan.reason()
                                   : "the file is cut short to " +
                                         std::to_string(s.segment.size()) + " of " +
                                         std::to_string(s.segment_bytes) + " bytes";
    throw Error(ErrorCode::corrupt,
                "journal segment " + s.segment.path().string() + " is damaged at seq " +
                    std::to_string(s.next_seq) + " (" + damage + ") and " + later->string() +
                    " follows it: this is not a torn tail, and the records up to that segment's "
                    "first are lost; restore the segment from a copy or move the journal away");
  }
}

std::size_t JournalReader::next_batch(std::span<JournalRecord> out) {
  if (out.empty() || !next(out.front())) return 0;
  State& s = *state_;
  std::size_t count = 1;
  // The rest only from the segment already mapped: moving on to another would unmap the
  // records above. Whatever stops the run (the end, damage) is next()'s to judge next time.
  while (count < out.size()) {
    const RecordScan scan = s.take();
    if (scan.kind != RecordScan::found) break;
    if (scan.record.seq >= s.from_seq) out[count++] = scan.record;
  }
  return count;
}

std::uint64_t JournalReader::next_seq() const noexcept {
  return std::max(state_->next_seq, state_->from_seq);
}

std::uint64_t JournalReader::history_id() const noexcept {
  return state_->history_id;
}

}  // namespace evring
