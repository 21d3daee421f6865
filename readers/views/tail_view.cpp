// The built-in tail view: writes each event as one JSON line,
//
//   {"seq":S,"type":T,"publish_ns":P,"event":E}
//
// where E is the domain's description of the event (evring/builtin/kv_events.hpp,
// bank_events.hpp) or, for the raw domain and for a payload the domain cannot decode,
// {"type":T,"bytes":N,"hex":"<the first 64 bytes>"}. A payload that does not decode is
// shown, not refused: tail is for looking at a stream, bad events included. The lines are
// made by event_description.hpp, which `evring tail --json` prints with too.
//
// Its config (--view-config) is either a bare output path ("" or "-" for stdout), or
// comma-separated key=value options:
//   out=PATH|-        where the lines go; a file is opened for appending (created 0600: the
//                     owner's only)
//   domain=kv|bank|raw how to describe payloads; by default with the domain the instance
//                     runs (a plugin domain's own describe()), raw when it cannot be loaded
//   flush=N           write the lines out every N events (default 1)
//
// Flushing: a view never learns that the stream went idle, so with flush=N the last few
// (< N) lines stay in memory until more events come, a query arrives or the view is
// destroyed. flush=1, the default, makes each line visible as its event is applied, at one
// write(2) per event; flush=1000 is for catching up through a long history. Lines are
// written whole (never split across writes), so whoever reads the file sees whole lines.
//
// `count` answers the number of events written (and flushes first, so a client that asks
// finds every counted line in the output).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "builtin_views.hpp"
#include "event_description.hpp"
#include "evring/view.hpp"
#include "state_snapshot.hpp"
#include "view_support.hpp"

namespace evring {
namespace {

// "tlV1": a snapshot of another layout is refused, not misread.
constexpr std::uint32_t kSnapshotMagic = 0x31566c74;
constexpr std::string_view kQueries = "count";
constexpr std::string_view kOptions = "out=PATH|-, domain=kv|bank|raw, flush=N";
constexpr std::uint64_t kMaxFlushEvery = 1'000'000;
// Lines pile up to this many bytes at most, whatever flush=N says.
constexpr std::size_t kMaxPendingBytes = 1 << 20;

class TailView {
 public:
  static constexpr const char* name = "tail";

  explicit TailView(std::string_view config) {
    std::string_view path = config;
    if (config.find('=') != std::string_view::npos) path = parse_options(config);
    if (path.empty() || path == "-") {
      fd_ = STDOUT_FILENO;
    } else {
      const std::string file(path);
      fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd_ < 0) {
        throw std::runtime_error("the tail view cannot open " + json_string(path) +
                                 " for appending: " + std::strerror(errno));
      }
      owns_fd_ = true;
    }
  }

  ~TailView() {
    try {
      flush();
    } catch (...) {
      // Nobody is left to tell: the host is destroying the view.
    }
    if (owns_fd_) ::close(fd_);
  }
  TailView(const TailView&) = delete;
  TailView& operator=(const TailView&) = delete;

  void on_event(const Event& event) {
    domains::append_event_line(pending_, domain_ ? &*domain_ : nullptr, event.seq, event.type,
                               event.publish_ns, event.payload);
    ++count_;
    if (++pending_events_ >= flush_every_ || pending_.size() >= kMaxPendingBytes) flush();
  }

  // The instance's domain, unless the config chose one. A domain the reader could not load
  // (no table) leaves the lines raw; the reader has said why.
  void set_domain(std::string_view domain, const evring_domain_v1* table) {
    if (domain_chosen_ || table == nullptr) return;
    domain_ = DomainDescriber::from_table(table, "domain " + std::string(domain));
  }

  std::string query(std::span<const std::string_view> words) const {
    if (words.empty() || words[0] != "count") views::unknown_query("tail", words, kQueries);
    expect_words(words, 1, "count");
    flush();
    return std::to_string(count_);
  }

  // The count only: the lines themselves are in the output, not in the view.
  std::vector<std::byte> snapshot() const {
    flush();
    ByteWriter out;
    out.put(kSnapshotMagic).put(count_);
    return out.take();
  }

  void restore(std::span<const std::byte> bytes) {
    ByteReader in(bytes, "tail view snapshot");
    state_snapshot::expect_magic(in, kSnapshotMagic, "tail view snapshot");
    const auto count = in.get<std::uint64_t>();
    in.expect_end();
    count_ = count;
  }

 private:
  // Reads key=value options; returns the output path.
  std::string_view parse_options(std::string_view config) {
    std::string_view path;
    while (!config.empty()) {
      const std::size_t comma = config.find(',');
      const std::string_view option = config.substr(0, comma);
      config = comma == std::string_view::npos ? std::string_view() : config.substr(comma + 1);
      const std::size_t equals = option.find('=');
      const std::string_view key = option.substr(0, equals);
      if (equals == std::string_view::npos) {
        throw MalformedInput("tail view option " + json_string(option) +
                             " is not key=value: expected " + std::string(kOptions));
      }
      const std::string_view value = option.substr(equals + 1);
      if (key == "out") {
        path = value;
      } else if (key == "domain") {
        domain_ = domains::builtin_describer(value);
        if (!domain_ && value != "raw") {
          throw MalformedInput("tail view domain " + json_string(value) +
                               " is unknown: expected kv, bank or raw");
        }
        domain_chosen_ = true;
      } else if (key == "flush") {
        flush_every_ = parse_integer<std::uint64_t>(value, "tail view flush");
        if (flush_every_ < 1 || flush_every_ > kMaxFlushEvery) {
          throw MalformedInput("tail view flush " + std::to_string(flush_every_) +
                               " is out of range (1 to " + std::to_string(kMaxFlushEvery) +
                               " events)");
        }
      } else {
        throw MalformedInput("unknown tail view option " + json_string(key) + ": expected " +
                             std::string(kOptions));
      }
    }
    return path;
  }

  // Writes the pending lines. On a failure they are dropped, and uncounted, so the count
  // stays the number of lines that reached the output.
  void flush() const {
    std::size_t written = 0;
    while (written < pending_.size()) {
      const ssize_t wrote = ::write(fd_, pending_.data() + written, pending_.size() - written);
      if (wrote < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        count_ -= pending_events_;
        pending_.clear();
        pending_events_ = 0;
        throw std::runtime_error(std::string("the tail view cannot write its output: ") +
                                 std::strerror(error));
      }
      written += static_cast<std::size_t>(wrote);
    }
    pending_.clear();
    pending_events_ = 0;
  }

  int fd_ = -1;
  bool owns_fd_ = false;
  std::optional<DomainDescriber> domain_;  // none: raw
  bool domain_chosen_ = false;             // by the config, over the instance's
  std::uint64_t flush_every_ = 1;
  // Mutable because query and snapshot flush: the lines already belong to the output, and
  // writing them out changes nothing a query can see. (The host runs queries on the thread
  // that applies events, so there is no race.)
  mutable std::string pending_;
  mutable std::uint64_t pending_events_ = 0;
  mutable std::uint64_t count_ = 0;
};

}  // namespace

const evring_view_v1* tail_view() noexcept {
  return view_table<TailView>();
}

}  // namespace evring
