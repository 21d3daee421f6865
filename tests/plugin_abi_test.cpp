// The optional entries of the plugin ABIs, through the hosts (DomainPlugin, ViewPlugin):
// a table built against the first version 1 header (shorter, no optional entries) still
// loads and is never read past its table_bytes; a view that declares its domain is refused
// on an instance of another; the stats view names types as the domain does.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "builtin_domains.hpp"
#include "builtin_views.hpp"
#include "event_description.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/error.hpp"
#include "plugin/domain_plugin.hpp"
#include "plugin/view_plugin.hpp"

namespace evring {
namespace {

// What a plugin built before an optional entry existed hands over: its table_bytes stops
// short, and whatever lies past it (here a made-up value) must not be read.
const char* made_up_type_name(std::uint32_t) {
  return "read past table_bytes";
}

TEST(PluginAbi, ADomainTableOfTheFirstVersionOneHeaderLoadsWithoutTypeNames) {
  evring_domain_v1 old_table = *kv_domain();
  old_table.table_bytes = EVRING_DOMAIN_V1_REQUIRED_BYTES;
  old_table.type_name = &made_up_type_name;
  const DomainPlugin plugin = DomainPlugin::from_table(&old_table, "old kv", "");
  EXPECT_EQ(plugin.describer().type_name(1), nullptr);
  const std::string described = plugin.describe(static_cast<std::uint32_t>(kv::EventType::deleted),
                                                kv::encode(kv::DeletedEvent{"a", 2}));
  EXPECT_NE(described.find("\"deleted\""), std::string::npos) << described;

  old_table.table_bytes = EVRING_DOMAIN_V1_REQUIRED_BYTES - 1;
  EXPECT_THROW(DomainPlugin::from_table(&old_table, "cut kv", ""), Error);
}

TEST(PluginAbi, BuiltInDomainsNameTheirEventTypes) {
  const std::optional<DomainDescriber> bank = domains::builtin_describer("bank");
  ASSERT_TRUE(bank.has_value());
  EXPECT_STREQ(bank->type_name(2), "deposited");
  EXPECT_EQ(bank->type_name(99), nullptr);
}

TEST(PluginAbi, AViewTableOfTheFirstVersionOneHeaderReadsAnyDomain) {
  evring_view_v1 old_table = *kv_view();
  old_table.table_bytes = EVRING_VIEW_V1_REQUIRED_BYTES;  // its `domain` is not there
  ViewPlugin view = ViewPlugin::from_table(&old_table, "old kv view", "");
  EXPECT_TRUE(view.declared_domain().empty());
  EXPECT_FALSE(view.wants_domain());
  EXPECT_NO_THROW(view.set_domain("orders", "bank", std::nullopt));
}

TEST(PluginAbi, AViewOfAnotherDomainIsRefusedNamingBoth) {
  ViewPlugin view = ViewPlugin::from_table(bank_view(), "built-in view bank", "");
  try {
    view.set_domain("cache", "kv", domains::builtin_describer("kv"));
    FAIL() << "a bank view accepted a kv instance";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::incompatible);
    EXPECT_STREQ(e.what(),
                 "view bank reads events of domain bank, but instance \"cache\" runs domain kv: "
                 "start it on a bank instance");
  }
  EXPECT_NO_THROW(view.set_domain("orders", "bank", std::nullopt));
}

TEST(PluginAbi, TheStatsViewNamesTypesAsTheDomainDoesAfterEveryFreshStart) {
  ViewPlugin stats = ViewPlugin::from_table(stats_view(), "built-in view stats", "");
  ASSERT_TRUE(stats.wants_domain());
  stats.set_domain("cache", "kv", domains::builtin_describer("kv"));
  const auto payload = kv::encode(kv::DeletedEvent{"a", 2});
  std::string error;
  for (const std::uint64_t seq : {1, 2}) {
    const evring_event event{
        seq,           static_cast<std::uint32_t>(kv::EventType::deleted), 0, 0, payload.data(),
        payload.size()};
    ASSERT_TRUE(stats.on_event(event, error)) << error;
  }
  const evring_event unknown{3, 77, 0, 0, payload.data(), payload.size()};
  ASSERT_TRUE(stats.on_event(unknown, error)) << error;
  std::string reply;
  ASSERT_EQ(stats.query({}, reply), QueryOutcome::answered) << reply;
  EXPECT_NE(reply.find(R"("by_type":{"deleted":2,"77":1})"), std::string::npos) << reply;

  stats.restore(stats.snapshot());  // a fresh view object: it must be told the domain again
  ASSERT_EQ(stats.query({}, reply), QueryOutcome::answered) << reply;
  EXPECT_NE(reply.find(R"("by_type":{"deleted":2,"77":1})"), std::string::npos) << reply;
}

// A run with a poison event in the middle, through a version 2 table (one on_events call)
// and the same view as a version 1 table (on_event per event): the same verdict either
// way, the events before the poison one applied, none after it.
TEST(PluginAbi, APoisonEventInARunStopsItThereForBothAbiVersions) {
  evring_view_v1 version_one = *kv_view();
  version_one.abi_version = 1;
  for (const evring_view_v1* table :
       {kv_view(), static_cast<const evring_view_v1*>(&version_one)}) {
    ViewPlugin view = ViewPlugin::from_table(table, "kv view", "");
    EXPECT_EQ(view.takes_runs(), table->abi_version >= 2);
    const auto first = kv::encode(kv::PutEvent{"a", "1", 1});
    const auto last = kv::encode(kv::PutEvent{"b", "2", 1});
    const std::vector<evring_event> run{
        {1, static_cast<std::uint32_t>(kv::EventType::put), 0, 0, first.data(), first.size()},
        {2, 77, 0, 0, first.data(), first.size()},  // no kv event has type 77
        {3, static_cast<std::uint32_t>(kv::EventType::put), 0, 0, last.data(), last.size()}};
    std::size_t applied = 99;
    std::string error;
    EXPECT_FALSE(view.on_events(run, applied, error));
    EXPECT_EQ(applied, 1u) << "ABI version " << table->abi_version;
    EXPECT_NE(error.find("kv event type 77 is unknown"), std::string::npos) << error;
    std::string reply;
    ASSERT_EQ(view.query(std::vector<std::string_view>{"count"}, reply), QueryOutcome::answered);
    EXPECT_EQ(reply, "1") << "ABI version " << table->abi_version;
  }
}

}  // namespace
}  // namespace evring
