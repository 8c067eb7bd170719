// Pushdown into the columnar store: a time range and a `has` on a term-indexed column must skip
// whole segments/blocks (QueryResult::stats) and still give exactly the rows the same predicates
// give when hidden behind iff(), which the planner cannot push down.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <stdlib.h>

#include "events/event_store.h"
#include "kql/engine.h"

namespace ward::kql {
namespace {

std::vector<std::string> Rows(const QueryResult& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < r.rows; ++i) {
    std::string s;
    for (const auto& c : r.columns) {
      s += c.nulls[i] ? "<null>" : !c.strings.empty() ? c.strings[i] : !c.ints.empty() ? std::to_string(c.ints[i]) : std::to_string(c.reals[i]);
      s += '|';
    }
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Pushdown, TimeRangeAndHasSkipSegmentsWithTheSameResults) {
  const auto& reg = events::SchemaRegistry::Hunting();
  const events::TableDef* t = reg.Find("DeviceProcessEvents");
  ASSERT_NE(t, nullptr);
  char tmpl[] = "/tmp/ward_kql_pushdown_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  events::ColumnarStoreOptions so;
  so.dir = dir;
  so.seal_rows = 500;  // many sealed segments
  so.block_rows = 100;
  auto store = events::ColumnarStore::Open(so, reg);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  const int64_t hour = int64_t{3600} * 10'000'000;
  const int64_t now = int64_t{1'764'000'000} * 10'000'000;
  // 20,000 rows over 40 hours, oldest first; one row in 50 has the term "xmrig" (and one in 7 the
  // near miss "xmrigd", which `has` must not match).
  const int n = 20000;
  for (int b = 0; b < n / 500; ++b) {
    events::RowBatch batch;
    batch.tenant_id = "tenant-a";
    batch.device_id = std::string(40, 'a');
    for (int i = b * 500; i < (b + 1) * 500; ++i) {
      events::Row row;
      row.table = t->id;
      row.values.assign(t->columns.size(), std::monostate{});
      row.values[t->Find("Timestamp")] = now - 40 * hour + int64_t{i} * (40 * hour / n);
      row.values[t->Find("DeviceId")] = batch.device_id;
      row.values[t->Find("DeviceName")] = std::string("host-") + std::to_string(i % 5);
      row.values[t->Find("ProcessCommandLine")] =
          i % 50 == 0 ? "/tmp/xmrig --donate-level 1 -o pool" + std::to_string(i) : i % 7 == 0 ? "/usr/bin/xmrigd -x" : "bash -c ls " + std::to_string(i);
      batch.rows.push_back(std::move(row));
    }
    ASSERT_TRUE((*store)->Append(batch).ok());
  }
  ASSERT_TRUE((*store)->Flush().ok());
  QueryOptions opts;
  opts.tenant_id = "tenant-a";
  opts.now_ticks = now;
  auto pushed = RunQuery("DeviceProcessEvents | where Timestamp > ago(10h) and ProcessCommandLine has 'xmrig' "
                         "| project Timestamp, DeviceName, ProcessCommandLine",
                         opts, **store, reg);
  auto hidden = RunQuery("DeviceProcessEvents | where iff(true, Timestamp, datetime(null)) > ago(10h) "
                         "and iff(true, ProcessCommandLine, '') has 'xmrig' | project Timestamp, DeviceName, ProcessCommandLine",
                         opts, **store, reg);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(pushed.has_value()) << pushed.error().message();
  ASSERT_TRUE(hidden.has_value()) << hidden.error().message();
  // The last 10 of 40 hours hold rows 15000..19999, 100 of them with the term; row 15000 sits
  // exactly at ago(10h) and `>` is strict, so 99.
  EXPECT_EQ(pushed->rows, 99u);
  EXPECT_EQ(Rows(*pushed), Rows(*hidden));
  EXPECT_GT(pushed->stats.segments_total, 10u);
  EXPECT_GT(pushed->stats.segments_skipped, pushed->stats.segments_total / 2) << "time range not pushed down";
  EXPECT_EQ(hidden->stats.segments_skipped, 0u) << "iff() was expected to defeat pushdown";
  EXPECT_LT(pushed->stats.rows_scanned, hidden->stats.rows_scanned);
}

// `matches regex` and `in~` run in the store when pushed down; the answers must not change.
TEST(Pushdown, RegexAndInCiGiveTheSameRowsPushedOrNot) {
  const auto& reg = events::SchemaRegistry::Hunting();
  const events::TableDef* t = reg.Find("DeviceProcessEvents");
  char tmpl[] = "/tmp/ward_kql_pushdown_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  events::ColumnarStoreOptions so;
  so.dir = dir;
  so.seal_rows = 300;
  so.block_rows = 64;
  auto store = events::ColumnarStore::Open(so, reg);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  const int64_t now = int64_t{1'764'000'000} * 10'000'000;
  const char* const kFiles[] = {"curl", "CURL", "wget", "bash", "Wget.exe", ""};
  for (int b = 0; b < 10; ++b) {
    events::RowBatch batch;
    batch.tenant_id = "tenant-a";
    batch.device_id = std::string(40, 'a');
    for (int i = b * 250; i < (b + 1) * 250; ++i) {
      events::Row row;
      row.table = t->id;
      row.values.assign(t->columns.size(), std::monostate{});
      row.values[t->Find("Timestamp")] = now - int64_t{i} * 10'000'000;
      if (i % 11 != 0) row.values[t->Find("FileName")] = std::string(kFiles[i % 6]);  // some nulls
      if (i % 13 != 0) {
        row.values[t->Find("ProcessCommandLine")] =
            i % 9 == 0 ? "curl -s http://10.0." + std::to_string(i % 7) + ".1/x | sh" : "ls -la /tmp/" + std::to_string(i);
      }
      batch.rows.push_back(std::move(row));
    }
    ASSERT_TRUE((*store)->Append(batch).ok());
    if (b % 3 == 0) ASSERT_TRUE((*store)->Flush().ok());  // sealed segments and a memory tail
  }
  QueryOptions opts;
  opts.tenant_id = "tenant-a";
  opts.now_ticks = now;
  auto both = [&](const std::string& pushed_q, const std::string& hidden_q, size_t want) {
    auto pushed = RunQuery(pushed_q, opts, **store, reg);
    auto hidden = RunQuery(hidden_q, opts, **store, reg);
    ASSERT_TRUE(pushed.has_value()) << pushed.error().message();
    ASSERT_TRUE(hidden.has_value()) << hidden.error().message();
    EXPECT_EQ(Rows(*pushed), Rows(*hidden)) << pushed_q;
    EXPECT_EQ(pushed->rows, want) << pushed_q;
  };
  const std::string cols = " | project Timestamp, FileName, ProcessCommandLine";
  both("DeviceProcessEvents | where ProcessCommandLine matches regex @'curl .*http://[0-9.]+/'" + cols,
       "DeviceProcessEvents | where iff(true, ProcessCommandLine, '') matches regex @'curl .*http://[0-9.]+/'" + cols, 256);
  // A pattern that matches "" is not pushed (null strings are "" to KQL).
  both("DeviceProcessEvents | where ProcessCommandLine matches regex @'^(curl)?'" + cols,
       "DeviceProcessEvents | where iff(true, ProcessCommandLine, '') matches regex @'^(curl)?'" + cols, 2500);
  both("DeviceProcessEvents | where FileName in~ ('curl', 'WGET.EXE')" + cols,
       "DeviceProcessEvents | where iff(true, FileName, '') in~ ('curl', 'WGET.EXE')" + cols, 1136);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ward::kql
