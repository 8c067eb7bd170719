// ClickHouseStore against a throwaway ClickHouse server (tests/support/clickhouse_server.sh): DDL,
// round trips, and every predicate differentially against ColumnarStore on the same rows.
#include "events/clickhouse_store.h"

#include <gtest/gtest.h>

// Requests are written with designated initializers; the fields left out keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "common/temp_dir.h"
#include "common/time.h"
#include "events/event_store.h"
#include "support/clickhouse_server.h"

namespace ward::events {
namespace {

using Op = Predicate::Op;

constexpr int64_t kDay = 86400 * kTicksPerSecond;
const int64_t kBase = *ParseIsoTicks("2024-03-10T00:00:00Z");

const SchemaRegistry& ProbeRegistry() {
  static const SchemaRegistry reg = [] {
    std::string error;
    auto r = SchemaRegistry::FromTsv(
        "table\tcolumn\ttype\n"
        "Probe\tTimestamp\tdatetime\n"
        "Probe\tDeviceId\tstring\n"
        "Probe\tActionType\tstring\n"
        "Probe\tProcessCommandLine\tstring\n"
        "Probe\tFileSize\tlong\n"
        "Probe\tRemotePort\tint\n"
        "Probe\tIsElevated\tbool\n"
        "Probe\tScore\treal\n"
        "Probe\tAdditionalFields\tdynamic\n"
        "Other\tTimestamp\tdatetime\n"
        "Other\tDeviceName\tstring\n"
        "NoTime\tName\tstring\n",
        &error);
    EXPECT_TRUE(r.has_value()) << error;
    return std::move(*r);
  }();
  return reg;
}
constexpr uint16_t kProbe = 0, kOther = 1;

// Strings that break naive escaping, SQL quoting or term splitting.
const std::vector<std::string>& Nasty() {
  static const std::vector<std::string> v = {
      "", "plain", "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "quote'single", "quote\"double", "`backtick`",
      std::string("nul\0byte", 8), "Ünïcödé ÄÖÜ straße", "日本語 テキスト", "\xff\xfe invalid utf8 \x80", "' OR 1=1 --", "\\' OR 1=1 --", "'); DROP TABLE Probe; --",
      "cmd.exe /c whoami", "CMD.EXE /C WHOAMI", "powershell -enc AAAA", "C:\\Windows\\System32\\cmd.exe", "a.b-c_d", "{\"k\":\"v\",\"n\":1}"};
  return v;
}

Row ProbeRow(int64_t ts, std::string device, std::string action, std::string cmd, CellValue size, CellValue port, CellValue elevated, CellValue score,
             CellValue extra) {
  Row r{kProbe, {}};
  r.values = {ts, std::move(device), std::move(action), std::move(cmd), size, port, elevated, score, extra};
  return r;
}

// Readable dump of a scan's output (exact values: bits of reals, bytes of strings, nulls).
std::string Dump(const std::vector<ColumnBatch>& batches) {
  std::string out;
  for (const ColumnBatch& b : batches) {
    for (size_t i = 0; i < b.rows; ++i) {
      for (size_t k = 0; k < b.columns.size(); ++k) {
        const ColumnVector& c = b.columns[k];
        out += k ? " | " : "";
        if (c.nulls[i]) {
          out += "NULL";
        } else if (c.type == ColumnType::kReal) {
          uint64_t bits;
          std::memcpy(&bits, &c.reals[i], 8);
          out += std::to_string(c.reals[i]) + "#" + std::to_string(bits);
        } else if (c.type == ColumnType::kString || c.type == ColumnType::kDynamic) {
          out += "[" + c.strings[i] + "]";
        } else {
          out += std::to_string(c.ints[i]);
        }
      }
      out += "\n";
    }
  }
  return out;
}

class ClickHouseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = CLICKHOUSE_URL_OR_SKIP();
    db_ = test::ClickHouseServer::Get().FreshDatabase("ward_store_test");
    auto ch = ClickHouseStore::Open({.url = url_ + "?database=" + db_}, ProbeRegistry());
    ASSERT_TRUE(ch.has_value()) << ch.error().message();
    ch_ = std::move(*ch);
    auto col = ColumnarStore::Open({.dir = dir_.path(), .block_rows = 4}, ProbeRegistry());
    ASSERT_TRUE(col.has_value()) << col.error().message();
    col_ = std::move(*col);
  }

  void AppendBoth(const RowBatch& b) {
    ASSERT_TRUE(ch_->Append(b).ok());
    ASSERT_TRUE(col_->Append(b).ok());
  }

  RowBatch Batch(std::vector<Row> rows, std::string tenant = "tenant-a") {
    RowBatch b;
    b.tenant_id = std::move(tenant);
    b.device_id = std::string(40, 'd');
    b.batch_id = "b";
    b.received_ticks = kBase + kDay / 2;
    b.rows = std::move(rows);
    return b;
  }

  static Result<std::string> ScanDump(EventStore& s, const ScanRequest& req) {
    std::vector<ColumnBatch> got;
    auto st = s.Scan(req, [&](ColumnBatch&& b) {
      EXPECT_LE(b.rows, std::max<size_t>(1, req.batch_rows));
      got.push_back(std::move(b));
      return true;
    });
    if (!st) return Err(st.error());
    return Dump(got);
  }

  // Both stores answer `req` identically; returns the answer.
  std::string ExpectSame(const ScanRequest& req, const std::string& what) {
    auto a = ScanDump(*col_, req);
    auto b = ScanDump(*ch_, req);
    EXPECT_EQ(a.has_value(), b.has_value()) << what << ": " << (a ? "" : a.error().message()) << (b ? "" : b.error().message());
    if (!a || !b) return "";
    EXPECT_EQ(*a, *b) << what;
    return *a;
  }

  void LoadMixed() {
    std::vector<Row> rows;
    const auto& nasty = Nasty();
    const double reals[] = {0.0, -0.0, 1.5, -2.25, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(), 4.9406564584124654e-324, 0.1 + 0.2, 9007199254740993.0};
    const int64_t ints[] = {0, 1, -1, 443, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), 9007199254740993, 65535};
    for (size_t i = 0; i < 60; ++i) {
      const bool null_row = i % 7 == 3;
      // Times go back and forth across three days: the stores must agree on the order.
      const int64_t ts = kBase + static_cast<int64_t>((i * 37) % 3) * kDay + static_cast<int64_t>((i * 7919) % 1000) * kTicksPerSecond;
      rows.push_back(ProbeRow(ts, i % 5 == 0 ? std::string() : "dev" + std::to_string(i % 3), i % 4 == 0 ? "ProcessCreated" : "processcreated",
                              nasty[i % nasty.size()] + (i % 3 == 0 ? " extra Term" : ""),
                              null_row ? CellValue() : CellValue(ints[i % 8]), null_row ? CellValue() : CellValue(static_cast<int64_t>(i * 100)),
                              null_row ? CellValue() : CellValue(static_cast<int64_t>(i % 2)), null_row ? CellValue() : CellValue(reals[i % 10]),
                              i % 6 == 0 ? CellValue() : CellValue(nasty[(i * 5) % nasty.size()])));
      if (i % 11 == 0) rows.back().values[0] = std::monostate{};  // partitioned by receive time
    }
    AppendBoth(Batch(std::move(rows)));
    // A second batch, and rows of another tenant that no scan of tenant-a may see.
    AppendBoth(Batch({ProbeRow(kBase + 5, "dev9", "Late", "late row", int64_t{1}, int64_t{2}, int64_t{1}, 3.0, std::string("[]"))}));
    AppendBoth(Batch({ProbeRow(kBase + 6, "dev1", "ProcessCreated", "cmd.exe /c whoami", int64_t{1}, int64_t{2}, int64_t{1}, 3.0, std::string("x"))},
                     "tenant-b"));
    ASSERT_TRUE(col_->Flush().ok());
  }

  test::TempDir dir_{"ward_chstore"};
  std::string url_, db_;
  std::unique_ptr<ClickHouseStore> ch_;
  std::unique_ptr<ColumnarStore> col_;
};

TEST_F(ClickHouseStoreTest, CreatesOneTablePerSchemaTableWithTypedNullableColumns) {
  auto cols = ch_->Execute("SELECT table, name, type FROM system.columns WHERE database = '" + db_ + "' ORDER BY table, name FORMAT TabSeparated");
  ASSERT_TRUE(cols.has_value()) << cols.error().message();
  EXPECT_NE(cols->find("Probe\tTimestamp\tNullable(Int64)\n"), std::string::npos) << *cols;
  EXPECT_NE(cols->find("Probe\tScore\tNullable(Float64)\n"), std::string::npos) << *cols;
  EXPECT_NE(cols->find("Probe\tAdditionalFields\tNullable(String)\n"), std::string::npos) << *cols;
  EXPECT_NE(cols->find("Probe\tIsElevated\tNullable(Int64)\n"), std::string::npos) << *cols;
  EXPECT_NE(cols->find("NoTime\tName\tNullable(String)\n"), std::string::npos) << *cols;
  auto keys = ch_->Execute("SELECT name, partition_key, sorting_key FROM system.tables WHERE database = '" + db_ + "' ORDER BY name FORMAT TabSeparated");
  ASSERT_TRUE(keys.has_value()) << keys.error().message();
  EXPECT_NE(keys->find("Probe\t_day\t_tenant, ifNull(DeviceId, \\'\\'), ifNull(Timestamp, 0), _seq"), std::string::npos) << *keys;
  EXPECT_NE(keys->find("NoTime\t_day\t_tenant, _seq"), std::string::npos) << *keys;
  // Opening again finds the tables and keeps the rows.
  AppendBoth(Batch({ProbeRow(kBase, "d", "A", "x", int64_t{1}, int64_t{2}, int64_t{0}, 1.0, std::string("{}"))}));
  auto again = ClickHouseStore::Open({.url = url_ + "?database=" + db_}, ProbeRegistry());
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(*ScanDump(**again, {.tenant_id = "tenant-a", .table = "Probe"}), *ScanDump(*col_, {.tenant_id = "tenant-a", .table = "Probe"}));
}

TEST_F(ClickHouseStoreTest, AcceptsBothUrlFormsAndRejectsBadOnes) {
  const std::string hostport = url_.substr(7, url_.size() - 8);  // http://h:p/ → h:p
  auto a = ClickHouseStore::Open({.url = "clickhouse://" + hostport + "/" + db_}, ProbeRegistry());
  ASSERT_TRUE(a.has_value()) << a.error().message();
  EXPECT_EQ((*a)->database(), db_);
  auto def = ClickHouseStore::Open({.url = url_}, ProbeRegistry());
  ASSERT_TRUE(def.has_value()) << def.error().message();
  EXPECT_EQ((*def)->database(), "ward");
  EXPECT_FALSE(ClickHouseStore::Open({.url = url_ + "?database=bad;name"}, ProbeRegistry()).has_value());
  EXPECT_FALSE(ClickHouseStore::Open({.url = "ftp://" + hostport + "/"}, ProbeRegistry()).has_value());
  // Nothing listens on port 1: Unavailable, not a crash or hang.
  auto down = ClickHouseStore::Open({.url = "http://127.0.0.1:1/"}, ProbeRegistry());
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().code(), StatusCode::kUnavailable);
}

TEST_F(ClickHouseStoreTest, RoundTripsEveryTypeNullsAndNastyStrings) {
  LoadMixed();
  const std::string all = ExpectSame({.tenant_id = "tenant-a", .table = "Probe"}, "all columns");
  EXPECT_NE(all.find("[nul\0byte", 0, 9), std::string::npos);
  EXPECT_NE(all.find("[日本語 テキスト"), std::string::npos);
  EXPECT_NE(all.find("NULL"), std::string::npos);
  ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .columns = {"Score", "ProcessCommandLine", "Score"}, .batch_rows = 7}, "columns, small batches");
  ExpectSame({.tenant_id = "tenant-b", .table = "Probe"}, "other tenant");
  ExpectSame({.tenant_id = "tenant-c", .table = "Probe"}, "empty tenant");
  ExpectSame({.tenant_id = "tenant-a", .table = "Other"}, "empty table");
  // Exact bits of the awkward reals survive.
  const std::string scores = *ScanDump(*ch_, {.tenant_id = "tenant-a", .table = "Probe", .columns = {"Score"}});
  uint64_t neg_zero_bits;
  const double neg_zero = -0.0;
  std::memcpy(&neg_zero_bits, &neg_zero, 8);
  EXPECT_NE(scores.find("#" + std::to_string(neg_zero_bits)), std::string::npos) << scores;
  EXPECT_NE(scores.find("#1\n"), std::string::npos) << scores;  // the smallest denormal
}

TEST_F(ClickHouseStoreTest, EveryPredicateMatchesColumnarStore) {
  LoadMixed();
  struct Case {
    std::string name;
    Predicate p;
  };
  struct Upper : StringMatcher {
    bool Match(std::string_view v) const override { return !v.empty() && v[0] >= 'A' && v[0] <= 'Z'; }
  };
  auto matcher = std::make_shared<Upper>();
  std::vector<Case> cases;
  const auto& nasty = Nasty();
  for (const std::string& s : nasty) {
    for (Op op : {Op::kEquals, Op::kEqualsCi, Op::kHas, Op::kContains, Op::kStartsWith, Op::kNotEquals, Op::kGreater, Op::kLessEq}) {
      cases.push_back({"cmd op " + std::to_string(static_cast<int>(op)) + " '" + s + "'", {"ProcessCommandLine", op, {s}}});
    }
  }
  for (std::string term : {"cmd", "CMD", "exe", "c", "whoami", "cmd.exe", "/c", "system32\\cmd", "term", "extra term", "ünïcödé", "straße", "日本語", "\xff",
                           "or", "1=1", "-", "", "enc aaaa", "s"}) {
    cases.push_back({"has " + term, {"ProcessCommandLine", Op::kHas, {term}}});
    cases.push_back({"contains " + term, {"ProcessCommandLine", Op::kContains, {term}}});
    cases.push_back({"startswith " + term, {"ProcessCommandLine", Op::kStartsWith, {term}}});
    cases.push_back({"dynamic has " + term, {"AdditionalFields", Op::kHas, {term}}});
  }
  cases.push_back({"has_any", {"ProcessCommandLine", Op::kHasAny, {std::string("whoami"), std::string("enc"), std::string("nothing")}}});
  cases.push_back({"has_any none", {"ProcessCommandLine", Op::kHasAny, {}}});
  cases.push_back({"in", {"ActionType", Op::kIn, {std::string("ProcessCreated"), std::string("Late")}}});
  cases.push_back({"in~", {"ActionType", Op::kInCi, {std::string("PROCESSCREATED")}}});
  cases.push_back({"in empty", {"ActionType", Op::kIn, {}}});
  cases.push_back({"in null", {"ActionType", Op::kIn, {CellValue()}}});
  cases.push_back({"== ci", {"ActionType", Op::kEqualsCi, {std::string("processCREATED")}}});
  cases.push_back({"device empty", {"DeviceId", Op::kEquals, {std::string()}}});
  cases.push_back({"device != empty", {"DeviceId", Op::kNotEquals, {std::string()}}});
  cases.push_back({"matches", {"ProcessCommandLine", Op::kMatches, {}, matcher}});
  const int64_t big = 9007199254740993;
  for (Op op : {Op::kEquals, Op::kNotEquals, Op::kGreater, Op::kGreaterEq, Op::kLess, Op::kLessEq}) {
    const std::string o = std::to_string(static_cast<int>(op));
    cases.push_back({"size op " + o, {"FileSize", op, {int64_t{1}}}});
    cases.push_back({"size op real " + o, {"FileSize", op, {0.5}}});
    cases.push_back({"size op big " + o, {"FileSize", op, {big}}});
    cases.push_back({"size op big real " + o, {"FileSize", op, {static_cast<double>(big)}}});
    cases.push_back({"size op min " + o, {"FileSize", op, {std::numeric_limits<int64_t>::min()}}});
    cases.push_back({"port op " + o, {"RemotePort", op, {int64_t{443}}}});
    cases.push_back({"bool op " + o, {"IsElevated", op, {int64_t{1}}}});
    cases.push_back({"score op " + o, {"Score", op, {1.5}}});
    cases.push_back({"score op int " + o, {"Score", op, {int64_t{0}}}});
    cases.push_back({"score op -0 " + o, {"Score", op, {-0.0}}});
    cases.push_back({"score op nan " + o, {"Score", op, {std::numeric_limits<double>::quiet_NaN()}}});
    cases.push_back({"score op inf " + o, {"Score", op, {std::numeric_limits<double>::infinity()}}});
    cases.push_back({"score op denormal " + o, {"Score", op, {4.9406564584124654e-324}}});
    cases.push_back({"time op " + o, {"Timestamp", op, {kBase + kDay}}});
  }
  cases.push_back({"size in mixed", {"FileSize", Op::kIn, {int64_t{1}, 443.0, big, -1.5}}});
  cases.push_back({"score in", {"Score", Op::kIn, {0.0, 1.5, std::numeric_limits<double>::quiet_NaN(), int64_t{-2}}}});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .predicates = {c.p}}, c.name);
    ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .columns = {"Timestamp"}, .predicates = {c.p}, .limit = 3}, c.name + " limit 3");
  }
  // Conjunctions with time ranges, and errors for what neither store accepts.
  ExpectSame({.tenant_id = "tenant-a",
              .table = "Probe",
              .from_ticks = kBase + kDay / 3,
              .to_ticks = kBase + 2 * kDay + 1,
              .predicates = {{"ProcessCommandLine", Op::kHas, {std::string("term")}}, {"ActionType", Op::kEqualsCi, {std::string("processcreated")}}}},
             "and + time range");
  ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .from_ticks = kBase + kDay, .to_ticks = kBase + kDay}, "empty range");
  ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .predicates = {{"Nope", Op::kEquals, {std::string("x")}}}}, "unknown column");
  ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .predicates = {{"FileSize", Op::kHas, {std::string("x")}}}}, "string op on long");
  ExpectSame({.tenant_id = "tenant-a", .table = "Nope"}, "unknown table");
  ExpectSame({.tenant_id = "bad tenant'", .table = "Probe"}, "bad tenant");
  ExpectSame({.tenant_id = "tenant-a", .table = "NoTime", .from_ticks = 1}, "time range without Timestamp");
}

TEST_F(ClickHouseStoreTest, StringLiteralsCannotInjectSql) {
  LoadMixed();
  for (const std::string& evil : {std::string("' OR 1=1 --"), std::string("\\' OR 1=1 --"), std::string("'); DROP TABLE Probe; --"),
                                  std::string("x' UNION ALL SELECT * FROM system.tables --"), std::string("\\"), std::string("'")}) {
    for (Op op : {Op::kEquals, Op::kHas, Op::kContains, Op::kInCi, Op::kStartsWith}) {
      const std::string got = ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .columns = {"ProcessCommandLine"}, .predicates = {{"ProcessCommandLine", op, {evil}}}},
                                         evil);
      // Only rows holding the literal text come back (none for the UNION attempt).
      if (evil.find("UNION") != std::string::npos) {
        EXPECT_EQ(got, "");
      }
    }
  }
  const std::string exact = *ScanDump(*ch_, {.tenant_id = "tenant-a", .table = "Probe", .columns = {"ProcessCommandLine"},
                                             .predicates = {{"ProcessCommandLine", Op::kEquals, {std::string("' OR 1=1 --")}}}});
  EXPECT_EQ(exact, "[' OR 1=1 --]\n[' OR 1=1 --]\n");  // rows 13 and 35 hold exactly this text
  // The table is still there, with all its rows.
  auto count = ch_->Execute("SELECT count() FROM Probe FORMAT TabSeparated");
  ASSERT_TRUE(count.has_value()) << count.error().message();
  EXPECT_EQ(*count, "62\n");
}

TEST_F(ClickHouseStoreTest, LimitAndEarlyStop) {
  LoadMixed();
  for (size_t limit : {1, 2, 5, 59, 61, 1000}) {
    ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .limit = limit}, "limit " + std::to_string(limit));
  }
  // Pages smaller than the result: keyset pagination must neither skip nor repeat rows.
  auto paged = ClickHouseStore::Open({.url = url_ + "?database=" + db_, .page_rows = 4}, ProbeRegistry());
  ASSERT_TRUE(paged.has_value());
  EXPECT_EQ(*ScanDump(**paged, {.tenant_id = "tenant-a", .table = "Probe"}), *ScanDump(*col_, {.tenant_id = "tenant-a", .table = "Probe"}));
  EXPECT_EQ(*ScanDump(**paged, {.tenant_id = "tenant-a", .table = "Probe", .predicates = {{"ProcessCommandLine", Op::kHas, {std::string("term")}}}, .limit = 5}),
            *ScanDump(*col_, {.tenant_id = "tenant-a", .table = "Probe", .predicates = {{"ProcessCommandLine", Op::kHas, {std::string("term")}}}, .limit = 5}));
  int calls = 0;
  auto st = ch_->Scan({.tenant_id = "tenant-a", .table = "Probe", .batch_rows = 10}, [&](ColumnBatch&&) { return ++calls < 2; });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(calls, 2);
}

TEST_F(ClickHouseStoreTest, RejectsWrongValueKindsBeforeInserting) {
  RowBatch b = Batch({ProbeRow(kBase, "d", "A", "x", int64_t{1}, int64_t{2}, int64_t{0}, 1.0, std::string("{}")),
                      ProbeRow(kBase, "d", "A", "x", std::string("not a long"), int64_t{2}, int64_t{0}, 1.0, std::string("{}"))});
  EXPECT_EQ(ch_->Append(b).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ScanDump(*ch_, {.tenant_id = "tenant-a", .table = "Probe"}), "");
  b.rows.pop_back();
  b.tenant_id = "../x";
  EXPECT_EQ(ch_->Append(b).code(), StatusCode::kInvalidArgument);
}

TEST_F(ClickHouseStoreTest, RetentionDropsWholeOldDays) {
  std::vector<Row> rows;
  for (int d = 0; d < 5; ++d) rows.push_back(ProbeRow(kBase + d * kDay + kDay / 2, "d", "A", "day " + std::to_string(d), int64_t{d}, {}, {}, {}, {}));
  rows.push_back(Row{kOther, {kBase + kDay / 2, std::string("n")}});
  AppendBoth(Batch(std::move(rows)));
  ASSERT_TRUE(col_->Flush().ok());
  // Retention 30 days; now = day 32 + 1h: days 0 and 1 end before now - 30d... day 1 ends at
  // kBase + 2d <= now - 30d = kBase + 2d + 1h, day 2 does not.
  const int64_t now = kBase + 32 * kDay + 3600 * kTicksPerSecond;
  auto dropped = ch_->ApplyRetention(now);
  ASSERT_TRUE(dropped.has_value()) << dropped.error().message();
  EXPECT_EQ(*dropped, 3);  // Probe days 0 and 1, Other day 0
  ASSERT_TRUE(col_->ApplyRetention(now).has_value());
  EXPECT_EQ(ExpectSame({.tenant_id = "tenant-a", .table = "Probe", .columns = {"ProcessCommandLine"}}, "after retention"), "[day 2]\n[day 3]\n[day 4]\n");
  ExpectSame({.tenant_id = "tenant-a", .table = "Other"}, "other after retention");
  EXPECT_EQ(*ch_->ApplyRetention(now), 0);
}

}  // namespace
}  // namespace ward::events
