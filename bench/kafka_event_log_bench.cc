// Append throughput of the event log on Kafka (librdkafka's in-process mock cluster on 127.0.0.1, so
// the network and broker are loopback and memory) against FileEventLog (group commit + fdatasync),
// with ~40 KB records like ingest batches: a pipelined producer (async Append, up to 256 in flight)
// and 16 concurrent AppendSync callers (ingest's HTTP threads).
//
//   ward_kafka_event_log_bench [seconds per run, default 5]   (file log under $WARD_BENCH_DIR or /tmp)
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/event_log.h"
#include "events/kafka_event_log.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRecordBytes = 40 << 10;

void Report(const char* log, const char* mode, uint64_t records, uint64_t failed, double seconds) {
  std::printf("%-6s %-22s %9.0f records/s %8.1f MB/s  (%llu records, %llu failed, %.1f s)\n", log, mode,
              records / seconds, records * double(kRecordBytes) / seconds / 1e6, (unsigned long long)records,
              (unsigned long long)failed, seconds);
}

void Pipelined(ward::events::EventLog& log, const char* name, std::chrono::seconds run) {
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;
  std::atomic<uint64_t> done{0}, failed{0};
  std::string record(kRecordBytes, 'x');
  auto start = Clock::now();
  uint64_t i = 0;
  while (Clock::now() - start < run) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < 256; });
      ++in_flight;
    }
    log.Append(record, "device-" + std::to_string(i++ % 64), [&](ward::Result<uint64_t> r) {
      (r ? done : failed)++;
      std::lock_guard lock(mu);
      --in_flight;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  Report(name, "pipelined (256)", done, failed, std::chrono::duration<double>(Clock::now() - start).count());
}

void Concurrent(ward::events::EventLog& log, const char* name, std::chrono::seconds run) {
  std::atomic<uint64_t> done{0}, failed{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::string record(kRecordBytes, 'y');
      while (Clock::now() - start < run) (log.AppendSync(record, "device-" + std::to_string(t)) ? done : failed)++;
    });
  }
  for (auto& th : threads) th.join();
  Report(name, "16 x AppendSync", done, failed, std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace

int main(int argc, char** argv) {
  std::chrono::seconds run(argc > 1 ? std::atoi(argv[1]) : 5);
  {
    const char* base = getenv("WARD_BENCH_DIR");
    std::string dir = std::string(base ? base : "/tmp") + "/ward-kafka-bench-" + std::to_string(getpid());
    ward::events::FileEventLogOptions o;
    o.dir = dir;
    auto log = ward::events::FileEventLog::Open(o);
    if (!log) return std::fprintf(stderr, "%s\n", log.error().message().c_str()), 1;
    Pipelined(**log, "file", run);
    Concurrent(**log, "file", run);
    log->reset();
    std::filesystem::remove_all(dir);
  }
  char err[256];
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner, 1);
  rd_kafka_mock_topic_create(cluster, "ward-events", 8, 1);
  {
    ward::events::KafkaEventLogOptions o;
    o.brokers = rd_kafka_mock_cluster_bootstraps(cluster);
    auto log = ward::events::KafkaEventLog::Open(o);
    if (!log) return std::fprintf(stderr, "%s\n", log.error().message().c_str()), 1;
    Pipelined(**log, "kafka", run);
    Concurrent(**log, "kafka", run);
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(owner);
  return 0;
}
