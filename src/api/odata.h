#pragma once
// OData v4 query options as MDE uses them: $filter, $top, $skip, $orderby, $select, $expand, $count.
//
// $filter grammar (MDE samples plus common OData): comparisons `eq ne gt ge lt le`, `and or not`,
// parentheses, `in ('a','b')`, functions startswith/endswith/contains(prop,'text') and
// tolower/toupper(prop), lambda `prop/any(x: x eq 'v')` over string collections; literals: 'quoted'
// strings ('' escapes a quote), integers, decimals, true/false/null, GUIDs, and unquoted datetimes
// (2019-11-22T00:00:00Z, 2019-11-22T00:00:00.123Z, 2018-08-01Z, 2018-08-01). Property names are
// matched case-insensitively against an EntitySchema and normalised to the schema's spelling.
// '+' in the raw query means space. Every error is InvalidArgument whose message names the offending
// property, literal, option or token; callers answer 400 ODataError.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace ward::odata {

enum class PropertyType { kString, kInt, kDouble, kBool, kDateTime, kStringCollection };

struct Property {
  std::string name;  // exact MDE spelling, e.g. "computerDnsName"
  PropertyType type;
  bool filterable = true;
  bool sortable = true;
};

struct EntitySchema {
  std::string entity_set;  // e.g. "Machines"
  std::vector<Property> properties;
  const Property* Find(std::string_view name) const;  // case-insensitive
};

// Filter expression tree.
struct Expr {
  enum class Kind { kLiteral, kProperty, kLambdaVar, kCompare, kAnd, kOr, kNot, kIn, kCall, kAny };
  enum class Op { kEq, kNe, kGt, kGe, kLt, kLe };
  Kind kind;
  Op op = Op::kEq;                // kCompare
  json::Value literal;            // kLiteral (strings, numbers, bools, null)
  bool literal_is_datetime = false;  // kLiteral parsed from an unquoted datetime; literal holds epoch ms
  std::string name;               // kProperty (schema spelling), kCall (function), kAny/kLambdaVar (variable)
  std::vector<std::unique_ptr<Expr>> children;  // operands / arguments / [collection, predicate]
};

struct Query {
  std::unique_ptr<Expr> filter;
  std::optional<int64_t> top;
  int64_t skip = 0;
  struct Order { std::string property; bool descending = false; };
  std::vector<Order> orderby;
  std::vector<std::string> select;  // schema spellings
  std::vector<std::string> expand;
  bool count = false;  // $count=true
};

struct QueryLimits {
  int64_t max_top = 10000;
  size_t max_filter_length = 8192;
  int max_depth = 32;
};

// Parses a raw query string ("$filter=...&$top=10"). Unknown $-options are an error; parameters
// without '$' are ignored (they belong to the route). Property names are validated against schema.
Result<Query> ParseQuery(std::string_view raw_query, const EntitySchema& schema, const QueryLimits& limits = {});
// Parses just a $filter expression.
Result<std::unique_ptr<Expr>> ParseFilter(std::string_view text, const EntitySchema& schema, int max_depth = 32);

// Evaluates a filter against an entity in its JSON (MDE) shape. Properties are looked up by their
// schema spelling. Datetime properties hold ISO-8601 strings and compare as instants. Comparisons
// with null follow OData: `eq null` is true only for null/absent; ordering comparisons with null are false.
bool Matches(const Expr& filter, const json::Value& entity, const EntitySchema& schema);

// Applies filter, orderby, skip and top to `entities` in place (stable), as an in-memory fallback.
void Apply(const Query& query, const EntitySchema& schema, std::vector<json::Value>& entities);

// Parses ISO-8601 "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]" into epoch milliseconds.
std::optional<int64_t> ParseDateTimeMs(std::string_view text);
// Formats epoch milliseconds as MDE does: "2024-01-02T03:04:05.678Z" (7 fractional digits are not used).
std::string FormatDateTimeMs(int64_t epoch_ms);

}  // namespace ward::odata
