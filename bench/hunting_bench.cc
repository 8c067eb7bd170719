// Advanced-hunting benchmark (issue 5, docs/benchmarks.md "Advanced hunting"): the same simulated
// telemetry in Ward's columnar store, in SQLite and in ClickHouse, the same hunts in KQL and SQL,
// answers compared, latencies measured in one run. Driven by bench/hunting.sh; subcommands:
//
//   generate --work DIR --events N [--devices 1000] [--days 7] [--seed 1]
//       Simulated fleet (sensor::SimTelemetry: SimDevice's activity model plus the derived tables),
//       time-ordered across devices as ingest would deliver it, appended through ColumnarStore
//       (real segments, dictionaries, zone maps, term index) into DIR/ward, and the rows of the four
//       tables the SQL engines get written to DIR/tsv/<Table>.tsv (TabSeparated, the hunts' columns).
//   load-sqlite --work DIR       DIR/tsv → DIR/sqlite.db (tables, indexes, FTS5 for `has`).
//   clickhouse-ddl               CREATE TABLE statements for ClickHouse (MergeTree).
//   run --work DIR --ch-port P [--runs 5] [--budget-seconds 20]
//       Every hunt on every engine: one warm-up (reported as "first"), then up to --runs timed
//       runs within the budget; median latency, answers compared (rows and the sum of the last column).
//
// Timestamps reach the SQL engines as whole Unix seconds (ClickHouse 18.16 has no sub-second
// DateTime); every time bound in the hunts is a whole second, so answers are the same.
#include <sqlite3.h>
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/time.h"
#include "events/event_store.h"
#include "http/client.h"
#include "kql/engine.h"
#include "sensor/sim_telemetry.h"

namespace ward::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* const kTenant = "bench";
// The data ends here (a whole second); ago() in the hunts is relative to it.
const int64_t kNow = *ParseIsoTicks("2026-11-01T00:00:00Z");
int64_t NowSeconds() { return kNow / kTicksPerSecond; }

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// ---- the tables and columns the SQL engines get

struct SqlTable {
  const char* name;
  std::vector<const char*> columns;
};
const std::vector<SqlTable>& SqlTables() {
  static const std::vector<SqlTable> tables = {
      {"DeviceProcessEvents",
       {"Timestamp", "DeviceId", "DeviceName", "ActionType", "FileName", "FolderPath", "SHA256", "ProcessId", "ProcessCommandLine",
        "AccountName", "InitiatingProcessFileName", "InitiatingProcessId", "InitiatingProcessCommandLine"}},
      {"DeviceNetworkEvents",
       {"Timestamp", "DeviceId", "DeviceName", "ActionType", "RemoteIP", "RemotePort", "RemoteUrl", "LocalIP", "LocalPort", "Protocol",
        "InitiatingProcessFileName", "InitiatingProcessId", "InitiatingProcessCommandLine"}},
      {"DeviceFileEvents",
       {"Timestamp", "DeviceId", "DeviceName", "ActionType", "FileName", "FolderPath", "SHA256", "InitiatingProcessFileName",
        "InitiatingProcessId", "InitiatingProcessCommandLine"}},
      {"DeviceLogonEvents",
       {"Timestamp", "DeviceId", "DeviceName", "ActionType", "LogonType", "AccountName", "RemoteIP", "RemotePort", "FailureReason",
        "InitiatingProcessFileName"}},
  };
  return tables;
}

events::ColumnType TypeOf(const char* table, const char* column) {
  const events::TableDef* t = events::SchemaRegistry::Hunting().Find(table);
  return t->columns[static_cast<size_t>(t->Find(column))].type;
}

// ---- the hunts

struct Hunt {
  const char* name;
  const char* kql;
  const char* sqlite;
  const char* clickhouse;
  const char* sqlite_like = nullptr;  // `has` only: the LIKE form next to FTS5
};

std::string Fill(std::string s) {  // @AGO1D@ = now - 1 day in Unix seconds
  const std::string key = "@AGO1D@";
  for (size_t p; (p = s.find(key)) != std::string::npos;) s.replace(p, key.size(), std::to_string(NowSeconds() - 86400));
  return s;
}

const std::vector<Hunt>& Hunts() {
  static const std::vector<Hunt> hunts = {
      {"has on ProcessCommandLine",
       R"(DeviceProcessEvents | where ProcessCommandLine has "shadow" | count)",
       "SELECT count(*) FROM DeviceProcessEvents_fts WHERE DeviceProcessEvents_fts MATCH 'shadow'",
       "SELECT count() FROM DeviceProcessEvents WHERE positionCaseInsensitive(ProcessCommandLine, 'shadow') > 0",
       "SELECT count(*) FROM DeviceProcessEvents WHERE ProcessCommandLine LIKE '%shadow%'"},
      {"=~ on FileName",
       R"(DeviceProcessEvents | where FileName =~ "NC.TRADITIONAL" | summarize count() by DeviceName)",
       "SELECT DeviceName, count(*) FROM DeviceProcessEvents WHERE FileName = 'NC.TRADITIONAL' COLLATE NOCASE GROUP BY DeviceName",
       "SELECT DeviceName, count() FROM DeviceProcessEvents WHERE lower(FileName) = 'nc.traditional' GROUP BY DeviceName"},
      {"count by DeviceName, bin(1h)",
       R"(DeviceNetworkEvents | summarize count() by DeviceName, bin(Timestamp, 1h))",
       "SELECT DeviceName, Timestamp / 3600 AS h, count(*) FROM DeviceNetworkEvents GROUP BY DeviceName, h",
       "SELECT DeviceName, toStartOfHour(Timestamp) AS h, count() FROM DeviceNetworkEvents GROUP BY DeviceName, h"},
      {"dcount by DeviceName",
       R"(DeviceNetworkEvents | where ActionType == "InboundConnectionAccepted" | summarize dcount(RemoteIP) by DeviceName)",
       "SELECT DeviceName, count(DISTINCT RemoteIP) FROM DeviceNetworkEvents WHERE ActionType = 'InboundConnectionAccepted' GROUP BY DeviceName",
       "SELECT DeviceName, uniqExact(RemoteIP) FROM DeviceNetworkEvents WHERE ActionType = 'InboundConnectionAccepted' GROUP BY DeviceName"},
      {"join process → network",
       R"(DeviceProcessEvents
| where FileName in~ ("curl", "wget", "nc.traditional", "python3.10")
| project DeviceId, ProcessId, FileName
| join kind=inner (DeviceNetworkEvents | where ActionType == "ConnectionSuccess" | project DeviceId, InitiatingProcessId, RemoteIP)
    on DeviceId, $left.ProcessId == $right.InitiatingProcessId
| summarize Connections = count() by FileName)",
       "SELECT p.FileName, count(*) FROM DeviceProcessEvents p JOIN DeviceNetworkEvents n ON n.DeviceId = p.DeviceId AND "
       "n.InitiatingProcessId = p.ProcessId WHERE p.FileName COLLATE NOCASE IN ('curl', 'wget', 'nc.traditional', 'python3.10') "
       "AND n.ActionType = 'ConnectionSuccess' GROUP BY p.FileName",
       "SELECT FileName, count() FROM (SELECT DeviceId, InitiatingProcessId AS ProcessId FROM DeviceNetworkEvents WHERE ActionType = "
       "'ConnectionSuccess') ALL INNER JOIN (SELECT DeviceId, ProcessId, FileName FROM DeviceProcessEvents WHERE lower(FileName) IN "
       "('curl', 'wget', 'nc.traditional', 'python3.10')) USING (DeviceId, ProcessId) GROUP BY FileName"},
      {"top 10 by count",
       R"(DeviceFileEvents | where ActionType == "FileCreated" | summarize Files = count() by FolderPath | top 10 by Files)",
       "SELECT FolderPath, count(*) AS Files FROM DeviceFileEvents WHERE ActionType = 'FileCreated' GROUP BY FolderPath ORDER BY Files DESC LIMIT 10",
       "SELECT FolderPath, count() AS Files FROM DeviceFileEvents WHERE ActionType = 'FileCreated' GROUP BY FolderPath ORDER BY Files DESC LIMIT 10"},
      {"let list + in~",
       R"(let Tools = dynamic(["WGET", "Base64", "nc.traditional", "CHMOD", "cp"]);
DeviceProcessEvents | where FileName in~ (Tools) | summarize count() by FileName)",
       "SELECT FileName, count(*) FROM DeviceProcessEvents WHERE FileName COLLATE NOCASE IN ('WGET', 'Base64', 'nc.traditional', 'CHMOD', 'cp') "
       "GROUP BY FileName",
       "SELECT FileName, count() FROM DeviceProcessEvents WHERE lower(FileName) IN ('wget', 'base64', 'nc.traditional', 'chmod', 'cp') "
       "GROUP BY FileName"},
      {"matches regex",
       R"(DeviceProcessEvents | where ProcessCommandLine matches regex @"(curl|wget) .*http://[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/" | summarize count() by DeviceName)",
       R"(SELECT DeviceName, count(*) FROM DeviceProcessEvents WHERE ProcessCommandLine REGEXP '(curl|wget) .*http://[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/' GROUP BY DeviceName)",
       R"(SELECT DeviceName, count() FROM DeviceProcessEvents WHERE match(ProcessCommandLine, '(curl|wget) .*http://[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+/') GROUP BY DeviceName)"},
      {"failed logons ≥ 10 per source",
       R"(DeviceLogonEvents | where ActionType == "LogonFailed" | summarize Failures = count() by DeviceName, RemoteIP | where Failures >= 10 | count)",
       "SELECT count(*) FROM (SELECT DeviceName, RemoteIP, count(*) AS f FROM DeviceLogonEvents WHERE ActionType = 'LogonFailed' "
       "GROUP BY DeviceName, RemoteIP HAVING f >= 10)",
       "SELECT count() FROM (SELECT DeviceName, RemoteIP, count() AS f FROM DeviceLogonEvents WHERE ActionType = 'LogonFailed' "
       "GROUP BY DeviceName, RemoteIP HAVING f >= 10)"},
      {"IoC IPs, last day",
       R"(DeviceNetworkEvents | where Timestamp >= ago(1d) and RemoteIP in ("45.9.148.114", "185.220.101.4", "91.240.118.172") | summarize count() by DeviceName)",
       "SELECT DeviceName, count(*) FROM DeviceNetworkEvents WHERE Timestamp >= @AGO1D@ AND RemoteIP IN ('45.9.148.114', '185.220.101.4', "
       "'91.240.118.172') GROUP BY DeviceName",
       "SELECT DeviceName, count() FROM DeviceNetworkEvents WHERE Timestamp >= toDateTime(@AGO1D@) AND RemoteIP IN ('45.9.148.114', "
       "'185.220.101.4', '91.240.118.172') GROUP BY DeviceName"},
  };
  return hunts;
}

// ---- arguments

struct Args {
  std::map<std::string, std::string> kv;
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  long Int(const std::string& k, long def) const { return kv.count(k) ? std::stol(kv.at(k)) : def; }
};

Args ParseArgs(int argc, char** argv, int from) {
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) == 0 && i + 1 < argc) a.kv[k.substr(2)] = argv[++i];
  }
  return a;
}

uint64_t DirBytes(const fs::path& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  }
  return n;
}

// ---- generate

// TabSeparated escaping (ClickHouse's): backslash, tab and newline.
void AppendEscaped(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

class TsvWriter {
 public:
  explicit TsvWriter(const fs::path& dir) {
    const auto& reg = events::SchemaRegistry::Hunting();
    for (const SqlTable& t : SqlTables()) {
      const events::TableDef* def = reg.Find(t.name);
      Out o;
      o.file = std::fopen((dir / (std::string(t.name) + ".tsv")).c_str(), "w");
      for (const char* c : t.columns) {
        o.columns.push_back(static_cast<size_t>(def->Find(c)));
        o.is_time.push_back(TypeOf(t.name, c) == events::ColumnType::kDatetime);
        o.is_text.push_back(TypeOf(t.name, c) == events::ColumnType::kString);
      }
      outs_[def->id] = std::move(o);
    }
  }
  ~TsvWriter() {
    for (auto& [id, o] : outs_) std::fclose(o.file);
  }
  void Write(const events::Row& row) {
    auto it = outs_.find(row.table);
    if (it == outs_.end()) return;
    Out& o = it->second;
    line_.clear();
    for (size_t k = 0; k < o.columns.size(); ++k) {
      if (k) line_ += '\t';
      const events::CellValue& v = row.values[o.columns[k]];
      // Nulls become "" / 0: the SQL tables are not Nullable (as a ClickHouse user would define them).
      if (const auto* i = std::get_if<int64_t>(&v)) {
        int64_t x = o.is_time[k] ? (*i >= 0 ? *i / kTicksPerSecond : -((-*i + kTicksPerSecond - 1) / kTicksPerSecond)) : *i;
        line_ += std::to_string(x);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        AppendEscaped(line_, *s);
      } else if (const auto* d = std::get_if<double>(&v)) {
        line_ += std::to_string(*d);
      } else if (!o.is_text[k]) {
        line_ += "0";
      }
    }
    line_ += '\n';
    std::fwrite(line_.data(), 1, line_.size(), o.file);
    ++rows_[row.table];
  }
  const std::map<uint16_t, uint64_t>& rows() const { return rows_; }

 private:
  struct Out {
    std::FILE* file = nullptr;
    std::vector<size_t> columns;
    std::vector<bool> is_time, is_text;
  };
  std::map<uint16_t, Out> outs_;
  std::map<uint16_t, uint64_t> rows_;
  std::string line_;
};

int Generate(const Args& a) {
  const fs::path work = a.Get("work");
  const uint64_t target = static_cast<uint64_t>(a.Int("events", 10'000'000));
  const int devices = static_cast<int>(a.Int("devices", 1000));
  const int days = static_cast<int>(a.Int("days", 7));
  const uint64_t seed = static_cast<uint64_t>(a.Int("seed", 1));
  const auto& reg = events::SchemaRegistry::Hunting();
  fs::remove_all(work / "ward");
  fs::remove_all(work / "tsv");
  fs::create_directories(work / "tsv");

  // Rows per activity, from a pilot run, so the fleet's activities fill the whole window.
  double rows_per_activity;
  {
    sensor::SimTelemetry tel(reg);
    std::vector<events::Row> rows;
    std::mt19937_64 rng(seed);
    const int pilot_activities = 2000;
    for (int d = 0; d < 16; ++d) {
      sensor::SimDevice dev(d, seed, kNow);
      for (int i = 0; i < pilot_activities / 16; ++i) tel.Activity(dev, "x", rng, kNow, rng() % 100 == 0, rows);
    }
    rows_per_activity = static_cast<double>(rows.size()) / pilot_activities;
  }
  const int64_t window = int64_t{days} * 86400 * kTicksPerSecond;
  const int64_t start = kNow - window;
  const double activities = static_cast<double>(target) / rows_per_activity / devices;  // per device
  const int slices = days * 24 * 12;                                                      // 5-minute slices
  const double per_slice = activities / slices * 1.02;  // a little over: the last minutes may be cut at `target`

  auto store = events::ColumnarStore::Open({.dir = (work / "ward").string()}, reg);
  if (!store) {
    std::fprintf(stderr, "open store: %s\n", store.error().message().c_str());
    return 1;
  }

  // Generation on this thread, store append + TSV on a second one (bounded queue): both cores, and a
  // deterministic order of rows.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<events::RowBatch> queue;
  bool done = false;
  double append_seconds = 0, tsv_seconds = 0;
  std::map<uint16_t, uint64_t> per_table;
  Status append_status = Status::Ok();
  std::thread writer([&] {
    TsvWriter tsv(work / "tsv");
    for (;;) {
      events::RowBatch b;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) break;
        b = std::move(queue.front());
        queue.pop_front();
      }
      cv.notify_all();
      auto t0 = Clock::now();
      for (const events::Row& r : b.rows) tsv.Write(r);
      auto t1 = Clock::now();
      tsv_seconds += std::chrono::duration<double>(t1 - t0).count();
      for (const events::Row& r : b.rows) per_table[r.table]++;
      Status s = (*store)->Append(b);
      if (!s.ok() && append_status.ok()) append_status = s;
      append_seconds += Seconds(t1);
    }
    auto t0 = Clock::now();
    Status s = (*store)->Flush();
    if (!s.ok() && append_status.ok()) append_status = s;
    append_seconds += Seconds(t0);
  });

  auto t_start = Clock::now();
  std::vector<sensor::SimDevice> fleet;
  std::vector<std::mt19937_64> rngs;
  std::vector<std::string> ids;
  std::vector<double> owed(static_cast<size_t>(devices), 0);
  for (int d = 0; d < devices; ++d) {
    fleet.emplace_back(d, seed, start);
    rngs.emplace_back(seed * 1'000'003 + static_cast<uint64_t>(d));
    ids.push_back(sensor::SimTelemetry::DeviceIdFor(d));
  }
  sensor::SimTelemetry tel(reg);
  uint64_t produced = 0;
  const int64_t slice_ticks = window / slices;
  for (int s = 0; s < slices && produced < target; ++s) {
    events::RowBatch b;
    b.tenant_id = kTenant;
    b.device_id = std::string(40, '0');
    b.batch_id = std::to_string(s);
    b.received_ticks = start + s * slice_ticks;
    for (int d = 0; d < devices && produced + b.rows.size() < target; ++d) {
      auto& rng = rngs[static_cast<size_t>(d)];
      const int64_t slice_start = start + s * slice_ticks;
      if (s % (24 * 12) == 0) tel.Inventory(fleet[static_cast<size_t>(d)], ids[static_cast<size_t>(d)], slice_start + static_cast<int64_t>(rng() % slice_ticks), b.rows);
      owed[static_cast<size_t>(d)] += per_slice;
      // Activities of this device in this slice at random times, in time order.
      std::vector<int64_t> times;
      while (owed[static_cast<size_t>(d)] >= 1) {
        owed[static_cast<size_t>(d)] -= 1;
        times.push_back(slice_start + static_cast<int64_t>(rng() % static_cast<uint64_t>(slice_ticks)));
      }
      std::sort(times.begin(), times.end());
      for (int64_t t : times) {
        tel.Activity(fleet[static_cast<size_t>(d)], ids[static_cast<size_t>(d)], rng, t, rng() % 100 == 0, b.rows);
      }
    }
    if (produced + b.rows.size() > target) b.rows.resize(target - produced);  // exactly `target` rows overall
    produced += b.rows.size();
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return queue.size() < 4; });
    queue.push_back(std::move(b));
    cv.notify_all();
    if (s % 200 == 0) std::fprintf(stderr, "  slice %d/%d, %llu rows, %.0f s\n", s, slices, static_cast<unsigned long long>(produced), Seconds(t_start));
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  writer.join();
  if (!append_status.ok()) {
    std::fprintf(stderr, "store: %s\n", append_status.message().c_str());
    return 1;
  }
  const double total_seconds = Seconds(t_start);
  std::printf("generated %llu rows (%d devices, %d days, seed %llu, %.2f rows/activity) in %.1f s\n",
              static_cast<unsigned long long>(produced), devices, days, static_cast<unsigned long long>(seed), rows_per_activity,
              total_seconds);
  std::printf("ward store: append+seal %.1f s of the writer thread (%.0f rows/s), %.1f GB on disk, %.1f B/row; TSV %.1f s\n",
              append_seconds, static_cast<double>(produced) / append_seconds, static_cast<double>(DirBytes(work / "ward")) / 1e9,
              static_cast<double>(DirBytes(work / "ward")) / static_cast<double>(produced), tsv_seconds);
  std::printf("%-28s %12s %10s\n", "table", "rows", "share");
  std::ofstream summary(work / "generate.txt");
  for (const auto& [id, n] : per_table) {
    std::printf("%-28s %12llu %9.1f%%\n", reg.tables()[id].name.c_str(), static_cast<unsigned long long>(n),
                100.0 * static_cast<double>(n) / static_cast<double>(produced));
    summary << reg.tables()[id].name << '\t' << n << '\n';
  }
  summary << "append_seconds\t" << append_seconds << "\ntotal_rows\t" << produced << '\n';
  return 0;
}

// ---- SQLite

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n  in %s\n", err ? err : "?", sql.c_str());
    std::exit(1);
  }
}

// RE2 behind SQLite's REGEXP operator (SQLite has none built in); compiled once per statement.
void SqliteRegexp(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto* re = static_cast<RE2*>(sqlite3_get_auxdata(ctx, 0));
  if (!re) {
    const char* pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    re = new RE2(pattern ? pattern : "");
    sqlite3_set_auxdata(ctx, 0, re, [](void* p) { delete static_cast<RE2*>(p); });
  }
  const unsigned char* text = sqlite3_value_text(argv[1]);
  int n = sqlite3_value_bytes(argv[1]);
  sqlite3_result_int(ctx, text && RE2::PartialMatch(re2::StringPiece(reinterpret_cast<const char*>(text), static_cast<size_t>(n)), *re));
}

sqlite3* OpenSqlite(const fs::path& file) {
  sqlite3* db = nullptr;
  Check(sqlite3_open(file.c_str(), &db), db, "open");
  Check(sqlite3_create_function(db, "regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, SqliteRegexp, nullptr, nullptr), db, "regexp");
  Exec(db, "PRAGMA cache_size = -2000000");  // 2 GB page cache: the data set fits, as it does for the others
  Exec(db, "PRAGMA mmap_size = 68719476736");
  return db;
}

std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

int LoadSqlite(const Args& a) {
  const fs::path work = a.Get("work");
  const fs::path file = work / "sqlite.db";
  fs::remove(file);
  sqlite3* db = OpenSqlite(file);
  Exec(db, "PRAGMA journal_mode = OFF");
  Exec(db, "PRAGMA synchronous = OFF");
  auto t0 = Clock::now();
  for (const SqlTable& t : SqlTables()) {
    std::string ddl = std::string("CREATE TABLE ") + t.name + " (";
    std::string ins = std::string("INSERT INTO ") + t.name + " VALUES (";
    for (size_t k = 0; k < t.columns.size(); ++k) {
      events::ColumnType ty = TypeOf(t.name, t.columns[k]);
      ddl += std::string(k ? ", " : "") + t.columns[k] + (ty == events::ColumnType::kString ? " TEXT" : " INTEGER");
      ins += k ? ", ?" : "?";
    }
    Exec(db, ddl + ")");
    sqlite3_stmt* st = nullptr;
    Check(sqlite3_prepare_v2(db, (ins + ")").c_str(), -1, &st, nullptr), db, "prepare insert");
    std::vector<bool> text;
    for (const char* c : t.columns) text.push_back(TypeOf(t.name, c) == events::ColumnType::kString);
    Exec(db, "BEGIN");
    std::ifstream in(work / "tsv" / (std::string(t.name) + ".tsv"));
    std::string line;
    std::vector<std::string> fields;
    while (std::getline(in, line)) {
      fields.clear();
      size_t from = 0;
      for (size_t k = 0; k < t.columns.size(); ++k) {
        size_t tab = line.find('\t', from);
        std::string_view f(line.data() + from, (tab == std::string::npos ? line.size() : tab) - from);
        fields.push_back(f.find('\\') == std::string_view::npos ? std::string(f) : Unescape(f));
        from = tab == std::string::npos ? line.size() : tab + 1;
      }
      for (size_t k = 0; k < fields.size(); ++k) {
        if (text[k]) sqlite3_bind_text(st, static_cast<int>(k + 1), fields[k].data(), static_cast<int>(fields[k].size()), SQLITE_STATIC);
        else sqlite3_bind_int64(st, static_cast<int>(k + 1), std::stoll(fields[k]));
      }
      Check(sqlite3_step(st), db, "insert");
      sqlite3_reset(st);
    }
    Exec(db, "COMMIT");
    sqlite3_finalize(st);
  }
  const double insert_seconds = Seconds(t0);
  auto t1 = Clock::now();
  // Sensible hunting indexes: time, device + time, names (case-insensitive, as hunts compare them),
  // ActionType, remote IPs, and the process key joins use.
  const char* const kIndexes[] = {
      "CREATE INDEX p_ts ON DeviceProcessEvents(Timestamp)",
      "CREATE INDEX p_dev ON DeviceProcessEvents(DeviceName, Timestamp)",
      "CREATE INDEX p_file ON DeviceProcessEvents(FileName COLLATE NOCASE)",
      "CREATE INDEX n_ts ON DeviceNetworkEvents(Timestamp)",
      "CREATE INDEX n_dev ON DeviceNetworkEvents(DeviceName, Timestamp)",
      "CREATE INDEX n_action ON DeviceNetworkEvents(ActionType)",
      "CREATE INDEX n_ip ON DeviceNetworkEvents(RemoteIP)",
      "CREATE INDEX n_proc ON DeviceNetworkEvents(DeviceId, InitiatingProcessId)",
      "CREATE INDEX f_ts ON DeviceFileEvents(Timestamp)",
      "CREATE INDEX f_dev ON DeviceFileEvents(DeviceName, Timestamp)",
      "CREATE INDEX f_file ON DeviceFileEvents(FileName COLLATE NOCASE)",
      "CREATE INDEX f_action ON DeviceFileEvents(ActionType)",
      "CREATE INDEX l_ts ON DeviceLogonEvents(Timestamp)",
      "CREATE INDEX l_dev ON DeviceLogonEvents(DeviceName, Timestamp)",
      "CREATE INDEX l_action ON DeviceLogonEvents(ActionType)",
  };
  for (const char* sql : kIndexes) Exec(db, sql);
  const double index_seconds = Seconds(t1);
  auto t2 = Clock::now();
  // `has` is term-based; FTS5's unicode61 tokenizer splits on the same kind of boundaries (runs of
  // letters and digits), so its MATCH is SQLite's fair equivalent of the term index. detail=none:
  // which rows hold a term is all `has` needs.
  Exec(db, "CREATE VIRTUAL TABLE DeviceProcessEvents_fts USING fts5(ProcessCommandLine, content='DeviceProcessEvents', "
           "content_rowid='rowid', detail=none)");
  Exec(db, "INSERT INTO DeviceProcessEvents_fts(DeviceProcessEvents_fts) VALUES ('rebuild')");
  const double fts_seconds = Seconds(t2);
  Exec(db, "ANALYZE");
  sqlite3_close(db);
  std::printf("sqlite: insert %.1f s, indexes %.1f s, fts5 %.1f s, total %.1f s, %.2f GB\n", insert_seconds, index_seconds, fts_seconds,
              Seconds(t0), static_cast<double>(fs::file_size(file)) / 1e9);
  std::ofstream(work / "sqlite-load.txt") << insert_seconds << '\t' << index_seconds << '\t' << fts_seconds << '\n';
  return 0;
}

int ClickhouseDdl() {
  for (const SqlTable& t : SqlTables()) {
    std::printf("CREATE TABLE %s (", t.name);
    for (size_t k = 0; k < t.columns.size(); ++k) {
      events::ColumnType ty = TypeOf(t.name, t.columns[k]);
      const char* ch = ty == events::ColumnType::kDatetime ? "DateTime"
                       : ty == events::ColumnType::kLong   ? "Int64"
                       : ty == events::ColumnType::kInt    ? "Int32"
                       : ty == events::ColumnType::kBool   ? "UInt8"
                                                           : "String";
      std::printf("%s%s %s", k ? ", " : "", t.columns[k], ch);
    }
    std::printf(") ENGINE = MergeTree() PARTITION BY toDate(Timestamp) ORDER BY (DeviceName, Timestamp);\n");
  }
  return 0;
}

// ---- run

// What an engine answered: rows and the sum of the last column (every hunt ends in a count).
struct Answer {
  uint64_t rows = 0;
  int64_t sum = 0;
  std::string error;
  bool operator==(const Answer& o) const { return error.empty() && o.error.empty() && rows == o.rows && sum == o.sum; }
  std::string Str() const { return error.empty() ? std::to_string(rows) + " rows, Σ " + std::to_string(sum) : "error: " + error; }
};

Answer RunWard(events::EventStore& store, const Hunt& h) {
  kql::QueryOptions o;
  o.tenant_id = kTenant;
  o.now_ticks = kNow;
  o.max_rows = 100'000'000;
  o.max_result_bytes = 16ull << 30;
  o.timeout = std::chrono::seconds(600);
  auto r = kql::RunQuery(h.kql, o, store, events::SchemaRegistry::Hunting());
  Answer a;
  if (!r) {
    a.error = r.error().message();
    return a;
  }
  a.rows = r->rows;
  const kql::Column& last = r->columns.back();
  for (size_t i = 0; i < r->rows; ++i) a.sum += last.ints.empty() ? 0 : last.ints[i];
  return a;
}

Answer RunSqlite(sqlite3* db, const std::string& sql) {
  Answer a;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    a.error = sqlite3_errmsg(db);
    return a;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ++a.rows;
    a.sum += sqlite3_column_int64(st, sqlite3_column_count(st) - 1);
  }
  if (rc != SQLITE_DONE) a.error = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  return a;
}

Answer RunClickhouse(http::Client& client, int port, const std::string& sql) {
  Answer a;
  http::ClientRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  req.body = sql + " FORMAT TabSeparated";
  auto r = client.Send(req);
  if (!r) {
    a.error = r.error().message();
    return a;
  }
  if (r->status != 200) {
    a.error = r->body.substr(0, 300);
    return a;
  }
  const std::string& b = r->body;
  for (size_t from = 0; from < b.size();) {
    size_t nl = b.find('\n', from);
    if (nl == std::string::npos) nl = b.size();
    size_t tab = b.rfind('\t', nl);
    size_t f = tab == std::string::npos || tab < from ? from : tab + 1;
    a.sum += std::stoll(b.substr(f, nl - f));
    ++a.rows;
    from = nl + 1;
  }
  return a;
}

struct Timing {
  double first = 0, median = 0;
  int runs = 0;
  Answer answer;
};

Timing Measure(const std::function<Answer()>& fn, int max_runs, double budget) {
  Timing t;
  auto t0 = Clock::now();
  t.answer = fn();
  t.first = Seconds(t0);
  std::vector<double> xs;
  auto begin = Clock::now();
  // Timed runs while the budget lasts; a query slower than the whole budget keeps its first run.
  while (static_cast<int>(xs.size()) < max_runs && Seconds(begin) + t.first <= budget) {
    auto s = Clock::now();
    fn();
    xs.push_back(Seconds(s));
  }
  t.runs = static_cast<int>(xs.size());
  if (xs.empty()) {
    t.median = t.first;
    return t;
  }
  std::sort(xs.begin(), xs.end());
  t.median = xs.size() % 2 ? xs[xs.size() / 2] : (xs[xs.size() / 2 - 1] + xs[xs.size() / 2]) / 2;
  return t;
}

std::string Ms(double s) {
  char buf[32];
  if (s < 0.01) std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

std::string Ratio(double ward, double other) {
  char buf[32];
  double r = other / ward;
  std::snprintf(buf, sizeof buf, r >= 10 ? "%.0f×" : "%.1f×", r);
  return buf;
}

int Run(const Args& a) {
  const fs::path work = a.Get("work");
  const int port = static_cast<int>(a.Int("ch-port", 18123));
  const int runs = static_cast<int>(a.Int("runs", 5));
  const double budget = static_cast<double>(a.Int("budget-seconds", 20));
  const std::string only = a.Get("only");                       // one hunt, by number
  const std::string engines = a.Get("engines", "ward,clickhouse,sqlite");  // e.g. "ward" to profile Ward alone
  auto uses = [&](const char* e) { return engines.find(e) != std::string::npos; };
  auto t_open = Clock::now();
  auto store = events::ColumnarStore::Open({.dir = (work / "ward").string()}, events::SchemaRegistry::Hunting());
  if (!store) {
    std::fprintf(stderr, "open store: %s\n", store.error().message().c_str());
    return 1;
  }
  std::printf("ward store opened in %s\n", Ms(Seconds(t_open)).c_str());
  sqlite3* db = OpenSqlite(work / "sqlite.db");
  http::Client ch;

  std::printf("\n| Hunt | Ward | ClickHouse | SQLite | Ward vs ClickHouse | Ward vs SQLite | Answer |\n|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  std::string details;
  int mismatches = 0;
  for (size_t q = 0; q < Hunts().size(); ++q) {
    const Hunt& h = Hunts()[q];
    if (!only.empty() && std::to_string(q + 1) != only) continue;
    auto skipped = [] {
      Answer a;
      a.error = "not run";
      return a;
    };
    Timing w = Measure([&] { return uses("ward") ? RunWard(**store, h) : skipped(); }, runs, budget);
    Timing c = Measure([&] { return uses("clickhouse") ? RunClickhouse(ch, port, Fill(h.clickhouse)) : skipped(); }, runs, budget);
    Timing s = Measure([&] { return uses("sqlite") ? RunSqlite(db, Fill(h.sqlite)) : skipped(); }, runs, budget);
    std::optional<Timing> like;
    if (h.sqlite_like && uses("sqlite")) like = Measure([&] { return RunSqlite(db, Fill(h.sqlite_like)); }, runs, budget);
    bool same = w.answer == c.answer && w.answer == s.answer && (!like || like->answer == w.answer);
    if (engines != "ward,clickhouse,sqlite") same = true;  // a partial run compares nothing
    if (!same) ++mismatches;
    std::string sqlite_cell = Ms(s.median) + (like ? " (FTS5; LIKE " + Ms(like->median) + ")" : "");
    std::printf("| %zu. %s | %s | %s | %s | %s | %s | %s |\n", q + 1, h.name, Ms(w.median).c_str(), Ms(c.median).c_str(), sqlite_cell.c_str(),
                Ratio(w.median, c.median).c_str(), Ratio(w.median, s.median).c_str(),
                same ? ("same: " + w.answer.Str()).c_str() : "MISMATCH");
    std::fflush(stdout);
    char buf[1024];
    std::snprintf(buf, sizeof buf, "%zu. first run / runs: ward %s / %d, clickhouse %s / %d, sqlite %s / %d%s\n", q + 1, Ms(w.first).c_str(), w.runs,
                  Ms(c.first).c_str(), c.runs, Ms(s.first).c_str(), s.runs, like ? (", sqlite LIKE " + Ms(like->first) + " / " + std::to_string(like->runs)).c_str() : "");
    details += buf;
    if (!same) {
      details += "   ward: " + w.answer.Str() + "\n   clickhouse: " + c.answer.Str() + "\n   sqlite: " + s.answer.Str() + "\n";
      if (like) details += "   sqlite LIKE: " + like->answer.Str() + "\n";
    }
  }
  std::printf("\n%s", details.c_str());
  sqlite3_close(db);
  return mismatches == 0 ? 0 : 2;
}

}  // namespace
}  // namespace ward::bench

int main(int argc, char** argv) {
  using namespace ward::bench;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s generate|load-sqlite|clickhouse-ddl|run [--work DIR] ...\n", argv[0]);
    return 64;
  }
  std::string cmd = argv[1];
  Args a = ParseArgs(argc, argv, 2);
  if (cmd == "generate") return Generate(a);
  if (cmd == "load-sqlite") return LoadSqlite(a);
  if (cmd == "clickhouse-ddl") return ClickhouseDdl();
  if (cmd == "run") return Run(a);
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 64;
}
