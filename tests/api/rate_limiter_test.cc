#include "api/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "state/sqlite_state_store.h"

namespace ward::api {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

constexpr std::string_view kCaller = "tenant1/app/client1";
constexpr std::string_view kRoute = "/api/machines";

TEST(RateLimiter, HundredPerMinuteThenDenied) {
  RateLimiter rl(RateLimiterConfig{});
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 100; ++i) {
    auto d = rl.Check(kCaller, kRoute, t0);
    ASSERT_TRUE(d.allowed) << "call " << i + 1;
    EXPECT_EQ(d.retry_after_seconds, 0);
  }
  // Half a second later only 0.83 tokens have been refilled.
  auto d = rl.Check(kCaller, kRoute, t0 + 500ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_GE(d.retry_after_seconds, 1);
}

TEST(RateLimiter, RetryAfterAndRefill) {
  RateLimiter rl(RateLimiterConfig{});
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(rl.Check(kCaller, kRoute, t0).allowed);
  auto d = rl.Check(kCaller, kRoute, t0);
  ASSERT_FALSE(d.allowed);
  // One token takes 0.6 s at 100/min, rounded up to whole seconds.
  EXPECT_EQ(d.retry_after_seconds, 1);
  // Denied calls consume nothing.
  EXPECT_FALSE(rl.Check(kCaller, kRoute, t0 + 300ms).allowed);
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t0 + 600ms).allowed);
  EXPECT_FALSE(rl.Check(kCaller, kRoute, t0 + 700ms).allowed);
  // A full minute later the bucket is full again (capped at 100, not more).
  const auto t1 = t0 + 61s;
  int allowed = 0;
  for (int i = 0; i < 150; ++i) allowed += rl.Check(kCaller, kRoute, t1).allowed ? 1 : 0;
  EXPECT_EQ(allowed, 100);
}

TEST(RateLimiter, HourLimit) {
  RateLimiterConfig cfg;
  cfg.defaults = RateLimit{100, 150};
  RateLimiter rl(cfg);
  auto t = Clock::time_point{} + 1000h;
  int allowed = 0;
  // Two full minute-buckets exceed the 150/hour budget.
  for (int i = 0; i < 100; ++i) allowed += rl.Check(kCaller, kRoute, t).allowed;
  t += 60s;  // the minute bucket is full again; the hour bucket regained 2.5 tokens
  for (int i = 0; i < 100; ++i) allowed += rl.Check(kCaller, kRoute, t).allowed;
  EXPECT_EQ(allowed, 152);
  auto d = rl.Check(kCaller, kRoute, t);
  ASSERT_FALSE(d.allowed);
  // Hour bucket holds 0.5 tokens; 150/h = 1 token per 24 s, so 0.5 token needs 12 s.
  EXPECT_EQ(d.retry_after_seconds, 12);
  EXPECT_FALSE(rl.Check(kCaller, kRoute, t + 11s).allowed);
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t + 12s).allowed);
}

TEST(RateLimiter, MaxOfBothWindowsForRetryAfter) {
  RateLimiterConfig cfg;
  cfg.defaults = RateLimit{2, 3};
  RateLimiter rl(cfg);
  const auto t0 = Clock::time_point{} + 1000h;
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t0).allowed);
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t0).allowed);
  auto d = rl.Check(kCaller, kRoute, t0);
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 30);  // minute bucket: 1 token at 2/60 per second
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t0 + 30s).allowed);
  // Now the hour bucket is empty (3 used): 1 token at 3/3600 per second = 1200 s after t0,
  // minus the refill since then.
  d = rl.Check(kCaller, kRoute, t0 + 90s);
  ASSERT_FALSE(d.allowed);
  // hour tokens at t0+90s: 3 - 3 + 90 * 3/3600 = 0.075 -> needs 0.925 / (1/1200) = 1110 s.
  EXPECT_EQ(d.retry_after_seconds, 1110);
}

TEST(RateLimiter, PerRouteOverride) {
  RateLimiterConfig cfg;
  cfg.per_route["/api/alerts/batchUpdate"] = RateLimit{10, 500};
  RateLimiter rl(cfg);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rl.Check(kCaller, "/api/alerts/batchUpdate", t0).allowed);
  auto d = rl.Check(kCaller, "/api/alerts/batchUpdate", t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 6);  // 10/min = one token per 6 s
  // Other routes use the defaults and have their own buckets.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(rl.Check(kCaller, "/api/alerts", t0).allowed);
  EXPECT_FALSE(rl.Check(kCaller, "/api/alerts", t0).allowed);
}

TEST(RateLimiter, ZeroMeansNoLimitForThatWindow) {
  RateLimiterConfig cfg;
  cfg.per_route["/api/machines/{id}/startInvestigation"] = RateLimit{0, 50};
  RateLimiter rl(cfg);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(rl.Check(kCaller, "/api/machines/{id}/startInvestigation", t0).allowed);
  auto d = rl.Check(kCaller, "/api/machines/{id}/startInvestigation", t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 72);  // 3600 / 50
}

TEST(RateLimiter, DisabledAlwaysAllows) {
  RateLimiterConfig cfg;
  cfg.enabled = false;
  cfg.defaults = RateLimit{1, 1};
  RateLimiter rl(cfg);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 1000; ++i) {
    auto d = rl.Check(kCaller, kRoute, t0);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.retry_after_seconds, 0);
  }
}

TEST(RateLimiter, IndependentCallers) {
  RateLimiterConfig cfg;
  cfg.defaults = RateLimit{5, 100};
  RateLimiter rl(cfg);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rl.Check("t1/app/a", kRoute, t0).allowed);
  EXPECT_FALSE(rl.Check("t1/app/a", kRoute, t0).allowed);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rl.Check("t1/app/b", kRoute, t0).allowed);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rl.Check("t2/app/a", kRoute, t0).allowed);
  EXPECT_FALSE(rl.Check("t1/app/b", kRoute, t0).allowed);
}

TEST(RateLimiter, ClockGoingBackwardsDoesNotRefill) {
  RateLimiterConfig cfg;
  cfg.defaults = RateLimit{1, 100};
  RateLimiter rl(cfg);
  const auto t0 = Clock::time_point{} + 1000h;
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t0).allowed);
  auto d = rl.Check(kCaller, kRoute, t0 - 30s);
  EXPECT_FALSE(d.allowed);
  EXPECT_GE(d.retry_after_seconds, 1);
  EXPECT_TRUE(rl.Check(kCaller, kRoute, t0 + 60s).allowed);
}

TEST(RateLimiter, ManyKeysStayUsable) {
  // Exercises the eviction path: more distinct keys than one shard keeps.
  RateLimiterConfig cfg;
  cfg.defaults = RateLimit{1, 10};
  RateLimiter rl(cfg);
  auto t = Clock::time_point{} + 1000h;
  for (int i = 0; i < 16 * 65536 + 5000; ++i) {
    ASSERT_TRUE(rl.Check("caller" + std::to_string(i), kRoute, t).allowed);
    if (i % 100000 == 0) t += 2h;  // earlier keys become idle and evictable
  }
  EXPECT_FALSE(rl.Check("caller" + std::to_string(16 * 65536 + 4999), kRoute, t).allowed);
}

TEST(RateLimiter, ConcurrentCallsRespectTheLimit) {
  RateLimiter rl(RateLimiterConfig{});
  const auto t0 = Clock::time_point{} + 1000h;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) allowed += rl.Check(kCaller, kRoute, t0).allowed ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 100);
}

// Two nodes (two limiters) counting through one shared store: the limit holds for the pair.
TEST(RateLimiter, SharedCountersHoldTheLimitAcrossNodes) {
  test::TempDir dir("ward-ratelimit");
  auto store = state::SqliteStateStore::Open(dir.File("state.db"));
  ASSERT_TRUE(store);
  auto shared = [&](const std::vector<std::string>& keys, int64_t expires_ms) { return (*store)->AddToCounters(keys, expires_ms); };
  RateLimiter node1(RateLimiterConfig{}), node2(RateLimiterConfig{});
  node1.ShareCountsThrough(shared);
  node2.ShareCountsThrough(shared);
  // 10 s into a minute: 100 calls split over the nodes pass, the 101st fails on either.
  const auto t0 = std::chrono::system_clock::time_point{} + std::chrono::hours(500000) + 10s;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((i % 2 ? node1 : node2).CheckShared(kCaller, kRoute, t0).allowed) << i;
  auto d = node1.CheckShared(kCaller, kRoute, t0 + 1s);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 49);  // until the minute's end
  EXPECT_FALSE(node2.CheckShared(kCaller, kRoute, t0 + 2s).allowed);
  EXPECT_TRUE(node2.CheckShared("tenant1/app/other", kRoute, t0).allowed);  // callers are independent
  EXPECT_TRUE(node2.CheckShared(kCaller, "/api/alerts", t0).allowed);        // and so are routes
  EXPECT_TRUE(node1.CheckShared(kCaller, kRoute, t0 + 60s).allowed);         // the next minute
  // Expired windows are swept with the other short-lived artefacts.
  ASSERT_TRUE((*store)->DeleteExpired(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          (t0 + std::chrono::hours(2)).time_since_epoch()).count()));
  EXPECT_TRUE(node1.CheckShared(kCaller, kRoute, t0 + 1s).allowed);
}

TEST(RateLimiter, SharedCountersUnreachableAllowTheCall) {
  RateLimiter rl(RateLimiterConfig{});
  int calls = 0;
  rl.ShareCountsThrough([&](const std::vector<std::string>&, int64_t) -> Result<std::vector<int64_t>> {
    ++calls;
    return Err(Unavailable("database down"));
  });
  for (int i = 0; i < 150; ++i) EXPECT_TRUE(rl.Check(kCaller, kRoute).allowed);
  EXPECT_EQ(calls, 150);
}

}  // namespace
}  // namespace ward::api
