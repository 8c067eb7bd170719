#pragma once
// The columnar event store: what advanced hunting scans. Per tenant and table, rows are kept in
// daily time partitions; each partition holds sealed, immutable segments plus an in-memory tail.
// Sealed segments store each column separately (typed; dictionary encoding for low-cardinality
// strings; zstd-compressed blocks), with per-block min/max zone maps and, for the columns KQL `has`
// searches, a term index. Retention drops whole partitions. Format: docs/storage-format.md.
//
// EventStore is the seam (ClickHouse later); ColumnarStore is the embedded implementation.
// Thread-safety: Append and Scan may run concurrently from several threads; a scan sees a
// consistent snapshot (rows appended before it started, all or nothing per batch).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "events/rows.h"
#include "events/schema.h"

namespace ward::events {

// One column of a result batch. Exactly one of the vectors is used, by type:
// datetime/long/int/bool → ints (bool as 0/1); real → reals; string/dynamic → strings.
struct ColumnVector {
  ColumnType type = ColumnType::kString;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> strings;
  std::vector<uint8_t> nulls;  // 1 = null; same length as the data
  size_t size() const { return nulls.size(); }
};

struct ColumnBatch {
  std::vector<std::string> names;
  std::vector<ColumnVector> columns;
  size_t rows = 0;
};

// Predicates the store can evaluate itself (the hunting engine pushes these down and evaluates the
// rest). Comparisons are on the column's type; string ops follow KQL: kEquals is case-sensitive,
// kEqualsCi/kInCi/kHas/kContains are case-insensitive, kHas matches whole terms (see TermsOf).
// kInCi is KQL `in~` (string columns): equal to one of the values, ignoring case. kMatches runs
// the caller's `matcher` on each value of a string column (KQL `matches regex`; no values).
class StringMatcher {
 public:
  virtual ~StringMatcher() = default;
  // Called from several scan threads at once: must be thread-safe.
  virtual bool Match(std::string_view value) const = 0;
};

struct Predicate {
  enum class Op { kEquals, kEqualsCi, kIn, kHas, kHasAny, kContains, kStartsWith, kGreater, kGreaterEq, kLess, kLessEq, kNotEquals, kInCi, kMatches };
  std::string column;
  Op op = Op::kEquals;
  std::vector<CellValue> values;  // one value, or several for kIn / kInCi / kHasAny
  std::shared_ptr<const StringMatcher> matcher = nullptr;  // kMatches only
};

struct ScanRequest {
  std::string tenant_id;
  std::string table;
  std::vector<std::string> columns;           // empty = all, in schema order
  std::optional<int64_t> from_ticks;          // Timestamp >= from
  std::optional<int64_t> to_ticks;            // Timestamp < to
  std::vector<Predicate> predicates;          // all must hold (AND)
  size_t batch_rows = 8192;
  std::optional<size_t> limit;                // stop after this many rows
  // Segments are decoded on this many threads; `sink` is still called from the caller's thread,
  // with rows in the same order as a single-threaded scan (batches may be shorter). Scans with a
  // limit run on one thread.
  int threads = 1;
};

struct ScanStats {
  uint64_t segments_total = 0, segments_skipped = 0;  // skipped by time range, zone maps or term index
  uint64_t blocks_total = 0, blocks_skipped = 0;
  uint64_t rows_scanned = 0, rows_returned = 0;
};

class EventStore {
 public:
  virtual ~EventStore() = default;
  // Adds a validated batch (rows of any tables for one tenant).
  virtual Status Append(const RowBatch& batch) = 0;
  // Calls `sink` with successive batches; stop early by returning false.
  virtual Result<ScanStats> Scan(const ScanRequest& request, const std::function<bool(ColumnBatch&&)>& sink) = 0;
  // Seals in-memory tails to segments (also done by size and age). Durable after return.
  virtual Status Flush() = 0;
  // Drops partitions whose whole day is older than now - retention. Returns partitions removed.
  virtual Result<int> ApplyRetention(int64_t now_ticks) = 0;
};

struct ColumnarStoreOptions {
  std::string dir;
  std::chrono::hours retention{24 * 30};
  size_t seal_rows = 65536;                       // seal a tail at this many rows...
  std::chrono::seconds seal_age{10};              // ...or when it is this old (checked on Append/Flush)
  size_t block_rows = 8192;                       // zone-map granularity
};

class ColumnarStore final : public EventStore {
 public:
  // Opens existing segments. The unsealed tail is not persisted here: it is rebuilt by replaying
  // the event log from the store's cursor (the store writes its own cursor only for sealed data).
  static Result<std::unique_ptr<ColumnarStore>> Open(ColumnarStoreOptions options, const SchemaRegistry& registry);
  ~ColumnarStore() override;
  Status Append(const RowBatch& batch) override;
  Result<ScanStats> Scan(const ScanRequest& request, const std::function<bool(ColumnBatch&&)>& sink) override;
  Status Flush() override;
  Result<int> ApplyRetention(int64_t now_ticks) override;

  // The highest event-log offset whose rows are all in sealed segments (persisted with them), so
  // the writer resumes replay from here after a restart. Set by the consumer via NoteLogOffset.
  uint64_t durable_log_offset() const;
  void NoteLogOffset(uint64_t next_offset);  // rows of records < next_offset have been Appended

 private:
  ColumnarStore() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The lower-cased terms of a string as KQL `has` sees them: maximal runs of ASCII letters and
// digits (and any non-ASCII bytes); everything else separates terms. Used by the term index and by
// scans to evaluate `has`.
std::vector<std::string> TermsOf(std::string_view text);

// Columns that get a term index (command lines, paths, names, URLs ...), by name.
bool IsTermIndexedColumn(std::string_view column);

}  // namespace ward::events
