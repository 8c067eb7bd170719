// State store throughput: single-document Update and Get per second on SQLite and on PostgreSQL,
// from 1 and from 4 threads (each thread its own document, so this measures the store, not
// contention on one row). A measurement for docs/benchmarks.md, not a test.
//
//   ward_state_store_bench [--seconds N] [--postgres-url URL]
//
// Without --postgres-url it starts a throwaway server with tests/support/postgres_server.sh
// (127.0.0.1, fsync off) and stops it at the end. SQLite runs in WAL mode with synchronous=NORMAL,
// as `ward server` opens it, on a file in the temp directory.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "state/postgres_state_store.h"
#include "state/sqlite_state_store.h"

namespace {

using ward::state::Document;
using ward::state::Kind;
using ward::state::StateStore;

constexpr char kTenant[] = "bench";

// A machine-sized body (~600 bytes), as the API's most frequent writes carry.
ward::json::Value Body(int thread, int64_t n) {
  std::string text = R"({"tenantId":"bench","id":"m)" + std::to_string(thread) +
                     R"(","computerDnsName":"host-)" + std::to_string(thread) +
                     R"(.corp.example","osPlatform":"Linux","osVersion":"6.1","osDistribution":"debian",)"
                     R"("osArchitecture":"x86_64","healthStatus":"Active","riskScore":"Low","exposureLevel":"Low",)"
                     R"("tags":["prod","web","eu-west"],"apiTags":["bench"],"lastIpAddress":"10.0.0.7",)"
                     R"("lastExternalIpAddress":"203.0.113.9","agentVersion":"1.4.2","rbacGroupId":3,)"
                     R"("firstSeenMs":1700000000000,"lastSeenMs":)" +
                     std::to_string(1700000000000 + n) + R"(,"counter":)" + std::to_string(n) + "}";
  return *ward::json::Value::Parse(text);
}

// Runs `op(thread, iteration)` on `threads` threads for `seconds`; returns operations per second.
double Measure(int threads, int seconds, const std::function<bool(int, int64_t)>& op) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> total{0}, failures{0};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t, n)) ++failures;
        ++n;
      }
      total += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failures > 0) std::fprintf(stderr, "  (%lld operations failed)\n", static_cast<long long>(failures.load()));
  return static_cast<double>(total.load()) / elapsed;
}

void Run(const char* name, StateStore& store, int seconds) {
  if (!store.GetTenant(kTenant)) store.CreateTenant({kTenant, "Bench", 1});
  for (int t = 0; t < 4; ++t) {
    store.Insert(kTenant, Kind::kMachine, Document{"m" + std::to_string(t), "", Body(t, 0), 0});
  }
  for (int threads : {1, 4}) {
    const double updates = Measure(threads, seconds, [&](int t, int64_t n) {
      return store.Update(kTenant, Kind::kMachine, Document{"m" + std::to_string(t), "", Body(t, n), 0}).ok();
    });
    const double gets = Measure(threads, seconds, [&](int t, int64_t) {
      return store.Get(kTenant, Kind::kMachine, "m" + std::to_string(t)).has_value();
    });
    std::printf("%-10s  %d thread%s  Update %8.0f/s  Get %9.0f/s\n", name, threads, threads == 1 ? " " : "s", updates,
                gets);
    std::fflush(stdout);
  }
}

std::string StartPostgres(const std::string& dir) {
  const std::string cmd = "bash '" WARD_SOURCE_DIR "/tests/support/postgres_server.sh' start '" + dir + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[256] = {0};
  std::string url = std::fgets(buf, sizeof buf, p) ? buf : "";
  if (::pclose(p) != 0) return "";
  while (!url.empty() && url.back() == '\n') url.pop_back();
  return url;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 3;
  std::string pg_url;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--postgres-url") pg_url = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--seconds N] [--postgres-url URL]\n", argv[0]);
      return 64;
    }
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ward-state-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto sqlite = ward::state::SqliteStateStore::Open((dir / "state.db").string());
    if (!sqlite) {
      std::fprintf(stderr, "sqlite: %s\n", sqlite.error().ToString().c_str());
      return 1;
    }
    Run("SQLite", **sqlite, seconds);
  }
  const bool own_server = pg_url.empty();
  if (own_server) pg_url = StartPostgres((dir / "pg").string());
  int rc = 0;
  if (pg_url.empty()) {
    std::fprintf(stderr, "postgres: could not start tests/support/postgres_server.sh\n");
    rc = 1;
  } else {
    auto pg = ward::state::PostgresStateStore::Open(pg_url);
    if (pg) {
      Run("PostgreSQL", **pg, seconds);
    } else {
      std::fprintf(stderr, "postgres: %s\n", pg.error().ToString().c_str());
      rc = 1;
    }
  }
  if (own_server) {
    const std::string stop =
        "bash '" WARD_SOURCE_DIR "/tests/support/postgres_server.sh' stop '" + (dir / "pg").string() + "'";
    if (std::system(stop.c_str()) != 0) rc = 1;
  }
  std::filesystem::remove_all(dir);
  return rc;
}
