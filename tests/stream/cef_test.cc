// CEF lines for AlertInfo records: the exact header and extensions, MDE's ArcSight names, escaping.
#include "stream/cef.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "common/version.h"
#include "stream/stream_record.h"

namespace ward::stream {
namespace {

StreamRecord Alert(const std::string& properties) {
  StreamRecord r;
  r.table_name = "AlertInfo";
  r.tenant_id = "tenant-1";
  r.time_ticks = *ParseIsoTicks("2024-05-17T13:04:05Z");
  r.json = R"({"time":"2024-05-17T13:04:05.0000000Z","tenantId":"tenant-1","operationName":"Publish",)"
           R"("category":"AdvancedHunting-AlertInfo","_TimeReceivedBySvc":"2024-05-17T13:04:05.0000000Z",)"
           R"("properties":)" + properties + "}";
  return r;
}

std::string Header() { return std::string("CEF:0|Ward|Ward EDR|") + kVersion + "|"; }

TEST(CefTest, MapsEveryAlertInfoColumn) {
  auto line = cef::FormatAlert(Alert(
      R"({"Timestamp":"2024-05-17T13:04:00.5000000Z","AlertId":"wa1","Title":"Reverse shell","Category":"Execution",)"
      R"("Severity":"High","ServiceSource":"Microsoft Defender for Endpoint","DetectionSource":"EDR",)"
      R"("AttackTechniques":"[\"T1059\",\"T1003\"]","MachineGroup":"Web servers"})"));
  ASSERT_TRUE(line.has_value()) << line.error().message();
  EXPECT_EQ(*line, Header() +
                       "Reverse shell|Reverse shell|8|rt=1715951040500 externalId=wa1 cat=Execution sourceServiceName=EDR "
                       "flexString2Label=ServiceSource flexString2=Microsoft Defender for Endpoint "
                       "cs2Label=MachineGroup cs2=Web servers cs3Label=AttackTechniques cs3=T1059, T1003");
}

TEST(CefTest, EscapesHeaderAndExtensionsPerSpec) {
  // JSON text: Title  a|b\c<LF>d   Category  x=y\z|w<CR><LF>v
  auto line = cef::FormatAlert(Alert(R"({"AlertId":"id=1","Title":"a|b\\c\nd","Category":"x=y\\z|w\r\nv","Severity":"low"})"));
  ASSERT_TRUE(line.has_value()) << line.error().message();
  EXPECT_EQ(*line, Header() + R"(a\|b\\c d|a\|b\\c d|3|rt=1715951045000 externalId=id\=1 cat=x\=y\\z|w\r\nv)");
}

TEST(CefTest, LeavesOutEmptyColumnsAndUsesTheRecordTimeWithoutTimestamp) {
  auto line = cef::FormatAlert(Alert(R"({"AlertId":"wa2","Title":"T","Category":null,"MachineGroup":"","AttackTechniques":"[]"})"));
  ASSERT_TRUE(line.has_value()) << line.error().message();
  EXPECT_EQ(*line, Header() + "T|T|5|rt=1715951045000 externalId=wa2");
}

TEST(CefTest, KeepsTechniquesThatAreNotAStringArrayAsTheyAre) {
  auto line = cef::FormatAlert(Alert(R"j({"Title":"T","AttackTechniques":"T1059 (Command line)"})j"));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, Header() + "T|T|5|rt=1715951045000 cs3Label=AttackTechniques cs3=T1059 (Command line)");
}

// The record as the stream service renders it from an AlertInfo row (schema order, ISO datetimes).
TEST(CefTest, ReadsTheRecordStreamRecordRenders) {
  const events::TableDef& info = *events::SchemaRegistry::Hunting().Find("AlertInfo");
  events::RowBatch batch;
  batch.tenant_id = "tenant-1";
  batch.received_ticks = *ParseIsoTicks("2024-05-17T13:04:06Z");
  events::Row row;
  row.table = info.id;
  row.values.resize(info.columns.size());
  auto set = [&](const char* column, events::CellValue v) { row.values[static_cast<size_t>(info.Find(column))] = std::move(v); };
  set("Timestamp", *ParseIsoTicks("2024-05-17T13:04:00.5Z"));
  set("AlertId", std::string("wa9"));
  set("Title", std::string("Sigma: curl piped to sh"));
  set("Category", std::string("Execution"));
  set("Severity", std::string("Medium"));
  set("DetectionSource", std::string("CustomDetection"));
  set("AttackTechniques", std::string(R"(["T1059.004"])"));
  batch.rows.push_back(row);
  auto line = cef::FormatAlert(RenderRecord(batch, 0, info, "Linux servers"));
  ASSERT_TRUE(line.has_value()) << line.error().message();
  EXPECT_EQ(*line, Header() +
                       "Sigma: curl piped to sh|Sigma: curl piped to sh|5|rt=1715951040500 externalId=wa9 cat=Execution "
                       "sourceServiceName=CustomDetection cs2Label=MachineGroup cs2=Linux servers "
                       "cs3Label=AttackTechniques cs3=T1059.004");
}

TEST(CefTest, SeverityScale) {
  EXPECT_EQ(cef::SeverityOf("Informational"), 1);
  EXPECT_EQ(cef::SeverityOf("low"), 3);
  EXPECT_EQ(cef::SeverityOf("Medium"), 5);
  EXPECT_EQ(cef::SeverityOf("HIGH"), 8);
  EXPECT_EQ(cef::SeverityOf("UnSpecified"), 5);
}

TEST(CefTest, RefusesRecordsWithoutProperties) {
  StreamRecord r = Alert("{}");
  r.json = "not json";
  EXPECT_EQ(cef::FormatAlert(r).error().code(), StatusCode::kInvalidArgument);
  r.json = R"({"properties":"x"})";
  EXPECT_EQ(cef::FormatAlert(r).error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ward::stream
