#include "server/run_server.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/temp_dir.h"
#include "server/config.h"

namespace ward::server {
namespace {

TEST(ListenTest, ParsesV4V6AndRejectsGarbage) {
  auto v4 = ParseListen("127.0.0.1:8443");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8443);
  auto v6 = ParseListen("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  for (const char* bad : {"", "8443", "host:", ":80", "[::1]80", "h:99999", "h:12a", "[::1"}) {
    EXPECT_FALSE(ParseListen(bad)) << bad;
  }
}

TEST(ListenTest, LoopbackDetection) {
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("127.1.2.3"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_TRUE(IsLoopback("localhost"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
  EXPECT_FALSE(IsLoopback("::"));
  EXPECT_FALSE(IsLoopback("10.0.0.1"));
}

TEST(ConfigTest, MdeDefaultsHaveThePerRouteExceptions) {
  api::RateLimiterConfig c = MdeDefaultRateLimits();
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.defaults.per_minute, 100);
  EXPECT_EQ(c.defaults.per_hour, 1500);
  EXPECT_EQ(c.per_route.at("/api/alerts/batchUpdate").per_minute, 10);
  EXPECT_EQ(c.per_route.at("/api/machineactions/{id}/getPackageUri").per_hour, 120);
}

Result<Config> LoadConfigText(const std::string& text) {
  test::TempDir dir("ward-config");
  std::ofstream(dir.path() + "/config.json") << text;
  return LoadConfig(dir.path());
}

TEST(ConfigTest, BackendUrlsSelectTheScaleOutBackends) {
  auto embedded = LoadConfigText("{}");
  ASSERT_TRUE(embedded);
  EXPECT_FALSE(embedded->distributed());
  EXPECT_EQ(embedded->log_url, "");
  auto cfg = LoadConfigText(R"({"state": "postgres://ward@db:5432/ward", "log": "kafka://k1:9092,k2:9092/ward-events",
                                "events": "clickhouse://ch:8123/ward", "sharedDir": "/mnt/ward"})");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_TRUE(cfg->distributed());
  EXPECT_EQ(cfg->state_url, "postgres://ward@db:5432/ward");
  EXPECT_EQ(cfg->log_url, "kafka://k1:9092,k2:9092/ward-events");
  EXPECT_EQ(cfg->events_url, "clickhouse://ch:8123/ward");
  EXPECT_EQ(cfg->shared_dir, "/mnt/ward");
  EXPECT_TRUE(LoadConfigText(R"({"state": "postgresql://db/ward"})"));
}

TEST(ConfigTest, BackendUrlsWithAnotherSchemeAreRefused) {
  for (const char* bad : {R"({"state": "mysql://db/ward"})", R"({"state": "postgres://"})", R"({"log": "file:///tmp"})",
                          R"({"events": 42})", R"({"events": "http://ch:8123"})", R"({"sharedDir": "relative/dir"})"}) {
    auto cfg = LoadConfigText(bad);
    ASSERT_FALSE(cfg) << bad;
    EXPECT_EQ(cfg.error().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ward::server
