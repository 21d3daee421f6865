// A domain plugin built for an ABI version this evring does not speak: the writer must
// refuse it, naming both versions.
#include "evring/domain_abi.h"

namespace {
const evring_domain_v1 kTable{99u,         sizeof(evring_domain_v1),
                              "wrong-abi", nullptr,
                              nullptr,     nullptr,
                              nullptr,     nullptr,
                              nullptr,     nullptr,
                              nullptr};
}  // namespace

extern "C" __attribute__((visibility("default"))) const evring_domain_v1* evring_domain_entry(
    void) {
  return &kTable;
}
