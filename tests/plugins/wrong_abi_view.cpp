// A view plugin built for an ABI version this evring does not speak: the reader must refuse
// it, naming both versions.
#include "evring/view_abi.h"

namespace {
const evring_view_v1 kTable{
    77u, sizeof(evring_view_v1), "wrong-abi", nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
}  // namespace

extern "C" __attribute__((visibility("default"))) const evring_view_v1* evring_view_entry(void) {
  return &kTable;
}
