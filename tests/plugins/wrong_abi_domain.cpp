// A domain plugin built for an ABI version this evring does not speak: the writer must
// refuse it, naming both versions.
#include "evring/domain_abi.h"

namespace {
// Empty braces, then the fields: the rest stay NULL whatever entries later headers add.
evring_domain_v1 wrong_abi_table() {
  evring_domain_v1 table{};
  table.abi_version = 99u;
  table.table_bytes = sizeof(evring_domain_v1);
  table.name = "wrong-abi";
  return table;
}
const evring_domain_v1 kTable = wrong_abi_table();
}  // namespace

extern "C" __attribute__((visibility("default"))) const evring_domain_v1* evring_domain_entry(
    void) {
  return &kTable;
}
