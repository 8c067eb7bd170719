#pragma once
// Executor data: tables of shared, immutable columns (so project/rename/extend share rather than
// copy), cell access that understands broadcast constants (a 1-entry column stands for every row),
// and the text forms of cells (tostring, JSON for dynamic values).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/schema.h"
#include "kql/ast.h"
#include "kql/engine.h"

namespace ward::kql {

using ColumnPtr = std::shared_ptr<const Column>;

struct Table {
  std::vector<std::string> names;
  std::vector<ColumnPtr> cols;
  size_t rows = 0;
  int Find(std::string_view name) const;
  void Add(std::string name, ColumnPtr col);
};

inline bool IntRep(Type t) {
  return t == Type::kBool || t == Type::kInt || t == Type::kLong || t == Type::kDateTime || t == Type::kTimespan;
}
inline bool RealRep(Type t) { return t == Type::kReal || t == Type::kDecimal; }
inline bool StrRep(Type t) { return t == Type::kString || t == Type::kGuid || t == Type::kDynamic; }
inline bool Numeric(Type t) { return t == Type::kInt || t == Type::kLong || t == Type::kReal || t == Type::kDecimal; }

// Row i of a column that may be a broadcast constant.
inline size_t At(const Column& c, size_t i) { return c.nulls.size() == 1 ? 0 : i; }
inline bool IsNull(const Column& c, size_t i) { return c.nulls[At(c, i)] != 0; }

Column NewColumn(Type t, size_t reserve = 0);
void AppendNull(Column& c);
void AppendScalar(Column& c, const Scalar& v);
void AppendFrom(Column& dst, const Column& src, size_t i);  // same type family
Scalar CellScalar(const Column& c, size_t i);
Column Broadcast(const Scalar& v);
// A column with exactly `rows` entries (expands broadcast constants).
ColumnPtr Materialize(ColumnPtr c, size_t rows);
Column Gather(const Column& c, const std::vector<uint32_t>& rows);
// Nulls for a column of type t and n rows.
Column NullColumn(Type t, size_t n);

Type FromColumnType(events::ColumnType t);
std::optional<Type> ParseTypeName(std::string_view name);  // "string", "long", "boolean", "double" ...

// tostring(): datetime as ISO with 7 digits, timespan as [d.]hh:mm:ss[.fffffff], dynamic strings
// bare, other dynamic values as compact JSON, null as "".
std::string CellToString(const Column& c, size_t i);
// The cell as a JSON value text (for dynamic arrays/bags built from scalars).
std::string CellToJson(const Column& c, size_t i);
std::string FormatTimespan(int64_t ticks);
std::string FormatReal(double d);
// Appends code point cp as UTF-8 (cp must be below 0x110000).
void AppendUtf8(std::string& out, uint32_t cp);

// Appends a cell's identity to a hash key (group by, join, dcount): equal keys ⇔ equal values;
// nulls get their own encoding. Numbers compare by value (1 == 1.0).
void AppendKey(std::string& key, const Column& c, size_t i);

// Dense ids for distinct keys (AppendKey encodings): open addressing over one arena of key bytes,
// so a lookup is a hash, a short probe and one memcmp, and there is no allocation per key (a
// node-based map spends most of a group-by in pointer chasing and malloc). Not thread-safe.
class KeyIndex {
 public:
  // The id of `key` (0, 1, 2 … in order of first appearance); *fresh tells whether it was added.
  uint32_t Insert(std::string_view key, bool* fresh);
  // The id of `key`, or -1 when absent.
  int64_t Find(std::string_view key) const;
  size_t size() const { return hashes_.size(); }

 private:
  std::string_view KeyOf(uint32_t id) const { return std::string_view(bytes_).substr(starts_[id], starts_[id + 1] - starts_[id]); }
  void Grow();
  std::vector<uint32_t> slots_;   // id + 1; 0 = empty; size is a power of two
  std::vector<uint64_t> hashes_;  // per id
  std::vector<size_t> starts_{0};  // per id + 1: offsets into bytes_
  std::string bytes_;
};

// Converts a cell to another type (to* functions, typed outputs); null when not convertible.
Scalar ConvertCell(const Column& c, size_t i, Type to);

}  // namespace ward::kql
