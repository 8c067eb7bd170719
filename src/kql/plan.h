#pragma once
// Bound queries: typed scalar expressions (BoundExpr) and the tabular plan (Plan) the binder
// produces, the planner rewrites (pushdown, pruning, constant folding) and the executor runs.
// Column references are by name and resolved per batch, so that schemas only known at run time
// (evaluate bag_unpack) need no special casing. Plans are immutable once planned.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "kql/ast.h"
#include "kql/value.h"

namespace ward::kql {

struct Plan;
struct FunctionDef;
struct AggregateDef;
using PlanPtr = std::shared_ptr<Plan>;

struct BoundExpr;
using BExpr = std::shared_ptr<const BoundExpr>;

struct BoundExpr {
  enum class Kind { kColumn, kConst, kCall, kSubquery };
  Kind kind = Kind::kConst;
  Type type = Type::kString;
  Pos pos;
  std::string column;               // kColumn
  Scalar value;                     // kConst
  const FunctionDef* fn = nullptr;  // kCall
  std::vector<BExpr> args;          // kCall arguments
  PlanPtr plan;                     // kSubquery
  bool scalar_subquery = false;     // toscalar() (first cell) vs list (first column as a dynamic array)
};

struct Schema {
  std::vector<std::string> names;
  std::vector<Type> types;
  bool open = false;  // more columns may appear at run time (bag_unpack)
  int Find(std::string_view n) const;
  void Add(std::string n, Type t) { names.push_back(std::move(n)), types.push_back(t); }
};

struct AggSpec {
  const AggregateDef* def = nullptr;
  std::vector<BExpr> args;
  std::vector<std::string> names;  // output columns (several for arg_max, percentiles)
  std::vector<Type> types;
};

struct SortKey {
  BExpr expr;
  bool asc = false;
  bool nulls_first = false;
};

enum class JoinKind { kInnerUnique, kInner, kLeftOuter, kRightOuter, kFullOuter, kLeftAnti, kRightAnti, kLeftSemi, kRightSemi };

struct Plan {
  enum class Kind {
    kScan,       // table, request (pushdown), schema
    kValues,     // values: a constant table (datatable, print, range, getschema)
    kFilter,     // predicate
    kProject,    // exprs evaluated against the input; output = exactly these
    kExtend,     // exprs evaluated in order; each adds or replaces a column
    kSummarize,  // keys, aggs
    kSort,       // sort
    kTake,       // limit
    kJoin,       // join_kind, left_keys/right_keys; inputs {left, right}; right_names renames right columns
    kUnion,      // inputs; union_source column
    kMvExpand,   // exprs (name, expr), expand_types, item_index, limit
    kParse,      // parse_source, parse_regex, exprs (output names) with types
    kBagUnpack,  // bag column, bag_prefix
  };
  Kind kind = Kind::kScan;
  Schema schema;
  std::vector<PlanPtr> inputs;
  bool cache = false;  // shared by several parents (let, materialize): execute once
  bool serialized = false;   // `serialize`: row order is fixed from here on (window functions may follow)
  bool whole_input = false;  // kProject/kExtend with window functions (prev, row_number…): one batch, in order

  // kScan
  std::string table;
  events::ScanRequest request;
  bool scan_empty = false;  // scoped out entirely (e.g. no visible device)
  // kValues
  std::shared_ptr<const Table> values;
  // kFilter
  BExpr predicate;
  // kProject / kExtend / kMvExpand / kParse
  std::vector<std::pair<std::string, BExpr>> exprs;
  // kSummarize
  std::vector<std::pair<std::string, BExpr>> keys;
  std::vector<AggSpec> aggs;
  // kSort
  std::vector<SortKey> sort;
  // kTake
  int64_t limit = 0;
  // kJoin
  JoinKind join_kind = JoinKind::kInnerUnique;
  std::vector<std::string> left_keys, right_keys;
  std::vector<std::string> right_names;  // output name of every right input column (after clash renaming)
  // kUnion
  std::string union_source;              // withsource= column, "" = none
  std::vector<std::string> union_labels; // per input
  bool union_inner = false;
  // kMvExpand
  std::vector<std::optional<Type>> expand_types;
  std::string item_index;
  int64_t expand_limit = -1;
  std::string bag_expansion = "bag";
  // kParse
  BExpr parse_source;
  std::string parse_regex;       // RE2 pattern with one group per output column
  std::vector<Type> parse_types;
  // kBagUnpack
  std::string bag_column, bag_prefix;
};

// A bound query: the plan and what `render` asked for.
struct BoundQuery {
  PlanPtr plan;
  std::string render;
};

}  // namespace ward::kql
