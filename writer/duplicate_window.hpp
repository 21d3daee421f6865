// The duplicate window: the command ids of the last `capacity` accepted commands and the
// seq each was answered with. A command whose id is in the window is answered
// `duplicate{seq}` and changes nothing. The window is rebuilt at restart from the journal
// (ids travel in the journal record of a command's last event) and saved in snapshots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace evring::writer {

class DuplicateWindow {
 public:
  explicit DuplicateWindow(std::size_t capacity) : capacity_(capacity) {}

  std::optional<std::uint64_t> find(std::string_view id) const;
  // Remembers id -> seq, forgetting the oldest id beyond the capacity.
  void remember(std::string_view id, std::uint64_t seq);

  std::size_t size() const noexcept { return index_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  // Oldest first, so remembering them in this order rebuilds the same window.
  void for_each(const std::function<void(std::string_view, std::uint64_t)>& visit) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::size_t capacity_;
  std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> index_;
  // Keys of index_ in arrival order; unordered_map nodes never move, so these stay valid.
  std::deque<const std::string*> order_;
};

}  // namespace evring::writer
