#include "http/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ward::http {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("ward-static-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "root" / "assets");
    Write(base_ / "root" / "index.html", "<!doctype html>index");
    Write(base_ / "root" / "assets" / "app-1a2b.js", "js");
    Write(base_ / "root" / "favicon.svg", "<svg/>");
    Write(base_ / "outside.txt", "secret");
    fs::create_symlink(base_ / "outside.txt", base_ / "root" / "link.txt");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void Write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

  // Serves `path`; answers the status (0 = not served) and fills res_.
  int Get(const std::string& path, const std::string& method = "GET") {
    StaticFiles files((base_ / "root").string());
    Request req;
    req.method = method;
    req.path = path;
    res_ = Response();
    return files.Serve(req, res_) ? res_.status : 0;
  }

  fs::path base_;
  Response res_;
};

TEST_F(StaticFilesTest, ServesFilesWithTheirTypesAndCaching) {
  EXPECT_EQ(Get("/assets/app-1a2b.js"), 200);
  EXPECT_EQ(res_.body, "js");
  EXPECT_EQ(res_.headers.Get("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(res_.headers.Get("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Get("/favicon.svg"), 200);
  EXPECT_EQ(res_.headers.Get("content-type"), "image/svg+xml");
  EXPECT_EQ(res_.headers.Get("cache-control"), "no-cache");  // not a hashed build output
}

TEST_F(StaticFilesTest, ClientRoutesAnswerTheIndex) {
  for (const char* path : {"/", "/devices", "/devices/abc", "/settings/roles/"}) {
    EXPECT_EQ(Get(path), 200) << path;
    EXPECT_EQ(res_.body, "<!doctype html>index") << path;
    EXPECT_EQ(res_.headers.Get("cache-control"), "no-cache");
    EXPECT_NE(res_.headers.Get("content-security-policy").find("frame-ancestors 'none'"), std::string_view::npos);
  }
}

TEST_F(StaticFilesTest, MissingFilesWithExtensionsAreNotTheIndex) {
  EXPECT_EQ(Get("/assets/missing.js"), 0);
  EXPECT_EQ(Get("/robots.txt"), 0);
}

TEST_F(StaticFilesTest, RefusesTraversalAndEscapingSymlinks) {
  for (const char* path : {"/../outside.txt", "/assets/../../outside.txt", "/./index.html", "/assets\\..\\x",
                           "/link.txt"}) {
    EXPECT_EQ(Get(path), 0) << path;
  }
  EXPECT_EQ(Get(std::string("/index.html\0x", 13)), 0);
}

TEST_F(StaticFilesTest, OnlyGetAndHead) {
  EXPECT_EQ(Get("/devices", "POST"), 0);
  EXPECT_EQ(Get("/assets/app-1a2b.js", "HEAD"), 200);
  EXPECT_TRUE(res_.body.empty());
}

TEST_F(StaticFilesTest, RevalidationWithTheETag) {
  ASSERT_EQ(Get("/assets/app-1a2b.js"), 200);
  std::string etag(res_.headers.Get("etag"));
  ASSERT_FALSE(etag.empty());
  StaticFiles files((base_ / "root").string());
  Request req;
  req.method = "GET";
  req.path = "/assets/app-1a2b.js";
  req.headers.Set("If-None-Match", etag);
  Response res;
  ASSERT_TRUE(files.Serve(req, res));
  EXPECT_EQ(res.status, 304);
  EXPECT_TRUE(res.body.empty());
}

TEST(StaticFilesContentType, KnownAndUnknownExtensions) {
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.woff2"), "font/woff2");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.bin"), "application/octet-stream");
}

}  // namespace
}  // namespace ward::http
