#pragma once
// The consumer that moves telemetry from the event log into the columnar store. It resumes from the
// store's durable_log_offset (the last offset whose rows are in sealed segments), so rows that were
// only in memory when the process died are replayed from the log: nothing acknowledged is lost and,
// because sealing records the offset atomically, nothing is stored twice.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/metrics.h"
#include "events/event_log.h"
#include "events/event_store.h"

namespace ward::events {

class StoreWriter {
 public:
  StoreWriter(EventLog& log, ColumnarStore& store, const SchemaRegistry& registry, metrics::Registry& metrics);
  ~StoreWriter();  // Stop()

  void Start();
  // Stops the thread after the current batch, then flushes the store.
  void Stop();
  // Blocks until every record below `offset` is in the store (readable by scans) or the timeout.
  bool WaitUntilApplied(uint64_t offset, std::chrono::milliseconds timeout);
  uint64_t applied_offset() const { return applied_.load(); }

 private:
  void Run();

  EventLog& log_;
  ColumnarStore& store_;
  const SchemaRegistry& registry_;
  metrics::Counter& rows_;
  metrics::Counter& errors_;
  std::atomic<uint64_t> applied_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable applied_cv_;
  std::thread thread_;
};

}  // namespace ward::events
