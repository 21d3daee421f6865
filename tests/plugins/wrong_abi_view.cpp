// A view plugin built for an ABI version this evring does not speak: the reader must refuse
// it, naming both versions.
#include "evring/view_abi.h"

namespace {
// Empty braces, then the fields: the rest stay NULL whatever entries later headers add.
evring_view_v1 wrong_abi_table() {
  evring_view_v1 table{};
  table.abi_version = 77u;
  table.table_bytes = sizeof(evring_view_v1);
  table.name = "wrong-abi";
  return table;
}
const evring_view_v1 kTable = wrong_abi_table();
}  // namespace

extern "C" __attribute__((visibility("default"))) const evring_view_v1* evring_view_entry(void) {
  return &kTable;
}
