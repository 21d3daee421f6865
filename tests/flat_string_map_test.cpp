// containers::FlatStringMap against std::unordered_map under random inserts and erases,
// and its inline hash and key compare at every short length.
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <gtest/gtest.h>

#include "flat_string_map.hpp"

namespace evring {
namespace {

using Map = containers::FlatStringMap<std::uint64_t>;

TEST(FlatStringMap, MatchesAStandardMapUnderRandomInsertsAndErases) {
  Map map;
  std::unordered_map<std::string, std::uint64_t> model;
  std::mt19937_64 random(7);
  for (int step = 0; step < 200000; ++step) {
    // Keys of 1 to 40 bytes, so both the short and the long hash paths are taken.
    const std::uint64_t number = random() % 5000;
    const std::string key = std::string(1 + number % 40, 'k') + std::to_string(number);
    if (random() % 3 == 0) {
      const Map::Node* found = map.find(key);
      ASSERT_EQ(found != nullptr, model.count(key) == 1) << key;
      if (found != nullptr) map.erase(found);
      model.erase(key);
    } else {
      const auto [node, added] = map.try_emplace(key, number);
      ASSERT_EQ(added, model.emplace(key, number).second) << key;
      ASSERT_EQ(node->key, key);
    }
  }
  ASSERT_EQ(map.size(), model.size());
  for (const auto& [key, value] : model) {
    const Map::Node* found = map.find(key);
    ASSERT_NE(found, nullptr) << key;
    EXPECT_EQ(found->value, value);
  }
  std::size_t visited = 0;
  map.for_each([&](const Map::Node& node) {
    ++visited;
    EXPECT_EQ(model.at(node.key), node.value);
  });
  EXPECT_EQ(visited, model.size());
}

TEST(FlatStringMap, NodesStayPutWhileTheMapGrows) {
  Map map;
  const Map::Node* first = map.try_emplace("first", 1).first;
  for (std::uint64_t i = 0; i < 100000; ++i) map.try_emplace("key-" + std::to_string(i), i);
  EXPECT_EQ(map.find("first"), first);
  EXPECT_EQ(first->value, 1u);
}

TEST(FlatStringMap, KeysThatDifferOnlyInOneByteAreDifferentKeys) {
  // Every length up to 40 and every position: the inline compare reads overlapping words.
  for (std::size_t length = 1; length <= 40; ++length) {
    Map map;
    const std::string base(length, 'a');
    map.try_emplace(base, 0);
    for (std::size_t at = 0; at < length; ++at) {
      std::string other = base;
      other[at] = 'b';
      EXPECT_EQ(map.find(other), nullptr) << "length " << length << ", byte " << at;
      EXPECT_TRUE(map.try_emplace(other, at + 1).second);
    }
    EXPECT_EQ(map.size(), length + 1);
    EXPECT_EQ(map.find(base)->value, 0u);
  }
}

TEST(FlatStringMap, HashSpreadsSimilarKeysOverTheLowBits) {
  // A slot is picked by the hash's low bits. For 65536 random values, 16 low bits take
  // about 63% of their values (1 - 1/e); a hash that passed the keys' bytes through
  // would take far fewer for keys that differ only in a few digits.
  constexpr std::size_t kKeys = 1 << 16;
  for (const std::string prefix : {"", "acct-", "a-rather-long-prefix-over-sixteen-bytes/"}) {
    std::unordered_set<std::uint64_t> low_bits;
    for (std::size_t i = 0; i < kKeys; ++i) {
      low_bits.insert(containers::detail::hash_key(prefix + std::to_string(i)) & (kKeys - 1));
    }
    EXPECT_GT(low_bits.size(), kKeys * 60 / 100) << "prefix \"" << prefix << "\"";
  }
}

}  // namespace
}  // namespace evring
