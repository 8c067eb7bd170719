#pragma once
// The KQL function registries, as data: scalar functions and operators (name, arity, a rule that
// checks argument types and gives the result type, a vectorised implementation) and aggregates
// (name, arity, default output name prefix, result type rule, accumulator factory).
//
// Implementations work on whole columns; arguments may be broadcast constants (see value.h). They
// never throw; failures are Status values. Thread-safe (stateless; regexes come from a per-thread
// cache).
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kql/plan.h"
#include "kql/value.h"

namespace ward::kql {

struct EvalContext {
  int64_t now_ticks = 0;
};

using TypeRule = Result<Type> (*)(const std::vector<Type>& args);
using ScalarImpl = Status (*)(const EvalContext& ctx, const std::vector<const Column*>& args, size_t n, Column& out);

struct FunctionDef {
  std::string_view name;
  int min_args, max_args;  // max -1 = variadic
  TypeRule result;
  ScalarImpl impl;
};

// Exact, case-sensitive (KQL function names are). Operators are registered under their spelling
// ("==", "has", "!in~", "+", "and", "between", …); unary minus is "neg", member access "[]".
const FunctionDef* FindFunction(std::string_view name);
// Functions whose value differs per row with constant arguments (new_guid, rand, window functions):
// never folded, never evaluated once for a whole batch.
bool IsVolatile(const FunctionDef& fn);
// Window functions (row_number, prev, next, row_cumsum): need a serialized row set, evaluated over
// the whole input at once.
bool IsWindowFunction(std::string_view name);

// Aggregates. Args are evaluated over the summarize input; group[i] is row i's group.
class Accumulator {
 public:
  virtual ~Accumulator() = default;
  // mask (may be null): only rows with mask[i] != 0 count (the *if variants).
  virtual void Add(const std::vector<const Column*>& args, const std::vector<uint32_t>& group, const uint8_t* mask,
                   size_t groups) = 0;
  virtual void Finish(size_t groups, std::vector<Column>& out) = 0;
};

struct AggregateDef {
  std::string_view name;
  int min_args, max_args;
  std::string_view prefix;  // default output name: prefix + first argument's name ("dcount_" + X)
  int predicate_arg;        // index of the *if predicate, -1 = none
  TypeRule result;          // single-output result type
  std::unique_ptr<Accumulator> (*make)(const std::vector<Type>& arg_types, const std::vector<Type>& out_types);
};

const AggregateDef* FindAggregate(std::string_view name);

// Lowers ASCII letters (KQL's case-insensitive operators fold ASCII; non-ASCII bytes compare as is).
std::string Lower(std::string_view s);

}  // namespace ward::kql
