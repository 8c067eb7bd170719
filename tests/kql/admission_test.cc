#include "kql/admission.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ward::kql {
namespace {

using Clock = QueryAdmission::Clock;

// Waits (bounded) until `tenant` has `n` queries waiting.
void WaitForWaiting(QueryAdmission& a, const std::string& tenant, int n) {
  for (int i = 0; i < 2000 && a.Usage(tenant).waiting < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(a.Usage(tenant).waiting, n);
}

TEST(QueryAdmission, FreeSlotsAdmitAtOnce) {
  QueryAdmission a(2);
  auto t1 = a.Admit("a", Clock::now() + std::chrono::seconds(5));
  auto t2 = a.Admit("a", Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(t1.has_value() && t2.has_value());
  EXPECT_EQ(a.Usage("a").running, 2);
  // Both slots taken: a third waits until its deadline, with MDE's resource message.
  auto t3 = a.Admit("b", Clock::now());
  ASSERT_FALSE(t3.has_value());
  EXPECT_EQ(t3.error().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(t3.error().message().find("exceeded processing resources allocated to this tenant"), std::string::npos);
  t1->Release();
  EXPECT_EQ(a.Usage("a").running, 1);
}

TEST(QueryAdmission, AnotherTenantGoesBeforeABurst) {
  QueryAdmission a(1);
  auto held = a.Admit("busy", Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(held.has_value());
  std::mutex mu;
  std::vector<std::string> order;
  auto run = [&](std::string tenant) {
    auto t = a.Admit(tenant, Clock::now() + std::chrono::seconds(30));
    ASSERT_TRUE(t.has_value());
    std::lock_guard lock(mu);
    order.push_back(tenant);
  };
  // Two more from the busy tenant queue first, then one from a quiet tenant.
  std::thread b1(run, "busy");
  WaitForWaiting(a, "busy", 1);
  std::thread b2(run, "busy");
  WaitForWaiting(a, "busy", 2);
  std::thread q(run, "quiet");
  WaitForWaiting(a, "quiet", 1);
  held->Release();  // the busy tenant has used time; the quiet one has not
  b1.join(), b2.join(), q.join();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], "quiet");
}

TEST(QueryAdmission, CancelStopsTheWait) {
  QueryAdmission a(1);
  auto held = a.Admit("a", Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(held.has_value());
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    while (a.Usage("b").waiting == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  auto t = a.Admit("b", Clock::now() + std::chrono::seconds(30), &cancel);
  canceller.join();
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().message(), "Query was cancelled.");
  EXPECT_EQ(a.Usage("b").waiting, 0);
}

}  // namespace
}  // namespace ward::kql
