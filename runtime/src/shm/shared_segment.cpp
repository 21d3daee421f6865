#include "shm/shared_segment.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "shm/layout.hpp"
#include "sys/process.hpp"

namespace bip = boost::interprocess;

namespace evring {

struct SharedSegment::Impl {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

void validate_instance_name(const std::string& name) {
  const bool ok_length = !name.empty() && name.size() <= 64;
  bool ok_chars = ok_length && name[0] != '.';
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    ok_chars = ok_chars && allowed;
  }
  if (!ok_chars) {
    throw Error(ErrorCode::invalid_argument,
                "bad instance name \"" + name +
                    "\": use 1 to 64 letters, digits, '_', '-' or '.', not starting with '.'");
  }
}

void write_preamble(SegmentPreamble& preamble, SegmentKind kind, std::uint32_t layout_version,
                    std::uint64_t incarnation, std::uint64_t total_bytes) {
  const ProcessIdentity self = ProcessIdentity::self();
  preamble.magic = kSegmentMagic;
  preamble.layout_version = layout_version;
  preamble.kind = kind;
  preamble.owner_pid = self.pid;
  preamble.owner_start_ticks = self.start_ticks;
  preamble.incarnation = incarnation;
  preamble.total_bytes = total_bytes;
  preamble.created_ns = monotonic_ns();
}

gid_t group_named(const std::string& name) {
  if (const group* found = ::getgrnam(name.c_str())) return found->gr_gid;
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<gid_t>(std::stoul(name));
  }
  throw Error(ErrorCode::invalid_argument,
              "--group " + name + ": there is no such group (see getent group)");
}

std::string segment_name(const std::string& instance, const std::string& part) {
  validate_instance_name(instance);
  return "evring." + instance + "." + part;
}

namespace {

std::string user_name(uid_t uid) {
  const passwd* user = ::getpwuid(uid);
  return user != nullptr ? user->pw_name : "uid " + std::to_string(uid);
}

std::string group_name(gid_t gid) {
  const group* found = ::getgrgid(gid);
  return found != nullptr ? found->gr_name : "gid " + std::to_string(gid);
}

bool in_group(gid_t gid) {
  if (::getegid() == gid) return true;
  std::vector<gid_t> groups(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
  const int count = ::getgroups(static_cast<int>(groups.size()), groups.data());
  return std::find(groups.begin(), groups.end(), gid) != groups.begin() + std::max(count, 0);
}

// Why the OS refused to open an instance's segment, from the modes the writer gave its
// segments (docs/writer.md, "Access"): owner-only, a group this user is not in, or a group
// that may read but not submit.
std::string denied_message(const std::string& name, Access access) {
  const std::string prefix = "evring.";
  const auto dot = name.rfind('.');
  const bool ours = name.starts_with(prefix) && dot != std::string::npos && dot > prefix.size();
  if (!ours) return "cannot open /dev/shm/" + name + ": permission denied";
  const std::string instance = name.substr(prefix.size(), dot - prefix.size());
  const std::string part = name.substr(dot + 1);
  const bool submit = part == "intake";
  const std::string action = submit ? "cannot submit commands to instance \"" + instance + "\""
                                    : "cannot open instance \"" + instance + "\"";
  struct stat segment {};
  struct stat ring {};
  if (::stat(("/dev/shm/" + name).c_str(), &segment) != 0 ||
      ::stat(("/dev/shm/" + segment_name(instance, "ring")).c_str(), &ring) != 0) {
    return action + ": permission denied";
  }
  const std::string writer = user_name(segment.st_uid);
  const std::string group = group_name(ring.st_gid);
  if ((ring.st_mode & S_IRGRP) == 0) {
    return action + ": permission denied (its writer runs as user " + writer +
           " with owner-only access; ask it to start with --group GROUP, a group of yours" +
           (submit ? ", and --group-submit" : "") + ")";
  }
  if (!in_group(ring.st_gid)) {
    return action + ": permission denied (its writer, user " + writer +
           ", grants access to group " + group + " only, and you are not in it)";
  }
  if (submit || access == Access::read_write) {
    return action + ": permission denied (its writer, user " + writer + ", lets group " + group +
           " read but not submit commands; ask it to start with --group " + group +
           " --group-submit)";
  }
  return action + ": permission denied (its writer runs as user " + writer + ")";
}

[[noreturn]] void throw_system(const std::string& what, const std::string& name,
                               const bip::interprocess_exception& e) {
  const int err = e.get_native_error();
  if (err == EACCES || err == EPERM) {
    throw Error(ErrorCode::permission_denied,
                what + " /dev/shm/" + name + ": permission denied (" + errno_text(err) +
                    "); it belongs to another user, or was created without a grant for yours");
  }
  if (err == ENOSPC || err == ENOMEM || err == EFBIG) {
    throw Error(ErrorCode::resource, what + " /dev/shm/" + name + ": " + errno_text(err) +
                                         " (is /dev/shm large enough? try a smaller "
                                         "--ring-bytes or remount /dev/shm bigger)");
  }
  throw Error(ErrorCode::io, what + " /dev/shm/" + name + ": " + e.what());
}

}  // namespace

SharedSegment::SharedSegment(std::unique_ptr<Impl> impl, std::string name, Access access)
    : impl_(std::move(impl)),
      data_(static_cast<std::byte*>(impl_->region.get_address())),
      size_(impl_->region.get_size()),
      name_(std::move(name)),
      access_(access) {}

SharedSegment::SharedSegment(SharedSegment&&) noexcept = default;
SharedSegment& SharedSegment::operator=(SharedSegment&&) noexcept = default;
SharedSegment::~SharedSegment() = default;

SharedSegment SharedSegment::create(const std::string& name, std::size_t bytes, mode_t mode,
                                    gid_t group) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->object = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write,
                                             bip::permissions(mode));
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::already_exists_error) {
      throw Error(ErrorCode::writer_running, "/dev/shm/" + name + " already exists");
    }
    throw_system("cannot create", name, e);
  }
  // The mode exactly, whatever the umask; then the granted group. Before anyone can map it
  // with more than the owner's access.
  const int fd = impl->object.get_mapping_handle().handle;
  if (::fchmod(fd, mode & 07777) != 0 ||
      (group != kCreatorGroup && ::fchown(fd, static_cast<uid_t>(-1), group) != 0)) {
    const int err = errno;
    bip::shared_memory_object::remove(name.c_str());
    throw Error(err == EPERM ? ErrorCode::permission_denied : ErrorCode::io,
                "cannot give /dev/shm/" + name + " to group " + group_name(group) + ": " +
                    errno_text(err) + " (the writer's user must be a member of that group)");
  }
  try {
    impl->object.truncate(static_cast<bip::offset_t>(bytes));
    impl->region = bip::mapped_region(impl->object, bip::read_write);
    // Touch every page now: tmpfs allocates on first write, and a page fault in the middle
    // of a publish would cost microseconds. It also surfaces a too-small /dev/shm here
    // (as an error) rather than as a SIGBUS later.
    const int err =
        ::posix_fallocate(impl->object.get_mapping_handle().handle, 0, static_cast<off_t>(bytes));
    if (err != 0) throw bip::interprocess_exception(bip::error_info(err));
    std::memset(impl->region.get_address(), 0, bytes);
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(name.c_str());
    throw_system("cannot size", name, e);
  }
  return SharedSegment(std::move(impl), name, Access::read_write);
}

std::optional<SharedSegment> SharedSegment::open(const std::string& name, Access access) {
  auto impl = std::make_unique<Impl>();
  const auto mode = access == Access::read_only ? bip::read_only : bip::read_write;
  try {
    impl->object = bip::shared_memory_object(bip::open_only, name.c_str(), mode);
    bip::offset_t size = 0;
    impl->object.get_size(size);
    if (size == 0) return std::nullopt;  // being created this instant; looks like none yet
    impl->region = bip::mapped_region(impl->object, mode, 0, 0, nullptr, MAP_POPULATE);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error || e.get_native_error() == ENOENT) {
      return std::nullopt;
    }
    const int err = e.get_native_error();
    if (err == EACCES || err == EPERM) {
      throw Error(ErrorCode::permission_denied, denied_message(name, access));
    }
    throw_system("cannot open", name, e);
  }
  return SharedSegment(std::move(impl), name, access);
}

SegmentOrigin origin_of(const SegmentPreamble& preamble) {
  return SegmentOrigin{preamble.owner_pid, preamble.owner_start_ticks, preamble.incarnation,
                       preamble.created_ns};
}

std::optional<SegmentOrigin> read_segment_origin(const std::string& name) {
  // The POSIX shm objects Boost.Interprocess names live in /dev/shm on Linux.
  const std::string path = "/dev/shm/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // Plain bytes of the preamble's fixed offsets (layout.hpp), read without a mapping.
  std::byte bytes[sizeof(SegmentPreamble)];
  const ssize_t got = ::pread(fd, bytes, sizeof bytes, 0);
  ::close(fd);
  if (got != static_cast<ssize_t>(sizeof bytes)) return std::nullopt;
  const auto field = [&](std::size_t offset) {
    std::uint64_t value;
    std::memcpy(&value, bytes + offset, sizeof value);
    return value;
  };
  return SegmentOrigin{field(offsetof(SegmentPreamble, owner_pid)),
                       field(offsetof(SegmentPreamble, owner_start_ticks)),
                       field(offsetof(SegmentPreamble, incarnation)),
                       static_cast<std::int64_t>(field(offsetof(SegmentPreamble, created_ns)))};
}

bool SharedSegment::remove(const std::string& name) {
  return bip::shared_memory_object::remove(name.c_str());
}

mode_t SharedSegment::mode() const {
  struct stat st {};
  if (::fstat(impl_->object.get_mapping_handle().handle, &st) != 0) {
    throw Error(ErrorCode::io, "fstat /dev/shm/" + name_ + ": " + errno_text(errno));
  }
  return st.st_mode & 07777;
}

}  // namespace evring
