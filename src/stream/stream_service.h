#pragma once
// The streaming API's engine: every destination of every enabled stream configuration is a consumer
// group of the durable event log ("stream-<config id>.<destination>") with its own thread.
//
// Delivery: a destination reads log records from its cursor, keeps the rows of its configuration's
// tenant, event types and device groups, renders them in MDE's record format and hands them to its
// Sink. The cursor advances only after the Sink confirmed the records (sink.h), so a crash or restart
// resumes at the first unconfirmed record: every event is delivered at least once. A failing
// destination retries with exponential backoff and lags; it never blocks ingest or other
// destinations (each reads the log on its own), and the log keeps everything from the oldest cursor
// (oldest_needed) — lag costs disk, not data. Records a destination refuses for good are written to
// its dead-letter file with the reason and skipped.
//
// Replay: a configuration's replay request (replay_generation moved) rewinds each of its
// destinations, once, to the first log record received at or after replay_from_ticks (as far back as
// the log still reaches).
//
// Configurations are read from the state store; changes are picked up within `refresh` (or at once
// after Reconcile()). Thread-safety: all public methods are safe from any thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "events/event_log.h"
#include "events/schema.h"
#include "json/json.h"
#include "state/records.h"
#include "state/state_store.h"
#include "stream/destinations.h"

namespace ward::stream {

struct StreamServiceOptions {
  std::string cursor_dir;       // <data-dir>/events/cursors: this node's replay markers ("<consumer>.replay")
  std::string dead_letter_dir;  // <data-dir>/streaming/deadletters
  SinkContext sink_context;
  std::chrono::milliseconds refresh{1000};
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{30'000};
  size_t read_batches = 256;  // log records (sensor batches) read at a time
};

// What one destination is doing, for the API's status.
struct DestinationStatus {
  std::string name, type;
  std::string state;  // Running | Retrying | Stopped
  // Committed and end positions summed over the log's partitions: lag in log records is their difference.
  uint64_t cursor = 0, end_offset = 0;
  double lag_seconds = 0;               // age of the oldest record not yet confirmed (0 when caught up)
  uint64_t delivered = 0, rejected = 0, deliveries = 0, failures = 0;  // since the server started
  double records_per_second = 0;        // over the last few seconds
  std::string last_error;
  int64_t last_error_ms = 0, last_success_ms = 0;
};

struct DeadLetter {
  int64_t time_ms = 0;
  std::string reason;
  std::string record;  // the record's JSON
};

class StreamService {
 public:
  StreamService(events::EventLog& log, state::StateStore& store, const events::SchemaRegistry& registry,
                metrics::Registry& metrics, StreamServiceOptions options);
  ~StreamService();  // Stop()
  Status Start();
  void Stop();
  // Picks up configuration changes now instead of within `refresh`.
  void Reconcile();

  // Gives each destination of `config` that has no cursor yet one at the log's end (what arrives from
  // now on), or at OffsetAt(*from_ticks). Call before storing a new or changed configuration, so no
  // record appended between the API's answer and the worker's start is missed.
  Status PrepareCursors(const state::StreamConfiguration& config, std::optional<int64_t> from_ticks);

  // The oldest position a destination still needs (empty when there are none): the log keeps it.
  events::LogPosition oldest_needed() const;
  // The earliest received time the log can still replay from (0 when it holds everything ever appended).
  int64_t earliest_replayable_ticks();
  // Per partition, the first record received at or after `ticks` (the end when none).
  Result<events::LogPosition> PositionAt(int64_t ticks);

  // Status of a configuration's destinations (empty when it runs nowhere: disabled or unknown).
  std::vector<DestinationStatus> StatusOf(const std::string& tenant, const std::string& config_id);
  // The newest `limit` dead letters of one destination, newest first.
  Result<std::vector<DeadLetter>> DeadLetters(const std::string& tenant, const std::string& config_id,
                                              const std::string& destination, size_t limit);
  // Blocks until every destination of the configuration has confirmed every record before `position`
  // (tests and benchmarks), or the timeout.
  bool WaitUntilDelivered(const std::string& tenant, const std::string& config_id, const events::LogPosition& position,
                          std::chrono::milliseconds timeout);

  // The destination's consumer group name (and replay marker): "stream-<config id>.<destination name>".
  static std::string ConsumerName(const std::string& config_id, const std::string& destination);

 private:
  class Worker;
  void Run();
  Status ReconcileOnce();
  int64_t RecordTicks(const events::LogRecord& record) const;
  std::string DeadLetterPath(const std::string& config_id, const std::string& destination) const;

  events::EventLog& log_;
  state::StateStore& store_;
  const events::SchemaRegistry& registry_;
  metrics::Registry& metrics_;
  StreamServiceOptions options_;
  metrics::Counter& delivered_;
  metrics::Counter& rejected_;
  metrics::Counter& failures_;
  metrics::Histogram& latency_;

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // by "<tenant>/<config id>/<destination>"
  std::condition_variable wake_;
  bool reconcile_now_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ward::stream
