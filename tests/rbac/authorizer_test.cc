#include "rbac/authorizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "state/sqlite_state_store.h"

namespace ward::rbac {
namespace {

// A tenant with: role "reader" (ViewData) for group G1, role "responder" (ViewData + ActiveRemediation)
// for G2, the built-in admin role for G3; device groups D1 (open to G1 and G2), D2 (G2 only), D3 (no
// user groups: open to every user with a role).
class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("ward-authz-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
    auto s = state::SqliteStateStore::Open(path_.string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateTenant({"t", "T", 1}).ok());
    state::Repo<state::UserGroup> ug(*store_);
    ASSERT_TRUE(ug.Insert({"t", "G1", "g1", "", {"reader"}}).ok());
    ASSERT_TRUE(ug.Insert({"t", "G2", "g2", "", {"responder"}}).ok());
    ASSERT_TRUE(ug.Insert({"t", "G3", "g3", "", {"admin"}}).ok());
    state::Repo<state::Role> roles(*store_);
    ASSERT_TRUE(roles.Insert({"t", "R1", "reader", "", {"ViewData"}, {"G1"}, false}).ok());
    ASSERT_TRUE(roles.Insert({"t", "R2", "responder", "", {"ViewData", "ActiveRemediation"}, {"G2"}, false}).ok());
    ASSERT_TRUE(roles.Insert({"t", "R3", std::string(kBuiltinAdminRoleName), "", {}, {"G3"}, true}).ok());
    state::Repo<state::DeviceGroup> dgs(*store_);
    for (auto [id, groups] : std::vector<std::pair<int64_t, std::vector<std::string>>>{
             {1, {"G1", "G2"}}, {2, {"G2"}}, {3, {}}}) {
      state::DeviceGroup g;
      g.tenant_id = "t";
      g.id = id;
      g.name = "D" + std::to_string(id);
      g.rank = id;
      g.user_group_ids = groups;
      ASSERT_TRUE(dgs.Insert(g).ok());
    }
    authz_ = std::make_unique<Authorizer>(*store_);
  }
  void TearDown() override {
    authz_.reset();
    store_.reset();
    std::filesystem::remove(path_);
  }
  Principal User(std::string id, std::unordered_set<std::string> scopes) {
    Principal p;
    p.type = Principal::Type::kUser;
    p.tenant_id = "t";
    p.object_id = std::move(id);
    p.scopes = std::move(scopes);
    return p;
  }
  Principal App(std::unordered_set<std::string> roles) {
    Principal p;
    p.tenant_id = "t";
    p.object_id = "app";
    p.roles = std::move(roles);
    return p;
  }
  std::filesystem::path path_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<Authorizer> authz_;
};

const Requirement kRead{{"Machine.Read.All", "Machine.ReadWrite.All"}, {"Machine.Read", "Machine.ReadWrite"},
                        PortalPermission::kViewData};
const Requirement kIsolate{{"Machine.Isolate"}, {"Machine.Isolate"}, PortalPermission::kActiveRemediation};

TEST_F(AuthorizerTest, PermissionMatrix) {
  struct Case {
    Principal p;
    const Requirement* r;
    StatusCode want;
  };
  std::vector<Case> cases = {
      {App({"Machine.Read.All"}), &kRead, StatusCode::kOk},
      {App({"Machine.ReadWrite.All"}), &kRead, StatusCode::kOk},
      {App({"Alert.Read.All"}), &kRead, StatusCode::kPermissionDenied},
      {App({"Machine.Read.All"}), &kIsolate, StatusCode::kPermissionDenied},
      {App({"Machine.Isolate"}), &kIsolate, StatusCode::kOk},
      // Users need scope AND role permission.
      {User("reader", {"Machine.Read"}), &kRead, StatusCode::kOk},
      {User("reader", {"Alert.Read"}), &kRead, StatusCode::kPermissionDenied},
      {User("reader", {"Machine.Isolate"}), &kIsolate, StatusCode::kPermissionDenied},
      {User("responder", {"Machine.Isolate"}), &kIsolate, StatusCode::kOk},
      {User("responder", {"Machine.Read"}), &kIsolate, StatusCode::kPermissionDenied},
      {User("admin", {"Machine.Isolate"}), &kIsolate, StatusCode::kOk},
      {User("nobody", {"Machine.Read"}), &kRead, StatusCode::kPermissionDenied},
      // Scopes do not stand in for app roles or vice versa.
      {User("admin", {"Machine.Read.All"}), &kRead, StatusCode::kPermissionDenied},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(authz_->Check(cases[i].p, *cases[i].r).code(), cases[i].want) << "case " << i;
  }
}

TEST_F(AuthorizerTest, DeviceScope) {
  Principal reader = User("reader", {"Machine.Read"});
  Principal responder = User("responder", {"Machine.Read", "Machine.Isolate"});
  EXPECT_TRUE(authz_->CheckDevice(reader, kRead, 1, "nf").ok());
  EXPECT_EQ(authz_->CheckDevice(reader, kRead, 2, "nf").code(), StatusCode::kNotFound);
  EXPECT_TRUE(authz_->CheckDevice(reader, kRead, 3, "nf").ok());  // open group
  EXPECT_EQ(authz_->CheckDevice(reader, kIsolate, 1, "nf").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(authz_->CheckDevice(reader, kIsolate, 2, "nf").code(), StatusCode::kNotFound);  // scope first
  EXPECT_TRUE(authz_->CheckDevice(responder, kIsolate, 2, "nf").ok());
  EXPECT_TRUE(authz_->CheckDevice(User("admin", {"Machine.Read"}), kRead, 2, "nf").ok());
  EXPECT_EQ(authz_->CheckDevice(User("nobody", {"Machine.Read"}), kRead, 3, "nf").code(), StatusCode::kNotFound);
  EXPECT_TRUE(authz_->CheckDevice(App({"Machine.Read.All"}), kRead, 2, "nf").ok());
  EXPECT_EQ(authz_->CheckDevice(reader, kRead, std::nullopt, "nf").code(), StatusCode::kNotFound);

  DeviceScope s = authz_->ScopeFor(reader);
  EXPECT_FALSE(s.all);
  EXPECT_EQ(s.group_ids, (std::unordered_set<int64_t>{1, 3}));
  EXPECT_TRUE(authz_->ScopeFor(App({})).all);
  EXPECT_TRUE(authz_->ScopeFor(User("admin", {})).all);
}

TEST_F(AuthorizerTest, ChangesAreSeenAfterInvalidate) {
  Principal reader = User("reader", {"Machine.Isolate"});
  EXPECT_EQ(authz_->Check(reader, kIsolate).code(), StatusCode::kPermissionDenied);
  state::Repo<state::Role> roles(*store_);
  auto r = roles.Get("t", "R1");
  ASSERT_TRUE(r);
  r->permissions.push_back("ActiveRemediation");
  ASSERT_TRUE(roles.Update(*r).ok());
  authz_->Invalidate();
  EXPECT_TRUE(authz_->Check(reader, kIsolate).ok());
}

}  // namespace
}  // namespace ward::rbac
