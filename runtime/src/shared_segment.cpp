#include "evring/shared_segment.hpp"

#include <cerrno>
#include <cstring>

#include <sys/mman.h>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "evring/layout.hpp"
#include "evring/process.hpp"

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

std::string segment_name(const std::string& instance, const std::string& part) {
  validate_instance_name(instance);
  return "evring." + instance + "." + part;
}

namespace {

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

SharedSegment SharedSegment::create(const std::string& name, std::size_t bytes, mode_t mode) {
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
    throw_system("cannot open", name, e);
  }
  return SharedSegment(std::move(impl), name, access);
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
