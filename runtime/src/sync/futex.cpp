#include "sync/futex.hpp"

#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace evring {

void futex_wait_shared(const std::uint32_t* word, std::uint32_t expected,
                       std::int64_t timeout_ns) noexcept {
  if (timeout_ns <= 0) return;
  timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                   static_cast<long>(timeout_ns % 1'000'000'000)};
  // Not FUTEX_PRIVATE_FLAG: the word lives in a mapping shared between processes.
  ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, nullptr, 0);
}

void futex_wake_shared(std::uint32_t* word) noexcept {
  ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void futex_bump_and_wake_shared(std::uint32_t* word) noexcept {
  // FUTEX_WAKE_OP: *uaddr2 += 1, then wake uaddr's sleepers; both are the same word here,
  // so the second wake (of none: the timeout argument is its count) is moot.
  constexpr int kAddOne = FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GE, 0);
  if (::syscall(SYS_futex, word, FUTEX_WAKE_OP, INT_MAX, nullptr, word, kAddOne) < 0) {
    futex_wake_shared(word);
  }
}

}  // namespace evring
