#include "api/api.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/entities.h"
#include "state/sqlite_state_store.h"

namespace ward::api {
namespace {

// Real services over a throwaway state database; nothing here serves HTTP.
class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ward-api-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto store = state::SqliteStateStore::Open((dir_ / "state.db").string());
    ASSERT_TRUE(store.has_value()) << store.error().message();
    store_ = std::move(*store);
    keys_ = std::make_unique<identity::KeyManager>(*store_);
    tokens_ = std::make_unique<identity::TokenService>(*store_, *keys_, identity::IdentityConfig{"https://ward.test"});
    authz_ = std::make_unique<rbac::Authorizer>(*store_);
    limiter_ = std::make_unique<RateLimiter>(RateLimiterConfig{});
    services_ = std::make_unique<Services>(
        Services{*store_, *keys_, *tokens_, *authz_, *limiter_, metrics_});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::unique_ptr<state::SqliteStateStore> store_;
  std::unique_ptr<identity::KeyManager> keys_;
  std::unique_ptr<identity::TokenService> tokens_;
  std::unique_ptr<rbac::Authorizer> authz_;
  std::unique_ptr<RateLimiter> limiter_;
  metrics::Registry metrics_;
  std::unique_ptr<Services> services_;
};

json::Value AlertWithStatus(std::string id, std::string status) {
  json::Value a = json::Value::Object();
  a.Set("id", id);
  a.Set("status", status);
  return a;
}

TEST_F(ApiTest, ODataCountAnswersTheFilteredCountAsPlainText) {
  std::vector<json::Value> alerts;
  for (const char* s : {"New", "InProgress", "Resolved", "New", "Unknown", "Resolved"}) {
    alerts.push_back(AlertWithStatus("a" + std::to_string(alerts.size()), s));
  }
  auto count = [&](std::string query) {
    http::Request req;
    req.query = std::move(query);
    http::Response res;
    rbac::Principal p;
    Call call(*services_, req, res, p);
    auto q = call.ODataQuery(AlertSchema());
    EXPECT_TRUE(q.has_value()) << q.error().message();
    if (q) call.ODataCount(AlertSchema(), *q, alerts);
    EXPECT_EQ(res.status, 200);
    EXPECT_TRUE(res.headers.Get("Content-Type").starts_with("text/plain")) << res.headers.Get("Content-Type");
    EXPECT_EQ(res.headers.Get("OData-Version"), "4.0");
    return res.body;
  };
  // MDE's sample: /api/machines/{id}/alerts/$count?$filter=status ne 'Resolved'
  EXPECT_EQ(count("$filter=status+ne+'Resolved'"), "4");
  EXPECT_EQ(count(""), "6");
  // $top, $skip and $orderby do not change a count.
  EXPECT_EQ(count("$filter=status eq 'New'&$top=1&$skip=1&$orderby=id desc"), "2");
  EXPECT_EQ(count("$filter=status eq 'Closed'"), "0");
}

TEST_F(ApiTest, RoutesListEveryRouteAndWhichNeedABearerToken) {
  Api api(*services_);
  api.Add("GET", "/api/machines/{id}", [](Call&) {});
  api.router().Add("GET", "/healthz", [](http::Request&, http::Response&) {});
  api.Add("post", "/api/machines/{id}/isolate", [](Call&) {});
  RegisterMetadataRoutes(api);
  api.Add("GET", "/api/later", [](Call&) {});  // after the metadata group: still listed
  std::vector<ApiRoute> routes = api.Routes();
  std::vector<std::string> described;
  for (const ApiRoute& r : routes) described.push_back(r.method + " " + r.pattern + (r.bearer ? " bearer" : ""));
  EXPECT_EQ(described, (std::vector<std::string>{
                           "GET /api/machines/{id} bearer", "GET /healthz", "POST /api/machines/{id}/isolate bearer",
                           "GET /api/$metadata bearer", "GET /api bearer", "GET /api/openapi.json bearer",
                           "GET /api/later bearer"}));
  EXPECT_EQ(routes[0].captures, std::vector<std::string>{"id"});
  EXPECT_TRUE(routes[1].captures.empty());
}

}  // namespace
}  // namespace ward::api
