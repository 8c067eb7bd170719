#include "server/run_server.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ward::server
