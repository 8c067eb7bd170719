#pragma once
// Predicate evaluation for ColumnarStore: compiled predicates, vectorised kernels over column
// views (selection masks of one byte per row), zone-map verdicts and the terms a predicate needs
// from the term index. Semantics are those documented on Predicate (events/event_store.h); nulls
// never match.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "events/columnar_format.h"
#include "events/event_store.h"

namespace ward::events::columnar {

struct CompiledPredicate {
  int column = -1;  // index in the table's schema
  std::string column_name;
  ColumnType type = ColumnType::kString;
  Predicate::Op op = Predicate::Op::kEquals;
  bool never = false;      // no operand can match (e.g. all operands null)
  bool as_double = false;  // integer column compared with a real operand
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> strs;  // lower-cased for the case-insensitive operators
  std::shared_ptr<const StringMatcher> matcher;  // kMatches
  // For the term index: per operand, the lower-cased terms every matching value contains. An
  // operand with no usable term puts no constraint (the block must be read).
  std::vector<std::vector<std::string>> terms;
  bool uses_term_index = false;  // the operator/column pair can use a term index
  int cost = 0;                  // evaluation order: cheap first
};

// Validates a predicate against the table (unknown column, operand kinds) and prepares it.
Result<CompiledPredicate> CompilePredicate(const TableDef& table, const Predicate& p);

enum class ZoneVerdict { kNone, kSome, kAll };  // no row / maybe some rows / every row matches
ZoneVerdict CheckZone(const CompiledPredicate& p, const Zone& zone);

// Reusable per-scan buffers for string kernels. Call NewBlock() whenever the views change (the
// lower-cased copy of a column is cached by its address within one block).
struct EvalScratch {
  std::string lowered;
  const char* lowered_of = nullptr;
  size_t lowered_size = 0;
  std::vector<uint8_t> matches;  // per dictionary entry / per row
  std::vector<uint8_t> hits;
  void NewBlock() { lowered_of = nullptr; }
};

// sel[i] &= (row i matches), for every row of the view.
void Evaluate(const CompiledPredicate& p, const ColumnView& v, uint8_t* sel, EvalScratch& scratch);

// KQL `has` on one lower-cased haystack with a lower-cased needle (see hunting-schema.md §2).
bool HasMatchLowered(std::string_view haystack, std::string_view needle);

}  // namespace ward::events::columnar
