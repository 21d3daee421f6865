// Finding a writer's segment by name and deciding whether it can be used: shared by ring
// readers and command clients, so both say the same thing about a missing, foreign, old
// or dead instance.
#pragma once

#include <cstdint>
#include <string>

#include "shm/layout.hpp"
#include "shm/shared_segment.hpp"

namespace evring::detail {

// What a segment's preamble says about it, read without trusting anything after it.
struct SegmentVerdict {
  bool ours = false;        // our magic and kind
  bool magic_zero = false;  // nothing written yet (a creator mid-way)
  bool same_layout = false;
  bool owner_alive = false;
  std::uint32_t state = 0;
  std::uint32_t layout_version = 0;
  std::uint64_t owner_pid = 0;
  std::uint64_t incarnation = 0;
};

SegmentVerdict inspect(const SharedSegment& segment, SegmentKind kind, std::uint32_t version);

std::string no_writer_message(const std::string& instance);
std::string writer_not_running_message(const std::string& instance, std::uint64_t pid);

// Opens evring.<instance>.<part> once its live writer has marked it ready, waiting up to
// 2 s for a writer mid-start. Throws Error(no_instance) when there is none,
// Error(incompatible) for a foreign segment or another layout version (naming both),
// Error(writer_gone) when its writer is dead or has closed it. `what` names the segment
// in messages ("ring", "command intake").
SharedSegment attach_ready_segment(const std::string& instance, const std::string& part,
                                   SegmentKind kind, std::uint32_t layout_version, Access access,
                                   const std::string& what);

// Takes the name evring.<instance>.<part> for a writer that already owns the instance
// (it holds the ring): a leftover segment there is marked superseded, so anyone still
// mapping it learns to reattach, and removed.
void supersede_leftover(const std::string& instance, const std::string& part);

}  // namespace evring::detail
