#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/time.h"
#include "events/event_store.h"
#include "common/temp_dir.h"

namespace ward::events {
namespace {

namespace fs = std::filesystem;
using Op = Predicate::Op;

constexpr int64_t kDay = 86400 * kTicksPerSecond;
const int64_t kBase = *ParseIsoTicks("2024-03-10T00:00:00Z");

// Test directories (tests/common/temp_dir.h), named for this suite.
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("ward_colstore") {}
};

// One column of every type; the string columns named like hunting columns get a term index.
const SchemaRegistry& ProbeRegistry() {
  static const SchemaRegistry reg = [] {
    std::string error;
    auto r = SchemaRegistry::FromTsv(
        "table\tcolumn\ttype\n"
        "Probe\tTimestamp\tdatetime\n"
        "Probe\tActionType\tstring\n"
        "Probe\tProcessCommandLine\tstring\n"
        "Probe\tFileName\tstring\n"
        "Probe\tFileSize\tlong\n"
        "Probe\tRemotePort\tint\n"
        "Probe\tIsElevated\tbool\n"
        "Probe\tScore\treal\n"
        "Probe\tAdditionalFields\tdynamic\n"
        "Probe\tComment\tstring\n"
        "Other\tTimestamp\tdatetime\n"
        "Other\tDeviceName\tstring\n",
        &error);
    EXPECT_TRUE(r.has_value()) << error;
    return std::move(*r);
  }();
  return reg;
}

constexpr uint16_t kProbe = 0, kOther = 1;
enum Col { kTs, kAction, kCmd, kFile, kSize, kPort, kElevated, kScore, kExtra, kComment, kColumns };

std::unique_ptr<ColumnarStore> OpenStore(const std::string& dir, size_t block_rows = 64, size_t seal_rows = 1 << 20,
                                         std::chrono::seconds seal_age = std::chrono::hours(1), const SchemaRegistry& reg = ProbeRegistry()) {
  ColumnarStoreOptions o;
  o.dir = dir;
  o.block_rows = block_rows;
  o.seal_rows = seal_rows;
  o.seal_age = seal_age;
  auto s = ColumnarStore::Open(o, reg);
  EXPECT_TRUE(s.has_value()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

RowBatch Batch(std::vector<Row> rows, std::string tenant = "tenant-a") {
  RowBatch b;
  b.tenant_id = std::move(tenant);
  b.device_id = std::string(40, 'd');
  b.batch_id = "b";
  b.received_ticks = kBase;
  b.rows = std::move(rows);
  return b;
}

Row ProbeRow(int64_t ts, std::string cmd = "cmd.exe /c whoami") {
  Row r{kProbe, std::vector<CellValue>(kColumns)};
  r.values[kTs] = ts;
  r.values[kAction] = std::string("ProcessCreated");
  r.values[kCmd] = std::move(cmd);
  r.values[kFile] = std::string("cmd.exe");
  r.values[kSize] = int64_t{1234};
  r.values[kPort] = int64_t{443};
  r.values[kElevated] = int64_t{1};
  r.values[kScore] = 0.5;
  r.values[kExtra] = std::string(R"({"k":"v"})");
  r.values[kComment] = std::string("c");
  return r;
}

using Rows = std::vector<std::vector<CellValue>>;

struct ScanResult {
  Rows rows;
  ScanStats stats;
  size_t batches = 0;
  size_t max_batch = 0;
};

ScanResult Scan(ColumnarStore& store, ScanRequest req) {
  ScanResult out;
  auto st = store.Scan(req, [&](ColumnBatch&& b) {
    ++out.batches;
    out.max_batch = std::max(out.max_batch, b.rows);
    EXPECT_EQ(b.names.size(), b.columns.size());
    for (size_t i = 0; i < b.rows; ++i) {
      std::vector<CellValue> row;
      for (const ColumnVector& c : b.columns) {
        EXPECT_EQ(c.size(), b.rows);
        if (c.nulls[i]) row.emplace_back(std::monostate{});
        else if (c.type == ColumnType::kReal) row.emplace_back(c.reals[i]);
        else if (c.type == ColumnType::kString || c.type == ColumnType::kDynamic) row.emplace_back(c.strings[i]);
        else row.emplace_back(c.ints[i]);
      }
      out.rows.push_back(std::move(row));
    }
    return true;
  });
  EXPECT_TRUE(st.has_value()) << st.error().message();
  if (st) out.stats = *st;
  return out;
}

ScanRequest Req(std::string table = "Probe", std::string tenant = "tenant-a") {
  ScanRequest r;
  r.tenant_id = std::move(tenant);
  r.table = std::move(table);
  return r;
}

// Canonical text of a row for order-independent comparison (doubles by bit pattern: NaN, -0.0).
std::string Key(const std::vector<CellValue>& row) {
  std::string k;
  for (const CellValue& v : row) {
    switch (v.index()) {
      case 0: k += "N|"; break;
      case 1: k += "I" + std::to_string(std::get<int64_t>(v)) + "|"; break;
      case 2: k += "R" + std::to_string(std::bit_cast<uint64_t>(std::get<double>(v))) + "|"; break;
      default: k += "S" + std::to_string(std::get<std::string>(v).size()) + ":" + std::get<std::string>(v) + "|"; break;
    }
  }
  return k;
}

std::vector<std::string> Keys(const Rows& rows) {
  std::vector<std::string> keys;
  for (const auto& r : rows) keys.push_back(Key(r));
  std::sort(keys.begin(), keys.end());
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Reference semantics, written independently of the store's kernels.

bool TermChar(unsigned char c) { return std::isalnum(c) || c >= 0x80; }
std::string Lo(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
bool RefHas(const std::string& text, const std::string& needle_in) {
  std::string hay = Lo(text), needle = Lo(needle_in);
  if (needle.empty()) return true;
  for (size_t p = 0; p + needle.size() <= hay.size(); ++p) {
    if (hay.compare(p, needle.size(), needle) != 0) continue;
    bool start_ok = !TermChar(needle.front()) || p == 0 || !TermChar(hay[p - 1]);
    size_t e = p + needle.size();
    bool end_ok = !TermChar(needle.back()) || e == hay.size() || !TermChar(hay[e]);
    if (start_ok && end_ok) return true;
  }
  return false;
}

bool RefMatch(const Predicate& p, const CellValue& v) {
  if (v.index() == 0) return false;
  auto cmp_num = [&](double a, const CellValue& operand) -> int {  // -1/0/1, 2 = unordered
    double b = operand.index() == 1 ? static_cast<double>(std::get<int64_t>(operand)) : std::get<double>(operand);
    if (std::isnan(a) || std::isnan(b)) return 2;
    return a < b ? -1 : a > b ? 1 : 0;
  };
  auto test = [&](const CellValue& operand) -> bool {
    if (operand.index() == 0) return false;
    if (v.index() == 3) {
      const std::string& s = std::get<std::string>(v);
      const std::string& o = std::get<std::string>(operand);
      switch (p.op) {
        case Op::kEquals: case Op::kIn: return s == o;
        case Op::kNotEquals: return s != o;
        case Op::kEqualsCi: case Op::kInCi: return Lo(s) == Lo(o);
        case Op::kHas: case Op::kHasAny: return RefHas(s, o);
        case Op::kContains: return Lo(s).find(Lo(o)) != std::string::npos;
        case Op::kStartsWith: return Lo(s).rfind(Lo(o), 0) == 0;
        case Op::kGreater: return s > o;
        case Op::kGreaterEq: return s >= o;
        case Op::kLess: return s < o;
        case Op::kLessEq: return s <= o;
        case Op::kMatches: return false;  // not generated here
      }
      return false;
    }
    if (v.index() == 1 && operand.index() == 1) {
      int64_t a = std::get<int64_t>(v), b = std::get<int64_t>(operand);
      switch (p.op) {
        case Op::kEquals: case Op::kIn: return a == b;
        case Op::kNotEquals: return a != b;
        case Op::kGreater: return a > b;
        case Op::kGreaterEq: return a >= b;
        case Op::kLess: return a < b;
        case Op::kLessEq: return a <= b;
        default: return false;
      }
    }
    double a = v.index() == 1 ? static_cast<double>(std::get<int64_t>(v)) : std::get<double>(v);
    int c = cmp_num(a, operand);
    switch (p.op) {
      case Op::kEquals: case Op::kIn: return c == 0;
      case Op::kNotEquals: return c != 0;
      case Op::kGreater: return c == 1;
      case Op::kGreaterEq: return c == 1 || c == 0;
      case Op::kLess: return c == -1;
      case Op::kLessEq: return c == -1 || c == 0;
      default: return false;
    }
  };
  for (const CellValue& o : p.values) {
    if (test(o)) return true;
  }
  return false;
}

std::string Describe(const ScanRequest& req) {
  static const char* kOps[] = {"==", "=~", "in", "has", "has_any", "contains", "startswith", ">", ">=", "<", "<=", "!="};
  std::string d;
  if (req.from_ticks) d += "from=" + std::to_string(*req.from_ticks) + " ";
  if (req.to_ticks) d += "to=" + std::to_string(*req.to_ticks) + " ";
  for (const Predicate& p : req.predicates) {
    d += p.column + " " + kOps[static_cast<int>(p.op)] + " (";
    for (const CellValue& v : p.values) d += Key({v});
    d += ") ";
  }
  return d;
}

// Compact comparison: counts, then the first few rows only one side has.
::testing::AssertionResult SameRows(const Rows& got, const Rows& expected) {
  auto g = Keys(got), e = Keys(expected);
  if (g == e) return ::testing::AssertionSuccess();
  std::vector<std::string> missing, extra;
  std::set_difference(e.begin(), e.end(), g.begin(), g.end(), std::back_inserter(missing));
  std::set_difference(g.begin(), g.end(), e.begin(), e.end(), std::back_inserter(extra));
  auto r = ::testing::AssertionFailure() << "got " << g.size() << " rows, expected " << e.size();
  for (size_t i = 0; i < std::min<size_t>(3, missing.size()); ++i) r << "\n  missing: " << missing[i];
  for (size_t i = 0; i < std::min<size_t>(3, extra.size()); ++i) r << "\n  extra: " << extra[i];
  return r;
}

bool RefRow(const ScanRequest& req, const TableDef& t, const std::vector<CellValue>& row) {
  const CellValue& ts = row[t.timestamp_column];
  if (req.from_ticks && (ts.index() != 1 || std::get<int64_t>(ts) < *req.from_ticks)) return false;
  if (req.to_ticks && (ts.index() != 1 || std::get<int64_t>(ts) >= *req.to_ticks)) return false;
  for (const Predicate& p : req.predicates) {
    if (!RefMatch(p, row[t.Find(p.column)])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

TEST(TermsTest, TermsOf) {
  EXPECT_EQ(TermsOf("cmd.exe /c WhoAmI"), (std::vector<std::string>{"cmd", "exe", "c", "whoami"}));
  EXPECT_EQ(TermsOf("  --  "), std::vector<std::string>{});
  EXPECT_EQ(TermsOf("C:\\Windows\\System32"), (std::vector<std::string>{"c", "windows", "system32"}));
  EXPECT_EQ(TermsOf("\xc3\x89t\xc3\xa9-2"), (std::vector<std::string>{"\xc3\x89t\xc3\xa9", "2"}));  // non-ASCII bytes are term bytes
}

TEST(TermsTest, IndexedColumns) {
  for (const char* c : {"ProcessCommandLine", "InitiatingProcessCommandLine", "FileName", "FolderPath", "InitiatingProcessFileName",
                        "InitiatingProcessFolderPath", "RemoteUrl", "AccountName", "DeviceName", "PreviousFileName",
                        "InitiatingProcessParentFileName", "RegistryKey", "RegistryValueData", "AdditionalFields"}) {
    EXPECT_TRUE(IsTermIndexedColumn(c)) << c;
  }
  EXPECT_FALSE(IsTermIndexedColumn("ActionType"));
  EXPECT_FALSE(IsTermIndexedColumn("SHA1"));
  EXPECT_FALSE(IsTermIndexedColumn("processcommandline"));
}

class StoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(StoreTest, RoundTripEveryTypeThroughTailSealAndReopen) {
  std::vector<Row> rows;
  const std::string long_str(200000, 'L');
  const std::string unicode = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 \xc3\xa9t\xc3\xa9";
  for (int i = 0; i < 300; ++i) {
    Row r{kProbe, std::vector<CellValue>(kColumns)};
    if (i % 7 != 3) r.values[kTs] = kBase + i * 1234567 + 1;  // 100 ns precision (odd ticks)
    if (i % 5 != 0) r.values[kAction] = std::string(i % 2 ? "ProcessCreated" : "OpenProcess");
    if (i % 11 != 0) r.values[kCmd] = i % 50 == 1 ? long_str + std::to_string(i) : (i % 3 ? unicode : std::string()) + std::to_string(i);
    if (i % 4 != 0) r.values[kFile] = std::string("f") + std::to_string(i % 9);
    if (i % 6 != 0) r.values[kSize] = i % 2 ? std::numeric_limits<int64_t>::max() - i : std::numeric_limits<int64_t>::min() + i;
    if (i % 3 != 0) r.values[kPort] = int64_t{i % 65536};
    if (i % 8 != 0) r.values[kElevated] = int64_t{i % 2};
    if (i % 9 != 0) r.values[kScore] = i % 13 == 0 ? std::nan("") : i % 17 == 0 ? -0.0 : i * 0.1 - 7;
    if (i % 10 != 0) r.values[kExtra] = std::string(R"({"i":)") + std::to_string(i) + "}";
    // kComment stays null in every row: an all-null column.
    rows.push_back(std::move(r));
  }
  rows.push_back(Row{kOther, {int64_t{kBase}, std::string("host-1")}});
  auto expected_probe = [&] {
    Rows out;
    for (const Row& r : rows) {
      if (r.table == kProbe) out.push_back(r.values);
    }
    return Keys(out);
  }();
  // Timestamp-less rows go to the partition of the batch's received time.
  auto store = OpenStore(dir_.path(), 32);
  ASSERT_TRUE(store->Append(Batch(rows)).ok());
  EXPECT_EQ(Keys(Scan(*store, Req()).rows), expected_probe);  // from the tail
  ASSERT_TRUE(store->Flush().ok());
  auto sealed = Scan(*store, Req());
  EXPECT_EQ(Keys(sealed.rows), expected_probe);
  EXPECT_GT(sealed.stats.segments_total, 0u);
  EXPECT_EQ(Scan(*store, Req("Other")).rows.size(), 1u);
  store.reset();
  store = OpenStore(dir_.path(), 32);
  EXPECT_EQ(Keys(Scan(*store, Req()).rows), expected_probe);
  // Projection in request order, with duplicates.
  ScanRequest req = Req();
  req.columns = {"Score", "Timestamp", "Score"};
  auto projected = Scan(*store, req);
  ASSERT_EQ(projected.rows.size(), 300u);
  for (const auto& r : projected.rows) EXPECT_EQ(Key({r[0]}), Key({r[2]}));
}

TEST_F(StoreTest, LayoutOnDisk) {
  auto store = OpenStore(dir_.path());
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 5), ProbeRow(kBase + kDay + 5)})).ok());
  EXPECT_FALSE(fs::exists(dir_.path() + "/tenant-a"));  // nothing sealed yet
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_TRUE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-10/seg-000000000001.col"));
  EXPECT_TRUE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-11/seg-000000000001.col"));
  EXPECT_TRUE(fs::exists(dir_.path() + "/store.meta"));
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 6)})).ok());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_TRUE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-10/seg-000000000002.col"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-11/seg-000000000002.col"));
}

TEST_F(StoreTest, HasSemantics) {
  auto store = OpenStore(dir_.path());
  std::vector<Row> rows = {ProbeRow(kBase, "powershell"), ProbeRow(kBase, "cmd.exe /c whoami"), ProbeRow(kBase, "CMD.EXE /C WHOAMI.EXE"),
                           ProbeRow(kBase, "KustoExplorerQueryRun"), ProbeRow(kBase, "net user -enc x")};
  ASSERT_TRUE(store->Append(Batch(rows)).ok());
  auto count = [&](Op op, std::vector<CellValue> values, std::string column = "ProcessCommandLine") {
    ScanRequest req = Req();
    req.columns = {"ProcessCommandLine"};
    req.predicates = {Predicate{column, op, std::move(values)}};
    return Scan(*store, req).rows.size();
  };
  for (int pass = 0; pass < 2; ++pass) {  // tail, then sealed with the term index
    SCOPED_TRACE(pass ? "sealed" : "tail");
    EXPECT_EQ(count(Op::kHas, {std::string("Shell")}), 0u);
    EXPECT_EQ(count(Op::kContains, {std::string("Shell")}), 1u);
    EXPECT_EQ(count(Op::kHas, {std::string("whoami")}), 2u);
    EXPECT_EQ(count(Op::kHas, {std::string("WhoAmI")}), 2u);
    EXPECT_EQ(count(Op::kHas, {std::string("cmd.exe")}), 2u);
    EXPECT_EQ(count(Op::kHas, {std::string("exe /c")}), 2u);
    EXPECT_EQ(count(Op::kHas, {std::string("whoami.exe")}), 1u);
    EXPECT_EQ(count(Op::kHas, {std::string("Explorer")}), 0u);
    EXPECT_EQ(count(Op::kHas, {std::string("-enc")}), 1u);
    EXPECT_EQ(count(Op::kHas, {std::string("/")}), 2u);  // no term characters: contains
    EXPECT_EQ(count(Op::kHas, {std::string("power")}), 0u);
    EXPECT_EQ(count(Op::kHasAny, {std::string("powershell"), std::string("user")}), 2u);
    EXPECT_EQ(count(Op::kHasAny, {std::string("nothing"), std::string("here")}), 0u);
    EXPECT_EQ(count(Op::kStartsWith, {std::string("cmd.EXE /c who")}), 2u);
    EXPECT_EQ(count(Op::kEqualsCi, {std::string("POWERSHELL")}), 1u);
    EXPECT_EQ(count(Op::kEquals, {std::string("POWERSHELL")}), 0u);
    EXPECT_EQ(count(Op::kIn, {std::string("powershell"), std::string("cmd.exe /c whoami")}), 2u);
    EXPECT_EQ(count(Op::kNotEquals, {std::string("powershell")}), 4u);
    ASSERT_TRUE(store->Flush().ok());
  }
}

TEST_F(StoreTest, TimeRangePruningSkipsSegmentsAndBlocks) {
  auto store = OpenStore(dir_.path(), 100, /*seal_rows=*/500);  // full-size segments: never merged
  // Three days, one segment per checkpoint per day; 1000 rows a day, one per minute-ish.
  for (int day = 0; day < 3; ++day) {
    for (int part = 0; part < 2; ++part) {
      std::vector<Row> rows;
      for (int i = 0; i < 500; ++i) rows.push_back(ProbeRow(kBase + day * kDay + (part * 500 + i) * 60 * kTicksPerSecond));
      ASSERT_TRUE(store->Append(Batch(rows)).ok());
      ASSERT_TRUE(store->Flush().ok());
    }
  }
  ScanRequest req = Req();
  req.columns = {"Timestamp"};
  auto all = Scan(*store, req);
  EXPECT_EQ(all.rows.size(), 3000u);
  EXPECT_EQ(all.stats.segments_total, 6u);
  EXPECT_EQ(all.stats.segments_skipped, 0u);
  EXPECT_EQ(all.stats.blocks_total, 30u);
  // One hour in the second half of day 1: five of six segments and most blocks are never read.
  req.from_ticks = kBase + kDay + 600 * 60 * kTicksPerSecond;
  req.to_ticks = *req.from_ticks + 3600 * kTicksPerSecond;
  auto hour = Scan(*store, req);
  EXPECT_EQ(hour.rows.size(), 60u);
  for (const auto& r : hour.rows) {
    int64_t ts = std::get<int64_t>(r[0]);
    EXPECT_GE(ts, *req.from_ticks);
    EXPECT_LT(ts, *req.to_ticks);
  }
  EXPECT_EQ(hour.stats.segments_total, 6u);
  EXPECT_EQ(hour.stats.segments_skipped, 5u);
  EXPECT_GE(hour.stats.blocks_skipped, 28u);
  EXPECT_LE(hour.stats.rows_scanned, 200u);
  EXPECT_EQ(hour.stats.rows_returned, 60u);
}

TEST_F(StoreTest, TermIndexSkipsBlocks) {
  auto store = OpenStore(dir_.path(), 50);
  std::vector<Row> rows;
  for (int i = 0; i < 1000; ++i) rows.push_back(ProbeRow(kBase + i, i == 777 ? "cmd.exe /c whoami /all" : "svchost.exe -k netsvcs -p " + std::to_string(i)));
  ASSERT_TRUE(store->Append(Batch(rows)).ok());
  ASSERT_TRUE(store->Flush().ok());
  ScanRequest req = Req();
  req.columns = {"Timestamp", "ProcessCommandLine"};
  req.predicates = {Predicate{"ProcessCommandLine", Op::kHas, {std::string("WHOAMI")}}};
  auto r = Scan(*store, req);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(r.rows[0][0]), kBase + 777);
  EXPECT_EQ(r.stats.blocks_total, 20u);
  EXPECT_EQ(r.stats.blocks_skipped, 19u);
  EXPECT_EQ(r.stats.rows_scanned, 50u);
  // A term in no block skips the whole segment.
  req.predicates = {Predicate{"ProcessCommandLine", Op::kHas, {std::string("mimikatz")}}};
  r = Scan(*store, req);
  EXPECT_EQ(r.rows.size(), 0u);
  EXPECT_EQ(r.stats.segments_skipped, 1u);
  EXPECT_EQ(r.stats.rows_scanned, 0u);
  // Equality uses the index too; `contains` only through whole inner terms.
  req.predicates = {Predicate{"ProcessCommandLine", Op::kEquals, {std::string("cmd.exe /c whoami /all")}}};
  r = Scan(*store, req);
  EXPECT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.stats.blocks_skipped, 19u);
  req.predicates = {Predicate{"ProcessCommandLine", Op::kContains, {std::string("d.exe /c whoam")}}};
  r = Scan(*store, req);
  EXPECT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.stats.blocks_skipped, 19u);
  // Zone maps on a plain column: ActionType == X prunes by min/max.
  req.predicates = {Predicate{"ActionType", Op::kEquals, {std::string("Zzz")}}};
  r = Scan(*store, req);
  EXPECT_EQ(r.rows.size(), 0u);
  EXPECT_EQ(r.stats.segments_skipped, 1u);
}

TEST_F(StoreTest, LimitBatchRowsAndEarlyStop) {
  auto store = OpenStore(dir_.path(), 64);
  std::vector<Row> rows;
  for (int i = 0; i < 1000; ++i) rows.push_back(ProbeRow(kBase + i));
  ASSERT_TRUE(store->Append(Batch(rows)).ok());
  ASSERT_TRUE(store->Flush().ok());
  ASSERT_TRUE(store->Append(Batch(rows)).ok());  // and 1000 more in the tail
  ScanRequest req = Req();
  req.columns = {"Timestamp"};
  req.batch_rows = 100;
  auto r = Scan(*store, req);
  EXPECT_EQ(r.rows.size(), 2000u);
  EXPECT_EQ(r.max_batch, 100u);
  EXPECT_EQ(r.batches, 20u);
  req.limit = 1234;
  r = Scan(*store, req);
  EXPECT_EQ(r.rows.size(), 1234u);
  EXPECT_EQ(r.stats.rows_returned, 1234u);
  req.limit = 0;
  EXPECT_EQ(Scan(*store, req).rows.size(), 0u);
  req.limit.reset();
  size_t seen = 0, calls = 0;
  auto st = store->Scan(req, [&](ColumnBatch&& b) {
    seen += b.rows;
    return ++calls < 3;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(calls, 3u);
  EXPECT_EQ(seen, 300u);
}

TEST_F(StoreTest, ReopenKeepsDataAndDurableOffset) {
  {
    auto store = OpenStore(dir_.path());
    EXPECT_EQ(store->durable_log_offset(), 0u);
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 1)})).ok());
    store->NoteLogOffset(1);
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 2)})).ok());
    store->NoteLogOffset(2);
    ASSERT_TRUE(store->Flush().ok());
    EXPECT_EQ(store->durable_log_offset(), 2u);
    // Record 2 is appended but not yet noted: it stays in memory and the offset stays at 2.
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 3)})).ok());
    ASSERT_TRUE(store->Flush().ok());
    EXPECT_EQ(store->durable_log_offset(), 2u);
    EXPECT_EQ(Scan(*store, Req()).rows.size(), 3u);
  }
  auto store = OpenStore(dir_.path());
  EXPECT_EQ(store->durable_log_offset(), 2u);
  auto r = Scan(*store, Req());
  ASSERT_EQ(r.rows.size(), 2u);  // record 2 is replayed from the log by the consumer
  // Replay from the durable offset: no duplicates.
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 3)})).ok());
  store->NoteLogOffset(3);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->durable_log_offset(), 3u);
  std::vector<int64_t> ts;
  for (const auto& row : Scan(*store, Req()).rows) ts.push_back(std::get<int64_t>(row[kTs]));
  std::sort(ts.begin(), ts.end());
  EXPECT_EQ(ts, (std::vector<int64_t>{kBase + 1, kBase + 2, kBase + 3}));
}

TEST_F(StoreTest, SealsBySizeAndAge) {
  {
    auto store = OpenStore(dir_.path(), 16, /*seal_rows=*/100);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + i), ProbeRow(kBase + i), ProbeRow(kBase + i), ProbeRow(kBase + i)})).ok());
    }
    auto r = Scan(*store, Req());
    EXPECT_EQ(r.rows.size(), 120u);
    EXPECT_EQ(r.stats.segments_total, 1u);  // sealed at 100 rows; 20 still in the tail
  }
  {
    TempDir other;
    auto store = OpenStore(other.path(), 16, 1 << 20, std::chrono::seconds(0));
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase)})).ok());
    const std::string day = other.path() + "/tenant-a/Probe/2024-03-10/";
    EXPECT_TRUE(fs::exists(day + "seg-000000000001.col"));
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase)})).ok());
    // Sealed again at once; the two one-row segments were merged into the second.
    auto r = Scan(*store, Req());
    EXPECT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.stats.segments_total, 1u);
    EXPECT_FALSE(fs::exists(day + "seg-000000000001.col"));
    EXPECT_TRUE(fs::exists(day + "seg-000000000002.col"));
  }
}

TEST_F(StoreTest, SmallSegmentsAreMerged) {
  const std::string day = dir_.path() + "/tenant-a/Probe/2024-03-10/";
  Rows expected;
  auto store = OpenStore(dir_.path(), 16, /*seal_rows=*/4096);
  // 200 flushes of 3 rows: like a trickle of telemetry with the writer flushing whenever idle.
  for (int i = 0; i < 200; ++i) {
    std::vector<Row> rows;
    for (int k = 0; k < 3; ++k) {
      rows.push_back(ProbeRow(kBase + i * 10 + k, "flush " + std::to_string(i)));
      expected.push_back(rows.back().values);
    }
    ASSERT_TRUE(store->Append(Batch(rows)).ok());
    ASSERT_TRUE(store->Flush().ok());
    auto r = Scan(*store, Req());
    ASSERT_EQ(r.rows.size(), expected.size());
    EXPECT_LE(r.stats.segments_total, 9u) << "after flush " << i;  // O(log n) segments, not n
  }
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(day)) files += e.path().extension() == ".col";
  EXPECT_LE(files, 9u);
  EXPECT_TRUE(SameRows(Scan(*store, Req()).rows, expected));

  // Crash after a merge committed but before its inputs were deleted: the inputs must not come
  // back as duplicates.
  std::vector<std::string> before;
  for (const auto& e : fs::directory_iterator(day)) before.push_back(e.path().string());
  const std::string backup = dir_.path() + "/backup";
  fs::create_directories(backup);
  for (const auto& f : before) fs::copy_file(f, backup + "/" + fs::path(f).filename().string());
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 5000)})).ok());
  expected.push_back(ProbeRow(kBase + 5000).values);
  ASSERT_TRUE(store->Flush().ok());  // merges at least the newest segment
  store.reset();
  for (const auto& e : fs::directory_iterator(backup)) {
    const std::string target = day + e.path().filename().string();
    if (!fs::exists(target)) fs::copy_file(e.path(), target);
  }
  store = OpenStore(dir_.path(), 16, 4096);
  EXPECT_TRUE(SameRows(Scan(*store, Req()).rows, expected));
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 6000)})).ok());
  expected.push_back(ProbeRow(kBase + 6000).values);
  ASSERT_TRUE(store->Flush().ok());
  store.reset();
  store = OpenStore(dir_.path(), 16, 4096);
  EXPECT_TRUE(SameRows(Scan(*store, Req()).rows, expected));
}

TEST_F(StoreTest, MergedSegmentStaysReadableForRunningScans) {
  auto store = OpenStore(dir_.path(), 16, 4096);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + i)})).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  // A scan that snapshotted the old segments, then a merge deletes them, then the scan reads them.
  size_t rows = 0;
  bool merged = false;
  ScanRequest req = Req();
  req.batch_rows = 1;
  auto st = store->Scan(req, [&](ColumnBatch&& b) {
    rows += b.rows;
    if (!merged) {
      merged = true;
      EXPECT_TRUE(store->Append(Batch({ProbeRow(kBase + 100)})).ok());
      EXPECT_TRUE(store->Flush().ok());
    }
    return true;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(rows, 3u);  // its snapshot, complete
  EXPECT_EQ(Scan(*store, Req()).rows.size(), 4u);
}

TEST_F(StoreTest, ManySmallAppendsMergeInTheTail) {
  auto store = OpenStore(dir_.path(), 64);
  Rows expected;
  for (int i = 0; i < 500; ++i) {
    Row r = ProbeRow(kBase + i, "run " + std::to_string(i));
    expected.push_back(r.values);
    ASSERT_TRUE(store->Append(Batch({r})).ok());
    if (i % 97 == 0) {
      EXPECT_EQ(Keys(Scan(*store, Req()).rows).size(), static_cast<size_t>(i + 1));
    }
  }
  EXPECT_EQ(Keys(Scan(*store, Req()).rows), Keys(expected));
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Keys(Scan(*store, Req()).rows), Keys(expected));
}

TEST_F(StoreTest, RetentionDropsOnlyExpiredPartitions) {
  ColumnarStoreOptions o;
  o.dir = dir_.path();
  o.retention = std::chrono::hours(48);
  auto store = std::move(*ColumnarStore::Open(o, ProbeRegistry()));
  for (int day = 0; day < 5; ++day) ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + day * kDay + 10)})).ok());
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + 10)}, "tenant-b")).ok());
  ASSERT_TRUE(store->Flush().ok());
  // now = day 4, 12:00: the cutoff is day 2, 12:00; days 0 and 1 (both tenants' day 0) ended before it.
  auto removed = store->ApplyRetention(kBase + 4 * kDay + kDay / 2);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 3);
  EXPECT_FALSE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-10"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-11"));
  EXPECT_TRUE(fs::exists(dir_.path() + "/tenant-a/Probe/2024-03-12"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/tenant-b"));  // empty parents go too
  EXPECT_EQ(Scan(*store, Req()).rows.size(), 3u);
  EXPECT_EQ(Scan(*store, Req("Probe", "tenant-b")).rows.size(), 0u);
  EXPECT_EQ(*store->ApplyRetention(kBase + 4 * kDay + kDay / 2), 0);
  store.reset();
  store = OpenStore(dir_.path());
  EXPECT_EQ(Scan(*store, Req()).rows.size(), 3u);
}

TEST_F(StoreTest, TenantsAreIsolated) {
  auto store = OpenStore(dir_.path());
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase)}, "tenant-a")).ok());
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase), ProbeRow(kBase)}, "tenant-b")).ok());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Scan(*store, Req("Probe", "tenant-a")).rows.size(), 1u);
  EXPECT_EQ(Scan(*store, Req("Probe", "tenant-b")).rows.size(), 2u);
  EXPECT_EQ(Scan(*store, Req("Probe", "tenant-c")).rows.size(), 0u);
  EXPECT_EQ(store->Append(Batch({ProbeRow(kBase)}, "../evil")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Append(Batch({ProbeRow(kBase)}, "")).code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, InvalidRequests) {
  auto store = OpenStore(dir_.path());
  auto sink = [](ColumnBatch&&) { return true; };
  ScanRequest req = Req("NoSuchTable");
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  req = Req();
  req.columns = {"Nope"};
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  req = Req();
  req.predicates = {Predicate{"Nope", Op::kEquals, {int64_t{1}}}};
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  req.predicates = {Predicate{"FileSize", Op::kHas, {std::string("x")}}};
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  req.predicates = {Predicate{"FileSize", Op::kEquals, {std::string("x")}}};
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  req.predicates = {Predicate{"FileName", Op::kEquals, {int64_t{1}}}};
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  req.predicates = {Predicate{"FileName", Op::kEquals, {}}};
  EXPECT_EQ(store->Scan(req, sink).error().code(), StatusCode::kInvalidArgument);
  // Appends of rows that do not fit the schema are refused whole.
  Row bad = ProbeRow(kBase);
  bad.values[kSize] = std::string("big");
  EXPECT_EQ(store->Append(Batch({ProbeRow(kBase), bad})).code(), StatusCode::kInvalidArgument);
  bad = ProbeRow(kBase);
  bad.values.pop_back();
  EXPECT_EQ(store->Append(Batch({bad})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Scan(*store, Req()).rows.size(), 0u);
}

TEST_F(StoreTest, NumericOperandsMixIntAndReal) {
  auto store = OpenStore(dir_.path());
  std::vector<Row> rows;
  for (int i = 0; i < 10; ++i) {
    Row r = ProbeRow(kBase + i);
    r.values[kSize] = int64_t{i};
    r.values[kScore] = i * 1.0;
    rows.push_back(r);
  }
  ASSERT_TRUE(store->Append(Batch(rows)).ok());
  ASSERT_TRUE(store->Flush().ok());
  auto count = [&](std::string col, Op op, std::vector<CellValue> v) {
    ScanRequest req = Req();
    req.predicates = {Predicate{std::move(col), op, std::move(v)}};
    return Scan(*store, req).rows.size();
  };
  EXPECT_EQ(count("FileSize", Op::kGreater, {2.5}), 7u);
  EXPECT_EQ(count("FileSize", Op::kEquals, {3.0}), 1u);
  EXPECT_EQ(count("FileSize", Op::kIn, {int64_t{1}, 2.0, 2.5}), 2u);
  EXPECT_EQ(count("Score", Op::kLessEq, {int64_t{4}}), 5u);
  EXPECT_EQ(count("Score", Op::kNotEquals, {std::nan("")}), 10u);
  EXPECT_EQ(count("Score", Op::kEquals, {std::nan("")}), 0u);
  EXPECT_EQ(count("FileSize", Op::kEquals, {std::monostate{}}), 0u);  // null operands match nothing
  EXPECT_EQ(count("FileSize", Op::kNotEquals, {std::monostate{}}), 0u);
  EXPECT_EQ(count("Timestamp", Op::kGreaterEq, {int64_t{kBase + 8}}), 2u);
}

TEST_F(StoreTest, CorruptSegmentIsAnErrorNotACrash) {
  {
    auto store = OpenStore(dir_.path(), 16);
    std::vector<Row> rows;
    for (int i = 0; i < 200; ++i) rows.push_back(ProbeRow(kBase + i, "x " + std::to_string(i)));
    ASSERT_TRUE(store->Append(Batch(rows)).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  const std::string seg = dir_.path() + "/tenant-a/Probe/2024-03-10/seg-000000000001.col";
  std::string original;
  {
    std::ifstream in(seg, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::mt19937 rng(3);
  for (int trial = 0; trial < 40; ++trial) {
    std::string bytes = original;
    size_t pos = trial < 8 ? trial * 8 : rng() % bytes.size();  // header bytes, then anywhere
    bytes[pos] = static_cast<char>(bytes[pos] ^ (1 + rng() % 255));
    {
      std::ofstream out(seg, std::ios::binary | std::ios::trunc);
      out << bytes;
    }
    ColumnarStoreOptions o;
    o.dir = dir_.path();
    auto store = ColumnarStore::Open(o, ProbeRegistry());
    if (!store) continue;  // header/footer damage is found at open
    // Every block and every term index is read: all columns, a `has` on each indexed column.
    ScanRequest req = Req();
    req.predicates = {Predicate{"ProcessCommandLine", Op::kHas, {std::string("x")}}, Predicate{"FileName", Op::kHas, {std::string("cmd")}},
                      Predicate{"AdditionalFields", Op::kHas, {std::string("k")}}};
    auto r = (*store)->Scan(req, [](ColumnBatch&&) { return true; });
    EXPECT_FALSE(r.has_value()) << "flip at " << pos << " went unnoticed";
  }
  {
    std::ofstream out(seg, std::ios::binary | std::ios::trunc);
    out << original.substr(0, original.size() / 2);  // torn
  }
  ColumnarStoreOptions o;
  o.dir = dir_.path();
  EXPECT_FALSE(ColumnarStore::Open(o, ProbeRegistry()).has_value());
}

TEST_F(StoreTest, UncommittedSegmentsAreIgnoredThenRemoved) {
  {
    auto store = OpenStore(dir_.path());
    ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase)})).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  // Simulate a crash after a segment rename but before store.meta was rewritten.
  const std::string day = dir_.path() + "/tenant-a/Probe/2024-03-10/";
  fs::copy_file(day + "seg-000000000001.col", day + "seg-000000000002.col");
  std::ofstream(day + "seg-000000000003.col.tmp") << "partial";
  auto store = OpenStore(dir_.path());
  EXPECT_EQ(Scan(*store, Req()).rows.size(), 1u);
  EXPECT_TRUE(fs::exists(day + "seg-000000000002.col"));  // open writes nothing
  ASSERT_TRUE(store->Append(Batch({ProbeRow(kBase + kDay)})).ok());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_FALSE(fs::exists(day + "seg-000000000002.col"));
  EXPECT_FALSE(fs::exists(day + "seg-000000000003.col.tmp"));
  store.reset();
  store = OpenStore(dir_.path());
  EXPECT_EQ(Scan(*store, Req()).rows.size(), 2u);
}

// Random data and random predicates: zone maps, dictionaries, the term index and the tail must
// give exactly what a brute-force evaluation over the original rows gives.
class PropertyTest : public ::testing::TestWithParam<int> {};

CellValue RandomValue(std::mt19937_64& rng, int col) {
  auto pick = [&](std::initializer_list<const char*> xs) { return std::string(*(xs.begin() + rng() % xs.size())); };
  if (rng() % 12 == 0) return std::monostate{};
  switch (col) {
    case kTs: return kBase + static_cast<int64_t>(rng() % (3 * kDay));
    case kAction: return pick({"ProcessCreated", "OpenProcess", "FileCreated", "processcreated", ""});
    case kCmd:
    case kExtra:
    case kComment: {
      static const char* kTokens[] = {"cmd.exe", "/c", "whoami", "powershell", "-enc", "PowerShell.exe", "net", "user", "WHOAMI",
                                      "who", "ami", "C:\\Windows\\System32\\svchost.exe", "-k", "netsvcs", "\xc3\xa9t\xc3\xa9",
                                      "\xe6\x97\xa5\xe6\x9c\xac", "a.b-c", "{\"k\":1}", "x"};
      static const char* kSeps[] = {" ", "  ", "\\", "/", ".", "", "-"};
      if (rng() % 20 == 0) return std::string();
      std::string s;
      if (rng() % 8 == 0) s = std::string(70, 'P');  // shared prefix beyond the zone-map prefix
      int n = 1 + static_cast<int>(rng() % 5);
      for (int i = 0; i < n; ++i) {
        if (i) s += kSeps[rng() % std::size(kSeps)];
        s += kTokens[rng() % std::size(kTokens)];
      }
      if (rng() % 4 == 0) s += std::to_string(rng() % 50);
      return s;
    }
    case kFile: return pick({"cmd.exe", "CMD.EXE", "powershell.exe", "svchost.exe", "a", "b"});
    case kSize: return static_cast<int64_t>(rng() % 7) - 2 + (rng() % 10 == 0 ? int64_t{1} << 40 : 0);
    case kPort: return static_cast<int64_t>(rng() % 5);
    case kElevated: return static_cast<int64_t>(rng() % 2);
    case kScore: {
      double xs[] = {1.5, -2.0, 0.0, -0.0, 3.25, INFINITY, std::nan("")};
      return xs[rng() % std::size(xs)];
    }
  }
  return std::monostate{};
}

Predicate RandomPredicate(std::mt19937_64& rng, const Rows& data) {
  static const char* kNames[] = {"Timestamp", "ActionType", "ProcessCommandLine", "FileName", "FileSize", "RemotePort",
                                 "IsElevated", "Score", "AdditionalFields", "Comment"};
  int col = static_cast<int>(rng() % kColumns);
  Predicate p;
  p.column = kNames[col];
  const bool is_string = col == kAction || col == kCmd || col == kFile || col == kExtra || col == kComment;
  auto operand = [&]() -> CellValue {
    if (is_string) {
      // A value from the data, a piece of one, a token, with the case sometimes changed.
      const CellValue& v = data[rng() % data.size()][col];
      std::string s = v.index() == 3 ? std::get<std::string>(v) : "whoami";
      if (!s.empty() && rng() % 2) {
        size_t a = rng() % s.size(), b = a + rng() % (s.size() - a + 1);
        s = s.substr(a, b - a);
      }
      if (rng() % 3 == 0) {
        for (char& c : s) c = static_cast<char>(rng() % 2 ? std::toupper(static_cast<unsigned char>(c)) : c);
      }
      if (rng() % 10 == 0) s = rng() % 2 ? "whoami" : "cmd.exe";
      return s;
    }
    if (rng() % 15 == 0) return std::monostate{};
    if (col == kScore || rng() % 6 == 0) {
      double xs[] = {1.5, -2.0, 0.0, 3.25, 2.5, INFINITY, std::nan("")};
      return xs[rng() % std::size(xs)];
    }
    const CellValue& v = data[rng() % data.size()][col];
    if (v.index() == 1) return std::get<int64_t>(v) + static_cast<int64_t>(rng() % 3) - 1;
    return int64_t{1};
  };
  std::vector<Op> ops = {Op::kEquals, Op::kNotEquals, Op::kIn, Op::kGreater, Op::kGreaterEq, Op::kLess, Op::kLessEq};
  if (is_string) {
    for (Op o : {Op::kEqualsCi, Op::kInCi, Op::kHas, Op::kHasAny, Op::kContains, Op::kStartsWith, Op::kHas, Op::kHas}) ops.push_back(o);
  }
  p.op = ops[rng() % ops.size()];
  int n = (p.op == Op::kIn || p.op == Op::kInCi || p.op == Op::kHasAny) ? 1 + static_cast<int>(rng() % 12) : 1;
  for (int i = 0; i < n; ++i) p.values.push_back(operand());
  return p;
}

TEST_P(PropertyTest, IndexesAndZoneMapsMatchBruteForce) {
  std::mt19937_64 rng(GetParam());
  TempDir dir;
  const size_t block_rows = 8 + rng() % 60;
  auto store = OpenStore(dir.path(), block_rows, /*seal_rows=*/300 + rng() % 500);
  const TableDef& table = ProbeRegistry().table(kProbe);
  Rows data;
  const int total = 1500 + static_cast<int>(rng() % 1500);
  while (static_cast<int>(data.size()) < total) {
    std::vector<Row> rows;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      Row r{kProbe, std::vector<CellValue>(kColumns)};
      for (int c = 0; c < kColumns; ++c) r.values[c] = RandomValue(rng, c);
      // Runs of similar time make zone maps prune; nulls and jumps keep them honest.
      if (rng() % 3 && r.values[kTs].index() == 1) r.values[kTs] = kBase + static_cast<int64_t>(data.size()) * 60 * kTicksPerSecond;
      data.push_back(r.values);
      rows.push_back(std::move(r));
    }
    ASSERT_TRUE(store->Append(Batch(rows)).ok());
    if (rng() % 25 == 0) {
      ASSERT_TRUE(store->Flush().ok());
    }
  }
  int nonempty = 0;
  uint64_t blocks_skipped = 0, segments_skipped = 0;
  for (int q = 0; q < 300; ++q) {
    ScanRequest req = Req();
    const int np = static_cast<int>(rng() % 3);
    for (int i = 0; i < np; ++i) req.predicates.push_back(RandomPredicate(rng, data));
    if (rng() % 3 == 0) req.from_ticks = kBase + static_cast<int64_t>(rng() % (3 * kDay));
    if (rng() % 3 == 0) req.to_ticks = kBase + static_cast<int64_t>(rng() % (3 * kDay));
    if (rng() % 4 == 0) req.batch_rows = 1 + rng() % 100;
    Rows expected;
    for (const auto& row : data) {
      if (RefRow(req, table, row)) expected.push_back(row);
    }
    auto got = Scan(*store, req);
    nonempty += !expected.empty();
    blocks_skipped += got.stats.blocks_skipped;
    segments_skipped += got.stats.segments_skipped;
    ASSERT_TRUE(SameRows(got.rows, expected)) << "query " << q << ": " << Describe(req);
    EXPECT_EQ(got.stats.rows_returned, expected.size());
  }
  EXPECT_GT(nonempty, 30);
  EXPECT_GT(blocks_skipped, 0u);  // the pruning paths were exercised, not just full scans
  EXPECT_GT(segments_skipped, 0u);
  // And once more with everything sealed.
  ASSERT_TRUE(store->Flush().ok());
  for (int q = 0; q < 100; ++q) {
    ScanRequest req = Req();
    req.predicates.push_back(RandomPredicate(rng, data));
    Rows expected;
    for (const auto& row : data) {
      if (RefRow(req, table, row)) expected.push_back(row);
    }
    ASSERT_TRUE(SameRows(Scan(*store, req).rows, expected)) << "sealed query " << q << ": " << Describe(req);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, PropertyTest, ::testing::Range(1, 9));

TEST_F(StoreTest, ConcurrentAppendAndScanSeeWholeBatches) {
  auto store = OpenStore(dir_.path(), 32, /*seal_rows=*/150);
  constexpr int kWriters = 2, kBatches = 150, kRowsPerBatch = 10;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  auto writer = [&](int w) {
    std::mt19937_64 rng(w);
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Row> rows;
      for (int i = 0; i < kRowsPerBatch; ++i) {
        Row r = ProbeRow(kBase + static_cast<int64_t>(rng() % (2 * kDay)));  // two partitions per batch
        r.values[kComment] = "w" + std::to_string(w) + "b" + std::to_string(b);
        rows.push_back(std::move(r));
      }
      if (!store->Append(Batch(rows)).ok()) ++failures;
      if (b % 40 == 0 && !store->Flush().ok()) ++failures;
    }
  };
  auto scanner = [&](bool with_predicate) {
    size_t last_total = 0;
    while (!done) {
      ScanRequest req = Req();
      req.columns = {"Comment"};
      if (with_predicate) req.predicates = {Predicate{"ProcessCommandLine", Op::kHas, {std::string("whoami")}}};
      std::map<std::string, int> per_batch;
      size_t total = 0;
      auto st = store->Scan(req, [&](ColumnBatch&& b) {
        for (size_t i = 0; i < b.rows; ++i) ++per_batch[b.columns[0].strings[i]];
        total += b.rows;
        return true;
      });
      if (!st) ++failures;
      for (const auto& [k, n] : per_batch) {
        if (n != kRowsPerBatch) ++failures;  // a torn batch
      }
      if (total < last_total) ++failures;  // snapshots only grow
      last_total = total;
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) threads.emplace_back(writer, w);
  std::thread s1(scanner, false), s2(scanner, true);
  for (auto& t : threads) t.join();
  done = true;
  s1.join();
  s2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Scan(*store, Req()).rows.size(), static_cast<size_t>(kWriters * kBatches * kRowsPerBatch));
  ASSERT_TRUE(store->Flush().ok());
  store.reset();
  store = OpenStore(dir_.path(), 32);
  EXPECT_EQ(Scan(*store, Req()).rows.size(), static_cast<size_t>(kWriters * kBatches * kRowsPerBatch));
}

TEST_F(StoreTest, HuntingSchemaTable) {
  const SchemaRegistry& reg = SchemaRegistry::Hunting();
  const TableDef* t = reg.Find("DeviceProcessEvents");
  ASSERT_NE(t, nullptr);
  auto store = OpenStore(dir_.path(), 64, 1 << 20, std::chrono::hours(1), reg);
  std::vector<Row> rows;
  for (int i = 0; i < 100; ++i) {
    Row r{t->id, std::vector<CellValue>(t->columns.size())};
    r.values[t->Find("Timestamp")] = kBase + i;
    r.values[t->Find("DeviceId")] = std::string(40, 'a');
    r.values[t->Find("DeviceName")] = std::string("host.contoso.com");
    r.values[t->Find("ActionType")] = std::string(i % 10 ? "ProcessCreated" : "OpenProcess");
    r.values[t->Find("ProcessCommandLine")] = std::string(i == 42 ? "cmd.exe /c whoami" : "notepad.exe");
    rows.push_back(std::move(r));
  }
  ASSERT_TRUE(store->Append(Batch(rows)).ok());
  ASSERT_TRUE(store->Flush().ok());
  ScanRequest req = Req("DeviceProcessEvents");
  req.columns = {"Timestamp", "DeviceName"};
  req.predicates = {Predicate{"ActionType", Op::kEquals, {std::string("ProcessCreated")}},
                    Predicate{"DeviceName", Op::kHas, {std::string("contoso")}}};
  EXPECT_EQ(Scan(*store, req).rows.size(), 90u);
  req.predicates = {Predicate{"ProcessCommandLine", Op::kHas, {std::string("whoami")}}};
  auto r = Scan(*store, req);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(r.rows[0][0]), kBase + 42);
}

}  // namespace
}  // namespace ward::events
