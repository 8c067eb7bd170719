// Durable append throughput and latency of FileEventLog (group commit over fdatasync), with 1, 4 and
// 16 concurrent AppendSync callers of 4 KiB records, with and without the group-commit window; plus
// a pipelined single producer (async Append, many records in flight) and a sequential read.
//
// The log lives under $WARD_BENCH_DIR (default /tmp): point it at the disk you want to measure.
// Each run is time-bound (kRunTime) and reports, as counters: records/s, MB/s (payload),
// p50/p99 AppendSync latency in µs, and records per fdatasync.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "events/event_log.h"

namespace {

using ward::Result;
using ward::events::FileEventLog;
using ward::events::FileEventLogOptions;
using Clock = std::chrono::steady_clock;

constexpr size_t kRecordBytes = 4096;
constexpr auto kRunTime = std::chrono::seconds(3);

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("WARD_BENCH_DIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/ward_event_log_bench_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string log_dir() const { return path_ + "/log"; }

 private:
  std::string path_;
};

std::string RandomRecord() {
  std::mt19937_64 rng(42);
  std::string s(kRecordBytes, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::unique_ptr<FileEventLog> OpenLog(const BenchDir& dir, std::chrono::microseconds window) {
  FileEventLogOptions o;
  o.dir = dir.log_dir();
  o.group_commit_window = window;
  auto log = FileEventLog::Open(o);
  if (!log) {
    std::fprintf(stderr, "open: %s\n", log.error().ToString().c_str());
    std::abort();
  }
  return std::move(*log);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void Report(benchmark::State& state, FileEventLog& log, double seconds, uint64_t records, std::vector<double> lat_us) {
  auto stats = log.stats();
  state.SetIterationTime(seconds);
  state.counters["records/s"] = static_cast<double>(records) / seconds;
  state.counters["MB/s"] = static_cast<double>(records * kRecordBytes) / seconds / 1e6;
  state.counters["rec/fsync"] = stats.fsyncs ? static_cast<double>(stats.records) / static_cast<double>(stats.fsyncs) : 0;
  if (!lat_us.empty()) {
    state.counters["p50_us"] = Percentile(lat_us, 0.50);
    state.counters["p99_us"] = Percentile(lat_us, 0.99);
  }
}

// args: concurrent AppendSync callers, group_commit_window in µs.
void BM_AppendSync(benchmark::State& state) {
  const int appenders = static_cast<int>(state.range(0));
  const auto window = std::chrono::microseconds(state.range(1));
  const std::string record = RandomRecord();
  for (auto _ : state) {
    BenchDir dir;
    auto log = OpenLog(dir, window);
    std::vector<std::vector<double>> lat(appenders);
    std::atomic<bool> failed{false};
    const auto start = Clock::now();
    const auto stop = start + kRunTime;
    std::vector<std::thread> threads;
    for (int t = 0; t < appenders; ++t) {
      threads.emplace_back([&, t] {
        lat[t].reserve(1 << 16);
        while (Clock::now() < stop) {
          auto t0 = Clock::now();
          if (!log->AppendSync(record)) failed = true;
          lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      });
    }
    for (auto& th : threads) th.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (failed) state.SkipWithError("append failed");
    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    const uint64_t records = all.size();
    Report(state, *log, seconds, records, std::move(all));
  }
}

// One producer keeping up to `in_flight` async Appends outstanding (how ingest pipelines batches).
void BM_AppendPipelined(benchmark::State& state) {
  const int in_flight_max = static_cast<int>(state.range(0));
  const auto window = std::chrono::microseconds(state.range(1));
  const std::string record = RandomRecord();
  for (auto _ : state) {
    BenchDir dir;
    auto log = OpenLog(dir, window);
    std::mutex mu;
    std::condition_variable cv;
    int in_flight = 0;
    uint64_t done = 0;
    std::vector<double> lat;
    lat.reserve(1 << 20);
    const auto start = Clock::now();
    const auto stop = start + kRunTime;
    while (Clock::now() < stop) {
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return in_flight < in_flight_max; });
        ++in_flight;
      }
      auto t0 = Clock::now();
      log->Append(record, [&, t0](Result<uint64_t> r) {
        double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        std::lock_guard lk(mu);
        lat.push_back(us);
        --in_flight;
        ++done;
        cv.notify_one();
      });
    }
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return in_flight == 0; });
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    Report(state, *log, seconds, done, std::move(lat));
  }
}

// Sequential consumer read of 4 KiB records, 256 per Read (the page cache is warm: the log was just written).
void BM_ReadSequential(benchmark::State& state) {
  BenchDir dir;
  auto log = OpenLog(dir, std::chrono::microseconds(0));
  const std::string record = RandomRecord();
  constexpr int kRecords = 50000;
  std::atomic<int> pending{kRecords};
  for (int i = 0; i < kRecords; ++i) log->Append(record, [&](Result<uint64_t>) { pending--; });
  while (pending.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  uint64_t records = 0;
  for (auto _ : state) {
    uint64_t from = 0;
    while (from < kRecords) {
      auto r = log->Read(from, 256, 8 << 20);
      if (!r || r->empty()) {
        state.SkipWithError("read failed");
        return;
      }
      from = r->back().offset + 1;
      records += r->size();
    }
  }
  state.counters["records/s"] = benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(records * kRecordBytes) / 1e6, benchmark::Counter::kIsRate);
}

BENCHMARK(BM_AppendSync)
    ->ArgNames({"appenders", "window_us"})
    ->ArgsProduct({{1, 4, 16}, {2000, 0}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AppendPipelined)
    ->ArgNames({"in_flight", "window_us"})
    ->Args({1024, 2000})
    ->Args({1024, 0})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadSequential)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
