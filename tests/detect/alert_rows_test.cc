#include "detect/alert_rows.h"

#include <gtest/gtest.h>

namespace ward::detect {
namespace {

const events::CellValue& Cell(const events::Row& row, const events::TableDef& t, std::string_view column) {
  int i = t.Find(column);
  EXPECT_GE(i, 0) << column;
  return row.values.at(static_cast<size_t>(i));
}

TEST(AlertRowsTest, InfoAndEvidenceRowsFollowTheHuntingSchema) {
  const events::SchemaRegistry& reg = events::SchemaRegistry::Hunting();
  state::Alert a;
  a.tenant_id = "t";
  a.id = "da638000000000000000_1";
  a.title = "Suspicious download";
  a.category = "Execution";
  a.severity = "High";
  a.alert_creation_ms = 1'700'000'000'000;
  a.machine_id = std::string(40, 'a');
  a.computer_dns_name = "web01";
  a.mitre_techniques = {"T1105"};
  state::AlertEvidence p;
  p.entity_type = "Process";
  p.file_name = "curl";
  p.sha1 = std::string(40, 'b');
  p.process_command_line = "curl x";
  state::AlertEvidence ip;
  ip.entity_type = "Ip";
  ip.ip_address = "198.51.100.7";
  a.evidence = {p, ip};

  events::RowBatch b = AlertRows(a, reg, 5);
  ASSERT_EQ(b.rows.size(), 4u);  // AlertInfo, the device, two pieces of evidence
  EXPECT_TRUE(b.device_id.empty());
  const events::TableDef& info = *reg.Find("AlertInfo");
  const events::TableDef& ev = *reg.Find("AlertEvidence");
  ASSERT_EQ(b.rows[0].table, info.id);
  EXPECT_EQ(std::get<int64_t>(Cell(b.rows[0], info, "Timestamp")), int64_t{1'700'000'000'000} * 10'000);
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[0], info, "AlertId")), a.id);
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[0], info, "AttackTechniques")), R"(["T1105"])");
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[1], ev, "EntityType")), "Machine");
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[1], ev, "DeviceName")), "web01");
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[2], ev, "EntityType")), "Process");
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[2], ev, "SHA1")), p.sha1);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(Cell(b.rows[2], ev, "RemoteIP")));
  EXPECT_EQ(std::get<std::string>(Cell(b.rows[3], ev, "RemoteIP")), "198.51.100.7");
  // Encodes and decodes as any telemetry batch (what the log and the store read).
  auto decoded = events::DecodeBatch(events::EncodeBatch(b), reg);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->rows.size(), 4u);

  // Merged evidence: only the new rows, no second AlertInfo.
  events::RowBatch more = AlertRows(a, reg, 5, 1, false);
  ASSERT_EQ(more.rows.size(), 1u);
  EXPECT_EQ(std::get<std::string>(Cell(more.rows[0], ev, "EntityType")), "Ip");
}

}  // namespace
}  // namespace ward::detect
