#include "harness/shared_memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <string>
#include <utility>

#include "evring/error.hpp"

namespace evring::harness {

SharedMemory::SharedMemory(std::size_t bytes) : bytes_(bytes) {
  // MAP_POPULATE: the pages are faulted in now, not in the middle of a measurement.
  data_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE,
                 -1, 0);
  if (data_ == MAP_FAILED) {
    data_ = nullptr;
    throw Error(ErrorCode::resource,
                "cannot map " + std::to_string(bytes) + " shared bytes: " + errno_text(errno));
  }
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(other.bytes_) {}

SharedMemory::~SharedMemory() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
}

}  // namespace evring::harness
