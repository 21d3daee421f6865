// evring journal export: the records from --from to --to as JSON lines, each event
// described by the journal's domain (<journal>/domain: a built-in, or a plugin loaded the
// way `evring tail` loads it, domains/event_description.hpp), as tail --json prints them,
// with the command id from the record's metadata when it has one:
//   {"seq":12,"type":1,"publish_ns":P,"event":{"type":"put",...},"command_id":"req-7"}
// A payload the domain cannot describe goes out whole, in base64, flagged:
//   {"seq":13,"type":9,"publish_ns":P,"event":{"type":9,"bytes":5,"base64":"..."},"described":false}
// Reads through JournalReader: from the archive (evring-writer --archive) for seqs older
// than the live folder's, and up to the writer's commit point when it is appending.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "event_description.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"
#include "journal.hpp"
#include "journal/journal.hpp"
#include "journal/journal_retention.hpp"

namespace evring::tools {
namespace {

constexpr std::size_t kFlushBytes = 64 << 10;

void append_base64(std::string& out, std::span<const std::byte> bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = std::to_integer<unsigned>(bytes[i]) << 16 |
                       std::to_integer<unsigned>(bytes[i + 1]) << 8 |
                       std::to_integer<unsigned>(bytes[i + 2]);
    for (const int shift : {18, 12, 6, 0}) out.push_back(kDigits[(v >> shift) & 63]);
  }
  if (const std::size_t rest = bytes.size() - i; rest != 0) {
    unsigned v = std::to_integer<unsigned>(bytes[i]) << 16;
    if (rest == 2) v |= std::to_integer<unsigned>(bytes[i + 1]) << 8;
    out.push_back(kDigits[(v >> 18) & 63]);
    out.push_back(kDigits[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kDigits[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

void append_record_line(std::string& out, const DomainDescriber* domain,
                        const JournalRecord& record) {
  const std::optional<std::string> described =
      domain != nullptr ? domain->describe(record.type, record.payload) : std::nullopt;
  if (described) {
    domains::append_event_line(out, domain, record.seq, record.type, record.publish_ns,
                               record.payload);
    out.resize(out.size() - 2);  // its closing "}\n": the line goes on
  } else {
    out +=
        fmt::format(R"({{"seq":{},"type":{},"publish_ns":{},"event":{{"type":{},"bytes":{},)"
                    R"("base64":")",
                    record.seq, record.type, record.publish_ns, record.type, record.payload.size());
    append_base64(out, record.payload);
    out += "\"}";
  }
  if (!record.meta.empty()) {
    // The writer stores the command id as the metadata of a command's last event.
    const std::string id(reinterpret_cast<const char*>(record.meta.data()), record.meta.size());
    out += R"(,"command_id":)";
    out += nlohmann::json(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (!described) out += R"(,"described":false)";
  out += "}\n";
}

// False when the reader of our output has gone (a closed pipe): stop quietly.
bool flush(std::string& out) {
  const bool written = std::fwrite(out.data(), 1, out.size(), stdout) == out.size();
  out.clear();
  if (!written && errno != EPIPE) {
    throw Error(ErrorCode::io, "cannot write to standard output: " + errno_text(errno));
  }
  return written;
}

// The journal's domain, to describe its events; std::nullopt (base64) with one warning when
// its library cannot be loaded, or the journal names none.
std::optional<DomainDescriber> describer_of(const std::filesystem::path& folder) {
  const std::optional<DomainRecord> domain = read_journal_domain(folder);
  if (!domain) {
    fmt::print(stderr,
               "evring journal export: {} names no domain (no domain file): events are "
               "exported in base64\n",
               folder.string());
    return std::nullopt;
  }
  std::string why_not;
  std::optional<DomainDescriber> describer = domains::load_describer(*domain, why_not);
  if (!describer) {
    fmt::print(stderr,
               "evring journal export: events are exported in base64: the journal's domain "
               "\"{}\" cannot be loaded: {}\n",
               domain->name, why_not);
  }
  return describer;
}

}  // namespace

int run_journal_export(const JournalToolFlags& flags) {
  const std::filesystem::path folder = journal_folder(flags);
  // The archive's oldest when it has one: JournalReader reads on from there into the folder.
  const std::uint64_t oldest = oldest_readable_seq(folder);
  if (flags.from != 0 && flags.from < oldest) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--from {} is before the oldest record of {} (seq {}): give --from "
                            "{} or later, or leave --from out",
                            flags.from, folder.string(), oldest, oldest));
  }
  const std::optional<DomainDescriber> describer = describer_of(folder);
  const DomainDescriber* const domain = describer ? &*describer : nullptr;
  signal(SIGPIPE, SIG_IGN);  // a closed pipe shows as EPIPE
  JournalReader reader = JournalReader::open(folder, flags.from == 0 ? oldest : flags.from);
  std::string out;
  JournalRecord record;
  while ((flags.to == 0 || reader.next_seq() <= flags.to) && reader.next(record)) {
    append_record_line(out, domain, record);
    if (out.size() >= kFlushBytes && !flush(out)) return kExitOk;
  }
  flush(out);
  return kExitOk;
}

}  // namespace evring::tools
