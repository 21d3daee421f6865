#include "sync/wait_strategy.hpp"

#include "evring/error.hpp"

namespace evring {

WaitKind parse_wait_kind(std::string_view text) {
  if (text == "spin") return WaitKind::spin;
  if (text == "yield") return WaitKind::yield;
  if (text == "block") return WaitKind::block;
  throw Error(ErrorCode::invalid_argument,
              "unknown wait strategy \"" + std::string(text) + "\": use spin, yield or block");
}

std::string_view to_string(WaitKind kind) {
  switch (kind) {
    case WaitKind::spin:
      return "spin";
    case WaitKind::yield:
      return "yield";
    case WaitKind::block:
      return "block";
  }
  return "unknown";
}

}  // namespace evring
