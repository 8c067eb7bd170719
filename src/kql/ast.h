#pragma once
// The KQL syntax tree. One node type for every construct keeps the parser and the binder small;
// what each field means depends on `kind` (documented per kind below). Every node carries the
// position of its first token so that the binder reports errors where they are.
//
// Ownership: a tree owns its children (shared_ptr so that `let` bodies can be re-bound at each
// call site without copying). Immutable after parsing; safe to read from several threads.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kql/engine.h"

namespace ward::kql {

struct Pos {
  int line = 1, column = 1;  // 1-based, in code points
  size_t offset = 0;         // byte offset into the query text
};

// A literal value of some KQL type (null allowed for every type but string).
struct Scalar {
  Type type = Type::kString;
  bool null = false;
  int64_t i = 0;     // bool/int/long/datetime/timespan
  double r = 0;      // real
  std::string s;     // string, guid, dynamic (compact JSON text)

  static Scalar Null(Type t) { Scalar v; v.type = t; v.null = true; return v; }
  static Scalar Long(int64_t v) { Scalar s; s.type = Type::kLong; s.i = v; return s; }
  static Scalar Int(int64_t v) { Scalar s; s.type = Type::kInt; s.i = v; return s; }
  static Scalar Real(double v) { Scalar s; s.type = Type::kReal; s.r = v; return s; }
  static Scalar Bool(bool v) { Scalar s; s.type = Type::kBool; s.i = v; return s; }
  static Scalar Str(std::string v) { Scalar s; s.type = Type::kString; s.s = std::move(v); return s; }
  static Scalar DateTime(int64_t t) { Scalar s; s.type = Type::kDateTime; s.i = t; return s; }
  static Scalar Timespan(int64_t t) { Scalar s; s.type = Type::kTimespan; s.i = t; return s; }
  static Scalar Dynamic(std::string json) { Scalar s; s.type = Type::kDynamic; s.s = std::move(json); return s; }
};

enum class NodeKind {
  // ---- scalar expressions
  kLiteral,   // literal
  kName,      // name: identifier (or ['quoted name']); `*` is kStar
  kStar,      // `*` in project-away, arg_max(X, *), count(*) ...
  kCall,      // name(args...)
  kBinary,    // name = operator ("==", "has", "!in~", "+", "and", ...), args = {lhs, rhs}
  kUnary,     // name = "-" or "+", args = {operand}
  kMember,    // args[0].name
  kIndex,     // args[0][args[1]]
  kBetween,   // args = {x, lo, hi}; flag = negated (!between)
  kList,      // (a, b, c): the right side of in/has_any; args = items
  kAssign,    // name = args[0] (project/extend/summarize); for (A, B) = ... names holds several
  kTypeof,    // typeof(T): text = type name
  kSortKey,   // args[0], flag = ascending, nulls = 0 default / 1 first / 2 last
  // ---- tabular expressions
  kPipe,      // args[0] = input, args[1] = operator (kOperator)
  kOperator,  // name = operator ("where", "join", ...); see parser.cc for the field layout of each
  kDatatable, // names/types = schema; args = literal cells row-major
  kLambda,    // params (names/types/defaults) and body statements (kLet...) + final expression
  kLet,       // name = args[0]
};

struct Node;
using NodePtr = std::shared_ptr<const Node>;

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  Pos pos;
  std::string name;                // identifier, function or operator name
  Scalar literal;                  // kLiteral
  std::vector<NodePtr> args;       // children (see NodeKind)
  std::vector<NodePtr> by;         // summarize/top-nested `by`, join `on`, sort keys ...
  std::vector<std::pair<std::string, std::string>> options;  // kind=inner, with_itemindex=I ...
  std::vector<std::string> names;  // kAssign tuple targets, kDatatable/kLambda column or parameter names
  std::vector<std::string> types;  // kDatatable column types, kLambda parameter types ("" = scalar any, "(…)" = tabular)
  std::vector<NodePtr> defaults;   // kLambda parameter defaults (null entries = none)
  NodePtr extra;                   // join/lookup right side, mv-expand `to typeof`, parse pattern source
  bool flag = false;               // kBetween negated, kSortKey ascending, kLambda is view
  int nulls = 0;                   // kSortKey nulls placement
  std::string text;                // kTypeof type name, misc
};

// A whole query: `let` statements and one tabular (or scalar, via print-less queries) expression.
struct Query {
  std::vector<NodePtr> statements;  // kLet nodes in order, and the final expression last
};

const char* NodeKindName(NodeKind k);

}  // namespace ward::kql
