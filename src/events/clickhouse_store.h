#pragma once
// The event store on ClickHouse (for deployments that outgrow the embedded ColumnarStore), over
// ClickHouse's HTTP interface with Ward's own HTTP client. Scans return exactly what ColumnarStore
// returns for the same rows and request: the same rows, values, nulls and order. Layout and SQL
// translation: docs/clickhouse-store.md.
//
// Thread-safety: Append and Scan may run concurrently from several threads (a small pool of
// keep-alive connections is shared). Rows of one table in one Append are one INSERT, which
// ClickHouse applies atomically; a batch spanning several tables is several INSERTs.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"
#include "events/event_store.h"

namespace ward::events {

struct ClickHouseStoreOptions {
  // Where the server is and which database holds Ward's tables (created when missing). Either
  //   http://host:port/?database=ward      (ClickHouse's HTTP interface; https too)
  //   clickhouse://host:port/ward          (same HTTP interface, port 8123 by default)
  // The database defaults to "ward"; its name is [A-Za-z0-9_]+.
  std::string url;
  std::chrono::hours retention{24 * 30};
  size_t insert_batch_rows = 1 << 20;  // an Append inserts at most this many rows per INSERT
  // A scan fetches its rows in pages of this many (each page is one response held in memory; every
  // page re-runs the query from where the last one ended, so fewer, larger pages cost less).
  size_t page_rows = 1 << 16;
  std::chrono::milliseconds request_timeout{300'000};
  size_t max_connections = 8;          // idle keep-alive connections kept for reuse
};

class ClickHouseStore final : public EventStore {
 public:
  // Connects, creates the database and one table per table of `registry` when missing (and adds
  // columns the registry has gained). `registry` must outlive the store.
  static Result<std::unique_ptr<ClickHouseStore>> Open(ClickHouseStoreOptions options, const SchemaRegistry& registry);
  ~ClickHouseStore() override;
  // Inserts the rows before returning: once it returns Ok the rows are durable in ClickHouse.
  Status Append(const RowBatch& batch) override;
  // segments_* count ClickHouse pages fetched; rows_scanned counts rows ClickHouse returned
  // (before the predicates only Ward evaluates).
  Result<ScanStats> Scan(const ScanRequest& request, const std::function<bool(ColumnBatch&&)>& sink) override;
  // Nothing is buffered: Append is durable on return.
  Status Flush() override;
  // Drops the daily partitions (per table, all tenants) whose whole day is older than
  // now - retention; returns how many ClickHouse partitions were dropped.
  Result<int> ApplyRetention(int64_t now_ticks) override;

  const std::string& database() const;
  // Runs one SQL statement and returns the response body (tests, tools).
  Result<std::string> Execute(const std::string& sql);

 private:
  ClickHouseStore() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ward::events
