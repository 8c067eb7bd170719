#include "detect/detection_engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/time.h"
#include "state/sqlite_state_store.h"

namespace ward::detect {
namespace {

namespace fs = std::filesystem;

class DetectionEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ward-detect-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cursors");
    auto s = state::SqliteStateStore::Open((dir_ / "state.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateTenant({"t", "T", 1}).ok());
    for (const char* id : {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}) {
      state::Machine m;
      m.tenant_id = "t";
      m.id = id;
      m.host_id = std::string("h") + id;
      m.computer_dns_name = std::string("host-") + id[0];
      ASSERT_TRUE(state::Repo<state::Machine>(*store_).Insert(m).ok());
    }
    state::Indicator i;
    i.tenant_id = "t";
    i.id = "1";
    i.indicator_type = "IpAddress";
    i.indicator_value = "203.0.113.7";
    i.action = "Alert";
    i.title = "Bad address";
    i.severity = "High";
    ASSERT_TRUE(state::Repo<state::Indicator>(*store_).Insert(i).ok());
    events::FileEventLogOptions lo;
    lo.dir = (dir_ / "log").string();
    lo.cursor_dir = (dir_ / "cursors").string();
    auto log = events::FileEventLog::Open(lo);
    ASSERT_TRUE(log);
    log_ = std::move(*log);
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  // One device batch with one connection row to `ip`.
  uint64_t Append(const std::string& device, int64_t report_id, const std::string& ip) {
    const events::TableDef& t = *reg_.Find("DeviceNetworkEvents");
    events::Row row;
    row.table = t.id;
    row.values.assign(t.columns.size(), std::monostate{});
    row.values[t.Find("Timestamp")] = NowTicks();
    row.values[t.Find("DeviceId")] = device;
    row.values[t.Find("ActionType")] = std::string("ConnectionSuccess");
    row.values[t.Find("RemoteIP")] = ip;
    row.values[t.Find("ReportId")] = report_id;
    events::RowBatch b;
    b.tenant_id = "t";
    b.device_id = device;
    b.batch_id = device + std::to_string(report_id);
    b.received_ticks = NowTicks();
    b.rows.push_back(row);
    return *log_->AppendSync(events::EncodeBatch(b));
  }
  void RunUntil(uint64_t offset) {
    metrics::Registry metrics;
    AlertWriter writer(*store_, log_.get(), reg_);
    DetectionEngine engine(*log_, *store_, writer, reg_, metrics);
    engine.AddDetector(std::make_unique<IocDetector>(*store_, reg_, std::chrono::milliseconds(0)));
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(engine.WaitUntilApplied({offset}, std::chrono::seconds(20)));
    engine.Stop();
  }
  std::vector<state::Alert> Alerts() { return *state::Repo<state::Alert>(*store_).List("t"); }

  fs::path dir_;
  const events::SchemaRegistry& reg_ = events::SchemaRegistry::Hunting();
  std::unique_ptr<state::SqliteStateStore> store_;
  std::unique_ptr<events::FileEventLog> log_;
};

TEST_F(DetectionEngineTest, OneAlertPerDetectorAndDeviceWithEveryEvent) {
  const std::string a(40, 'a'), b(40, 'b');
  for (int i = 1; i <= 30; ++i) Append(a, i, i % 3 ? "203.0.113.7" : "198.51.100.1");  // 20 of 30 match
  uint64_t last = Append(b, 1, "203.0.113.7");
  RunUntil(last + 1);
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  for (const state::Alert& al : alerts) {
    EXPECT_EQ(al.detector_id, "indicator:1");
    EXPECT_EQ(al.detection_source, "CustomTi");
    EXPECT_EQ(al.severity, "High");
    EXPECT_EQ(al.event_keys.size(), al.machine_id == a ? 20u : 1u);
  }
}

TEST_F(DetectionEngineTest, ReplayAfterACrashNeitherLosesNorDuplicates) {
  const std::string a(40, 'a');
  uint64_t last = 0;
  for (int i = 1; i <= 25; ++i) last = Append(a, i, "203.0.113.7");
  RunUntil(last + 1);
  // A crash after the alerts were stored but before the cursor moved: replay from the start.
  { std::ofstream(dir_ / "cursors" / "detect.cursor") << "0\n"; }
  for (int i = 26; i <= 30; ++i) last = Append(a, i, "203.0.113.7");
  RunUntil(last + 1);
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  std::set<std::string> keys(alerts[0].event_keys.begin(), alerts[0].event_keys.end());
  EXPECT_EQ(alerts[0].event_keys.size(), 30u);
  EXPECT_EQ(keys.size(), 30u);
  size_t ip_evidence = 0;
  for (const auto& e : alerts[0].evidence) ip_evidence += e.entity_type == "Ip";
  EXPECT_EQ(ip_evidence, 30u);
}

TEST_F(DetectionEngineTest, ResolvedAlertsAreNotReopened) {
  const std::string a(40, 'a');
  uint64_t last = Append(a, 1, "203.0.113.7");
  RunUntil(last + 1);
  auto first = Alerts();
  ASSERT_EQ(first.size(), 1u);
  first[0].status = "Resolved";
  ASSERT_TRUE(state::Repo<state::Alert>(*store_).Update(first[0]).ok());
  last = Append(a, 2, "203.0.113.7");
  RunUntil(last + 1);
  EXPECT_EQ(Alerts().size(), 2u);  // a new alert, the resolved one untouched
}

TEST_F(DetectionEngineTest, AlertsAreAppendedAsHuntingRows) {
  const std::string a(40, 'a');
  uint64_t last = Append(a, 1, "203.0.113.7");
  RunUntil(last + 1);
  auto records = log_->Read(last + 1, 100, 1 << 20);
  ASSERT_TRUE(records);
  ASSERT_FALSE(records->empty());
  auto batch = events::DecodeBatch((*records)[0].data, reg_);
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->device_id.empty());
  EXPECT_EQ(reg_.table(batch->rows[0].table).name, "AlertInfo");
}

}  // namespace
}  // namespace ward::detect
