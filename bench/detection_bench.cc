// Detection throughput (docs/benchmarks.md): events per second per core through the indicator
// matcher with 100,000 indicators and through the Sigma rule set (the SigmaHQ corpus in
// ../shared/corpus/sigma plus Ward's pack), on realistic Linux process and network rows. Run:
//   taskset -c 0 build/ward_detection_bench
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "common/time.h"
#include "detect/builtin_rules.h"
#include "detect/ioc_matcher.h"
#include "detect/sigma.h"

namespace ward::detect {
namespace {

const events::SchemaRegistry& Reg() { return events::SchemaRegistry::Hunting(); }

std::string Hex(std::mt19937_64& rng, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = kDigits[rng() % 16];
  return s;
}

// 1,000 rows: 70% process starts with varied command lines, 30% outbound connections.
events::RowBatch Batch() {
  std::mt19937_64 rng(42);
  const events::TableDef& proc = *Reg().Find("DeviceProcessEvents");
  const events::TableDef& net = *Reg().Find("DeviceNetworkEvents");
  const char* images[] = {"/usr/bin/bash", "/usr/bin/python3", "/usr/bin/curl", "/usr/sbin/sshd", "/usr/bin/systemctl",
                          "/usr/bin/git", "/usr/bin/tar", "/usr/bin/ls", "/usr/bin/grep", "/usr/bin/nc"};
  const char* args[] = {"-la /var/log", "status nginx", "-s https://repo.example.org/pkg.tar.gz", "clone https://git.example/x.git",
                        "-c 'import os; print(os.getpid())'", "czf /backup/etc.tgz /etc", "-i error /var/log/syslog", "-l 8080"};
  std::vector<std::string> hashes;
  for (int i = 0; i < 40; ++i) hashes.push_back(Hex(rng, 40));
  events::RowBatch b;
  b.tenant_id = "t";
  b.device_id = std::string(40, 'a');
  for (int i = 0; i < 1000; ++i) {
    const bool is_net = i % 10 >= 7;
    const events::TableDef& t = is_net ? net : proc;
    events::Row row;
    row.table = t.id;
    row.values.assign(t.columns.size(), std::monostate{});
    auto set = [&](const char* c, events::CellValue v) { row.values[static_cast<size_t>(t.Find(c))] = std::move(v); };
    std::string image = images[rng() % 10];
    set("Timestamp", NowTicks());
    set("DeviceId", b.device_id);
    set("ReportId", int64_t{i});
    if (is_net) {
      set("ActionType", std::string("ConnectionSuccess"));
      set("RemoteIP", "198.51." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256));
      set("RemotePort", int64_t{443});
      set("InitiatingProcessFolderPath", image);
      set("InitiatingProcessFileName", image.substr(image.rfind('/') + 1));
      set("InitiatingProcessSHA1", hashes[rng() % hashes.size()]);
    } else {
      set("ActionType", std::string("ProcessCreated"));
      set("FolderPath", image);
      set("FileName", image.substr(image.rfind('/') + 1));
      set("ProcessCommandLine", image.substr(image.rfind('/') + 1) + " " + args[rng() % 8] + " " + Hex(rng, 8));
      set("SHA1", hashes[rng() % hashes.size()]);
      set("AccountName", std::string(rng() % 2 ? "root" : "www-data"));
      set("InitiatingProcessFolderPath", std::string("/usr/bin/bash"));
      set("InitiatingProcessCommandLine", std::string("bash"));
    }
    b.rows.push_back(std::move(row));
  }
  return b;
}

void BM_Indicators100k(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::vector<state::Indicator> iocs;
  for (int i = 0; i < 100000; ++i) {
    state::Indicator ind;
    switch (i % 4) {
      case 0: ind.indicator_type = "FileSha1", ind.indicator_value = Hex(rng, 40); break;
      case 1: ind.indicator_type = "FileSha256", ind.indicator_value = Hex(rng, 64); break;
      case 2: ind.indicator_type = "IpAddress", ind.indicator_value = "203." + std::to_string(rng() % 256) + "." +
                                                                  std::to_string(rng() % 256) + "." + std::to_string(rng() % 256); break;
      default: ind.indicator_type = "DomainName", ind.indicator_value = Hex(rng, 10) + ".example"; break;
    }
    iocs.push_back(std::move(ind));
  }
  IocMatcher m = IocMatcher::Build(std::move(iocs), 0);
  events::RowBatch b = Batch();
  std::vector<IocHit> hits;
  for (auto _ : state) {
    for (const events::Row& r : b.rows) {
      hits.clear();
      m.Match(RowView(r, Reg().table(r.table)), &hits);
    }
    benchmark::DoNotOptimize(hits);
  }
  state.counters["events/s"] = benchmark::Counter(double(state.iterations()) * b.rows.size(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Indicators100k)->Unit(benchmark::kMillisecond);

void BM_SigmaCorpusAndPack(benchmark::State& state) {
  SigmaRuleSet set(Reg());
  for (const BuiltinRule& r : BuiltinSigmaRules()) set.LoadRule(r.yaml, r.file);
  std::filesystem::path corpus = std::filesystem::path(WARD_SOURCE_DIR) / ".." / "shared" / "corpus" / "sigma";
  if (std::filesystem::is_directory(corpus)) (void)set.LoadDirectory(corpus);
  if (!set.Compile().ok()) return state.SkipWithError("rules did not compile");
  events::RowBatch b = Batch();
  std::vector<SigmaHit> hits;
  for (auto _ : state) {
    hits.clear();
    (void)set.Match(b, Reg(), &hits);
    benchmark::DoNotOptimize(hits);
  }
  state.counters["rules"] = double(set.size());
  state.counters["events/s"] = benchmark::Counter(double(state.iterations()) * b.rows.size(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SigmaCorpusAndPack)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ward::detect

BENCHMARK_MAIN();
