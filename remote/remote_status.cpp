#include "remote_status.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <new>
#include <system_error>

#include <fmt/format.h>

#include "evring/error.hpp"
#include "sys/process.hpp"

namespace evring::remote {
namespace {

constexpr std::string_view kPartPrefix = "remote-";

std::string status_name(const std::string& instance, const std::string& id) {
  return segment_name(instance, std::string(kPartPrefix) + id);
}

// The layout in `segment` if it is a ready remote reader status of `instance`.
const RemoteStatusLayout* status_of(const SharedSegment& segment, const std::string& instance) {
  if (segment.size() < sizeof(RemoteStatusLayout)) return nullptr;
  const auto* layout = reinterpret_cast<const RemoteStatusLayout*>(segment.data());
  // acquire: pairs with the release store of `ready` in create(); the fields are complete.
  const auto state = layout->preamble.state.load(std::memory_order_acquire);
  if (layout->preamble.magic != kSegmentMagic ||
      layout->preamble.kind != SegmentKind::remote_reader ||
      layout->preamble.layout_version != kRemoteStatusLayoutVersion ||
      state != static_cast<std::uint32_t>(SegmentState::ready) ||
      read_text_field(layout->instance, kRemoteInstanceBytes) != instance) {
    return nullptr;
  }
  return layout;
}

}  // namespace

RemoteStatus::RemoteStatus(SharedSegment segment)
    : segment_(std::move(segment)),
      layout_(reinterpret_cast<RemoteStatusLayout*>(segment_->data())) {}

RemoteStatus RemoteStatus::create(const std::string& instance, const ReaderIdentity& identity,
                                  const std::string& source, mode_t mode, gid_t group) {
  const std::string name = status_name(instance, identity.id);
  if (const std::optional<SharedSegment> old = SharedSegment::open(name, Access::read_only)) {
    if (const RemoteStatusLayout* layout = status_of(*old, instance)) {
      const SegmentOrigin origin = origin_of(layout->preamble);
      if (ProcessIdentity{origin.owner_pid, origin.owner_start_ticks}.alive()) {
        throw Error(ErrorCode::writer_running,
                    fmt::format("remote reader {} of instance {} already runs (pid {}): stop it, "
                                "or give this one another --id",
                                identity.id, instance, origin.owner_pid));
      }
    }
  }
  SharedSegment::remove(name);  // its creator is dead (or it is not a status at all)
  SharedSegment segment = SharedSegment::create(name, sizeof(RemoteStatusLayout), mode, group);
  auto* layout = new (segment.data()) RemoteStatusLayout{};
  write_text_field(layout->instance, kRemoteInstanceBytes, instance);
  write_text_field(layout->source, kRemoteSourceBytes, source);
  fill_slot(layout->slot, identity, ProcessIdentity::self());
  write_preamble(layout->preamble, SegmentKind::remote_reader, kRemoteStatusLayoutVersion, 0,
                 sizeof(RemoteStatusLayout));
  // release: pairs with the acquire load in status_of(); the fields above are visible first.
  layout->preamble.state.store(static_cast<std::uint32_t>(SegmentState::ready),
                               std::memory_order_release);
  return RemoteStatus(std::move(segment));
}

RemoteStatus::~RemoteStatus() {
  if (segment_) SharedSegment::remove(segment_->name());
}

std::vector<RemoteReaderInfo> remote_readers(const std::string& instance) {
  const std::string prefix = segment_name(instance, std::string(kPartPrefix));
  std::vector<RemoteReaderInfo> rows;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    std::optional<SharedSegment> segment;
    try {
      segment = SharedSegment::open(name, Access::read_only);
    } catch (const Error&) {
      continue;  // another user's, or gone meanwhile: not ours to show
    }
    if (!segment) continue;
    const RemoteStatusLayout* layout = status_of(*segment, instance);
    if (layout == nullptr) continue;
    RemoteReaderInfo row;
    row.reader = read_slot(layout->slot, 0);
    if (row.reader.pid == 0) continue;
    row.source = read_text_field(layout->source, kRemoteSourceBytes);
    // relaxed: lone values for display.
    row.connected = layout->connected.load(std::memory_order_relaxed) != 0;
    row.stream_last_seq = layout->stream_last_seq.load(std::memory_order_relaxed);
    row.delivered_server_ns = layout->delivered_server_ns.load(std::memory_order_relaxed);
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const RemoteReaderInfo& a, const RemoteReaderInfo& b) {
    return a.reader.id < b.reader.id;
  });
  // Numbered in id order, as stat matches two samples' rows by it (and pid and id).
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i].reader.slot = i;
  return rows;
}

}  // namespace evring::remote
