// A remote reader on evring stat: with no writer on its machine there is no registry to
// hold its slot, so each remote reader keeps its own small segment,
// /dev/shm/evring.<instance>.remote-<id>: its ReaderSlot (the reader's loop fills it as it
// fills a registry slot) and what the feed knows of the stream (last seq, the server time of
// the last event delivered, whether the server answers). The reader removes it when it
// ends; one left by a reader killed -9 shows it dead, and the next start with that id
// replaces it.
//
// Ownership: written only by the reader that created it; read by anyone (evring stat).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shm/layout.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"

namespace evring::remote {

inline constexpr std::uint32_t kRemoteStatusLayoutVersion = 1;
inline constexpr std::size_t kRemoteSourceBytes = 256;
inline constexpr std::size_t kRemoteInstanceBytes = 72;

struct RemoteStatusLayout {
  SegmentPreamble preamble;
  // Written once before `ready`; they tell this segment from another instance's whose
  // name happens to start the same (instance names may hold dots and dashes).
  char instance[kRemoteInstanceBytes];
  char source[kRemoteSourceBytes];  // nats://HOST:PORT/STREAM
  // The feed's view of the stream, written by cnats's delivery thread and the reader;
  // relaxed everywhere: lone values for display that order nothing.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> stream_last_seq;
  std::atomic<std::int64_t> delivered_server_ns;  // the server's wall clock (UTC ns)
  std::atomic<std::uint32_t> connected;           // 1 while the server answers
  alignas(kFalseSharingRange) ReaderSlot slot;
};
static_assert(offsetof(RemoteStatusLayout, stream_last_seq) % kFalseSharingRange == 0);
static_assert(offsetof(RemoteStatusLayout, slot) % kFalseSharingRange == 0);

// The reader's side: creates the segment (replacing one whose creator is dead) and
// removes it at destruction.
class RemoteStatus {
 public:
  // Throws Error(writer_running) when a live reader of that id holds it.
  static RemoteStatus create(const std::string& instance, const ReaderIdentity& identity,
                             const std::string& source, mode_t mode, gid_t group);
  // The moved-from one owns nothing, and removes nothing.
  RemoteStatus(RemoteStatus&& other) noexcept
      : segment_(std::exchange(other.segment_, std::nullopt)),
        layout_(std::exchange(other.layout_, nullptr)) {}
  RemoteStatus& operator=(RemoteStatus&&) = delete;
  ~RemoteStatus();

  RemoteStatusLayout& layout() const noexcept { return *layout_; }

 private:
  explicit RemoteStatus(SharedSegment segment);
  std::optional<SharedSegment> segment_;
  RemoteStatusLayout* layout_ = nullptr;
};

// A remote reader's row as evring stat sees it.
struct RemoteReaderInfo {
  ReaderInfo reader;
  std::string source;
  bool connected = false;
  std::uint64_t stream_last_seq = 0;
  std::int64_t delivered_server_ns = 0;
};

// The remote readers of `instance` on this machine, live or left behind by a dead one.
std::vector<RemoteReaderInfo> remote_readers(const std::string& instance);

}  // namespace evring::remote
