#include "evring/error.hpp"

#include <cstring>

namespace evring {

std::string errno_text(int err) {
  char buffer[256];
  // GNU strerror_r returns the message pointer (possibly not into buffer).
  return ::strerror_r(err, buffer, sizeof buffer);
}

}  // namespace evring
