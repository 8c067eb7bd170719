#include "http/router.h"

#include <gtest/gtest.h>

#include <string>

namespace ward::http {
namespace {

// Builds a router whose handlers record which route ran.
class RouterTest : public ::testing::Test {
 protected:
  void Route(std::string method, std::string pattern, std::string tag) {
    router_.Add(std::move(method), std::move(pattern), [this, tag](Request&, Response& res) {
      last_ = tag;
      res.body = tag;
    });
  }
  Router::Outcome Go(std::string method, std::string path) {
    req_ = Request();
    res_ = Response();
    last_.clear();
    req_.method = std::move(method);
    req_.path = std::move(path);
    return router_.Dispatch(req_, res_);
  }

  Router router_;
  Request req_;
  Response res_;
  std::string last_;
};

TEST_F(RouterTest, LiteralAndCapture) {
  Route("GET", "/api/machines", "list");
  Route("GET", "/api/machines/{id}", "get");
  Route("POST", "/api/machines/{id}/isolate", "isolate");

  EXPECT_EQ(Go("GET", "/api/machines"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "list");
  EXPECT_EQ(req_.route, "/api/machines");
  EXPECT_TRUE(req_.path_params.empty());

  EXPECT_EQ(Go("GET", "/api/machines/AbC123"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "get");
  EXPECT_EQ(req_.route, "/api/machines/{id}");
  EXPECT_EQ(req_.PathParam("id"), "AbC123");
  EXPECT_EQ(req_.PathParam("missing"), "");

  EXPECT_EQ(Go("POST", "/api/machines/m1/isolate"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "isolate");
  EXPECT_EQ(req_.PathParam("id"), "m1");
}

TEST_F(RouterTest, LiteralSegmentsAreCaseInsensitiveCapturesKeepCase) {
  Route("GET", "/api/Machines/{id}/LogOnUsers", "users");
  EXPECT_EQ(Go("GET", "/API/machines/MixedCase/logonusers"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "users");
  EXPECT_EQ(req_.PathParam("id"), "MixedCase");
}

TEST_F(RouterTest, TrailingSlashIgnored) {
  Route("GET", "/api/alerts/", "alerts");
  EXPECT_EQ(Go("GET", "/api/alerts"), Router::Outcome::kHandled);
  EXPECT_EQ(Go("GET", "/api/alerts/"), Router::Outcome::kHandled);
  EXPECT_EQ(Go("GET", "/api/alerts//"), Router::Outcome::kNotFound);
  EXPECT_EQ(Go("GET", "/api//alerts"), Router::Outcome::kNotFound);
}

TEST_F(RouterTest, RootPath) {
  Route("GET", "/", "root");
  EXPECT_EQ(Go("GET", "/"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "root");
  EXPECT_EQ(Go("GET", "/x"), Router::Outcome::kNotFound);
}

TEST_F(RouterTest, NotFoundVersusMethodNotAllowed) {
  Route("GET", "/api/alerts/{id}", "get");
  Route("PATCH", "/api/alerts/{id}", "patch");
  EXPECT_EQ(Go("DELETE", "/api/alerts/1"), Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(last_, "");
  EXPECT_EQ(res_.body, "");  // response untouched
  EXPECT_EQ(Go("GET", "/api/alerts"), Router::Outcome::kNotFound);
  EXPECT_EQ(Go("GET", "/api/alerts/1/extra"), Router::Outcome::kNotFound);
  EXPECT_EQ(Go("PATCH", "/api/alerts/1"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "patch");
}

TEST_F(RouterTest, MethodIsCaseNormalised) {
  Route("post", "/x", "x");
  EXPECT_EQ(Go("POST", "/x"), Router::Outcome::kHandled);
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  Route("GET", "/x", "get");
  EXPECT_EQ(Go("HEAD", "/x"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "get");
  Route("HEAD", "/y", "head");
  Route("GET", "/y", "get");
  EXPECT_EQ(Go("HEAD", "/y"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "head");
}

TEST_F(RouterTest, PrefixSuffixCapture) {
  Route("GET", "/api/machines/findbyip({args})", "findbyip");
  Route("GET", "/api/machines/{id}", "get");
  EXPECT_EQ(Go("GET", "/api/machines/FindByIp(ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)"),
            Router::Outcome::kHandled);
  EXPECT_EQ(last_, "findbyip");
  EXPECT_EQ(req_.route, "/api/machines/findbyip({args})");
  EXPECT_EQ(req_.PathParam("args"), "ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z");

  // Missing suffix: falls through to the plain capture.
  EXPECT_EQ(Go("GET", "/api/machines/findbyip(x"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "get");
  EXPECT_EQ(req_.PathParam("id"), "findbyip(x");

  EXPECT_EQ(Go("GET", "/api/machines/findbyip()"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "findbyip");
  EXPECT_EQ(req_.PathParam("args"), "");
}

TEST_F(RouterTest, CaptureDoesNotSpanSlash) {
  Route("GET", "/files/{name}", "file");
  EXPECT_EQ(Go("GET", "/files/a/b"), Router::Outcome::kNotFound);
  Route("GET", "/f/pre{x}post", "affix");
  EXPECT_EQ(Go("GET", "/f/pre/post"), Router::Outcome::kNotFound);
  EXPECT_EQ(Go("GET", "/f/preMIDpost"), Router::Outcome::kHandled);
  EXPECT_EQ(req_.PathParam("x"), "MID");
}

TEST_F(RouterTest, CapturesSeeDecodedPath) {
  Route("GET", "/users/{upn}", "user");
  // The server percent-decodes req.path before dispatch; captures are taken verbatim from it.
  EXPECT_EQ(Go("GET", "/users/john doe@contoso.com"), Router::Outcome::kHandled);
  EXPECT_EQ(req_.PathParam("upn"), "john doe@contoso.com");
}

TEST_F(RouterTest, EarlierRouteWins) {
  Route("GET", "/api/machines/special", "special");
  Route("GET", "/api/machines/{id}", "get");
  EXPECT_EQ(Go("GET", "/api/machines/SPECIAL"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "special");
  EXPECT_EQ(Go("GET", "/api/machines/other"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "get");
}

TEST_F(RouterTest, MultipleCaptures) {
  Route("GET", "/a/{x}/b/{y}", "two");
  EXPECT_EQ(Go("GET", "/a/1/B/2"), Router::Outcome::kHandled);
  ASSERT_EQ(req_.path_params.size(), 2u);
  EXPECT_EQ(req_.path_params[0].first, "x");
  EXPECT_EQ(req_.path_params[0].second, "1");
  EXPECT_EQ(req_.PathParam("y"), "2");
}

TEST_F(RouterTest, DollarSegmentsAreLiterals) {
  // OData's $metadata and $count are plain literal segments, matched case-insensitively.
  Route("GET", "/api/$metadata", "metadata");
  Route("GET", "/api/machines/{id}/alerts/$count", "count");
  Route("GET", "/api/machines/{id}/alerts", "alerts");
  EXPECT_EQ(Go("GET", "/api/$Metadata"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "metadata");
  EXPECT_EQ(Go("GET", "/api/metadata"), Router::Outcome::kNotFound);
  EXPECT_EQ(Go("GET", "/api/machines/m1/alerts/$count"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "count");
  EXPECT_EQ(req_.PathParam("id"), "m1");
  EXPECT_EQ(Go("GET", "/api/machines/m1/alerts"), Router::Outcome::kHandled);
  EXPECT_EQ(last_, "alerts");
}

TEST_F(RouterTest, RoutesAreEnumeratedInRegistrationOrder) {
  EXPECT_TRUE(router_.Routes().empty());
  Route("get", "/api/machines/{id}", "get");
  Route("POST", "/api/machines/findbyip({args})/x/{y}", "find");
  Route("GET", "/api/$metadata", "metadata");
  auto routes = router_.Routes();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].method, "GET");
  EXPECT_EQ(routes[0].pattern, "/api/machines/{id}");
  EXPECT_EQ(routes[0].captures, std::vector<std::string>{"id"});
  EXPECT_EQ(routes[1].method, "POST");
  EXPECT_EQ(routes[1].captures, (std::vector<std::string>{"args", "y"}));
  EXPECT_EQ(routes[2].pattern, "/api/$metadata");
  EXPECT_TRUE(routes[2].captures.empty());
}

}  // namespace
}  // namespace ward::http
