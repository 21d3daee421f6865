#include "journal/segment_file.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evring/error.hpp"
#include "sys/file_errors.hpp"

namespace fs = std::filesystem;

namespace evring::journal_file {

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

MappedFile::MappedFile(const fs::path& path, bool writable) : path_(path) {
  fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd_ < 0) throw_file_error("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw_file_error("cannot stat", path, errno);
  size_ = static_cast<std::size_t>(st.st_size);
  map(writable);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  std::swap(fd_, other.fd_);
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(path_, other.path_);
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::grow(std::size_t bytes) {
  if (const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes)); err != 0) {
    throw_file_error("cannot reserve space for", path_, err);
  }
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = bytes;
  map(true);
}

bool MappedFile::follow_growth() {
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

void MappedFile::map(bool writable) {
  if (size_ == 0) return;
  void* p =
      ::mmap(nullptr, size_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) throw_file_error("cannot map", path_, errno);
  data_ = static_cast<std::byte*>(p);
}

std::optional<MappedFile> map_if_present(const std::filesystem::path& path) {
  // Asked first: a segment not written yet is the usual case at a reader's live end.
  if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
  try {
    return std::optional<MappedFile>(std::in_place, path, false);
  } catch (const Error&) {
    if (::access(path.c_str(), F_OK) == 0) throw;  // not retention's doing
    return std::nullopt;
  }
}

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

[[noreturn]] void throw_mixed_histories(const fs::path& segment, std::uint64_t found,
                                        std::uint64_t expected) {
  throw Error(ErrorCode::corrupt,
              "journal segment " + segment.string() + " belongs to history " + history_text(found) +
                  ", the segments before it to history " + history_text(expected) +
                  ": two journals were mixed in one folder; move the segments of one away");
}
std::string RecordScan::reason() const {
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

RecordScan judge_record(const MappedFile& file, std::size_t offset, std::uint64_t expected_seq) {
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
  if (header.crc != record_crc(header, file.data() + offset + sizeof header)) {
    scan.damage = RecordScan::Damage::checksum;
    return scan;
  }
  if (header.seq != expected_seq) {
    scan.damage = RecordScan::Damage::sequence;
    scan.seen = header.seq;
    return scan;
  }
  // Committed since the walk looked (the writer appends while readers read): it is whole.
  const std::byte* body = file.data() + offset + sizeof header;
  scan.kind = RecordScan::found;
  scan.record = {header.seq,
                 header.type,
                 header.publish_ns,
                 {body, header.meta_bytes},
                 {body + header.meta_bytes, header.payload_bytes}};
  scan.next_offset = offset + total;
  return scan;
}

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

}  // namespace evring::journal_file
