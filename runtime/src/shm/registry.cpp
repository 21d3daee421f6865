#include "shm/registry.hpp"

#include <cerrno>
#include <cstring>
#include <new>

#include "evring/clock.hpp"
#include "evring/error.hpp"

namespace evring {
namespace {

// Locks the claim mutex; if its last holder died while holding it, the slot table is
// still consistent (every write under it is a plain field store), so mark it so.
class ClaimLock {
 public:
  ClaimLock(pthread_mutex_t* mutex, const std::string& segment_name) : mutex_(mutex) {
    const int rc = pthread_mutex_lock(mutex_);
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(mutex_);
    } else if (rc != 0) {
      throw Error(ErrorCode::io, "cannot lock the reader registry /dev/shm/" + segment_name + ": " +
                                     errno_text(rc) +
                                     " (restart the instance's writer to renew it)");
    }
  }
  ~ClaimLock() { pthread_mutex_unlock(mutex_); }
  ClaimLock(const ClaimLock&) = delete;
  ClaimLock& operator=(const ClaimLock&) = delete;

 private:
  pthread_mutex_t* mutex_;
};

}  // namespace

void write_text_field(char* dst, std::size_t capacity, const std::string& src) {
  const std::size_t n = std::min(capacity - 1, src.size());
  std::memcpy(dst, src.data(), n);
  std::memset(dst + n, 0, capacity - n);
}

std::string read_text_field(const char* src, std::size_t capacity) {
  return std::string(src, strnlen(src, capacity));
}

void fill_slot(ReaderSlot& slot, const ReaderIdentity& identity, const ProcessIdentity& owner) {
  // relaxed: hide the row while it is rewritten; the release store below shows it again.
  slot.owner_pid.store(0, std::memory_order_relaxed);
  slot.owner_start_ticks = owner.start_ticks;
  write_text_field(slot.id, kReaderIdBytes, identity.id);
  write_text_field(slot.view, kReaderViewBytes, identity.view);
  slot.wait_kind = static_cast<std::uint32_t>(identity.wait);
  // relaxed: lone counters, published by the release store below.
  slot.position_seq.store(0, std::memory_order_relaxed);
  slot.position_publish_ns.store(0, std::memory_order_relaxed);
  slot.position_applied_ns.store(0, std::memory_order_relaxed);
  slot.lapped_count.store(0, std::memory_order_relaxed);
  slot.missed_count.store(0, std::memory_order_relaxed);
  slot.replay_count.store(0, std::memory_order_relaxed);
  slot.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  publish_query_counts(slot, 0, 0, LatencyCounts{});
  // release: pairs with the acquire load in read_slot(): a row seen in use is complete.
  slot.owner_pid.store(owner.pid, std::memory_order_release);
}

ReaderInfo read_slot(const ReaderSlot& slot, std::size_t index) {
  // acquire: pairs with the release store in fill_slot(); the row is complete.
  const std::uint64_t pid = slot.owner_pid.load(std::memory_order_acquire);
  ReaderInfo row;
  row.slot = index;
  row.pid = pid;
  if (pid == 0) return row;  // free
  row.alive = ProcessIdentity{pid, slot.owner_start_ticks}.alive();
  row.id = read_text_field(slot.id, kReaderIdBytes);
  row.view = read_text_field(slot.view, kReaderViewBytes);
  row.wait = static_cast<WaitKind>(slot.wait_kind);
  // relaxed: lone counters for display.
  row.position_seq = slot.position_seq.load(std::memory_order_relaxed);
  row.position_publish_ns = slot.position_publish_ns.load(std::memory_order_relaxed);
  row.position_applied_ns = slot.position_applied_ns.load(std::memory_order_relaxed);
  row.lapped_count = slot.lapped_count.load(std::memory_order_relaxed);
  row.missed_count = slot.missed_count.load(std::memory_order_relaxed);
  row.replay_count = slot.replay_count.load(std::memory_order_relaxed);
  row.heartbeat_ns = slot.heartbeat_ns.load(std::memory_order_relaxed);
  row.queries_segment = slot.queries_segment.load(std::memory_order_relaxed);
  row.queries_socket = slot.queries_socket.load(std::memory_order_relaxed);
  row.query_latency.sum_ns = slot.query_latency_sum_ns.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    row.query_latency.buckets[i] = slot.query_latency_buckets[i].load(std::memory_order_relaxed);
  }
  return row;
}

void publish_query_counts(ReaderSlot& slot, std::uint64_t via_segment, std::uint64_t via_socket,
                          const LatencyCounts& latency) {
  // relaxed: lone counters for stat. A scrape between these stores may see a bucket one
  // heartbeat newer than the sum: the next scrape agrees again.
  slot.queries_segment.store(via_segment, std::memory_order_relaxed);
  slot.queries_socket.store(via_socket, std::memory_order_relaxed);
  slot.query_latency_sum_ns.store(latency.sum_ns, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    slot.query_latency_buckets[i].store(latency.buckets[i], std::memory_order_relaxed);
  }
}

Registry::Registry(SharedSegment segment)
    : segment_(std::move(segment)), layout_(reinterpret_cast<RegistryLayout*>(segment_.data())) {}

Registry Registry::create(const std::string& instance, std::uint64_t incarnation, mode_t mode,
                          const WriterInfo& info, gid_t group) {
  const std::string name = segment_name(instance, "registry");
  SharedSegment::remove(name);  // the caller owns the instance now; a stale one is dead
  SharedSegment segment = SharedSegment::create(name, sizeof(RegistryLayout), mode, group);
  auto* layout = new (segment.data()) RegistryLayout{};
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&layout->claim_mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  layout->info = info;  // published by the release store of `ready` below
  write_preamble(layout->preamble, SegmentKind::registry, kRegistryLayoutVersion, incarnation,
                 sizeof(RegistryLayout));
  // relaxed: published to other processes by the ring's `ready` store, which comes later.
  layout->writer.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // release: pairs with the acquire load in open(); the fields above are visible first.
  layout->preamble.state.store(static_cast<std::uint32_t>(SegmentState::ready),
                               std::memory_order_release);
  return Registry(std::move(segment));
}

Registry Registry::open(const std::string& instance, Access access) {
  const std::string name = segment_name(instance, "registry");
  std::optional<SharedSegment> segment = SharedSegment::open(name, access);
  if (!segment) {
    throw Error(
        ErrorCode::no_instance,
        "instance \"" + instance + "\" has no writer: start evring-writer --name " + instance);
  }
  if (segment->size() < sizeof(RegistryLayout)) {
    throw Error(ErrorCode::incompatible, "/dev/shm/" + name + " is too small to be a registry");
  }
  const auto* layout = reinterpret_cast<const RegistryLayout*>(segment->data());
  // acquire: pairs with the release store of `ready` in create().
  const auto state = layout->preamble.state.load(std::memory_order_acquire);
  if (layout->preamble.magic != kSegmentMagic || layout->preamble.kind != SegmentKind::registry ||
      layout->preamble.layout_version != kRegistryLayoutVersion) {
    throw Error(ErrorCode::incompatible,
                "/dev/shm/" + name + " is not a registry of this evring version (layout " +
                    std::to_string(layout->preamble.layout_version) + ", expected " +
                    std::to_string(kRegistryLayoutVersion) +
                    "): restart the writer of instance \"" + instance + "\" with this build");
  }
  if (state == static_cast<std::uint32_t>(SegmentState::initializing)) {
    throw Error(ErrorCode::no_instance,
                "instance \"" + instance + "\" is still starting: try again in a moment");
  }
  return Registry(std::move(*segment));
}

ReaderSlot& Registry::claim_slot(const ReaderIdentity& identity) {
  const ProcessIdentity self = ProcessIdentity::self();
  ClaimLock lock(&layout_->claim_mutex, segment_.name());
  for (ReaderSlot& slot : layout_->slots) {
    // relaxed: under the claim mutex, which orders claims among themselves.
    const std::uint64_t pid = slot.owner_pid.load(std::memory_order_relaxed);
    if (pid != 0 && ProcessIdentity{pid, slot.owner_start_ticks}.alive()) continue;
    fill_slot(slot, identity, self);
    return slot;
  }
  throw Error(ErrorCode::resource, "all " + std::to_string(kMaxReaders) +
                                       " reader slots of /dev/shm/" + segment_.name() +
                                       " are held by " +
                                       "live readers: stop one (evring stat lists them)");
}

void Registry::release_slot(ReaderSlot& slot) {
  ClaimLock lock(&layout_->claim_mutex, segment_.name());
  // release: the row's last counters are visible to whoever claims it next.
  slot.owner_pid.store(0, std::memory_order_release);
}

std::vector<ReaderInfo> Registry::readers() const {
  std::vector<ReaderInfo> rows;
  for (std::size_t i = 0; i < kMaxReaders; ++i) {
    ReaderInfo row = read_slot(layout_->slots[i], i);
    if (row.pid != 0) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace evring
