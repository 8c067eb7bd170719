// Columnar event store benchmarks (docs/benchmarks.md): append throughput for realistic
// DeviceProcessEvents rows, bytes on disk per row after sealing, and single-threaded scan throughput
// for the pushed-down filters advanced hunting uses most. Run pinned to one core:
//   taskset -c 0 build/ward_columnar_bench
// The scans also run on a ClickHouseStore (docs/clickhouse-store.md) when WARD_BENCH_CLICKHOUSE_URL
// names a server (e.g. one from tests/support/clickhouse_server.sh; a fresh database is used), and
// WARD_BENCH_SCAN_ROWS changes the table size (default 2M):
//   WARD_BENCH_CLICKHOUSE_URL=http://127.0.0.1:PORT/ build/ward_columnar_bench --benchmark_filter=Scan
// Scan counters: `rows/s` = rows of the table the query covered per second (what a hunting query
// over that data costs); `scanned` = rows actually evaluated after zone-map / term-index pruning.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <iterator>
#include <map>
#include <random>

#include "common/time.h"
#include "events/clickhouse_store.h"
#include "events/event_store.h"

namespace ward::events {
namespace {

namespace fs = std::filesystem;

const SchemaRegistry& Reg() { return SchemaRegistry::Hunting(); }
const TableDef& Table() { return *Reg().Find("DeviceProcessEvents"); }
const int64_t kBase = *ParseIsoTicks("2024-03-10T00:00:00Z");
const size_t kScanRows = [] {
  const char* v = ::getenv("WARD_BENCH_SCAN_ROWS");
  return v != nullptr ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : size_t{2'000'000};
}();

std::string Hex(std::mt19937_64& rng, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = kDigits[rng() % 16];
  return s;
}

std::string Guid(std::mt19937_64& rng) {
  std::string h = Hex(rng, 32);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// A process image with its stable attributes (hashes, paths, version info).
struct Image {
  std::string name, folder, sha1, sha256, md5, company, product, version, description;
  int64_t size;
};

// Synthetic but realistically shaped DeviceProcessEvents rows: a few hundred devices, a few dozen
// images with stable hashes, command lines with per-event arguments (GUIDs, ids, paths).
class RowGenerator {
 public:
  explicit RowGenerator(uint64_t seed) : rng_(seed) {
    const char* names[] = {"svchost.exe", "chrome.exe", "msedge.exe", "powershell.exe", "cmd.exe", "conhost.exe", "RuntimeBroker.exe",
                           "backgroundTaskHost.exe", "taskhostw.exe", "SearchProtocolHost.exe", "WmiPrvSE.exe", "dllhost.exe",
                           "OneDrive.exe", "Teams.exe", "outlook.exe", "excel.exe", "winword.exe", "git.exe", "python.exe", "node.exe",
                           "java.exe", "MsMpEng.exe", "TiWorker.exe", "sc.exe", "reg.exe", "net.exe", "tasklist.exe", "rundll32.exe",
                           "msiexec.exe", "explorer.exe"};
    for (const char* n : names) {
      Image im;
      im.name = n;
      im.folder = (rng_() % 2 ? "C:\\Windows\\System32\\" : "C:\\Program Files\\" + std::string(n).substr(0, 4) + "\\Application\\") + im.name;
      im.sha1 = Hex(rng_, 40), im.sha256 = Hex(rng_, 64), im.md5 = Hex(rng_, 32);
      im.company = rng_() % 3 ? "Microsoft Corporation" : "Google LLC";
      im.product = rng_() % 3 ? "Microsoft\xc2\xae Windows\xc2\xae Operating System" : "Google Chrome";
      im.version = "10.0.19041." + std::to_string(rng_() % 4000);
      im.description = std::string("Host Process for ") + n;
      im.size = static_cast<int64_t>(50'000 + rng_() % 5'000'000);
      images_.push_back(std::move(im));
    }
    for (int i = 0; i < 300; ++i) devices_.push_back({Hex(rng_, 40), "host-" + std::to_string(i) + ".contoso.local"});
    for (int i = 0; i < 60; ++i) users_.push_back({"user" + std::to_string(i), "S-1-5-21-" + std::to_string(rng_() % 1000000000) + "-" + std::to_string(1000 + i)});
    const TableDef& t = Table();
    for (size_t c = 0; c < t.columns.size(); ++c) index_[t.columns[c].name] = static_cast<int>(c);
  }

  std::string CommandLine(const Image& im) {
    const uint64_t r = rng_() % 1'000'000;
    if (r < 2) return "cmd.exe /c whoami /all";             // rare: a few blocks at most
    if (r < 10'000) return "cmd.exe /c ipconfig /all > C:\\Users\\Public\\" + Hex(rng_, 6) + ".txt";  // ~1%: every block
    const std::string& n = im.name;
    if (n == "chrome.exe" || n == "msedge.exe") {
      return "\"" + im.folder + "\" --type=renderer --field-trial-handle=" + std::to_string(rng_() % 100000) +
             ",i,15,262144 --lang=en-US --renderer-client-id=" + std::to_string(rng_() % 500) + " --mojo-platform-channel-handle=" +
             std::to_string(rng_() % 10000) + " /prefetch:1";
    }
    if (n == "svchost.exe") {
      static const char* kGroups[] = {"netsvcs -p -s Schedule", "LocalServiceNetworkRestricted -p", "DcomLaunch -p", "RPCSS -p",
                                      "UnistackSvcGroup -s WpnUserService_" };
      return "C:\\Windows\\system32\\svchost.exe -k " + std::string(kGroups[rng_() % 5]) + (rng_() % 2 ? Hex(rng_, 5) : "");
    }
    if (n == "powershell.exe") {
      return "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Users\\" + users_[rng_() % users_.size()].first +
             "\\AppData\\Local\\Temp\\" + Guid(rng_) + ".ps1";
    }
    if (n == "cmd.exe") return "cmd.exe /c \"C:\\ProgramData\\scripts\\job" + std::to_string(rng_() % 200) + ".bat\"";
    if (n == "rundll32.exe") return "rundll32.exe C:\\Windows\\System32\\shell32.dll,SHCreateLocalServerRunDll {" + Guid(rng_) + "} -Embedding";
    return "\"" + im.folder + "\" " + (rng_() % 2 ? "-Embedding" : "/background " + std::to_string(rng_() % 100000));
  }

  Row Next(int64_t ts) {
    const TableDef& t = Table();
    Row row{t.id, std::vector<CellValue>(t.columns.size())};
    const auto& dev = devices_[rng_() % devices_.size()];
    const Image& im = images_[std::min<size_t>(rng_() % images_.size(), rng_() % images_.size())];  // skewed
    const Image& parent = images_[rng_() % 8];
    const auto& user = users_[rng_() % users_.size()];
    auto set = [&](const char* col, CellValue v) { row.values[index_.at(col)] = std::move(v); };
    set("Timestamp", ts);
    set("DeviceId", dev.first);
    set("DeviceName", dev.second);
    set("ActionType", std::string(rng_() % 10 ? "ProcessCreated" : "OpenProcess"));
    set("FileName", im.name);
    set("FolderPath", im.folder);
    set("SHA1", im.sha1);
    set("SHA256", im.sha256);
    set("MD5", im.md5);
    set("FileSize", im.size);
    set("ProcessVersionInfoCompanyName", im.company);
    set("ProcessVersionInfoProductName", im.product);
    set("ProcessVersionInfoProductVersion", im.version);
    set("ProcessVersionInfoInternalFileName", im.name);
    set("ProcessVersionInfoOriginalFileName", im.name);
    set("ProcessVersionInfoFileDescription", im.description);
    set("ProcessId", static_cast<int64_t>(1000 + rng_() % 60000));
    set("ProcessCommandLine", CommandLine(im));
    set("ProcessIntegrityLevel", std::string(rng_() % 4 ? "Medium" : "System"));
    set("ProcessTokenElevation", std::string(rng_() % 5 ? "TokenElevationTypeDefault" : "TokenElevationTypeFull"));
    set("ProcessCreationTime", ts - static_cast<int64_t>(rng_() % 10'000));
    set("AccountDomain", std::string("CONTOSO"));
    set("AccountName", user.first);
    set("AccountSid", user.second);
    set("AccountUpn", user.first + "@contoso.com");
    set("LogonId", static_cast<int64_t>(rng_() % 1'000'000));
    set("InitiatingProcessAccountDomain", std::string("CONTOSO"));
    set("InitiatingProcessAccountName", user.first);
    set("InitiatingProcessAccountSid", user.second);
    set("InitiatingProcessAccountUpn", user.first + "@contoso.com");
    set("InitiatingProcessLogonId", static_cast<int64_t>(rng_() % 1'000'000));
    set("InitiatingProcessIntegrityLevel", std::string("Medium"));
    set("InitiatingProcessTokenElevation", std::string("TokenElevationTypeDefault"));
    set("InitiatingProcessSHA1", parent.sha1);
    set("InitiatingProcessSHA256", parent.sha256);
    set("InitiatingProcessMD5", parent.md5);
    set("InitiatingProcessFileName", parent.name);
    set("InitiatingProcessFileSize", parent.size);
    set("InitiatingProcessVersionInfoCompanyName", parent.company);
    set("InitiatingProcessVersionInfoProductName", parent.product);
    set("InitiatingProcessVersionInfoProductVersion", parent.version);
    set("InitiatingProcessVersionInfoInternalFileName", parent.name);
    set("InitiatingProcessVersionInfoOriginalFileName", parent.name);
    set("InitiatingProcessVersionInfoFileDescription", parent.description);
    set("InitiatingProcessId", static_cast<int64_t>(1000 + rng_() % 60000));
    set("InitiatingProcessCommandLine", "\"" + parent.folder + "\"" + (rng_() % 2 ? "" : " -k netsvcs"));
    set("InitiatingProcessCreationTime", ts - static_cast<int64_t>(rng_() % 1'000'000'000));
    set("InitiatingProcessFolderPath", parent.folder);
    set("InitiatingProcessParentId", static_cast<int64_t>(1000 + rng_() % 60000));
    set("InitiatingProcessParentFileName", std::string(rng_() % 2 ? "services.exe" : "explorer.exe"));
    set("InitiatingProcessParentCreationTime", ts - static_cast<int64_t>(rng_() % 100'000'000'000));
    set("InitiatingProcessSignerType", std::string("OsVendor"));
    set("InitiatingProcessSignatureStatus", std::string("Valid"));
    set("ReportId", static_cast<int64_t>(report_id_++));
    set("AppGuardContainerId", std::string());
    if (rng_() % 10 == 0) set("AdditionalFields", std::string(R"({"ProcessStartKey":)") + std::to_string(rng_()) + "}");
    set("InitiatingProcessSessionId", static_cast<int64_t>(rng_() % 3));
    set("IsInitiatingProcessRemoteSession", int64_t{0});
    set("CreatedProcessSessionId", static_cast<int64_t>(rng_() % 3));
    set("IsProcessRemoteSession", int64_t{0});
    return row;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<Image> images_;
  std::vector<std::pair<std::string, std::string>> devices_, users_;
  std::map<std::string, int> index_;
  uint64_t report_id_ = 1;
};

// Batches of 500 rows (a typical sensor upload is a few hundred events), ~14 events/s per device.
std::vector<RowBatch> MakeBatches(size_t rows, uint64_t seed, int64_t start, int64_t step) {
  RowGenerator gen(seed);
  std::vector<RowBatch> out;
  for (size_t i = 0; i < rows;) {
    RowBatch b;
    b.tenant_id = "bench-tenant";
    b.device_id = std::string(40, 'a');
    b.batch_id = std::to_string(i);
    b.received_ticks = start;
    for (int k = 0; k < 500 && i < rows; ++k, ++i) b.rows.push_back(gen.Next(start + static_cast<int64_t>(i) * step));
    out.push_back(std::move(b));
  }
  return out;
}

std::string TempDir() {
  char tmpl[] = "/tmp/ward_colbench_XXXXXX";
  return mkdtemp(tmpl);
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".col") n += e.file_size();
  }
  return n;
}

void BM_Append(benchmark::State& state) {
  const size_t rows = 131'072;  // two seals of 65536 rows
  auto batches = MakeBatches(rows, 1, kBase, 2'000);
  uint64_t disk = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = TempDir();
    ColumnarStoreOptions o;
    o.dir = dir;
    o.seal_age = std::chrono::hours(1);
    auto store = std::move(*ColumnarStore::Open(o, Reg()));
    state.ResumeTiming();
    for (const RowBatch& b : batches) {
      if (!store->Append(b).ok()) state.SkipWithError("append failed");
    }
    if (!store->Flush().ok()) state.SkipWithError("flush failed");
    state.PauseTiming();
    disk = DirBytes(dir);
    store.reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["disk_bytes/row"] = static_cast<double>(disk) / rows;
}
BENCHMARK(BM_Append)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// One sealed store of kScanRows rows over one day, shared by the scan benchmarks.
struct ScanFixture {
  std::string dir;
  std::unique_ptr<EventStore> store;
  int64_t first = kBase, last = kBase;
  ScanFixture() {
    dir = TempDir();
    const char* ch_url = ::getenv("WARD_BENCH_CLICKHOUSE_URL");
    if (ch_url != nullptr && *ch_url != '\0') {
      ClickHouseStoreOptions o;
      o.url = std::string(ch_url) + "?database=ward_bench_" + std::to_string(::getpid());
      auto s = ClickHouseStore::Open(o, Reg());
      if (!s) {
        std::fprintf(stderr, "clickhouse: %s\n", s.error().message().c_str());
        std::abort();
      }
      store = std::move(*s);
    } else {
      ColumnarStoreOptions o;
      o.dir = dir;
      o.seal_age = std::chrono::hours(1);
      store = std::move(*ColumnarStore::Open(o, Reg()));
    }
    const int64_t step = 86'400 * kTicksPerSecond / static_cast<int64_t>(kScanRows);
    for (size_t done = 0; done < kScanRows; done += 20'000) {  // in pieces: generated rows are large
      // One Append per piece: ClickHouse wants few, large inserts (each makes a part).
      RowBatch piece;
      for (RowBatch& b : MakeBatches(std::min<size_t>(20'000, kScanRows - done), 7 + done, kBase + static_cast<int64_t>(done) * step, step)) {
        if (piece.rows.empty()) piece = std::move(b);
        else std::move(b.rows.begin(), b.rows.end(), std::back_inserter(piece.rows));
      }
      if (!store->Append(piece).ok()) std::abort();
    }
    if (!store->Flush().ok()) std::abort();
    last = kBase + static_cast<int64_t>(kScanRows) * step;
    std::fprintf(stderr, "scan fixture: %zu rows in %s, %.1f bytes/row on disk\n", kScanRows, ch_url ? "ClickHouse" : "ColumnarStore",
                 static_cast<double>(DirBytes(dir)) / kScanRows);
  }
  ~ScanFixture() {
    store.reset();
    fs::remove_all(dir);
  }
};

ScanFixture& Fixture() {
  static ScanFixture f;
  return f;
}

void RunScan(benchmark::State& state, ScanRequest req) {
  ScanFixture& f = Fixture();
  req.tenant_id = "bench-tenant";
  req.table = "DeviceProcessEvents";
  ScanStats stats;
  uint64_t returned = 0;
  for (auto _ : state) {
    returned = 0;
    auto r = f.store->Scan(req, [&](ColumnBatch&& b) {
      returned += b.rows;
      benchmark::DoNotOptimize(b);
      return true;
    });
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      return;
    }
    stats = *r;
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(kScanRows) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["returned"] = static_cast<double>(returned);
  state.counters["scanned"] = static_cast<double>(stats.rows_scanned);
  state.counters["blocks_skipped"] = static_cast<double>(stats.blocks_skipped);
}

// (a) Timestamp range only, returning Timestamp: the whole day, then the middle half.
void BM_Scan_TimeRange_All(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp"};
  req.from_ticks = Fixture().first;
  req.to_ticks = Fixture().last + 1;
  RunScan(state, req);
}
void BM_Scan_TimeRange_Half(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp"};
  const int64_t span = Fixture().last - Fixture().first;
  req.from_ticks = Fixture().first + span / 4 + 12345;
  req.to_ticks = Fixture().first + span * 3 / 4 + 12345;
  RunScan(state, req);
}
// (a') the same with three string columns materialised (the cost of building std::strings).
void BM_Scan_TimeRange_All_3Strings(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp", "DeviceName", "FileName", "ActionType"};
  req.from_ticks = Fixture().first;
  req.to_ticks = Fixture().last + 1;
  RunScan(state, req);
}
// (b) ActionType == "ProcessCreated" (90% of rows), returning Timestamp.
void BM_Scan_ActionTypeEquals(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp"};
  req.predicates = {Predicate{"ActionType", Predicate::Op::kEquals, {std::string("ProcessCreated")}}};
  RunScan(state, req);
}
// (c1) ProcessCommandLine has "whoami": a rare term, the term index skips almost every block.
void BM_Scan_HasWhoami_Indexed(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp", "ProcessCommandLine"};
  req.predicates = {Predicate{"ProcessCommandLine", Predicate::Op::kHas, {std::string("whoami")}}};
  RunScan(state, req);
}
// (c2) the same needle as `contains`, which cannot use the index: every block is searched.
void BM_Scan_ContainsWhoami_NoIndex(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp", "ProcessCommandLine"};
  req.predicates = {Predicate{"ProcessCommandLine", Predicate::Op::kContains, {std::string("whoami")}}};
  RunScan(state, req);
}
// (c3) has "ipconfig": in ~1% of rows, so in every block; the index prunes nothing.
void BM_Scan_HasIpconfig_EveryBlock(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp", "ProcessCommandLine"};
  req.predicates = {Predicate{"ProcessCommandLine", Predicate::Op::kHas, {std::string("ipconfig")}}};
  RunScan(state, req);
}
// An integer filter with low selectivity (ProcessId == x), the "simple filter on a fixed-width column".
void BM_Scan_ProcessIdEquals(benchmark::State& state) {
  ScanRequest req;
  req.columns = {"Timestamp"};
  req.predicates = {Predicate{"ProcessId", Predicate::Op::kEquals, {int64_t{4242}}}};
  RunScan(state, req);
}

// The unsealed tail (rows not yet in segments): 60,000 rows in memory, ActionType == "ProcessCreated".
void BM_Scan_Tail_ActionTypeEquals(benchmark::State& state) {
  static const auto tail = [] {
    ColumnarStoreOptions o;
    o.dir = TempDir();
    o.seal_age = std::chrono::hours(1);
    auto store = std::move(*ColumnarStore::Open(o, Reg()));
    for (const RowBatch& b : MakeBatches(60'000, 99, kBase, 10'000)) {
      if (!store->Append(b).ok()) std::abort();
    }
    return std::shared_ptr<ColumnarStore>(std::move(store));
  }();
  ScanRequest req;
  req.tenant_id = "bench-tenant";
  req.table = "DeviceProcessEvents";
  req.columns = {"Timestamp"};
  req.predicates = {Predicate{"ActionType", Predicate::Op::kEquals, {std::string("ProcessCreated")}}};
  for (auto _ : state) {
    auto r = tail->Scan(req, [](ColumnBatch&& b) {
      benchmark::DoNotOptimize(b);
      return true;
    });
    if (!r || r->rows_scanned != 60'000) state.SkipWithError("tail scan failed");
  }
  state.counters["rows/s"] = benchmark::Counter(60'000.0 * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Scan_TimeRange_All)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_TimeRange_Half)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_TimeRange_All_3Strings)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_ActionTypeEquals)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_ProcessIdEquals)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_HasWhoami_Indexed)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_ContainsWhoami_NoIndex)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_HasIpconfig_EveryBlock)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Scan_Tail_ActionTypeEquals)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ward::events

BENCHMARK_MAIN();
