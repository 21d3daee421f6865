// A hash map from strings to values for the hot paths of the domains and views, looked up
// by std::string_view (a decoded event's fields point into its payload) without allocating.
//
// Why not std::unordered_map: its buckets point to the node *before* a bucket's first node,
// so a lookup in a map larger than the cache costs three dependent misses (bucket, previous
// node, node), each also a TLB miss once the map spans a few MiB. Here the slots are a
// flat array of {hash, node} with linear probing, at most half full: one miss for the
// slot, one for the node. Slots and nodes sit in memory asked to be backed by 2 MiB pages
// (MADV_HUGEPAGE; the kernel may decline): on a 2-core AMD EPYC VM a dependent miss into
// 4 MiB cost 81 ns with 4 KiB pages and 28 ns with 2 MiB ones.
//
// Nodes are carved from blocks, never move, and are reused after an erase, so a node
// pointer stays valid until its key is erased (the kv view's ordered index relies on it).
// Erasing shifts the following slots back rather than leaving tombstones, so probes stay
// short however many keys come and go.
//
// Not thread-safe: a view, like a domain, is owned by one thread.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evring::containers {

namespace detail {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// Memory for the map's slots and node blocks: from 1 MiB on, whole 2 MiB pages if the
// kernel grants them (rounding up wastes less than half). Released with std::free.
inline void* allocate_pages(std::size_t bytes) {
  void* memory = nullptr;
  if (bytes >= kHugePageBytes / 2) {
    const std::size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    memory = std::aligned_alloc(kHugePageBytes, rounded);
    // Advice only: without it (or if refused) the map is as correct, just slower.
    if (memory != nullptr) ::madvise(memory, rounded, MADV_HUGEPAGE);
  } else {
    memory = std::malloc(bytes);
  }
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}

// A std::vector allocator over allocate_pages.
template <class T>
struct PageAllocator {
  using value_type = T;
  PageAllocator() = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) noexcept {}
  T* allocate(std::size_t count) { return static_cast<T*>(allocate_pages(count * sizeof(T))); }
  void deallocate(T* memory, std::size_t) noexcept { std::free(memory); }
  friend bool operator==(PageAllocator, PageAllocator) noexcept { return true; }
};

inline std::uint64_t load_u64(const char* p) noexcept {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}
inline std::uint64_t load_u32(const char* p) noexcept {
  std::uint32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// The 128-bit product of a and b, folded to 64 bits: every input bit reaches the low bits
// that pick a slot.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  __extension__ using Product = unsigned __int128;  // GCC and Clang; one MUL on x86-64
  const Product product = static_cast<Product>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

// A hash for the short keys of the domains and views (account names, keys), inline: keys
// of up to 16 bytes take two loads and one multiply, where std::hash's out-of-line
// murmur cost a fifth of a bank replay. Longer keys fold 16 bytes per multiply.
inline std::uint64_t hash_key(std::string_view key) noexcept {
  constexpr std::uint64_t kOdd0 = 0x9e3779b97f4a7c15;  // odd constants with mixed bits
  constexpr std::uint64_t kOdd1 = 0xd6e8feb86659fd93;
  const char* p = key.data();
  std::size_t n = key.size();
  std::uint64_t seed = fold_multiply(n ^ kOdd0, kOdd1);
  if (n <= 16) {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n >= 8) {
      a = load_u64(p);
      b = load_u64(p + n - 8);
    } else if (n >= 4) {
      a = load_u32(p);
      b = load_u32(p + n - 4);
    } else if (n > 0) {
      a = (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
          (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
          static_cast<unsigned char>(p[n - 1]);
    }
    return fold_multiply(a ^ kOdd1, b ^ seed);
  }
  for (; n > 16; p += 16, n -= 16) {
    seed = fold_multiply(load_u64(p) ^ kOdd1, load_u64(p + 8) ^ seed);
  }
  // The last 16 bytes, overlapping what came before when n < 16.
  return fold_multiply(load_u64(p + n - 16) ^ kOdd1, load_u64(p + n - 8) ^ seed);
}

// Equality of keys already known to have the same length, inline for short ones (the
// common case, and the one where a call to memcmp costs more than the compare).
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) {
    return load_u64(a) == load_u64(b) && load_u64(a + n - 8) == load_u64(b + n - 8);
  }
  if (n >= 4 && n < 8) {
    return load_u32(a) == load_u32(b) && load_u32(a + n - 4) == load_u32(b + n - 4);
  }
  return std::memcmp(a, b, n) == 0;
}

}  // namespace detail

template <class Value>
class FlatStringMap {
 public:
  struct Node {
    std::string key;
    Value value;
  };

  FlatStringMap() = default;
  ~FlatStringMap() { clear(); }
  FlatStringMap(FlatStringMap&& other) noexcept { swap(other); }
  FlatStringMap& operator=(FlatStringMap&& other) noexcept {
    if (this != &other) {
      clear();
      swap(other);
    }
    return *this;
  }
  FlatStringMap(const FlatStringMap&) = delete;
  FlatStringMap& operator=(const FlatStringMap&) = delete;

  std::size_t size() const noexcept { return size_; }

  // The hash a search for `key` starts from: for a caller that looks ahead (prefetch_slot,
  // prefetch_node) and then finds with it.
  static std::size_t hash_of(std::string_view key) noexcept { return detail::hash_key(key); }

  // The node of `key`, or nullptr.
  Node* find(std::string_view key) const noexcept { return find(key, hash_of(key)); }
  // The same, given hash_of(key).
  Node* find(std::string_view key, std::size_t hash) const noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = hash & mask();; i = (i + 1) & mask()) {
      const Slot& slot = slots_[i];
      if (slot.node == nullptr) return nullptr;
      if (slot.hash == hash && slot.node->key.size() == key.size() &&
          detail::same_bytes(slot.node->key.data(), key.data(), key.size())) {
        return slot.node;
      }
    }
  }

  // Asks the cache for the slot where a search for `hash` starts, some events before the
  // search: a lookup's misses are dependent (slot, then node), so only looking ahead
  // overlaps them.
  void prefetch_slot(std::size_t hash) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask()]);
  }
  // The node in that slot now (nullptr for an empty one), which may be another key's: in a
  // map at most half full, most keys sit in their home slot. Valid until the next change.
  const Node* home_node(std::size_t hash) const noexcept {
    return slots_.empty() ? nullptr : slots_[hash & mask()].node;
  }
  // Asks for that node's lines, once its slot is likely cached.
  void prefetch_node(std::size_t hash) const noexcept {
    if (const Node* node = home_node(hash)) {
      __builtin_prefetch(node);
      __builtin_prefetch(reinterpret_cast<const char*>(node) + sizeof(Node) - 1);
    }
  }

  // The node of `key`, made with `value` if the key is new; true if it was.
  std::pair<Node*, bool> try_emplace(std::string_view key, Value value) {
    if (Node* found = find(key)) return {found, false};
    reserve(size_ + 1);
    if (free_.empty()) carve_block();
    Node* node = new (free_.back()) Node{std::string(key), std::move(value)};
    free_.pop_back();
    place(Slot{hash_of(key), node});
    ++size_;
    return {node, true};
  }

  // Erases a node this map holds; pointers to it dangle from now on.
  void erase(const Node* node) noexcept {
    std::size_t hole = hash_of(node->key) & mask();
    while (slots_[hole].node != node) hole = (hole + 1) & mask();
    Node* erased = slots_[hole].node;
    // Moves back each following slot of the run whose home is not between the hole and it,
    // so that every key stays reachable from its home without a gap.
    for (std::size_t next = (hole + 1) & mask(); slots_[next].node != nullptr;
         next = (next + 1) & mask()) {
      const std::size_t home = slots_[next].hash & mask();
      const bool stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      slots_[hole] = slots_[next];
      hole = next;
    }
    slots_[hole] = Slot{};
    erased->~Node();
    free_.push_back(erased);  // reserved in carve_block: cannot throw
    --size_;
  }

  // Room for `count` keys without growing the slots.
  void reserve(std::size_t count) {
    if (count * 2 <= slots_.size()) return;
    std::size_t capacity = slots_.empty() ? 16 : slots_.size();
    while (count * 2 > capacity) capacity *= 2;
    Slots old = std::exchange(slots_, Slots(capacity));
    for (const Slot& slot : old) {
      if (slot.node != nullptr) place(slot);
    }
  }

  // Calls visit(const Node&) for every node, in no particular order.
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (const Slot& slot : slots_) {
      if (slot.node != nullptr) visit(std::as_const(*slot.node));
    }
  }

  void clear() noexcept {
    for (Slot& slot : slots_) {
      if (slot.node != nullptr) slot.node->~Node();
    }
    for (void* block : blocks_) std::free(block);
    slots_ = Slots();
    blocks_.clear();
    free_.clear();
    carved_ = 0;
    size_ = 0;
  }

 private:
  struct Slot {
    std::size_t hash = 0;
    Node* node = nullptr;
  };
  using Slots = std::vector<Slot, detail::PageAllocator<Slot>>;

  std::size_t mask() const noexcept { return slots_.size() - 1; }

  void place(const Slot& slot) noexcept {
    std::size_t i = slot.hash & mask();
    while (slots_[i].node != nullptr) i = (i + 1) & mask();
    slots_[i] = slot;
  }

  // A new block of free nodes, as large as all before it (64 nodes at first, 2 MiB at
  // most), so a small map stays small and a large one uses few blocks.
  void carve_block() {
    const std::size_t most = std::max<std::size_t>(1, detail::kHugePageBytes / sizeof(Node));
    const std::size_t nodes = std::min(most, std::max<std::size_t>(64, carved_));
    // Room for every node to come back to free_, so that erase never allocates.
    free_.reserve(carved_ + nodes);
    blocks_.reserve(blocks_.size() + 1);
    auto* block = static_cast<Node*>(detail::allocate_pages(nodes * sizeof(Node)));
    blocks_.push_back(block);
    // Handed out from the block's start, which the pops from the back then reach first.
    for (std::size_t i = nodes; i-- > 0;) free_.push_back(block + i);
    carved_ += nodes;
  }

  void swap(FlatStringMap& other) noexcept {
    slots_.swap(other.slots_);
    blocks_.swap(other.blocks_);
    free_.swap(other.free_);
    std::swap(carved_, other.carved_);
    std::swap(size_, other.size_);
  }

  Slots slots_;                // a power of two in size, at most half full
  std::vector<void*> blocks_;  // allocate_pages memory holding the nodes
  std::vector<Node*> free_;    // node storage not in use
  std::size_t carved_ = 0;     // nodes in all blocks
  std::size_t size_ = 0;
};

}  // namespace evring::containers
