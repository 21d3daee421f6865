// Journal recovery over arbitrary segment files. The input is up to four files, separated
// by "EVJSPLIT", each named after the first seq its header claims. The promises:
//   - opening for append (JournalWriter::open, which cuts a torn tail) and reading
//     (JournalReader) never crash; they may refuse with an evring::Error;
//   - no record handed out fails its CRC32C (recomputed here, by a separate implementation)
//     and the seqs handed out are consecutive;
//   - recovery stops at the first bad record of the last segment: it keeps exactly the
//     records an independent scan of the input finds valid before it, no fewer, no more;
//   - after recovery, appends continue the sequence and read back whole.
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <unistd.h>

#include "evring/error.hpp"
#include "fuzz_support.hpp"
#include "journal/journal.hpp"
#include "shm/layout.hpp"

namespace fs = std::filesystem;
namespace {

constexpr std::uint32_t kMaxPayload = 256;
constexpr std::uint64_t kSegmentBytes = 4096;  // small: at least four of the largest records
constexpr std::size_t kMaxFiles = 4;

// CRC32C, bit by bit: slow, short, and shares no code with the journal's.
std::uint32_t crc32c(std::uint32_t crc, const std::byte* data, std::size_t size) {
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= static_cast<std::uint8_t>(data[i]);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F6'3B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::uint32_t record_crc(const evring::JournalRecordHeader& header, std::span<const std::byte> meta,
                         std::span<const std::byte> payload) {
  std::uint32_t crc = crc32c(0, reinterpret_cast<const std::byte*>(&header) + 4, sizeof header - 4);
  crc = crc32c(crc, meta.data(), meta.size());
  return crc32c(crc, payload.data(), payload.size());
}

// The stored header of a record handed out: its bytes sit just before its metadata.
evring::JournalRecordHeader stored_header(const evring::JournalRecord& record) {
  evring::JournalRecordHeader header;
  std::memcpy(&header, record.meta.data() - sizeof header, sizeof header);
  return header;
}

// Reads the whole journal from `from`; checks every record. Returns how many it read, or
// nullopt when the reader refused (corruption before the end).
std::optional<std::uint64_t> read_all(const fs::path& directory, std::uint64_t from) {
  std::uint64_t count = 0;
  try {
    evring::JournalReader reader = evring::JournalReader::open(directory, from);
    evring::JournalRecord record;
    std::uint64_t expected = from;
    while (reader.next(record)) {
      EVRING_FUZZ_REQUIRE(record.seq == expected, "the reader hands out consecutive seqs");
      const evring::JournalRecordHeader header = stored_header(record);
      EVRING_FUZZ_REQUIRE(header.seq == record.seq &&
                              header.payload_bytes == record.payload.size() &&
                              header.meta_bytes == record.meta.size(),
                          "a record handed out is the one stored");
      EVRING_FUZZ_REQUIRE(header.crc == record_crc(header, record.meta, record.payload),
                          "no record handed out fails its CRC");
      ++expected;
      ++count;
      if (count > 100'000) break;  // cannot happen in a 4-file input; bounds the run anyway
    }
  } catch (const evring::Error&) {
    return std::nullopt;
  }
  return count;
}

// How many records at the start of a segment file are good, by the format's rules
// (journal.hpp), scanned here without the journal's code. A segment grows only as records
// are appended, so a record must lie wholly within the file: one cut by the file's end is
// a torn tail, even where the missing bytes would have been zeros.
std::uint64_t good_prefix(std::string_view file, std::uint64_t first_seq) {
  std::size_t offset = sizeof(evring::JournalSegmentHeader);
  std::uint64_t count = 0;
  for (;;) {
    evring::JournalRecordHeader header{};
    if (offset + sizeof header > file.size()) break;
    std::memcpy(&header, file.data() + offset, sizeof header);
    const std::array<std::byte, sizeof header> zero{};
    if (std::memcmp(&header, zero.data(), sizeof header) == 0) break;
    if (header.meta_bytes > evring::kJournalMaxMetaBytes) break;
    const std::size_t total =
        sizeof header +
        evring::align_up(std::uint64_t{header.meta_bytes} + header.payload_bytes, 8);
    if (offset + total > file.size()) break;
    const auto* bytes = reinterpret_cast<const std::byte*>(file.data() + offset + sizeof header);
    if (header.crc != record_crc(header, {bytes, header.meta_bytes},
                                 {bytes + header.meta_bytes, header.payload_bytes})) {
      break;
    }
    if (header.seq != first_seq + count) break;
    offset += total;
    ++count;
  }
  return count;
}

// A folder of its own for this process's inputs, emptied before each one.
const fs::path& scratch_folder() {
  static const fs::path folder = [] {
    // /dev/shm when there is one: tmpfs, so the journal's fdatasync costs nothing.
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    return base / ("evring-fuzz-journal." + std::to_string(::getpid()));
  }();
  // Registered after `folder` is made: exit handlers run in reverse, so it is still there.
  static const bool cleanup_registered = std::atexit([] { fs::remove_all(folder); }) == 0;
  (void)cleanup_registered;
  return folder;
}

std::string segment_name(std::uint64_t first_seq) {
  std::string digits = std::to_string(first_seq);
  return "journal-" + std::string(20 - digits.size(), '0') + digits + ".evj";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& folder = scratch_folder();
  fs::remove_all(folder);
  fs::create_directories(folder);

  // Each file is named after the first seq its header claims (else after its place), so
  // the fuzzer can build journals whose names and headers agree.
  std::uint64_t last_first_seq = 0;
  std::string_view last_file;
  std::size_t index = 0;
  for (const std::string_view file :
       evring::fuzz::split(evring::fuzz::as_text(data, size), "EVJSPLIT", kMaxFiles)) {
    ++index;
    std::uint64_t first_seq = index;
    if (file.size() >= offsetof(evring::JournalSegmentHeader, first_seq) + 8) {
      std::memcpy(&first_seq, file.data() + offsetof(evring::JournalSegmentHeader, first_seq), 8);
      if (first_seq == 0 || first_seq > 1'000'000) first_seq = index;
    }
    const fs::path path = folder / segment_name(first_seq);
    if (fs::exists(path)) continue;
    std::ofstream(path, std::ios::binary)
        .write(file.data(), static_cast<std::streamsize>(file.size()));
    if (first_seq >= last_first_seq) {
      last_first_seq = first_seq;
      last_file = file;
    }
  }

  // A reader before any writer: what a late reader meets on a crashed writer's journal.
  read_all(folder, 1);

  evring::JournalOptions options;
  options.directory = folder;
  options.segment_bytes = kSegmentBytes;
  options.max_payload = kMaxPayload;
  evring::JournalRecovery recovery;
  std::optional<evring::JournalWriter> writer;
  try {
    writer.emplace(evring::JournalWriter::open(options, &recovery));
  } catch (const evring::Error&) {
    return 0;  // refused with a reason: a bad header, another version
  }
  const std::uint64_t kept_in_last = writer->next_seq() - last_first_seq;
  EVRING_FUZZ_REQUIRE(kept_in_last == good_prefix(last_file, last_first_seq),
                      "recovery keeps the last segment's records up to the first bad one, exactly");
  EVRING_FUZZ_REQUIRE(recovery.last_seq == writer->last_seq(),
                      "the recovery report names the last seq kept");

  // Appends continue the sequence; what was kept and appended reads back whole.
  const std::array<std::byte, 5> payload{std::byte{'h'}, std::byte{'e'}, std::byte{'l'},
                                         std::byte{'l'}, std::byte{'o'}};
  const std::uint64_t before = writer->next_seq();
  std::uint64_t appended = 0;
  try {
    for (; appended < 3; ++appended) {
      EVRING_FUZZ_REQUIRE(writer->append(7, payload, 42) == before + appended,
                          "appends continue the sequence");
    }
  } catch (const evring::Error&) {
    // Rolling to a new segment may meet a file in the way: refused, nothing appended.
  }
  if (appended != 0) {
    const std::optional<std::uint64_t> read = read_all(folder, before);
    EVRING_FUZZ_REQUIRE(read.has_value() && *read == appended,
                        "the records appended after recovery read back");
  }
  read_all(folder, recovery.first_seq == 0 ? 1 : recovery.first_seq);
  return 0;
}
