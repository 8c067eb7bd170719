// SQLite-specific: migrating an existing file. The behaviour every store shares is in state_store_test.cc.
#include "state/sqlite_state_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace ward::state {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ward-state-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return (dir_ / "state.db").string(); }
  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, MigratesAnEmptyDatabaseToTheLatestVersion) {
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), Migrations().back().version);
}

TEST_F(StateStoreTest, MigratesAnExistingDatabaseAndKeepsItsData) {
  {
    auto old = SqliteStateStore::OpenAtVersion(Path(), 1);
    ASSERT_TRUE(old);
    EXPECT_EQ((*old)->SchemaVersion(), 1);
    ASSERT_TRUE((*old)->CreateTenant(Tenant{"t1", "One", 1}).ok());
    User u{"t1", "u1", "Alice@Corp", "Alice", "hash", true, 5};
    // Version 1 has no expires_ms column; inserting through the v2 code path would fail, so use raw SQL.
    auto db = Database::Open(Path());
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO documents(tenant_id, kind, id, unique_key, version, body, updated_ms) "
                            "VALUES ('t1','user','u1','alice@corp',1,'{\"tenantId\":\"t1\",\"id\":\"u1\",\"upn\":"
                            "\"Alice@Corp\"}',0)")
                    .ok());
  }
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), Migrations().back().version);
  auto u = Repo<User>(**store).GetByUniqueKey("t1", "ALICE@corp");
  ASSERT_TRUE(u) << u.error().ToString();
  EXPECT_EQ(u->id, "u1");
  // Opening again applies nothing twice.
  auto again = SqliteStateStore::Open(Path());
  ASSERT_TRUE(again);
}

TEST(RecordsTest, JsonCodecRoundTrips) {
  App a;
  a.tenant_id = "t";
  a.client_id = "c";
  a.app_permissions = {"Alert.Read.All"};
  a.secrets.push_back(AppSecret{"s1", "hash", "abc", "n", 1, 2});
  auto back = AppFromJson(ToJson(a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->secrets.at(0).hint, "abc");
  EXPECT_EQ(back->app_permissions, a.app_permissions);
  DeviceGroup g;
  g.rules.tag = {"prod*"};
  g.user_group_ids = {"x"};
  auto g2 = DeviceGroupFromJson(ToJson(g));
  ASSERT_TRUE(g2);
  EXPECT_EQ(g2->rules.tag, g.rules.tag);
  EXPECT_FALSE(UserFromJson(*json::Value::Parse(R"({"enabled":"yes"})")));
}

}  // namespace
}  // namespace ward::state
