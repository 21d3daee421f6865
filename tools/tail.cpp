// evring tail: prints an instance's events as they come, one per line, like tail -f, until
// Ctrl-C (or --count events). Reads through an EventStream, so --from SEQ starts in the
// journal and joins the live ring with no gap; events are decoded with the domain the
// writer runs (a built-in, or a plugin's own describe(), loaded from where the writer
// recorded it), and shown as type and bytes when it cannot be loaded, with one warning.
//   plain   seq=12 put key=a value=1 version=3
//   --json  {"seq":12,"type":1,"publish_ns":...,"event":{"type":"put","key":"a",...}}
//           (the lines of the built-in tail view: domains/event_description.hpp)
// No such instance, writer not running, bad flags: a message on stderr, exit 2.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/values.hpp"
#include "command.hpp"
#include "event_description.hpp"
#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "exit_status.hpp"
#include "harness/interrupt.hpp"
#include "journal/journal.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "stream/event_stream.hpp"
#include "sys/paths.hpp"

namespace evring::tools {
namespace {

constexpr const char* kTailFooter = R"(Examples:
  evring tail --name orders                      # live: events from now on, until Ctrl-C
  evring tail --name orders --from 1             # everything in the journal, then live
  evring tail --name cache --from 1 --count 10 --json
  evring tail --name orders --json | jq -c 'select(.event.type == "transferred")'
Plain lines read   seq=12 put key=a value=1 version=3
--json lines read  {"seq":12,"type":1,"publish_ns":N,"event":{"type":"put","key":"a",...}}
Events are decoded by the domain's describe(): a built-in's (kv, bank), or a plugin's,
loaded from the path the writer recorded. When that library cannot be loaded (moved,
another ABI), tail says why once and shows the type, size and first 64 bytes in hex. --from needs the writer's journal (a writer
with --no-journal keeps only what its ring still holds). While it runs, tail shows in
evring stat as a reader "evring-tail-<pid>" with view "tail".
Exit status: 0 at Ctrl-C or after --count events, 2 on any error.
)";

constexpr std::int64_t kIdleWaitNs = 100'000'000;  // between looks when nothing comes
constexpr std::size_t kFlushBytes = 64 << 10;

struct TailFlags {
  std::string instance = "default";
  std::uint64_t from = 0;
  std::uint64_t count = 0;
  bool json = false;
};

using harness::interrupted;

// A value of a plain line: bare when it is one plain word, quoted JSON otherwise.
std::string plain_value(const nlohmann::ordered_json& value) {
  if (!value.is_string()) return value.dump();
  const std::string& text = value.get_ref<const std::string&>();
  const bool bare = !text.empty() && text.find_first_of(" \t\"=\\") == std::string::npos &&
                    std::all_of(text.begin(), text.end(),
                                [](char c) { return static_cast<unsigned char>(c) > 0x20; });
  return bare ? text : value.dump();
}

// seq=12 put key=a value=1 version=3: the event's description (the same one --json and
// the tail view print) as words; a type name is a bare word, a type number type=N.
void append_plain_line(std::string& out, const DomainDescriber* domain, const Event& event) {
  const auto description =
      nlohmann::ordered_json::parse(domains::describe_event(domain, event.type, event.payload));
  out += "seq=" + std::to_string(event.seq);
  for (const auto& [key, value] : description.items()) {
    out += ' ';
    if (key == "type" && value.is_string()) {
      out += value.get_ref<const std::string&>();
    } else {
      out += key + "=" + plain_value(value);
    }
  }
  out += '\n';
}

// Writes `out` to stdout; false when the reader of our output has gone (a closed pipe).
bool write_out(std::string& out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t wrote = ::write(STDOUT_FILENO, out.data() + done, out.size() - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) return false;
      throw Error(ErrorCode::io,
                  std::string("cannot write to standard output: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(wrote);
  }
  out.clear();
  return true;
}

// The domain the writer runs (or with none running, the one its journal records), to
// describe its events; std::nullopt (raw) when unknown, or with one warning when its
// library cannot be loaded.
// Retention removed what --from asked for (or what came next, while tail read it).
[[noreturn]] void throw_with_remedy(const EventsRemoved& e) {
  throw Error(ErrorCode::invalid_argument,
              fmt::format("{}: use --from {} for the oldest events kept, or leave --from out to "
                          "follow the instance live",
                          e.what(), e.oldest_seq()));
}

std::optional<DomainDescriber> domain_of(const std::string& instance, const EventStream& stream) {
  const std::optional<DomainRecord> domain = stream.domain();
  if (!domain) return std::nullopt;
  std::string why_not;
  std::optional<DomainDescriber> describer = domains::load_describer(*domain, why_not);
  if (!describer) {
    fmt::print(stderr,
               "evring tail: events of instance \"{}\" are shown in hex: its domain \"{}\" "
               "cannot be loaded: {}\n",
               instance, domain->name, why_not);
  }
  return describer;
}

int run_tail(const TailFlags& flags) {
  validate_instance_name(flags.instance);
  StreamOptions options;
  options.instance = flags.instance;
  options.identity =
      ReaderIdentity{"evring-tail-" + std::to_string(::getpid()), "tail", WaitKind::block};
  options.wait_for_writer = true;
  const std::unique_ptr<EventStream> stream = EventStream::open(options);
  std::error_code ec;
  if (!stream->attached() && stream->journal_directory().empty() &&
      !std::filesystem::exists(default_data_folder() / flags.instance, ec)) {
    // Nothing of it on this machine: a mistyped name, not a writer to wait for.
    throw Error(ErrorCode::no_instance,
                "instance \"" + flags.instance + "\" has no writer and nothing in " +
                    (default_data_folder() / flags.instance).string() +
                    ": start evring-writer --name " + flags.instance + " (evring ls lists the " +
                    "instances on this machine)");
  }
  const std::optional<DomainDescriber> describer = domain_of(flags.instance, *stream);
  const DomainDescriber* const domain = describer ? &*describer : nullptr;
  try {
    stream->start(flags.from);
  } catch (const EventsRemoved& e) {
    throw_with_remedy(e);
  }
  if (flags.from > 1 && stream->attached() && stream->head_seq() + 1 < flags.from) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("--from {} is past the head of instance \"{}\" (seq {}): use a "
                            "seq it has published, or leave --from out to follow it live",
                            flags.from, flags.instance, stream->head_seq()));
  }

  if (ReaderSlot* slot = stream->slot(); slot != nullptr && stream->next_seq() != 0) {
    // relaxed: a lone progress value for evring stat; orders nothing. Where tail starts
    // counts as read, so stat shows its lag from there, not from seq 0.
    slot->position_seq.store(stream->next_seq() - 1, std::memory_order_relaxed);
  }

  harness::install_interrupt_handlers();
  signal(SIGPIPE, SIG_IGN);  // a closed pipe shows as EPIPE: stop quietly, like tail

  std::string out;
  std::uint64_t printed = 0;
  std::int64_t next_beat = 0;
  bool said_gone = false;
  Event event;
  while (!interrupted() && (flags.count == 0 || printed < flags.count)) {
    if (ReaderSlot* const slot = stream->slot(); slot != nullptr) {
      if (const std::int64_t now = monotonic_ns(); now >= next_beat) {
        // relaxed: a lone liveness value for evring stat; orders nothing.
        slot->heartbeat_ns.store(now, std::memory_order_relaxed);
        next_beat = now + kIdleWaitNs;
      }
    }
    bool got = false;
    try {
      got = stream->next(event);
    } catch (const EventsRemoved& e) {
      write_out(out);
      throw_with_remedy(e);
    }
    if (got) {
      // After next(): a writer restart it followed moved the slot to the new registry.
      ReaderSlot* const slot = stream->slot();
      if (flags.json) {
        domains::append_event_line(out, domain, event.seq, event.type, event.publish_ns,
                                   event.payload);
      } else {
        append_plain_line(out, domain, event);
      }
      ++printed;
      if (slot != nullptr) {
        // relaxed: lone progress values for evring stat; they order nothing.
        slot->position_seq.store(event.seq, std::memory_order_relaxed);
        slot->position_publish_ns.store(event.publish_ns, std::memory_order_relaxed);
      }
      if (out.size() >= kFlushBytes && !write_out(out)) return kExitOk;
      continue;
    }
    // Idle: show what came so far, then wait for more.
    if (!write_out(out)) return kExitOk;
    if (!stream->writer_alive()) {
      if (!said_gone) {
        fmt::print(stderr,
                   "evring tail: the writer of instance \"{}\" is not running; waiting for "
                   "it to start (Ctrl-C to stop)\n",
                   flags.instance);
        said_gone = true;
      }
    } else {
      said_gone = false;
    }
    stream->wait(WaitKind::block, kIdleWaitNs);
  }
  write_out(out);
  return kExitOk;
}

}  // namespace

Command add_tail_command(CLI::App& parent) {
  auto flags = std::make_shared<TailFlags>();
  CLI::App* app = parent.add_subcommand("tail", "print an instance's events as they come");
  app->footer(kTailFooter);
  app->add_option("--name", flags->instance, "instance name")->capture_default_str();
  cli::add_count_option(*app, "--from", flags->from,
                        "start at this seq (1: the whole journal); default: the next event "
                        "published",
                        1)
      ->default_str("");
  cli::add_count_option(*app, "--count", flags->count,
                        "stop after this many events (default: never)", 1)
      ->default_str("");
  app->add_flag("--json", flags->json, "one JSON object per line, as the tail view writes");
  return Command{app, [flags] { return run_tail(*flags); }};
}

}  // namespace evring::tools
