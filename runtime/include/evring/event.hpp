// One event of an instance's history, as a view plugin (view.hpp) and a reader's event
// stream hand it out. The payload is borrowed: valid until the next call on its source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace evring {

struct Event {
  std::uint64_t seq = 0;
  std::uint32_t type = 0;
  std::int64_t publish_ns = 0;
  std::span<const std::byte> payload;
};

}  // namespace evring
