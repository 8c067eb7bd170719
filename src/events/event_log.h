#pragma once
// The durable event log: an append-only sequence of opaque records (encoded RowBatches), each with
// a 64-bit offset that increases by one per record. Every consumer (columnar store writer, machine
// profiles, later detection and streaming) reads from its own persisted cursor, so a crash or a slow
// consumer replays and loses nothing.
//
// EventLog is the seam: FileEventLog (below) is the embedded default; Kafka will be another.
//
// Durability contract: Append's callback (or AppendSync's return) reports success only after the
// record is on disk (fdatasync). Records are written with a CRC; after a crash, recovery keeps every
// complete record and cuts a torn tail, so nothing half-written is ever visible to readers.
// Thread-safety: all methods are safe from any thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::events {

struct LogRecord {
  uint64_t offset = 0;
  std::string data;
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  using AppendCallback = std::function<void(Result<uint64_t> offset)>;
  // Queues a record; the callback runs (on the log's commit thread) once it is durable or failed.
  virtual void Append(std::string record, AppendCallback done) = 0;
  // Appends and waits until durable.
  virtual Result<uint64_t> AppendSync(std::string record) = 0;
  // Reads records with offset >= from, up to max_records / about max_bytes (at least one record
  // when any exists). Only durable records are returned.
  virtual Result<std::vector<LogRecord>> Read(uint64_t from, size_t max_records, size_t max_bytes) = 0;
  // Offset the next appended record will get (= number of records ever appended).
  virtual uint64_t EndOffset() = 0;
  // Blocks until EndOffset() > offset or the timeout passes; returns whether data is available.
  virtual bool WaitForData(uint64_t offset, std::chrono::milliseconds timeout) = 0;
  // Drops whole segments whose records are all below `offset` (every consumer is past them).
  virtual Status TruncateBefore(uint64_t offset) = 0;
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
};

// Segment files "<dir>/<first offset, 20 digits>.wal". See docs/storage-format.md.
class FileEventLog final : public EventLog {
 public:
  static Result<std::unique_ptr<FileEventLog>> Open(FileEventLogOptions options);
  ~FileEventLog() override;  // flushes pending appends, stops the commit thread

  void Append(std::string record, AppendCallback done) override;
  Result<uint64_t> AppendSync(std::string record) override;
  Result<std::vector<LogRecord>> Read(uint64_t from, size_t max_records, size_t max_bytes) override;
  uint64_t EndOffset() override;
  bool WaitForData(uint64_t offset, std::chrono::milliseconds timeout) override;
  Status TruncateBefore(uint64_t offset) override;

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
  // Records that everything below `offset` has been processed.
  Status Commit(uint64_t offset);

 private:
  std::string path_;
  uint64_t offset_ = 0;
};

}  // namespace ward::events
