#include "rbac/device_groups.h"

#include <gtest/gtest.h>

namespace ward::rbac {
namespace {

state::Machine M(std::string name, std::string domain = "", std::vector<std::string> tags = {}, std::string os = "Linux") {
  state::Machine m;
  m.computer_dns_name = std::move(name);
  m.domain = std::move(domain);
  m.tags = std::move(tags);
  m.os_platform = std::move(os);
  return m;
}

state::DeviceGroup G(int64_t id, int64_t rank, state::DeviceGroupRules rules, bool is_default = false) {
  state::DeviceGroup g;
  g.id = id;
  g.rank = rank;
  g.rules = std::move(rules);
  g.is_default = is_default;
  g.name = "g" + std::to_string(id);
  return g;
}

TEST(WildcardTest, Matches) {
  EXPECT_TRUE(WildcardMatch("web-*", "WEB-01"));
  EXPECT_TRUE(WildcardMatch("*.corp.local", "a.b.corp.local"));
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_TRUE(WildcardMatch("a*b*c", "axxbyyc"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "axxbyy"));
  EXPECT_FALSE(WildcardMatch("web", "web-01"));
  EXPECT_TRUE(WildcardMatch("exact", "EXACT"));
  // Pathological patterns stay fast (no exponential backtracking).
  EXPECT_FALSE(WildcardMatch(std::string(50, '*') + "b", std::string(5000, 'a')));
}

TEST(RulesTest, ConditionsAreAndedValuesAreOred) {
  state::DeviceGroupRules r;
  r.name = {"web-*", "api-*"};
  r.tag = {"prod"};
  EXPECT_TRUE(RulesMatch(r, M("api-3", "", {"x", "PROD"})));
  EXPECT_FALSE(RulesMatch(r, M("api-3", "", {"dev"})));
  EXPECT_FALSE(RulesMatch(r, M("db-1", "", {"prod"})));
  state::DeviceGroupRules os;
  os.os_platform = {"Windows*"};
  EXPECT_FALSE(RulesMatch(os, M("x")));
  EXPECT_FALSE(RulesMatch(state::DeviceGroupRules{}, M("x")));  // no conditions, no members
}

TEST(AssignTest, HighestRankedMatchWinsElseDefault) {
  state::DeviceGroupRules prod;
  prod.tag = {"prod"};
  state::DeviceGroupRules web;
  web.name = {"web-*"};
  std::vector<state::DeviceGroup> groups = {G(1, 0, {}, true), G(2, 2, web), G(3, 1, prod)};
  EXPECT_EQ(AssignDeviceGroup(groups, M("web-1", "", {"prod"})), 3);  // rank 1 beats rank 2
  EXPECT_EQ(AssignDeviceGroup(groups, M("web-1")), 2);
  EXPECT_EQ(AssignDeviceGroup(groups, M("db-1")), 1);  // ungrouped
  EXPECT_EQ(AssignDeviceGroup({}, M("db-1")), std::nullopt);
}

TEST(ValidateTest, RejectsBadGroups) {
  state::DeviceGroup g = G(5, 1, {});
  EXPECT_TRUE(ValidateDeviceGroup(g).ok());
  g.remediation_level = "Yolo";
  EXPECT_FALSE(ValidateDeviceGroup(g).ok());
  g = G(5, 1, {});
  g.rules.tag.assign(11, "x");
  EXPECT_FALSE(ValidateDeviceGroup(g).ok());
  g = G(5, 0, {});
  EXPECT_FALSE(ValidateDeviceGroup(g).ok());
  g = G(5, 1, {});
  g.name = "";
  EXPECT_FALSE(ValidateDeviceGroup(g).ok());
}

}  // namespace
}  // namespace ward::rbac
