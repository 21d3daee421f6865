// The built-in domains' tables (kv and bank, found by name), driven through the C table the
// writer uses; each domain's rules are in kv_domain_test.cpp and bank_domain_test.cpp.
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "builtin_domains.hpp"
#include "domain_table.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/codec.hpp"

namespace evring {
namespace {

using namespace domain_testing;

// ---- the table ----

// Keys and values are any bytes, but JSON is UTF-8: what is not well-formed UTF-8 is
// replaced, byte by byte, so every description and reply parses (found by fuzzing).
TEST(JsonString, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(json_string("a\xfb"
                        "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(json_string("\xc3\xa9 \xf0\x9f\x98\x80"), "\"\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")") << "a surrogate";
  EXPECT_EQ(json_string("\xc0\xaf"), R"("\ufffd\ufffd")") << "an overlong '/'";
  EXPECT_EQ(json_string("\xe2\x82"), R"("\ufffd\ufffd")") << "cut short";
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")") << "past U+10FFFF";
  EXPECT_EQ(json_string("q\"\x01"), R"("q\"\u0001")");
}

TEST(BuiltinDomains, FindsKvAndBankByName) {
  for (const std::string_view name : {"kv", "bank"}) {
    const evring_domain_v1* table = find_builtin_domain(name);
    ASSERT_NE(table, nullptr) << name;
    EXPECT_EQ(table->name, name);
    EXPECT_EQ(table->abi_version, EVRING_DOMAIN_ABI_VERSION);
    EXPECT_EQ(table->table_bytes, sizeof(evring_domain_v1));
    for (const bool present :
         {table->create != nullptr, table->destroy != nullptr, table->handle != nullptr,
          table->apply != nullptr, table->parse != nullptr, table->describe != nullptr,
          table->snapshot != nullptr, table->restore != nullptr}) {
      EXPECT_TRUE(present) << name;
    }
  }
  EXPECT_EQ(find_builtin_domain("kv"), kv_domain());
  EXPECT_EQ(find_builtin_domain("bank"), bank_domain());
  EXPECT_EQ(find_builtin_domain("orders"), nullptr);
  EXPECT_EQ(find_builtin_domain(""), nullptr);
  EXPECT_EQ(find_builtin_domain("KV"), nullptr);
  EXPECT_EQ(builtin_domain_names(), (std::vector<std::string_view>{"kv", "bank"}));
}

TEST(BuiltinDomains, RefuseAConfigurationTheyDoNotTake) {
  for (const evring_domain_v1* table : {kv_domain(), bank_domain()}) {
    std::string error;
    evring_sink sink{&error, append_text};
    EXPECT_EQ(table->create("shards=4", &sink), nullptr);
    EXPECT_THAT(error, HasSubstr("takes no configuration"));
    EXPECT_THAT(error, HasSubstr("\"shards=4\""));
    void* model = table->create("", &sink);
    EXPECT_NE(model, nullptr);
    table->destroy(model);
  }
}

TEST(BuiltinDomains, AnEventTheHostRefusesFailsTheCommand) {
  const evring_domain_v1* table = kv_domain();
  std::string error;
  evring_sink sink{&error, append_text};
  void* model = table->create(nullptr, &sink);
  ASSERT_NE(model, nullptr);
  const Bytes command = kv::encode(kv::PutCommand{"a", "v"});
  // As the host does when an event would not fit its ring or journal.
  evring_event_sink refusing{nullptr,
                             [](void*, std::uint32_t, const void*, std::size_t) { return 1; }};
  EXPECT_EQ(table->handle(model, command.data(), command.size(), &refusing, &sink), EVRING_FAILED);
  EXPECT_THAT(error, HasSubstr("larger than this instance's ring or journal allow"));
  table->destroy(model);
}

}  // namespace
}  // namespace evring
