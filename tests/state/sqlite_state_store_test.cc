#include "state/sqlite_state_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

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

TEST_F(StateStoreTest, RecordsAreScopedByTenant) {
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store);
  StateStore& s = **store;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  ASSERT_TRUE(s.CreateTenant(Tenant{"b", "B", 1}).ok());
  Repo<Role> roles(s);
  ASSERT_TRUE(roles.Insert(Role{"a", "r1", "Tier 1", "", {"ViewData"}, {}, false}).ok());
  EXPECT_TRUE(roles.Get("a", "r1"));
  EXPECT_EQ(roles.Get("b", "r1").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(roles.List("b")->empty());
  // The same name may exist in two tenants, but not twice in one.
  EXPECT_TRUE(roles.Insert(Role{"b", "r2", "Tier 1", "", {}, {}, false}).ok());
  EXPECT_EQ(roles.Insert(Role{"a", "r3", "tier 1", "", {}, {}, false}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.Delete("b", Kind::kRole, "r1").code(), StatusCode::kNotFound);
  EXPECT_TRUE(roles.Get("a", "r1"));
}

TEST_F(StateStoreTest, OptimisticVersionsRefuseLostUpdates) {
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store);
  StateStore& s = **store;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  Document d{"x", "", json::Value::Object(), 0};
  ASSERT_TRUE(s.Insert("a", Kind::kMachine, d).ok());
  auto read = s.Get("a", Kind::kMachine, "x");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->version, 1);
  EXPECT_TRUE(s.Update("a", Kind::kMachine, *read, 1).ok());
  EXPECT_EQ(s.Update("a", Kind::kMachine, *read, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Get("a", Kind::kMachine, "x")->version, 2);
}

TEST_F(StateStoreTest, MutateLosesNoConcurrentUpdate) {
  // Two processes' worth of writers (two connections, two threads each) change different fields of
  // one machine; every change survives.
  auto a = SqliteStateStore::Open(Path());
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->CreateTenant(Tenant{"t", "T", 1}).ok());
  Machine m;
  m.tenant_id = "t";
  m.id = "m";
  ASSERT_TRUE(Repo<Machine>(**a).Insert(m).ok());
  auto b = SqliteStateStore::Open(Path());
  ASSERT_TRUE(b);
  constexpr int kEach = 50;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    StateStore& store = w % 2 ? **b : **a;
    writers.emplace_back([&store, w] {
      for (int i = 0; i < kEach; ++i) {
        auto r = Repo<Machine>(store).Mutate("t", "m", [&](Machine& x) -> Status {
          x.api_tags.push_back("w" + std::to_string(w) + "-" + std::to_string(i));
          return Status::Ok();
        });
        EXPECT_TRUE(r) << r.error().message();
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(Repo<Machine>(**a).Get("t", "m")->api_tags.size(), size_t{4 * kEach});
}

TEST_F(StateStoreTest, TakeIsSingleUse) {
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->CreateTenant(Tenant{"a", "A", 1}).ok());
  Repo<AuthCode> codes(**store);
  AuthCode c;
  c.tenant_id = "a";
  c.code_hash = "h";
  c.expires_ms = 42;
  ASSERT_TRUE(codes.Insert(c).ok());
  EXPECT_EQ(codes.Take("a", "h")->expires_ms, 42);
  EXPECT_FALSE(codes.Take("a", "h"));
}

TEST_F(StateStoreTest, AuditLogIsAppendOnlyAndFiltered) {
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store);
  StateStore& s = **store;
  for (int i = 0; i < 5; ++i) {
    AuditEntry e;
    e.tenant_id = i < 4 ? "a" : "b";
    e.time_ms = 1000 + i;
    e.actor_type = "User";
    e.actor_id = i % 2 ? "u1" : "u2";
    e.action = i == 0 ? "DELETE /api/users/{id}" : "POST /api/rbac/roles";
    e.result = "Success";
    ASSERT_TRUE(s.AppendAudit(e));
  }
  auto all = s.ListAudit("a", {});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_GT((*all)[0].id, (*all)[1].id);  // newest first
  AuditQuery q;
  q.actor_id = "u1";
  EXPECT_EQ(s.ListAudit("a", q)->size(), 2u);
  q = {};
  q.action_prefix = "POST ";
  EXPECT_EQ(s.ListAudit("a", q)->size(), 3u);
  auto db = Database::Open(Path());
  ASSERT_TRUE(db);
  EXPECT_FALSE((*db)->Exec("UPDATE audit_log SET result = 'Failure'").ok());
  EXPECT_FALSE((*db)->Exec("DELETE FROM audit_log").ok());
  EXPECT_EQ(s.ListAudit("a", {})->size(), 4u);
}

TEST_F(StateStoreTest, ChangeCounterSeesOtherConnections) {
  auto one = SqliteStateStore::Open(Path());
  auto two = SqliteStateStore::Open(Path());
  ASSERT_TRUE(one && two);
  int64_t before = (*one)->ChangeCounter();
  ASSERT_TRUE((*two)->CreateTenant(Tenant{"a", "A", 1}).ok());
  EXPECT_NE((*one)->ChangeCounter(), before);
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

namespace ward::state {
namespace {

TEST_F(StateStoreTest, DeleteExpiredDropsOnlyExpiredArtefacts) {
  auto store = SqliteStateStore::Open(Path());
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->CreateTenant(Tenant{"a", "A", 1}).ok());
  Repo<AuthCode> codes(**store);
  AuthCode old_code;
  old_code.tenant_id = "a";
  old_code.code_hash = "old";
  old_code.expires_ms = 100;
  AuthCode fresh = old_code;
  fresh.code_hash = "fresh";
  fresh.expires_ms = 10'000;
  ASSERT_TRUE(codes.Insert(old_code).ok());
  ASSERT_TRUE(codes.Insert(fresh).ok());
  ASSERT_TRUE(Repo<Role>(**store).Insert(Role{"a", "r", "role", "", {}, {}, false}).ok());
  EXPECT_EQ((*store)->DeleteExpired(5'000).value_or(-1), 1);
  EXPECT_FALSE(codes.Get("a", "old"));
  EXPECT_TRUE(codes.Get("a", "fresh"));
  EXPECT_TRUE(Repo<Role>(**store).Get("a", "r"));
}

}  // namespace
}  // namespace ward::state
