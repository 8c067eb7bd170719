#include "kql/engine.h"

#include <algorithm>

#include "common/time.h"
#include "kql/binder.h"
#include "kql/executor.h"
#include "kql/parser.h"

namespace ward::kql {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kLong: return "long";
    case Type::kReal: return "real";
    case Type::kDecimal: return "decimal";
    case Type::kDateTime: return "datetime";
    case Type::kTimespan: return "timespan";
    case Type::kString: return "string";
    case Type::kDynamic: return "dynamic";
    case Type::kGuid: return "guid";
  }
  return "?";
}

const char* MdeTypeName(Type t) {
  switch (t) {
    case Type::kBool: return "Boolean";
    case Type::kInt: return "Int32";
    case Type::kLong: return "Int64";
    case Type::kReal: return "Double";
    case Type::kDecimal: return "Decimal";
    case Type::kDateTime: return "DateTime";
    case Type::kTimespan: return "TimeSpan";
    case Type::kString: return "String";
    case Type::kDynamic: return "Object";
    case Type::kGuid: return "Guid";
  }
  return "Object";
}

Result<QueryResult> RunQuery(std::string_view text, const QueryOptions& options, events::EventStore& store,
                             const events::SchemaRegistry& registry, QueryError* error) {
  QueryError local;
  QueryError* err = error ? error : &local;
  WARD_ASSIGN_OR_RETURN(Query q, Parse(text, err));
  BindOptions bo;
  // One fixed instant per query: now() and ago() agree everywhere in it.
  bo.now_ticks = options.now_ticks != 0 ? options.now_ticks : NowTicks();
  WARD_ASSIGN_OR_RETURN(BoundQuery bound, Bind(q, registry, bo, err));
  return Execute(bound, options, bo.now_ticks, store, registry);
}

namespace {

void CollectTables(const Plan& p, std::vector<std::string>* out) {
  if (p.kind == Plan::Kind::kScan && std::find(out->begin(), out->end(), p.table) == out->end()) out->push_back(p.table);
  for (const PlanPtr& in : p.inputs) CollectTables(*in, out);
}

}  // namespace

Result<QueryShape> CheckQuery(std::string_view text, const events::SchemaRegistry& registry, QueryError* error) {
  QueryError local;
  QueryError* err = error ? error : &local;
  WARD_ASSIGN_OR_RETURN(Query q, Parse(text, err));
  BindOptions bo;
  bo.now_ticks = NowTicks();
  WARD_ASSIGN_OR_RETURN(BoundQuery bound, Bind(q, registry, bo, err));
  QueryShape shape;
  for (size_t i = 0; i < bound.plan->schema.names.size(); ++i) {
    shape.columns.emplace_back(bound.plan->schema.names[i], bound.plan->schema.types[i]);
  }
  shape.open = bound.plan->schema.open;
  CollectTables(*bound.plan, &shape.tables);
  return shape;
}

}  // namespace ward::kql
