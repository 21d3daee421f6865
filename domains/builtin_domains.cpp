#include "builtin_domains.hpp"

#include <array>

namespace evring {
namespace {

std::array<const evring_domain_v1*, 2> all_domains() noexcept {
  return {kv_domain(), bank_domain()};
}

}  // namespace

const evring_domain_v1* find_builtin_domain(std::string_view name) noexcept {
  for (const evring_domain_v1* domain : all_domains()) {
    if (name == domain->name) return domain;
  }
  return nullptr;
}

std::vector<std::string_view> builtin_domain_names() {
  std::vector<std::string_view> names;
  for (const evring_domain_v1* domain : all_domains()) names.emplace_back(domain->name);
  return names;
}

}  // namespace evring
