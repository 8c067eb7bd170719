#include "api/hunting.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "json/json.h"

namespace ward::api {
namespace {

const int64_t kNow = *ParseIsoTicks("2026-12-01T12:00:00Z");
const int64_t kDay = int64_t{86400} * kTicksPerSecond;

TEST(GraphTimespan, EveryFormGraphAccepts) {
  struct Case {
    const char* text;
    const char* start;
    const char* end;
  };
  const Case cases[] = {
      {"P30D", "2026-11-01T12:00:00Z", "2026-12-01T12:00:00Z"},
      {"PT1H30M", "2026-12-01T10:30:00Z", "2026-12-01T12:00:00Z"},
      {"P1W", "2026-11-24T12:00:00Z", "2026-12-01T12:00:00Z"},
      {"2026-11-20T00:00:00Z/2026-11-21T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"},
      {"P2D/2026-11-21T00:00:00Z", "2026-11-19T00:00:00Z", "2026-11-21T00:00:00Z"},
      {"2026-11-20T00:00:00Z/P1DT12H", "2026-11-20T00:00:00Z", "2026-11-21T12:00:00Z"},
      {"2026-11-25T00:00:00Z", "2026-11-25T00:00:00Z", "2026-12-01T12:00:00Z"},
  };
  for (const Case& c : cases) {
    auto w = ParseGraphTimespan(c.text, kNow);
    ASSERT_TRUE(w.has_value()) << c.text << ": " << w.error().message();
    EXPECT_EQ(w->start_ticks, *ParseIsoTicks(c.start)) << c.text;
    EXPECT_EQ(w->end_ticks, *ParseIsoTicks(c.end)) << c.text;
  }
  EXPECT_EQ(ParseGraphTimespan("P90D", kNow)->start_ticks, kNow - 90 * kDay);
}

TEST(GraphTimespan, MalformedIsRefused) {
  for (const char* bad : {"", "30D", "P", "PT", "P1M", "P1Y", "PXD", "P1DT", "2026-13-01", "P1D/P2D", "x/y",
                          "2026-11-21T00:00:00Z/2026-11-20T00:00:00Z", "P99999D"}) {
    auto w = ParseGraphTimespan(bad, kNow);
    EXPECT_FALSE(w.has_value()) << bad;
    if (!w) EXPECT_EQ(w.error().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(GraphHuntingResult, LowerCaseKeysAndTypedCells) {
  kql::QueryResult r;
  kql::Column ts{"Timestamp", kql::Type::kDateTime, {*ParseIsoTicks("2026-12-01T12:00:00Z")}, {}, {}, {0}};
  kql::Column name{"FileName", kql::Type::kString, {}, {}, {"curl"}, {0}};
  r.columns = {ts, name};
  r.rows = 1;
  auto v = json::Value::Parse(GraphHuntingResultJson(r));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v->GetString("@odata.context"), "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults");
  const auto& schema = v->Find("schema")->items();
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(*schema[0].GetString("name"), "Timestamp");
  EXPECT_EQ(*schema[0].GetString("type"), "DateTime");
  const auto& rows = v->Find("results")->items();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(*rows[0].GetString("Timestamp"), "2026-12-01T12:00:00.0000000Z");
  EXPECT_EQ(*rows[0].GetString("FileName"), "curl");
}

}  // namespace
}  // namespace ward::api
