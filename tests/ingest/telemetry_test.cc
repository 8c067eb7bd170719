#include "ingest/telemetry.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include "common/time.h"

namespace ward::ingest {
namespace {

state::Machine Device() {
  state::Machine m;
  m.tenant_id = "t";
  m.id = std::string(40, 'a');
  m.computer_dns_name = "host-1";
  return m;
}

const events::SchemaRegistry& R() { return events::SchemaRegistry::Hunting(); }

TEST(TelemetryTest, ValidEventsBecomeTypedRows) {
  std::string body =
      R"({"$table":"DeviceProcessEvents","Timestamp":"2026-01-02T03:04:05.1234567Z","ActionType":"ProcessCreated","ProcessId":42,"ProcessCommandLine":"ls -la","AdditionalFields":{"a":1}})"
      "\n\n"
      R"({"$table":"DeviceInfo","Timestamp":"2026-01-02T03:04:05Z","IsAzureADJoined":false,"OSBuild":7})";
  auto parsed = ParseTelemetry(body, Device(), R(), NowTicks());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  ASSERT_EQ(parsed->batch.rows.size(), 2u);
  EXPECT_TRUE(parsed->rejected.empty());
  const events::TableDef* t = R().Find("DeviceProcessEvents");
  const events::Row& row = parsed->batch.rows[0];
  EXPECT_EQ(row.table, t->id);
  EXPECT_EQ(std::get<int64_t>(row.values[t->Find("ProcessId")]), 42);
  EXPECT_EQ(std::get<std::string>(row.values[t->Find("DeviceId")]), std::string(40, 'a'));
  EXPECT_EQ(std::get<std::string>(row.values[t->Find("DeviceName")]), "host-1");
  EXPECT_EQ(std::get<std::string>(row.values[t->Find("AdditionalFields")]), R"({"a":1})");
  EXPECT_EQ(FormatIsoTicks(std::get<int64_t>(row.values[t->Find("Timestamp")])), "2026-01-02T03:04:05.1234567Z");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(row.values[t->Find("SHA1")]));
}

TEST(TelemetryTest, BadEventsAreRejectedOneByOne) {
  std::string body = R"([
    {"$table":"DeviceProcessEvents","Timestamp":"2026-01-02T03:04:05Z","ProcessId":"x"},
    {"$table":"Nope","Timestamp":"2026-01-02T03:04:05Z"},
    {"Timestamp":"2026-01-02T03:04:05Z"},
    {"$table":"DeviceProcessEvents","Timestamp":"yesterday"},
    {"$table":"DeviceProcessEvents","Timestamp":"2026-01-02T03:04:05Z","DeviceId":"bbbb"},
    {"$table":"DeviceNetworkEvents","Timestamp":"2026-01-02T03:04:05Z","RemotePort":99999999999},
    {"$table":"DeviceInfo","Timestamp":"2026-01-02T03:04:05Z","IsAzureADJoined":"yes"},
    {"$table":"DeviceProcessEvents","Timestamp":"2999-01-01T00:00:00Z"},
    {"$table":"DeviceProcessEvents"},
    7,
    {"$table":"DeviceProcessEvents","Timestamp":"2026-01-02T03:04:05Z","ActionType":"ProcessCreated"}
  ])";
  auto parsed = ParseTelemetry(body, Device(), R(), NowTicks());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->batch.rows.size(), 1u);
  ASSERT_EQ(parsed->rejected.size(), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(parsed->rejected[i].index, i);
  EXPECT_NE(parsed->rejected[4].reason.find("DeviceId"), std::string::npos);
  EXPECT_NE(parsed->rejected[7].reason.find("future"), std::string::npos);
}

TEST(TelemetryTest, LimitsApply) {
  TelemetryLimits limits;
  limits.max_events = 2;
  std::string line = R"({"$table":"DeviceLogonEvents","Timestamp":"2026-01-02T03:04:05Z"})";
  EXPECT_FALSE(ParseTelemetry(line + "\n" + line + "\n" + line, Device(), R(), NowTicks(), limits));
  EXPECT_FALSE(ParseTelemetry("{not json at all", Device(), R(), NowTicks())->batch.rows.size());
}

TEST(TelemetryTest, DecompressesZstdAndGzipAndRefusesBombs) {
  std::string text(100000, 'x');
  std::string z(ZSTD_compressBound(text.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), text.data(), text.size(), 1));
  auto out = Decompress(z, "zstd", 1 << 20);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, text);
  EXPECT_EQ(Decompress(z, "zstd", 1000).error().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(Decompress(z.substr(0, z.size() / 2), "zstd", 1 << 20));
  EXPECT_FALSE(Decompress("garbage", "zstd", 1 << 20));

  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string g(deflateBound(&zs, text.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(text.data());
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(g.data());
  zs.avail_out = static_cast<uInt>(g.size());
  deflate(&zs, Z_FINISH);
  g.resize(zs.total_out);
  deflateEnd(&zs);
  auto gout = Decompress(g, "gzip", 1 << 20);
  ASSERT_TRUE(gout);
  EXPECT_EQ(*gout, text);
  EXPECT_FALSE(Decompress(g.substr(0, g.size() - 10), "gzip", 1 << 20));
  EXPECT_FALSE(Decompress("x", "br", 1 << 20));
}

}  // namespace
}  // namespace ward::ingest
