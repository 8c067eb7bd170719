// The action lifecycle against a real SQLite store: one open action per family, cancel, sensor
// reports, the long poll, timeouts, files, and the signed download links.
#include "actions/action_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "common/time.h"
#include "state/temp_state_store.h"

namespace ward::actions {
namespace {

using namespace std::chrono_literals;

class ActionServiceTest : public state::TempStateStoreTest {
 protected:
  ActionServiceTest() : TempStateStoreTest("ward-actions-test") {}
  void SetUp() override {
    TempStateStoreTest::SetUp();
    machine_.tenant_id = tenant_;
    machine_.id = "0123456789abcdef0123456789abcdef01234567";
    machine_.computer_dns_name = "web01.corp.local";
    options_.files_dir = dir_.File("actions");
    options_.pending_timeout = 1000ms;
    options_.running_timeout = 2000ms;
  }
  NewAction Action(const std::string& type) {
    NewAction n;
    n.tenant_id = tenant_;
    n.machine = &machine_;
    n.type = type;
    n.requestor = "analyst@corp.example";
    n.comment = "test";
    return n;
  }
  test::TempDir dir_;
  state::Machine machine_;
  ActionOptions options_;
};

TEST_F(ActionServiceTest, OneOpenActionPerFamilyUntilItIsFinal) {
  ActionService svc(*store_, options_);
  const int64_t t0 = NowMs();
  auto isolate = svc.Create(Action("Isolate"), t0);
  ASSERT_TRUE(isolate.has_value());
  EXPECT_EQ(isolate->status, "Pending");
  auto dup = svc.Create(Action("Unisolate"), t0);
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().message(), "Action is already in progress");
  EXPECT_TRUE(svc.Create(Action("RunAntiVirusScan"), t0).has_value());  // another family
  auto done = svc.Report(tenant_, machine_.id, isolate->id, {"Succeeded", R"({"ok":true})", "", ""}, t0 + 1);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "Succeeded");
  EXPECT_EQ(done->result_json, R"({"ok":true})");
  EXPECT_TRUE(svc.Create(Action("Unisolate"), t0 + 2).has_value());
  // Another device may not report on it.
  EXPECT_FALSE(svc.Report(tenant_, "other", isolate->id, {"Failed", "", "", ""}, t0 + 3).has_value());
}

TEST_F(ActionServiceTest, CancelIsFinalAndTheSensorLearnsIt) {
  ActionService svc(*store_, options_);
  auto scan = svc.Create(Action("RunAntiVirusScan"), NowMs());
  ASSERT_TRUE(scan.has_value());
  ASSERT_TRUE(svc.Report(tenant_, machine_.id, scan->id, {"InProgress", "", "", ""}, NowMs()).has_value());
  auto c = svc.Cancel(tenant_, scan->id, "lead@corp.example", "wrong host", NowMs());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "Cancelled");
  EXPECT_EQ(c->cancellation_requestor, "lead@corp.example");
  EXPECT_FALSE(svc.Cancel(tenant_, scan->id, "x", "again", NowMs()).has_value());
  auto late = svc.Report(tenant_, machine_.id, scan->id, {"Succeeded", "", "", ""}, NowMs());
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->status, "Cancelled");
  EXPECT_TRUE(svc.Poll(tenant_, machine_.id, 0ms, nullptr).empty());
}

TEST_F(ActionServiceTest, LongPollWakesOnCreateAndReturnsOpenActionsInOrder) {
  ActionService svc(*store_, options_);
  std::vector<state::MachineAction> got;
  std::thread waiter([&] { got = svc.Poll(tenant_, machine_.id, 10s, nullptr); });
  std::this_thread::sleep_for(100ms);
  auto a = svc.Create(Action("CollectInvestigationPackage"), NowMs());
  waiter.join();
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, a->id);
  auto b = svc.Create(Action("Isolate"), NowMs() + 5);
  auto open = svc.Poll(tenant_, machine_.id, 0ms, nullptr);
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].id, a->id);
  EXPECT_EQ(open[1].id, b->id);
  // A caller that hung up stops waiting.
  EXPECT_TRUE(svc.Poll(tenant_, "idle-device", 10s, [] { return true; }).empty());
}

TEST_F(ActionServiceTest, PendingAndStalledActionsTimeOut) {
  ActionService svc(*store_, options_);
  const int64_t t0 = NowMs();
  auto pending = svc.Create(Action("Isolate"), t0);
  auto running = svc.Create(Action("RunAntiVirusScan"), t0);
  ASSERT_TRUE(svc.Report(tenant_, machine_.id, running->id, {"InProgress", "", "", ""}, t0 + 500).has_value());
  EXPECT_EQ(svc.Sweep(t0 + 900), 0);
  EXPECT_EQ(svc.Sweep(t0 + 1100), 1);  // the pending one
  EXPECT_EQ(state::Repo<state::MachineAction>(*store_).Get(tenant_, pending->id)->status, "TimeOut");
  EXPECT_EQ(svc.Sweep(t0 + 2600), 1);  // 2 s after its last report
  auto r = state::Repo<state::MachineAction>(*store_).Get(tenant_, running->id);
  EXPECT_EQ(r->status, "TimeOut");
  EXPECT_EQ(r->failure_reason, "the device stopped reporting progress");
  EXPECT_TRUE(svc.Poll(tenant_, machine_.id, 0ms, nullptr).empty());
}

TEST_F(ActionServiceTest, FilesBelongToTheDevicesAction) {
  ActionService svc(*store_, options_);
  auto a = svc.Create(Action("CollectInvestigationPackage"), NowMs());
  EXPECT_FALSE(svc.FilePath(tenant_, a->id, 0).has_value());
  EXPECT_EQ(svc.PutFile(tenant_, "other-device", a->id, 0, "x").code(), StatusCode::kNotFound);
  ASSERT_TRUE(svc.PutFile(tenant_, machine_.id, a->id, 0, "package-bytes").ok());
  auto path = svc.FilePath(tenant_, a->id, 0);
  ASSERT_TRUE(path.has_value());
  EXPECT_FALSE(svc.FilePath("../etc", a->id, 0).has_value());
}

TEST(DownloadLinksTest, TamperedOrExpiredLinksAreRefused) {
  DownloadLinks links("k0123456789abcdef0123456789abcdef");
  const int64_t now = 1'800'000'000'000;
  std::string q = links.Sign("tenant", "action", 0, now + 60'000);  // t=..&e=..&s=..
  auto field = [&](const std::string& key) {
    size_t p = q.find(key + "=");
    size_t end = q.find('&', p);
    return q.substr(p + key.size() + 1, end == std::string::npos ? std::string::npos : end - p - key.size() - 1);
  };
  EXPECT_TRUE(links.Verify("tenant", "action", 0, field("e"), field("s"), now).ok());
  EXPECT_FALSE(links.Verify("tenant", "action", 1, field("e"), field("s"), now).ok());
  EXPECT_FALSE(links.Verify("tenant2", "action", 0, field("e"), field("s"), now).ok());
  EXPECT_FALSE(links.Verify("tenant", "action", 0, std::to_string(std::stoll(field("e")) + 3600), field("s"), now).ok());
  EXPECT_FALSE(links.Verify("tenant", "action", 0, field("e"), field("s"), now + 120'000).ok());
  EXPECT_FALSE(DownloadLinks("another-key-0123456789abcdef0123").Verify("tenant", "action", 0, field("e"), field("s"), now).ok());
}

// Nodes sharing a directory start at the same time: every one must end up with the same key, or a
// link signed by one would be refused by another.
TEST(DownloadLinksTest, NodesStartingTogetherShareOneLinkKey) {
  test::TempDir dir("ward-linkkey");
  const std::string path = dir.File("shared/actions/links.key");
  std::vector<std::string> keys(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < keys.size(); ++i) {
    threads.emplace_back([&, i] {
      auto k = LoadOrCreateLinkKey(path);
      keys[i] = k ? *k : "error: " + k.error().message();
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& k : keys) EXPECT_EQ(k, keys[0]);
  EXPECT_EQ(keys[0].size(), 32u);
  auto again = LoadOrCreateLinkKey(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, keys[0]);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.File("shared/actions")), {}), 1);  // no temp files left
}

}  // namespace
}  // namespace ward::actions
