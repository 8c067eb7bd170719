// The stream service against a real event log, SQLite store and File destination: every record
// arrives, in MDE's format, filtered by table and device group; a failing destination lags and
// then drains without loss; a restart resumes from the cursor; a replay sends records again.
#include "stream/stream_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/temp_dir.h"
#include "common/time.h"
#include "events/rows.h"
#include "state/temp_state_store.h"
#include "stream/stream_record.h"

namespace ward::stream {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const events::SchemaRegistry& Schema() { return events::SchemaRegistry::Hunting(); }

events::Row MakeRow(const std::string& table, const std::string& device, const std::string& report) {
  const events::TableDef& t = *Schema().Find(table);
  events::Row row;
  row.table = t.id;
  row.values.resize(t.columns.size());
  auto set = [&](const char* col, events::CellValue v) {
    int c = t.Find(col);
    if (c >= 0) row.values[c] = std::move(v);
  };
  set("Timestamp", NowTicks());
  set("DeviceId", device);
  set("DeviceName", std::string("web01"));
  set("ReportId", static_cast<int64_t>(std::stoll(report)));
  set("FileName", std::string("bash"));
  set("AdditionalFields", std::string(R"({"k":1})"));
  return row;
}

class StreamServiceTest : public state::TempStateStoreTest {
 protected:
  StreamServiceTest() : TempStateStoreTest("ward-stream-test") {}
  void SetUp() override {
    TempStateStoreTest::SetUp();
    events::FileEventLogOptions lo;
    lo.dir = dir_.File("log");
    lo.cursor_dir = dir_.File("cursors");
    log_ = std::move(*events::FileEventLog::Open(lo));
    state::DeviceGroup web{tenant_, 7, "Web servers"};
    web.rank = 1;
    state::DeviceGroup other{tenant_, 8, "Other"};
    other.rank = 2;
    ASSERT_TRUE(state::Repo<state::DeviceGroup>(*store_).Insert(web).ok());
    ASSERT_TRUE(state::Repo<state::DeviceGroup>(*store_).Insert(other).ok());
    for (auto [id, group] : {std::pair{kWeb, 7}, std::pair{kDb, 8}}) {
      state::Machine m;
      m.tenant_id = tenant_;
      m.id = id;
      m.rbac_group_id = group;
      ASSERT_TRUE(state::Repo<state::Machine>(*store_).Insert(m).ok());
    }
    options_.cursor_dir = dir_.File("cursors");
    options_.dead_letter_dir = dir_.File("deadletters");
    options_.sink_context.files_dir = dir_.File("files");
    options_.refresh = 50ms;
    options_.retry_initial = 20ms;
    options_.retry_max = 100ms;
  }

  // Appends one batch of `n` process events and one file event for `device`.
  void Append(const std::string& device, int n, std::string tenant = "") {
    events::RowBatch b;
    b.tenant_id = tenant.empty() ? tenant_ : tenant;
    b.device_id = device;
    b.batch_id = "b" + std::to_string(next_report_);
    b.received_ticks = NowTicks();
    for (int i = 0; i < n; ++i) b.rows.push_back(MakeRow("DeviceProcessEvents", device, std::to_string(next_report_++)));
    b.rows.push_back(MakeRow("DeviceFileEvents", device, std::to_string(next_report_++)));
    ASSERT_TRUE(log_->AppendSync(events::EncodeBatch(b)).has_value());
  }

  state::StreamConfiguration Config(std::vector<std::string> groups = {}) {
    state::StreamConfiguration c;
    c.tenant_id = tenant_;
    c.id = "8c7a1b4e-0000-4000-8000-000000000001";
    c.name = "archive";
    c.event_types = {"AdvancedHunting-DeviceProcessEvents"};
    c.device_groups = std::move(groups);
    c.destinations_json = R"([{"name":"local","type":"File","directory":"out"}])";
    return c;
  }

  std::vector<json::Value> Lines(const std::string& table = "DeviceProcessEvents") {
    std::vector<json::Value> out;
    std::ifstream in(dir_.File("files") + "/out/" + table + ".ndjson");
    for (std::string line; std::getline(in, line);) out.push_back(*json::Value::Parse(line));
    return out;
  }

  static constexpr const char* kWeb = "1111111111111111111111111111111111111111";
  static constexpr const char* kDb = "2222222222222222222222222222222222222222";
  test::TempDir dir_{"ward-stream"};
  std::unique_ptr<events::FileEventLog> log_;
  metrics::Registry metrics_;
  StreamServiceOptions options_;
  int next_report_ = 1;
};

TEST_F(StreamServiceTest, DeliversEveryRecordOfItsTablesInMdeFormat) {
  Append(kWeb, 3);  // before the configuration: not streamed
  StreamService svc(*log_, *store_, Schema(), metrics_, options_);
  state::StreamConfiguration c = Config();
  ASSERT_TRUE(svc.PrepareCursors(c, std::nullopt).ok());
  ASSERT_TRUE(state::Repo<state::StreamConfiguration>(*store_).Insert(c).ok());
  ASSERT_TRUE(svc.Start().ok());
  Append(kWeb, 2);
  Append(kDb, 4);
  Append(kWeb, 5, "another-tenant");
  ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_FALSE(fs::exists(dir_.File("files") + "/out/DeviceFileEvents.ndjson"));
  const json::Value& r = lines[0];
  std::vector<std::string> keys;
  for (const json::Member& m : r.members()) keys.push_back(m.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"time", "tenantId", "operationName", "category", "_TimeReceivedBySvc", "properties"}));
  EXPECT_EQ(r.GetString("tenantId"), tenant_);
  EXPECT_EQ(r.GetString("operationName"), "Publish");
  EXPECT_EQ(r.GetString("category"), "AdvancedHunting-DeviceProcessEvents");
  const json::Value* p = r.Find("properties");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->GetString("DeviceId"), kWeb);
  EXPECT_EQ(p->GetString("MachineGroup"), "Web servers");
  EXPECT_EQ(p->GetInt("ReportId"), 5);
  // MDE's Device* AdditionalFields is a string column: it streams as the JSON text.
  EXPECT_EQ(p->GetString("AdditionalFields"), R"({"k":1})");
  EXPECT_TRUE(p->Find("InitiatingProcessFileName")->is_null());
  EXPECT_EQ(lines[5].Find("properties")->GetString("MachineGroup"), "Other");
  auto status = svc.StatusOf(tenant_, c.id);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].delivered, 6u);
  EXPECT_EQ(status[0].state, "Running");
  EXPECT_EQ(status[0].cursor, log_->EndOffset());
}

TEST_F(StreamServiceTest, DeviceGroupFilterKeepsOnlyThoseGroups) {
  StreamService svc(*log_, *store_, Schema(), metrics_, options_);
  state::StreamConfiguration c = Config({"web SERVERS"});
  ASSERT_TRUE(svc.PrepareCursors(c, std::nullopt).ok());
  ASSERT_TRUE(state::Repo<state::StreamConfiguration>(*store_).Insert(c).ok());
  ASSERT_TRUE(svc.Start().ok());
  Append(kWeb, 2);
  Append(kDb, 4);
  ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  for (const json::Value& l : lines) EXPECT_EQ(l.Find("properties")->GetString("DeviceId"), kWeb);
}

TEST_F(StreamServiceTest, AFailingDestinationLagsThenDrainsWithoutLoss) {
  // The destination's directory cannot be made while a file stands in its place.
  fs::create_directories(dir_.File("files"));
  std::ofstream(dir_.File("files") + "/out") << "in the way";
  StreamService svc(*log_, *store_, Schema(), metrics_, options_);
  state::StreamConfiguration c = Config();
  ASSERT_TRUE(svc.PrepareCursors(c, std::nullopt).ok());
  ASSERT_TRUE(state::Repo<state::StreamConfiguration>(*store_).Insert(c).ok());
  ASSERT_TRUE(svc.Start().ok());
  for (int i = 0; i < 10; ++i) Append(kWeb, 3);
  DestinationStatus s;
  for (int i = 0; i < 500 && s.failures < 2; ++i) {
    std::this_thread::sleep_for(10ms);
    auto all = svc.StatusOf(tenant_, c.id);
    if (!all.empty()) s = all[0];
  }
  EXPECT_EQ(s.state, "Retrying");
  EXPECT_NE(s.last_error.find("out"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_LT(s.cursor, s.end_offset);
  EXPECT_GT(s.lag_seconds, 0);
  EXPECT_EQ(events::TotalOffset(svc.oldest_needed()), s.cursor);  // the log keeps what it has not delivered
  fs::remove(dir_.File("files") + "/out");
  ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
  EXPECT_EQ(Lines().size(), 30u);
  auto after = svc.StatusOf(tenant_, c.id);
  EXPECT_EQ(after[0].state, "Running");
  EXPECT_EQ(after[0].lag_seconds, 0);
}

TEST_F(StreamServiceTest, ARestartResumesFromTheCursorAndAReplaySendsAgain) {
  state::StreamConfiguration c = Config();
  {
    StreamService svc(*log_, *store_, Schema(), metrics_, options_);
    ASSERT_TRUE(svc.PrepareCursors(c, std::nullopt).ok());
    ASSERT_TRUE(state::Repo<state::StreamConfiguration>(*store_).Insert(c).ok());
    ASSERT_TRUE(svc.Start().ok());
    Append(kWeb, 2);
    ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
  }
  int64_t between = NowTicks();
  Append(kWeb, 3);  // while the service is down
  {
    StreamService svc(*log_, *store_, Schema(), metrics_, options_);
    ASSERT_TRUE(svc.Start().ok());
    ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
    EXPECT_EQ(Lines().size(), 5u);
    // Replay from between the two batches: the second batch again, once.
    auto stored = *state::Repo<state::StreamConfiguration>(*store_).Get(tenant_, c.id);
    stored.replay_from_ticks = between;
    stored.replay_generation = 1;
    ASSERT_TRUE(state::Repo<state::StreamConfiguration>(*store_).Update(stored).ok());
    svc.Reconcile();
    for (int i = 0; i < 500 && Lines().size() < 8; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
    EXPECT_EQ(Lines().size(), 8u);
  }
  {
    StreamService svc(*log_, *store_, Schema(), metrics_, options_);
    ASSERT_TRUE(svc.Start().ok());
    ASSERT_TRUE(svc.WaitUntilDelivered(tenant_, c.id, {log_->EndOffset()}, 10s));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(Lines().size(), 8u);  // the replay is not repeated by a restart
  }
}

TEST_F(StreamServiceTest, ReplayReachesBackAsFarAsTheLogDoes) {
  events::FileEventLogOptions lo;
  lo.dir = dir_.File("small-log");
  lo.segment_bytes = 1;  // a segment per record, so truncation drops whole records
  auto log = std::move(*events::FileEventLog::Open(lo));
  log_ = std::move(log);
  StreamService svc(*log_, *store_, Schema(), metrics_, options_);
  EXPECT_EQ(svc.earliest_replayable_ticks(), 0);  // empty
  std::vector<int64_t> times;
  for (int i = 0; i < 6; ++i) {
    Append(kWeb, 1);
    auto rec = log_->Read(log_->EndOffset() - 1, 1, 1);
    times.push_back(events::DecodeBatch((*rec)[0].data, Schema())->received_ticks);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(svc.earliest_replayable_ticks(), 0);  // nothing dropped yet: any time is replayable
  EXPECT_EQ(*svc.PositionAt(0), events::LogPosition{0});
  EXPECT_EQ(*svc.PositionAt(times[3]), events::LogPosition{3});
  EXPECT_EQ(*svc.PositionAt(times[3] + 1), events::LogPosition{4});
  EXPECT_EQ(*svc.PositionAt(times[5] + 1), events::LogPosition{6});  // after everything: the end
  ASSERT_TRUE(log_->TruncateBefore(2).ok());
  EXPECT_EQ(svc.earliest_replayable_ticks(), times[2]);
  EXPECT_EQ(*svc.PositionAt(0), events::LogPosition{2});  // as far back as the log reaches
}

TEST(StreamRecordTest, NamesAsMdeDoes) {
  EXPECT_EQ(CategoryOf("DeviceFileEvents"), "AdvancedHunting-DeviceFileEvents");
  EXPECT_EQ(ContainerOf("DeviceFileEvents"), "insights-logs-advancedhunting-devicefileevents");
  EXPECT_EQ(TableOfCategory(Schema(), "advancedhunting-alertinfo")->name, "AlertInfo");
  EXPECT_EQ(TableOfCategory(Schema(), "AdvancedHunting-Nope"), nullptr);
  EXPECT_EQ(TableOfCategory(Schema(), "DeviceFileEvents"), nullptr);
  int64_t t = *ParseIsoTicks("2024-05-07T09:41:12.5Z");
  EXPECT_EQ(BlobPathOf("tid", t), "tenantId=tid/y=2024/m=05/d=07/h=09/m=00/PT1H.json");
}

TEST(StreamRecordTest, RendersEveryColumnTypeAsMdeDoes) {
  // IdentityLogonEvents has dynamic AdditionalFields; DeviceInfo has bool and long columns.
  const events::TableDef& identity = *Schema().Find("IdentityLogonEvents");
  events::RowBatch b;
  b.tenant_id = "tid";
  b.received_ticks = *ParseIsoTicks("2024-05-07T09:41:12.1234567Z");
  events::Row row;
  row.table = identity.id;
  row.values.resize(identity.columns.size());
  row.values[identity.Find("Timestamp")] = *ParseIsoTicks("2024-05-07T09:40:00Z");
  row.values[identity.Find("AdditionalFields")] = std::string(R"({"Count":2,"To":["a"]})");
  row.values[identity.Find("ActionType")] = std::string("Logon\"\n");
  b.rows.push_back(row);
  StreamRecord r = RenderRecord(b, 0, identity, "Web");
  auto v = json::Value::Parse(r.json);
  ASSERT_TRUE(v.has_value()) << r.json;
  EXPECT_EQ(v->GetString("time"), "2024-05-07T09:41:12.1234567Z");
  const json::Value& p = *v->Find("properties");
  EXPECT_EQ(p.GetString("Timestamp"), "2024-05-07T09:40:00.0000000Z");
  EXPECT_EQ(p.Find("AdditionalFields")->GetInt("Count"), 2);  // a dynamic column is JSON
  EXPECT_EQ(p.GetString("ActionType"), "Logon\"\n");
  EXPECT_EQ(p.GetString("MachineGroup"), "Web");
  EXPECT_EQ(p.members().back().key, "MachineGroup");
  EXPECT_EQ(r.json.find('\n'), std::string::npos);  // one line per record

  // A dynamic cell that is not JSON stays a string rather than breaking the record.
  b.rows[0].values[identity.Find("AdditionalFields")] = std::string("{not json");
  auto broken = json::Value::Parse(RenderRecord(b, 0, identity, "").json);
  ASSERT_TRUE(broken.has_value());
  EXPECT_EQ(broken->Find("properties")->GetString("AdditionalFields"), "{not json");

  const events::TableDef& info = *Schema().Find("DeviceInfo");
  events::Row d;
  d.table = info.id;
  d.values.resize(info.columns.size());
  int boolean = -1;
  for (size_t c = 0; c < info.columns.size(); ++c) {
    if (info.columns[c].type == events::ColumnType::kBool) boolean = static_cast<int>(c);
  }
  ASSERT_GE(boolean, 0);
  d.values[boolean] = int64_t{1};
  b.rows = {d};
  std::string dtext = RenderRecord(b, 0, info, "").json;
  auto dv = json::Value::Parse(dtext);
  ASSERT_TRUE(dv.has_value()) << dtext << dv.error().message();
  EXPECT_TRUE(dv->Find("properties")->Find(info.columns[boolean].name)->as_bool());
  EXPECT_EQ(dv->Find("properties")->GetString("MachineGroup"), "");  // its own column, once

  StreamRecord second = RenderRecord(b, 0, info, "");
  const StreamRecord* both[] = {&second, &second};
  auto wrapped = json::Value::Parse(WrapRecords(both));
  ASSERT_TRUE(wrapped.has_value());
  EXPECT_EQ(wrapped->Find("records")->items().size(), 2u);
}

}  // namespace
}  // namespace ward::stream
