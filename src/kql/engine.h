#pragma once
// Advanced hunting: KQL over the hunting tables (reference/hunting-schema.md). The engine parses,
// binds against the schema registry, plans (pushing time ranges and simple predicates into the
// event store's scans) and executes on column batches.
//
// Contract: RunQuery never crashes on any input text. Syntax and semantic errors are
// InvalidArgument with Kusto-style messages and a position (QueryError); unsupported operators or
// functions are InvalidArgument naming the feature and position ("… is not supported"). Limits
// (result bytes, time) answer ResourceExhausted with MDE's messages, cancellation Unavailable;
// more rows than max_rows are truncated (QueryResult::truncated), as MDE does.
// Thread-safe: concurrent queries share nothing but the store.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "events/event_store.h"
#include "events/schema.h"

namespace ward::kql {

// KQL scalar types (hunting-schema.md §2).
enum class Type { kBool, kInt, kLong, kReal, kDecimal, kDateTime, kTimespan, kString, kDynamic, kGuid };
const char* TypeName(Type t);     // KQL spelling: "bool", "int", "long", "real", "datetime", ...
const char* MdeTypeName(Type t);  // the API's Schema type: "Boolean", "Int32", "Int64", "Double", "DateTime", "TimeSpan", "String", "Object", "Guid"

// One result column, column-major. By type: bool/int/long/datetime/timespan → ints (bool 0/1,
// datetime and timespan in 100 ns ticks, datetime from the Unix epoch); real/decimal → reals;
// string/guid → strings; dynamic → strings holding compact JSON text.
struct Column {
  std::string name;
  Type type = Type::kString;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> strings;
  std::vector<uint8_t> nulls;  // 1 = null; one per row
};

struct QueryResult {
  std::vector<Column> columns;
  size_t rows = 0;
  std::string render;  // chart type from a trailing `render` ("timechart", "piechart", ...); "" = none
  bool truncated = false;  // more than QueryOptions::max_rows rows: the rest were dropped (MDE truncates)
  struct Stats {
    double execution_seconds = 0;
    uint64_t rows_scanned = 0;
    uint64_t bytes_read = 0;
    uint64_t segments_skipped = 0, segments_total = 0;
  } stats;
};

struct QueryOptions {
  std::string tenant_id;
  // Device scope: only rows whose DeviceId is in this set are visible (user tokens). nullopt = all.
  std::optional<std::unordered_set<std::string>> device_ids;
  int64_t now_ticks = 0;                                  // what now() and ago() mean; 0 = the clock
  std::chrono::seconds lookback{std::chrono::hours(24 * 30)};  // data older than this is not visible
  // Graph runHuntingQuery's Timespan: rows with a Timestamp outside [start, end] are not visible either.
  std::optional<int64_t> window_start_ticks, window_end_ticks;
  size_t max_rows = 100'000;
  // Rows a join may produce before the query stops ("Query stopped due to excessive resource
  // consumption.", as MDE): a cross join's output is built before the row cap applies.
  size_t max_join_rows = 50'000'000;
  size_t max_result_bytes = 124ull << 20;
  std::chrono::milliseconds timeout{std::chrono::seconds(200)};
  const std::atomic<bool>* cancel = nullptr;              // set to true to stop a running query
  int threads = 2;
};

// Where a syntax or semantic error is (1-based), for API messages and the CLI.
struct QueryError {
  int line = 0, column = 0;
  std::string message;
};

// Runs one query (with `let` statements, `;`-separated). On error, `error` (when given) holds
// the position and message as well.
Result<QueryResult> RunQuery(std::string_view text, const QueryOptions& options, events::EventStore& store,
                             const events::SchemaRegistry& registry, QueryError* error = nullptr);

// What a query returns, known without running it: its output columns and the tables it reads.
struct QueryShape {
  std::vector<std::pair<std::string, Type>> columns;
  bool open = false;                // more columns may appear at run time (bag_unpack)
  std::vector<std::string> tables;  // tables the rows come from (scans of the pipeline, not of subqueries), no repeats
};

// Parses and binds `text` (no data is read). Errors as RunQuery's.
Result<QueryShape> CheckQuery(std::string_view text, const events::SchemaRegistry& registry,
                              QueryError* error = nullptr);

}  // namespace ward::kql
