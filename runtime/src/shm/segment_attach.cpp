#include "shm/segment_attach.hpp"

#include <chrono>
#include <optional>
#include <thread>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "sys/process.hpp"

namespace evring::detail {
namespace {

constexpr std::int64_t kReadyWaitNs = 2'000'000'000;  // a writer mid-start

bool is(std::uint32_t state, SegmentState expected) {
  return state == static_cast<std::uint32_t>(expected);
}

}  // namespace

std::string no_writer_message(const std::string& instance) {
  return "instance \"" + instance + "\" has no writer: start evring-writer --name " + instance;
}

std::string writer_not_running_message(const std::string& instance, std::uint64_t pid) {
  return "the writer of instance \"" + instance + "\" (pid " + std::to_string(pid) +
         ") is not running: restart it with evring-writer --name " + instance;
}

SegmentVerdict inspect(const SharedSegment& segment, SegmentKind kind, std::uint32_t version) {
  SegmentVerdict verdict;
  if (segment.size() < sizeof(SegmentPreamble)) return verdict;
  const auto* preamble = reinterpret_cast<const SegmentPreamble*>(segment.data());
  // acquire: pairs with the creator's release store of `ready`; the fields are complete.
  verdict.state = preamble->state.load(std::memory_order_acquire);
  verdict.ours = preamble->magic == kSegmentMagic && preamble->kind == kind;
  verdict.magic_zero = preamble->magic == 0;
  verdict.layout_version = preamble->layout_version;
  verdict.same_layout = verdict.ours && preamble->layout_version == version;
  verdict.owner_pid = preamble->owner_pid;
  verdict.incarnation = preamble->incarnation;
  verdict.owner_alive = ProcessIdentity{preamble->owner_pid, preamble->owner_start_ticks}.alive();
  return verdict;
}

SharedSegment attach_ready_segment(const std::string& instance, const std::string& part,
                                   SegmentKind kind, std::uint32_t layout_version, Access access,
                                   const std::string& what) {
  validate_instance_name(instance);
  const std::string name = segment_name(instance, part);
  const std::int64_t deadline = monotonic_ns() + kReadyWaitNs;
  for (;;) {
    std::optional<SharedSegment> segment = SharedSegment::open(name, access);
    if (!segment) throw Error(ErrorCode::no_instance, no_writer_message(instance));
    const SegmentVerdict verdict = inspect(*segment, kind, layout_version);
    if (!verdict.ours && verdict.magic_zero && monotonic_ns() < deadline) {
      // A writer is sizing and zeroing a new segment and has not written its header yet.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (!verdict.ours) {
      throw Error(ErrorCode::incompatible, "/dev/shm/" + name + " is not an evring " + what +
                                               ": remove it, then start evring-writer --name " +
                                               instance);
    }
    if (!verdict.same_layout) {
      throw Error(ErrorCode::incompatible,
                  "/dev/shm/" + name + " has " + what + " layout version " +
                      std::to_string(verdict.layout_version) + " but this build reads version " +
                      std::to_string(layout_version) +
                      ": use the evring build the writer runs, or restart the writer with this "
                      "build");
    }
    if (verdict.state > static_cast<std::uint32_t>(SegmentState::closed)) {
      // No writer ever stores such a state: damage, not a writer mid-start to wait for.
      throw Error(ErrorCode::corrupt,
                  "/dev/shm/" + name + " has the unknown state " + std::to_string(verdict.state) +
                      ": remove it, then start evring-writer --name " + instance);
    }
    if (is(verdict.state, SegmentState::ready) && verdict.owner_alive) return std::move(*segment);
    if (is(verdict.state, SegmentState::ready) || is(verdict.state, SegmentState::closed) ||
        (is(verdict.state, SegmentState::initializing) && !verdict.owner_alive)) {
      throw Error(ErrorCode::writer_gone, writer_not_running_message(instance, verdict.owner_pid));
    }
    // initializing by a live writer, or superseded and about to be replaced: wait.
    if (monotonic_ns() > deadline) {
      throw Error(ErrorCode::no_instance,
                  "instance \"" + instance + "\" did not become ready within 2 s: is its " +
                      "writer (pid " + std::to_string(verdict.owner_pid) + ") stuck?");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void supersede_leftover(const std::string& instance, const std::string& part) {
  const std::string name = segment_name(instance, part);
  if (std::optional<SharedSegment> old = SharedSegment::open(name, Access::read_write)) {
    if (old->size() >= sizeof(SegmentPreamble)) {
      auto* preamble = reinterpret_cast<SegmentPreamble*>(old->data());
      // release: whoever loads the state with acquire learns the segment is dead; nothing
      // else is published by it.
      if (preamble->magic == kSegmentMagic) {
        preamble->state.store(static_cast<std::uint32_t>(SegmentState::superseded),
                              std::memory_order_release);
      }
    }
    SharedSegment::remove(name);
  }
}

}  // namespace evring::detail
