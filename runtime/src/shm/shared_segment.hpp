// A named POSIX shared-memory object (through Boost.Interprocess) and its mapping.
//
// Process-local handle: it owns the descriptor and the mapping, never the data's meaning.
// The data in it is plain structs (layout.hpp, broadcast_ring.hpp, registry.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <sys/stat.h>

namespace evring {

enum class Access { read_only, read_write };

// The group of what a process creates when no grant names another: its own.
inline constexpr gid_t kCreatorGroup = static_cast<gid_t>(-1);

// The group named `name` (or numbered) for --group: Error(invalid_argument) if there is
// none. Any thread.
gid_t group_named(const std::string& name);

// Checks an instance name: 1 to 64 characters of [A-Za-z0-9_.-], not starting with '.'.
// Throws Error(invalid_argument) saying what is allowed. Any thread.
void validate_instance_name(const std::string& name);

// "evring.<instance>.<part>", the shm object name under /dev/shm.
std::string segment_name(const std::string& instance, const std::string& part);

struct SegmentPreamble;
enum class SegmentKind : std::uint32_t;

// The creator of a segment: fills in its preamble with this process as owner. The state
// stays `initializing` until the creator stores `ready` (with release) when all is set.
void write_preamble(SegmentPreamble& preamble, SegmentKind kind, std::uint32_t layout_version,
                    std::uint64_t incarnation, std::uint64_t total_bytes);

// Who made a segment, as its preamble says: enough to tell two writer starts apart.
struct SegmentOrigin {
  std::uint64_t owner_pid = 0;
  std::uint64_t owner_start_ticks = 0;
  std::uint64_t incarnation = 0;
  std::int64_t created_ns = 0;
  bool operator==(const SegmentOrigin&) const = default;
};
// The origin of the object named `name` without mapping it (a look that is cheap to
// repeat every few ms); std::nullopt when there is none, or it is too short to have a
// preamble yet. Any thread.
std::optional<SegmentOrigin> read_segment_origin(const std::string& name);
// The origin a mapped preamble states.
SegmentOrigin origin_of(const SegmentPreamble& preamble);

class SharedSegment {
 public:
  SharedSegment(SharedSegment&&) noexcept;
  SharedSegment& operator=(SharedSegment&&) noexcept;
  ~SharedSegment();

  // Creates a new object of `bytes` (zero-filled) with permission bits `mode` exactly (the
  // umask does not apply) and, unless kCreatorGroup, owned by `group` (the creator must be a
  // member: Error(permission_denied) otherwise). Fails with Error(writer_running) if one by
  // that name exists. The mapping is pre-faulted so the first publishes do not pay page
  // faults.
  static SharedSegment create(const std::string& name, std::size_t bytes, mode_t mode,
                              gid_t group = kCreatorGroup);
  // Opens an existing object; std::nullopt when there is none by that name. read_only
  // maps it PROT_READ: a stray store through it faults instead of corrupting the data.
  // Refused by the OS: Error(permission_denied) naming the instance, its writer's user and
  // the grant to ask for (access.md's words).
  static std::optional<SharedSegment> open(const std::string& name, Access access);
  // Unlinks the name; mappings that are open stay valid. False if there was none.
  static bool remove(const std::string& name);

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }
  Access access() const noexcept { return access_; }
  // Permission bits of the object as the OS reports them.
  mode_t mode() const;

 private:
  struct Impl;
  SharedSegment(std::unique_ptr<Impl> impl, std::string name, Access access);

  std::unique_ptr<Impl> impl_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::string name_;
  Access access_ = Access::read_only;
};

}  // namespace evring
