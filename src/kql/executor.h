#pragma once
// Planner and executor. The planner folds constant expressions (ago(7d), let scalars, toscalar and
// `in (subquery)` are evaluated once), pushes the Timestamp range, string equality/in and
// has/has_any of filters directly above a table into the ScanRequest, adds the caller's device
// scope and the lookback window, and prunes scans to the columns the query references. The
// executor runs plans on column batches: scans stream batches through the filters/extends above
// them on `threads` worker threads; other operators work on whole tables.
//
// Limits: rows beyond max_rows are dropped (result.truncated = true, as MDE truncates);
// result bytes above max_result_bytes, timeout and cancellation end the query with MDE's
// messages. Thread-safe: one call shares nothing with another but the store.
#include "common/status.h"
#include "events/event_store.h"
#include "kql/engine.h"
#include "kql/functions.h"
#include "kql/plan.h"

namespace ward::kql {

// Evaluates an expression that references no column and no subquery (binder-time constants).
Result<Scalar> EvalConstant(const BExpr& e, const EvalContext& ctx);

Result<QueryResult> Execute(const BoundQuery& query, const QueryOptions& options, int64_t now_ticks, events::EventStore& store,
                            const events::SchemaRegistry& registry);

}  // namespace ward::kql
