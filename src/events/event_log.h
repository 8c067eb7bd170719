#pragma once
// The durable event log: an append-only sequence of opaque records (encoded RowBatches), each with
// a 64-bit offset that increases by one per record. Every consumer (columnar store writer, machine
// profiles, detection, streaming) is a consumer group with its own persisted position, so a crash or
// a slow consumer replays and loses nothing.
//
// EventLog is the seam: FileEventLog (below) is the embedded default; KafkaEventLog
// (kafka_event_log.h) is the scale-out one, where the same group names are Kafka consumer groups.
//
// Durability contract: Append's callback (or AppendSync's return) reports success only after the
// record is on disk (fdatasync). Records are written with a CRC; after a crash, recovery keeps every
// complete record and cuts a torn tail, so nothing half-written is ever visible to readers.
// Thread-safety: all methods are safe from any thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::events {

struct LogRecord {
  uint64_t offset = 0;  // within its partition
  std::string data;
  int32_t partition = 0;
};

// Where a consumer group is: per partition (the index), the offset of the next record to consume.
// The file log has one partition; a Kafka topic has several, each with its own offsets. Comparing
// positions partition by partition is the only meaningful comparison ("has the store caught up with
// everything appended before now" = Reached(store's position, EndPosition() taken now)).
using LogPosition = std::vector<uint64_t>;
// Whether `position` is at or past `target` in every partition of `target` (missing entries are 0).
bool Reached(const LogPosition& position, const LogPosition& target);
// Records between `position` and `end`, summed over partitions (lag metrics).
uint64_t RecordsBehind(const LogPosition& position, const LogPosition& end);
// Partition-wise minimum (the oldest record any of several consumers still needs).
LogPosition MinPosition(const LogPosition& a, const LogPosition& b);
// Sum of the offsets: a single number for status displays; differences of sums are lags.
uint64_t TotalOffset(const LogPosition& position);

// One member of a consumer group reading the log. Delivery is at least once: records returned by
// Poll but not covered by a Commit are delivered again after a restart or a rebalance (to this
// member or to another node in the same group), so consumers must tolerate replays.
// Thread-safety: a consumer is used by one thread at a time. Destroying it leaves the group
// (without committing). It must not outlive the EventLog that opened it.
class LogConsumer {
 public:
  virtual ~LogConsumer() = default;
  // Records after the last returned (per partition, in offset order), up to max_records / about
  // max_bytes (at least one when any is available); waits up to `timeout` when none is. An empty
  // vector means nothing arrived in time.
  virtual Result<std::vector<LogRecord>> Poll(size_t max_records, size_t max_bytes, std::chrono::milliseconds timeout) = 0;
  // Everything Poll returned so far is processed: persists that, so a restart (or another member
  // of the group) resumes after it. Durable when it returns Ok.
  virtual Status Commit() = 0;
  // Continues from `position` (the partitions it names) instead; persisted by the next Commit.
  virtual Status Seek(const LogPosition& position) = 0;
  // After the last record Poll returned, for the partitions this member holds (others: 0).
  virtual LogPosition position() = 0;
  // What the last successful Commit (or the group's stored position at open) covers, same shape.
  virtual LogPosition committed() = 0;
};

// Received time of a record (ticks); the log itself treats records as opaque.
using RecordTime = std::function<int64_t(const LogRecord&)>;

class EventLog {
 public:
  virtual ~EventLog() = default;
  using AppendCallback = std::function<void(Result<uint64_t> offset)>;
  // Queues a record; the callback runs once it is durable or failed (on the log's commit or
  // delivery thread, or at once on the caller's thread when the record is refused up front).
  // Records with the same non-empty `key` (the device id) stay in order: on Kafka they go to one
  // partition. The offset is within the record's partition.
  virtual void Append(std::string record, std::string key, AppendCallback done) = 0;
  void Append(std::string record, AppendCallback done) { Append(std::move(record), {}, std::move(done)); }
  // Appends and waits until durable.
  Result<uint64_t> AppendSync(std::string record, std::string key = {});

  // Joins consumer group `group` (its position: the group's committed one; the earliest retained
  // record when it has none).
  virtual Result<std::unique_ptr<LogConsumer>> OpenConsumer(const std::string& group) = 0;
  // The position after the last durable record, per partition.
  virtual Result<LogPosition> EndPosition() = 0;
  // The group's committed position, or nullopt when it never committed.
  virtual Result<std::optional<LogPosition>> CommittedPosition(const std::string& group) = 0;
  // Stores `position` as the group's committed position, for a group with no live members (on
  // Kafka a live group refuses it): how a new streaming destination starts at the end or at a time.
  virtual Status CommitGroup(const std::string& group, const LogPosition& position) = 0;
  // Per partition, the first record received at or after `ticks` (the end when none). The file
  // log searches with `time_of`; Kafka uses its message timestamps.
  virtual Result<LogPosition> PositionAt(int64_t ticks, const RecordTime& time_of) = 0;
  // Received time of the oldest retained record, 0 when the log still holds everything ever appended.
  virtual Result<int64_t> EarliestRetainedTicks(const RecordTime& time_of) = 0;
  // Up to about `max_records` of the most recent records (over all partitions), oldest first per
  // partition: what ingest rebuilds its index of retried batches from after a restart.
  virtual Result<std::vector<LogRecord>> ReadRecent(size_t max_records) = 0;
  // Every consumer is at or past `oldest_needed`: the log may drop what is below it. The file log
  // drops whole segments; Kafka keeps records for the topic's retention and ignores this.
  virtual Status ReleaseBefore(const LogPosition& oldest_needed) = 0;
};

struct FileEventLogOptions {
  std::string dir;                                   // created if missing
  size_t segment_bytes = 256ull << 20;               // roll to a new segment file past this
  // Extra wait to gather appends per fsync. Appends that queue during a sync are grouped anyway, so
  // blocking appenders (HTTP threads) want this short; async producers may raise it.
  std::chrono::microseconds group_commit_window{200};
  size_t max_batch_bytes = 64ull << 20;              // flush earlier when this much is pending
  // TruncateBefore keeps segments written to within this long, whatever the offset: they are the
  // window in which a retried batch is still recognised as a duplicate after a restart.
  std::chrono::seconds min_retention{0};
  // Where consumer groups keep their cursors ("<cursor_dir>/<group>.cursor"); empty = "<dir>/cursors".
  // The server passes <data-dir>/events/cursors, where they have always been.
  std::string cursor_dir;
};

// Segment files "<dir>/<first offset, 20 digits>.wal". See docs/storage-format.md.
class FileEventLog final : public EventLog {
 public:
  static Result<std::unique_ptr<FileEventLog>> Open(FileEventLogOptions options);
  ~FileEventLog() override;  // flushes pending appends, stops the commit thread

  using EventLog::Append;
  void Append(std::string record, std::string key, AppendCallback done) override;
  Result<std::unique_ptr<LogConsumer>> OpenConsumer(const std::string& group) override;
  Result<LogPosition> EndPosition() override { return LogPosition{EndOffset()}; }
  Result<std::optional<LogPosition>> CommittedPosition(const std::string& group) override;
  Status CommitGroup(const std::string& group, const LogPosition& position) override;
  Result<LogPosition> PositionAt(int64_t ticks, const RecordTime& time_of) override;
  Result<int64_t> EarliestRetainedTicks(const RecordTime& time_of) override;
  Result<std::vector<LogRecord>> ReadRecent(size_t max_records) override;
  Status ReleaseBefore(const LogPosition& oldest_needed) override;

  // The file log's own offset API (one partition), used by its consumers and tests.
  // Reads records with offset >= from, up to max_records / about max_bytes (at least one record
  // when any exists). Only durable records are returned.
  Result<std::vector<LogRecord>> Read(uint64_t from, size_t max_records, size_t max_bytes);
  // Offset the next appended record will get (= number of records ever appended).
  uint64_t EndOffset();
  // Blocks until EndOffset() > offset or the timeout passes; returns whether data is available.
  bool WaitForData(uint64_t offset, std::chrono::milliseconds timeout);
  // Drops whole segments whose records are all below `offset` (every consumer is past them).
  Status TruncateBefore(uint64_t offset);

  struct Stats {
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint64_t fsyncs = 0;
    uint64_t recovered_torn_bytes = 0;  // cut from the tail at open
  };
  Stats stats();

 private:
  FileEventLog() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A consumer's position in the log, persisted atomically (write temp + fsync + rename).
class Cursor {
 public:
  // Loads "<dir>/<name>.cursor", starting at 0 when absent.
  static Result<Cursor> Open(const std::string& dir, const std::string& name);
  uint64_t offset() const { return offset_; }
  // Whether the cursor was ever committed (its file exists).
  bool exists() const { return exists_; }
  // Records that everything below `offset` has been processed.
  Status Commit(uint64_t offset);

 private:
  std::string path_;
  uint64_t offset_ = 0;
  bool exists_ = false;
};

}  // namespace ward::events
