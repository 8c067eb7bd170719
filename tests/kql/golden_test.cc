// Golden query tests in the style of DuckDB's sqllogictest: tests/kql/*.test hold datasets and
// queries with their expected rows. Each file runs twice: on its own ColumnarStore in a temp dir,
// loaded with the file's rows (sealed to segments, so zone maps and term indexes take part), and on
// a ClickHouseStore in a fresh database of the binary's one ClickHouse server
// (tests/support/clickhouse_server.h; skipped without clickhouse-server unless
// WARD_REQUIRE_CLICKHOUSE=1). Every query goes through kql::RunQuery; both must give the expected rows.
//
// File format (one directive per block; blocks end at a blank line):
//   # comment
//   table <HuntingTable>            next line: column names separated by '|'; then rows,
//   Col1 | Col2 …                   cells separated by '|', NULL = null (types from the schema)
//   now <ISO datetime>              now() for the following queries (default 2024-03-12T00:00:00Z)
//   scope <DeviceId,…>|all          device scope of the following queries
//   option max_rows <n> | threads <n> | lookback_hours <n> | max_result_bytes <n>
//   query [rowsort] [types]         then the query lines, a line "----", the header line
//                                   (column names, with :type when `types`), then expected rows
//   error [L:C]                     then the query lines, "----", and a substring of the message
// Cells print as: NULL, (empty) for "", ISO datetimes, [d.]hh:mm:ss timespans, JSON for dynamic.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/time.h"
#include "events/clickhouse_store.h"
#include "events/event_store.h"
#include "kql/engine.h"
#include "kql/value.h"
#include "common/temp_dir.h"
#include "support/clickhouse_server.h"

namespace ward::kql {
namespace {

namespace fs = std::filesystem;

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> SplitCells(const std::string& line) {
  std::vector<std::string> out;
  size_t p = 0;
  while (true) {
    size_t q = line.find(" | ", p);
    if (q == std::string::npos) {
      out.push_back(Trim(line.substr(p)));
      return out;
    }
    out.push_back(Trim(line.substr(p, q - p)));
    p = q + 3;
  }
}

std::string FormatCell(const Column& c, size_t i) {
  if (c.nulls[i]) return "NULL";
  std::string s = CellToString(c, i);
  if (c.type == Type::kDynamic) s = c.strings[i];
  return s.empty() ? "(empty)" : s;
}

// Test directories (tests/common/temp_dir.h), named for this suite.
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("ward_kql_golden") {}
};

struct Runner {
  std::string file;
  std::vector<std::string> lines;
  size_t i = 0;
  std::unique_ptr<events::EventStore> store;
  const events::SchemaRegistry& reg = events::SchemaRegistry::Hunting();
  QueryOptions opts;
  bool dirty = false;
  int queries = 0;

  std::string Where() const { return file + ":" + std::to_string(i); }

  std::vector<std::string> Block() {
    std::vector<std::string> out;
    while (i < lines.size() && !Trim(lines[i]).empty()) out.push_back(lines[i++]);
    return out;
  }

  events::CellValue Cell(const events::ColumnDef& def, const std::string& text) {
    if (text == "NULL") return std::monostate{};
    switch (def.type) {
      case events::ColumnType::kDatetime: {
        auto t = ParseIsoTicks(text);
        EXPECT_TRUE(t.has_value()) << Where() << ": bad datetime " << text;
        return t ? events::CellValue(*t) : events::CellValue(std::monostate{});
      }
      case events::ColumnType::kLong:
      case events::ColumnType::kInt: return int64_t{std::stoll(text)};
      case events::ColumnType::kBool: return int64_t{text == "true" || text == "1"};
      case events::ColumnType::kReal: return std::stod(text);
      default: return text == "(empty)" ? std::string() : text;
    }
  }

  void LoadTable(const std::string& name, std::vector<std::string> block) {
    const events::TableDef* t = reg.Find(name);
    ASSERT_NE(t, nullptr) << Where() << ": unknown table " << name;
    ASSERT_FALSE(block.empty()) << Where() << ": table without header";
    std::vector<int> cols;
    for (const std::string& c : SplitCells(block[0])) {
      int k = t->Find(c);
      ASSERT_GE(k, 0) << Where() << ": unknown column " << c;
      cols.push_back(k);
    }
    events::RowBatch b;
    b.tenant_id = "tenant-a";
    b.device_id = std::string(40, 'd');
    b.batch_id = "golden";
    b.received_ticks = *ParseIsoTicks("2024-03-10T00:00:00Z");
    for (size_t r = 1; r < block.size(); ++r) {
      auto cells = SplitCells(block[r]);
      ASSERT_EQ(cells.size(), cols.size()) << Where() << ": row " << block[r];
      events::Row row{t->id, std::vector<events::CellValue>(t->columns.size())};
      for (size_t k = 0; k < cols.size(); ++k) row.values[cols[k]] = Cell(t->columns[cols[k]], cells[k]);
      b.rows.push_back(std::move(row));
    }
    auto st = store->Append(b);
    ASSERT_TRUE(st.ok()) << Where() << ": " << st.message();
    dirty = true;
  }

  void RunQuery(const std::string& header) {
    std::istringstream hs(header);
    std::string word;
    hs >> word;
    const bool expect_error = word == "error";
    bool rowsort = false, types = false;
    int want_line = 0, want_col = 0;
    while (hs >> word) {
      if (word == "rowsort") rowsort = true;
      else if (word == "types") types = true;
      else if (expect_error && std::sscanf(word.c_str(), "%d:%d", &want_line, &want_col) == 2) {
      }
    }
    const size_t start = i;
    std::string query;
    while (i < lines.size() && Trim(lines[i]) != "----") query += lines[i++] + "\n";
    ASSERT_LT(i, lines.size()) << file << ":" << start << ": query without ----";
    ++i;
    std::vector<std::string> expected = Block();
    if (dirty) {
      ASSERT_TRUE(store->Flush().ok());
      dirty = false;
    }
    ++queries;
    QueryError qe;
    auto r = kql::RunQuery(query, opts, *store, reg, &qe);
    const std::string at = file + ":" + std::to_string(start) + ": " + Trim(query);
    if (expect_error) {
      ASSERT_FALSE(r.has_value()) << at << "\nexpected an error, got " << (r ? r->rows : 0) << " rows";
      for (const std::string& e : expected) EXPECT_NE(r.error().message().find(Trim(e)), std::string::npos) << at << "\nmessage: " << r.error().message();
      if (want_line) {
        EXPECT_EQ(qe.line, want_line) << at << "\nmessage: " << r.error().message();
        EXPECT_EQ(qe.column, want_col) << at << "\nmessage: " << r.error().message();
      }
      return;
    }
    ASSERT_TRUE(r.has_value()) << at << "\nerror: " << r.error().message();
    std::vector<std::string> got;
    std::string head;
    for (size_t k = 0; k < r->columns.size(); ++k) {
      head += (k ? " | " : "") + r->columns[k].name;
      if (types) head += std::string(":") + TypeName(r->columns[k].type);
    }
    for (size_t row = 0; row < r->rows; ++row) {
      std::string line;
      for (size_t k = 0; k < r->columns.size(); ++k) line += (k ? " | " : "") + FormatCell(r->columns[k], row);
      got.push_back(line);
    }
    std::vector<std::string> want;
    for (size_t k = 1; k < expected.size(); ++k) want.push_back(Trim(expected[k]));
    if (rowsort) {
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
    }
    ASSERT_FALSE(expected.empty()) << at << ": no header line";
    EXPECT_EQ(head, Trim(expected[0])) << at;
    std::string g, w;
    for (auto& s : got) g += s + "\n";
    for (auto& s : want) w += s + "\n";
    EXPECT_EQ(g, w) << at;
  }

  void Run(const std::string& clickhouse_url) {
    TempDir dir;
    if (clickhouse_url.empty()) {
      events::ColumnarStoreOptions so;
      so.dir = dir.path();
      so.block_rows = 4;  // several blocks per segment, so zone maps and the term index prune
      auto s = events::ColumnarStore::Open(so, reg);
      ASSERT_TRUE(s.has_value()) << s.error().message();
      store = std::move(*s);
    } else {
      events::ClickHouseStoreOptions co;
      co.url = clickhouse_url + "?database=" + test::ClickHouseServer::Get().FreshDatabase("golden");
      co.page_rows = 5;  // several pages per scan, so keyset pagination takes part
      auto s = events::ClickHouseStore::Open(co, reg);
      ASSERT_TRUE(s.has_value()) << s.error().message();
      store = std::move(*s);
    }
    opts.tenant_id = "tenant-a";
    opts.now_ticks = *ParseIsoTicks("2024-03-12T00:00:00Z");
    while (i < lines.size()) {
      std::string line = Trim(lines[i]);
      if (line.empty() || line[0] == '#') {
        ++i;
        continue;
      }
      std::istringstream ls(line);
      std::string word;
      ls >> word;
      if (word == "table") {
        std::string name;
        ls >> name;
        ++i;
        LoadTable(name, Block());
      } else if (word == "now") {
        std::string t;
        ls >> t;
        opts.now_ticks = *ParseIsoTicks(t);
        ++i;
      } else if (word == "scope") {
        std::string ids;
        ls >> ids;
        if (ids == "all") {
          opts.device_ids.reset();
        } else {
          opts.device_ids.emplace();
          std::stringstream ss(ids == "none" ? "" : ids);
          std::string id;
          while (std::getline(ss, id, ',')) opts.device_ids->insert(id);
        }
        ++i;
      } else if (word == "option") {
        std::string key;
        long long v = 0;
        ls >> key >> v;
        if (key == "max_rows") opts.max_rows = static_cast<size_t>(v);
        else if (key == "threads") opts.threads = static_cast<int>(v);
        else if (key == "lookback_hours") opts.lookback = std::chrono::hours(v);
        else if (key == "max_result_bytes") opts.max_result_bytes = static_cast<size_t>(v);
        else ADD_FAILURE() << Where() << ": unknown option " << key;
        ++i;
      } else if (word == "query" || word == "error") {
        ++i;
        RunQuery(line);
      } else {
        ADD_FAILURE() << Where() << ": unknown directive " << line;
        ++i;
      }
    }
  }
};

std::vector<fs::path> TestFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(WARD_SOURCE_DIR) / "tests" / "kql")) {
    if (e.path().extension() == ".test") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class Golden : public ::testing::TestWithParam<std::tuple<fs::path, std::string>> {};

TEST_P(Golden, File) {
  const auto& [path, backend] = GetParam();
  std::string url;
  if (backend == "ClickHouse") {
    url = CLICKHOUSE_URL_OR_SKIP();
  }
  Runner r;
  r.file = path.filename().string();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) r.lines.push_back(line);
  r.Run(url);
  EXPECT_GT(r.queries, 0) << r.file << " has no query";
}

INSTANTIATE_TEST_SUITE_P(Kql, Golden, ::testing::Combine(::testing::ValuesIn(TestFiles()), ::testing::Values("Columnar", "ClickHouse")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param).stem().string();
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace ward::kql
