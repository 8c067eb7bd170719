#include "api/machine_catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "state/sqlite_state_store.h"

namespace ward::api {
namespace {

class MachineCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("ward-catalog-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
    auto s = state::SqliteStateStore::Open(path_.string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateTenant({"t", "T", 1}).ok());
    state::DeviceGroup g;
    g.tenant_id = "t";
    g.id = 1;
    g.name = "Ungrouped devices";
    g.is_default = true;
    ASSERT_TRUE(state::Repo<state::DeviceGroup>(*store_).Insert(g).ok());
    authz_ = std::make_unique<rbac::Authorizer>(*store_);
  }
  void TearDown() override {
    authz_.reset();
    store_.reset();
    std::filesystem::remove(path_);
  }
  state::Machine AddMachine(const std::string& id, const std::string& name) {
    state::Machine m;
    m.tenant_id = "t";
    m.id = id;
    m.host_id = "host-" + id;
    m.computer_dns_name = name;
    m.os_platform = "Linux";
    m.rbac_group_id = 1;
    EXPECT_TRUE(state::Repo<state::Machine>(*store_).Insert(m).ok());
    return m;
  }
  std::filesystem::path path_;
  std::unique_ptr<state::SqliteStateStore> store_;
  std::unique_ptr<rbac::Authorizer> authz_;
};

TEST_F(MachineCatalogTest, SeesInsertsUpdatesAlertsAndDeletes) {
  MachineCatalog catalog(*store_, *authz_, std::chrono::hours(1));
  AddMachine("aaaa", "web01");
  auto s1 = catalog.Get("t");
  ASSERT_TRUE(s1);
  ASSERT_EQ((*s1)->entries.size(), 1u);
  EXPECT_EQ((*s1)->Find("WEB01")->machine.id, "aaaa");  // by computer name, case-insensitive
  EXPECT_EQ((*s1)->Find("aaaa")->json.Find("rbacGroupName")->as_string(), "Ungrouped devices");

  AddMachine("bbbb", "db01");
  auto s2 = catalog.Get("t");
  ASSERT_EQ((*s2)->entries.size(), 2u);
  EXPECT_NE((*s2)->Find("db01"), nullptr);
  EXPECT_EQ((*s1)->entries.size(), 1u);  // earlier snapshots are immutable

  // An update (and a rename) is visible at once.
  ASSERT_TRUE(state::Repo<state::Machine>(*store_).Mutate("t", "aaaa", [](state::Machine& m) -> Status {
    m.device_value = "High";
    m.computer_dns_name = "web02";
    return Status::Ok();
  }));
  auto s3 = catalog.Get("t");
  EXPECT_EQ((*s3)->Find("aaaa")->json.Find("deviceValue")->as_string(), "High");
  EXPECT_EQ((*s3)->Find("web01"), nullptr);
  EXPECT_NE((*s3)->Find("web02"), nullptr);

  // An open alert raises the device's risk; resolving it lowers it again.
  state::Alert a;
  a.tenant_id = "t";
  a.id = "da1_1";
  a.machine_id = "bbbb";
  a.severity = "Medium";
  ASSERT_TRUE(state::Repo<state::Alert>(*store_).Insert(a).ok());
  auto s4 = catalog.Get("t");
  EXPECT_EQ((*s4)->Find("bbbb")->json.Find("riskScore")->as_string(), "Medium");
  EXPECT_EQ((*s4)->Find("aaaa")->json.Find("riskScore")->as_string(), "None");
  a.status = "Resolved";
  ASSERT_TRUE(state::Repo<state::Alert>(*store_).Update(a).ok());
  auto s5 = catalog.Get("t");
  EXPECT_EQ((*s5)->Find("bbbb")->json.Find("riskScore")->as_string(), "None");

  // Group renames re-render every machine.
  ASSERT_TRUE(state::Repo<state::DeviceGroup>(*store_).Mutate("t", "1", [](state::DeviceGroup& g) -> Status {
    g.name = "Everything else";
    return Status::Ok();
  }));
  authz_->Invalidate();
  auto s6 = catalog.Get("t");
  EXPECT_EQ((*s6)->Find("aaaa")->json.Find("rbacGroupName")->as_string(), "Everything else");

  ASSERT_TRUE(state::Repo<state::Machine>(*store_).Delete("t", "aaaa").ok());
  auto s7 = catalog.Get("t");
  ASSERT_EQ((*s7)->entries.size(), 1u);
  EXPECT_EQ((*s7)->Find("aaaa"), nullptr);
  EXPECT_NE((*s7)->Find("bbbb"), nullptr);
}

TEST_F(MachineCatalogTest, ConcurrentReadersAndWriter) {
  MachineCatalog catalog(*store_, *authz_, std::chrono::hours(1));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    size_t last = 0;
    while (!stop) {
      auto s = catalog.Get("t");
      if (!s || (*s)->entries.size() < last) ++bad;  // never goes backwards
      if (s) last = (*s)->entries.size();
    }
  });
  for (int i = 0; i < 200; ++i) AddMachine("m" + std::to_string(i), "host" + std::to_string(i));
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  auto s = catalog.Get("t");
  EXPECT_EQ((*s)->entries.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_NE((*s)->Find("host" + std::to_string(i)), nullptr) << i;
}

}  // namespace
}  // namespace ward::api
