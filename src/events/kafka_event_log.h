#pragma once
// The event log on Kafka: one topic, records keyed by device id (a device's records stay in order in
// one partition), every consumer group of the seam a Kafka consumer group "ward-<group>".
//
// Producing: idempotent producer (enable.idempotence=true, acks=all). Append's callback runs from
// the delivery report only, so success means every in-sync replica has the record; a record Kafka
// refuses (broker unreachable past message.timeout.ms, message too large, ...) comes back as an
// error Status, never dropped silently. Records refused before they were queued get their callback
// at once, on the caller's thread.
//
// Consuming: enable.auto.commit=false; a member commits the offsets after the last record Poll
// returned, when the caller says they are processed; auto.offset.reset=earliest. Rebalancing is
// eager: on revocation a member forgets the partitions without committing, so the records it had
// returned but not committed are delivered again to the next owner — at least once, never skipped.
//
// Offsets and retention are Kafka's: ReleaseBefore does nothing. Thread-safety: the log's methods
// are safe from any thread; each consumer is used by one thread at a time. librdkafka stays in the .cc.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/event_log.h"

namespace ward::events {

struct KafkaEventLogOptions {
  std::string brokers;  // bootstrap.servers: "host:port[,host:port]"
  std::string topic = "ward-events";
  // Bound on metadata, offset and commit requests (not on Append: message.timeout.ms is).
  std::chrono::milliseconds request_timeout{10'000};
  // Extra librdkafka properties (tuning, tests), applied after Ward's own.
  std::vector<std::pair<std::string, std::string>> producer_config;
  std::vector<std::pair<std::string, std::string>> consumer_config;
};

// "kafka://host:port[,host:port]/topic" (topic optional: "ward-events").
Result<KafkaEventLogOptions> ParseKafkaUrl(std::string_view url);

class KafkaEventLog final : public EventLog {
 public:
  // Connects and reads the topic's partitions (the topic must exist or be auto-created by the brokers).
  static Result<std::unique_ptr<KafkaEventLog>> Open(KafkaEventLogOptions options);
  ~KafkaEventLog() override;  // waits up to request_timeout for queued appends; the rest fail

  using EventLog::Append;
  void Append(std::string record, std::string key, AppendCallback done) override;
  Result<std::unique_ptr<LogConsumer>> OpenConsumer(const std::string& group) override;
  Result<LogPosition> EndPosition() override;
  Result<std::optional<LogPosition>> CommittedPosition(const std::string& group) override;
  Status CommitGroup(const std::string& group, const LogPosition& position) override;
  Result<LogPosition> PositionAt(int64_t ticks, const RecordTime& time_of) override;
  Result<int64_t> EarliestRetainedTicks(const RecordTime& time_of) override;
  Result<std::vector<LogRecord>> ReadRecent(size_t max_records) override;
  Status ReleaseBefore(const LogPosition& oldest_needed) override { return Status::Ok(); }

  int partitions() const;

  struct Impl;

 private:
  KafkaEventLog() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ward::events
