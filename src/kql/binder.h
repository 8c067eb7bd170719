#pragma once
// The binder: resolves a parsed query against the schema registry — tables, columns, `let` names
// (scalars, lists, tabular values, functions with parameters, bound at each call site), scalar and
// aggregate functions (functions.h), types and default output column names — and produces a plan.
//
// Errors are InvalidArgument in Kusto's words, prefixed by the operator ("'where' operator: Failed
// to resolve scalar expression named 'X'") and followed by "(line L, column C)"; `error` gets the
// position. Features outside the subset: "'<name>' operator is not supported" / "'<name>' is not
// supported". Pure function of its inputs; thread-safe.
#include "common/status.h"
#include "events/schema.h"
#include "kql/ast.h"
#include "kql/engine.h"
#include "kql/plan.h"

namespace ward::kql {

struct BindOptions {
  int64_t now_ticks = 0;     // for constant expressions the binder evaluates (range, take n)
  size_t max_range_rows = 10'000'000;
};

Result<BoundQuery> Bind(const Query& query, const events::SchemaRegistry& registry, const BindOptions& options,
                        QueryError* error = nullptr);

}  // namespace ward::kql
