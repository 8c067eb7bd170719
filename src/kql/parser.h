#pragma once
// Recursive-descent KQL parser: text → Query (ast.h). Accepts the whole §2 syntax of
// hunting-schema.md and, for operators outside the supported subset, still parses them as a
// kOperator node with their name (arguments skipped up to the next `|`), so that the binder can
// answer "'<name>' operator is not supported" at the right position instead of a syntax error.
//
// Errors: InvalidArgument "Syntax error: … (line L, column C)"; `error` gets the position.
// Never crashes or recurses without bound (nesting is limited).
#include <string_view>

#include "common/status.h"
#include "kql/ast.h"
#include "kql/engine.h"

namespace ward::kql {

Result<Query> Parse(std::string_view text, QueryError* error = nullptr);

}  // namespace ward::kql
