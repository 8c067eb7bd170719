#include "identity/login_throttle.h"

#include <gtest/gtest.h>

namespace ward::identity {
namespace {

TEST(LoginThrottleTest, LocksAfterMaxFailuresUntilTheWindowEnds) {
  LoginThrottle t(3, std::chrono::seconds(60));
  auto now = LoginThrottle::Clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.Locked("t/alice", now));
    t.RecordFailure("t/alice", now);
  }
  EXPECT_TRUE(t.Locked("t/alice", now + std::chrono::seconds(30)));
  EXPECT_FALSE(t.Locked("t/bob", now));
  EXPECT_FALSE(t.Locked("t/alice", now + std::chrono::seconds(61)));
}

TEST(LoginThrottleTest, SuccessResetsAndOldFailuresExpire) {
  LoginThrottle t(2, std::chrono::seconds(10));
  auto now = LoginThrottle::Clock::now();
  t.RecordFailure("k", now);
  t.RecordSuccess("k");
  t.RecordFailure("k", now);
  EXPECT_FALSE(t.Locked("k", now));
  t.RecordFailure("k", now + std::chrono::seconds(11));  // a new window starts
  EXPECT_FALSE(t.Locked("k", now + std::chrono::seconds(11)));
}

}  // namespace
}  // namespace ward::identity
