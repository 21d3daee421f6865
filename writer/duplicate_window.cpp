#include "duplicate_window.hpp"

namespace evring::writer {

std::optional<std::uint64_t> DuplicateWindow::find(std::string_view id) const {
  const auto found = index_.find(id);
  if (found == index_.end()) return std::nullopt;
  return found->second;
}

void DuplicateWindow::remember(std::string_view id, std::uint64_t seq) {
  if (capacity_ == 0) return;
  const auto [slot, inserted] = index_.try_emplace(std::string(id), seq);
  if (!inserted) {
    slot->second = seq;
    return;
  }
  order_.push_back(&slot->first);
  if (order_.size() > capacity_) {
    index_.erase(*order_.front());
    order_.pop_front();
  }
}

void DuplicateWindow::for_each(
    const std::function<void(std::string_view, std::uint64_t)>& visit) const {
  for (const std::string* id : order_) visit(*id, index_.find(*id)->second);
}

}  // namespace evring::writer
