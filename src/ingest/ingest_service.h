#pragma once
// The sensor gateway's write path: a device's telemetry batch is decompressed, validated, checked
// against recently seen batch ids (a retried batch is stored once), appended to the durable event
// log, and acknowledged only after the log has it on disk.
//
// The recent-batch index survives restarts: it is rebuilt from the tail of the event log, whose
// records carry (tenant, device, batch id). Thread-safe.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/metrics.h"
#include "common/status.h"
#include "events/event_log.h"
#include "events/schema.h"
#include "ingest/telemetry.h"
#include "state/records.h"

namespace ward::ingest {

struct IngestReply {
  std::string batch_id;
  size_t accepted = 0;  // for a duplicate: what the first copy stored
  std::vector<Rejection> rejected;
  bool duplicate = false;
  uint64_t log_offset = 0;  // within the record's partition
};

class IngestService {
 public:
  IngestService(events::EventLog& log, const events::SchemaRegistry& registry, metrics::Registry& metrics,
                TelemetryLimits limits = {});

  // Rebuilds the recent-batch index from the last `max_records` records of the log (EventLog::ReadRecent).
  // On Kafka that is the last max_records/partitions records of each partition: batches are keyed by
  // device, so a retry is recognised when its first copy is that recent in its device's partition, and
  // across nodes or further back the guarantee is at-least-once (the batch may be stored twice).
  Status RebuildDedupIndex(size_t max_records = 200000);

  // Blocks until the accepted rows are durable. Errors: InvalidArgument (undecodable body, bad batch
  // id), ResourceExhausted (limits), Internal/Unavailable (log failure: the sensor retries).
  Result<IngestReply> Ingest(const state::Machine& device, std::string_view batch_id, std::string_view content_encoding,
                             std::string_view body);

 private:
  std::string DedupKey(std::string_view tenant, std::string_view device, std::string_view batch) const;
  void RememberLocked(std::string key, size_t accepted);

  events::EventLog& log_;
  const events::SchemaRegistry& registry_;
  TelemetryLimits limits_;
  metrics::Counter& events_total_;
  metrics::Counter& batches_total_;

  static constexpr size_t kMaxRemembered = 500000;
  std::mutex mu_;
  // batch key → events accepted the first time (a duplicate answers with the same count, so a
  // sensor whose first answer was lost still learns how many of its events are stored).
  std::unordered_map<std::string, size_t> seen_;
  std::deque<std::string> order_;  // eviction order
  // Batches in flight (appended, not yet durable): a concurrent retry waits for the first copy.
  std::unordered_set<std::string> in_flight_;
};

}  // namespace ward::ingest
