#include "builtin_views.hpp"

#include <array>

namespace evring {
namespace {

std::array<const evring_view_v1*, 4> all_views() noexcept {
  return {kv_view(), bank_view(), stats_view(), tail_view()};
}

}  // namespace

const evring_view_v1* find_builtin_view(std::string_view name) noexcept {
  for (const evring_view_v1* view : all_views()) {
    if (name == view->name) return view;
  }
  return nullptr;
}

std::vector<std::string_view> builtin_view_names() {
  std::vector<std::string_view> names;
  for (const evring_view_v1* view : all_views()) names.emplace_back(view->name);
  return names;
}

}  // namespace evring
