#include "ingest/sensor_policy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "json/json.h"
#include "state/temp_state_store.h"

namespace ward::ingest {
namespace {

class SensorPolicyTest : public state::TempStateStoreTest {
 protected:
  SensorPolicyTest() : TempStateStoreTest("ward-policy") {}

  void Add(const std::string& id, const std::string& type, const std::string& value, const std::string& action,
           std::vector<std::string> groups = {}, int64_t expires_ms = 0) {
    state::Indicator i;
    i.tenant_id = tenant_;
    i.id = id;
    i.indicator_type = type;
    i.indicator_value = value;
    i.action = action;
    i.rbac_group_ids = std::move(groups);
    i.expiration_ms = expires_ms;
    ASSERT_TRUE(state::Repo<state::Indicator>(*store_).Insert(i).ok());
  }
  // The (type, value, action) triples of a policy, in order.
  static std::vector<std::string> Items(const SensorPolicy& p) {
    auto v = json::Value::Parse(p.json);
    EXPECT_TRUE(v.has_value());
    EXPECT_EQ(v->GetString("version").value_or(""), p.version);
    std::vector<std::string> out;
    for (const auto& i : v->Find("indicators")->items()) {
      out.push_back(*i.GetString("indicatorType") + ":" + *i.GetString("indicatorValue") + ":" + *i.GetString("action"));
    }
    return out;
  }
  const int64_t now_ = 1'800'000'000'000;
};

TEST_F(SensorPolicyTest, HoldsEnforcedActionsForTheDeviceGroupOnly) {
  Add("1", "FileSha256", "aa", "Block");
  Add("2", "IpAddress", "203.0.113.7", "Alert");  // alerts only: nothing to enforce
  Add("3", "DomainName", "evil.example", "AlertAndBlock", {"7"});
  Add("4", "FileSha1", "bb", "Allowed");
  Add("5", "Url", "http://x.example/a", "Warn", {"8"});
  SensorPolicyCache cache(*store_, std::chrono::milliseconds(0));
  auto none = cache.For(tenant_, std::nullopt, now_);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(Items(*none), (std::vector<std::string>{"FileSha1:bb:Allowed", "FileSha256:aa:Block"}));
  auto seven = cache.For(tenant_, 7, now_);
  ASSERT_TRUE(seven.has_value());
  EXPECT_EQ(Items(*seven), (std::vector<std::string>{"DomainName:evil.example:AlertAndBlock", "FileSha1:bb:Allowed", "FileSha256:aa:Block"}));
  EXPECT_NE(none->version, seven->version);
}

TEST_F(SensorPolicyTest, VersionChangesWhenAnIndicatorChangesOrExpires) {
  Add("1", "FileSha256", "aa", "Block");
  Add("2", "FileSha256", "cc", "Block", {}, now_ + 60'000);
  SensorPolicyCache cache(*store_, std::chrono::milliseconds(0));
  auto first = cache.For(tenant_, std::nullopt, now_);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(Items(*first).size(), 2u);
  auto same = cache.For(tenant_, std::nullopt, now_ + 1);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->version, first->version);
  // Past its expiration the indicator leaves the policy without any write to the store.
  auto later = cache.For(tenant_, std::nullopt, now_ + 60'000);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(Items(*later), (std::vector<std::string>{"FileSha256:aa:Block"}));
  EXPECT_NE(later->version, first->version);
  // A deletion is seen too.
  ASSERT_TRUE(store_->Delete(tenant_, state::Kind::kIndicator, "1").ok());
  auto empty = cache.For(tenant_, std::nullopt, now_ + 60'001);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(Items(*empty).empty());
}

}  // namespace
}  // namespace ward::ingest
