#pragma once
// The consumer that moves telemetry from the event log into the event store (consumer group
// "store"). Where it resumes depends on the store:
// - ColumnarStore on a one-partition log (the file log): from the store's durable_log_offset (the
//   last offset whose rows are in sealed segments), so rows that were only in memory when the process
//   died are replayed from the log: nothing acknowledged is lost and, because sealing records the
//   offset atomically, nothing is stored twice. The group's own cursor is not used.
// - ColumnarStore on a partitioned log (Kafka): the group is committed after each Flush (sealed rows
//   are durable), so a crash replays what was only in memory; rows may then be stored twice.
// - Any other store (ClickHouse) is durable when Append returns: the group is committed after it.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "events/event_log.h"
#include "events/event_store.h"

namespace ward::events {

class StoreWriter {
 public:
  StoreWriter(EventLog& log, EventStore& store, const SchemaRegistry& registry, metrics::Registry& metrics);
  ~StoreWriter();  // Stop()

  // Joins the log's "store" consumer group and starts the thread.
  Status Start();
  // Stops the thread after the current batch, then flushes the store.
  void Stop();
  // Blocks until every record before `position` (e.g. the log's EndPosition() taken before) is in
  // the store (readable by scans) or the timeout.
  bool WaitUntilApplied(const LogPosition& position, std::chrono::milliseconds timeout);
  // Position after the last record applied to the store (readable by scans, maybe not yet durable).
  LogPosition applied();
  // The oldest record this writer could still need after a restart: the log keeps it.
  LogPosition needed();

 private:
  void Run();
  void Process(std::vector<LogRecord>& records);
  void ProcessGrouped(std::vector<LogRecord>& records);
  void CommitConsumer();
  void NoteCaughtUp();

  EventLog& log_;
  EventStore& store_;
  ColumnarStore* columnar_;         // when the store is one: it flushes and keeps retention
  bool resume_from_store_ = false;  // ColumnarStore on one partition: durable_log_offset is the position
  const SchemaRegistry& registry_;
  metrics::Counter& rows_;
  metrics::Counter& errors_;
  std::unique_ptr<LogConsumer> consumer_;
  std::vector<LogRecord> pending_;  // polled, not yet in the store (a failed Append retries them)
  std::mutex mu_;
  LogPosition applied_;  // guarded by mu_
  std::condition_variable applied_cv_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ward::events
