// Memory that a parent and the children it forks all see: an anonymous MAP_SHARED mapping
// made before fork. Not a named segment (that is the runtime's SharedSegment): nothing in
// /dev/shm, and the mapping is gone when the last process holding it exits.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>

namespace evring::harness {

// `bytes` of zeroed, prefaulted (MAP_POPULATE) shared memory. Make it in the parent before
// forking; any process that has it may read and write it. Throws Error(resource).
class SharedMemory {
 public:
  explicit SharedMemory(std::size_t bytes);
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&&) = delete;
  ~SharedMemory();

  void* data() const noexcept { return data_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// `count` value-initialized T in a SharedMemory. T is plain data and atomics only: no
// pointers (what they point at, on a heap or stack, is each process's own copy) and no
// destructor, since none runs. Made by the parent; used by the parent and its children.
template <class T>
class SharedArray {
  static_assert(std::is_trivially_destructible_v<T>, "lives in memory no destructor runs on");

 public:
  explicit SharedArray(std::size_t count = 1) : memory_(sizeof(T) * count), count_(count) {
    for (std::size_t i = 0; i < count; ++i) new (get() + i) T{};
  }
  T* get() const noexcept { return static_cast<T*>(memory_.data()); }
  T* operator->() const noexcept { return get(); }
  T& operator*() const noexcept { return *get(); }
  T& operator[](std::size_t i) const noexcept { return get()[i]; }
  std::size_t size() const noexcept { return count_; }

 private:
  SharedMemory memory_;
  std::size_t count_;
};

}  // namespace evring::harness
