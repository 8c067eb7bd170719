#include "events/columnar_eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ward::events {

std::vector<std::string> TermsOf(std::string_view text) {
  std::vector<std::string> terms;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !columnar::IsTermByte(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && columnar::IsTermByte(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) {
      std::string term(text.substr(start, i - start));
      for (char& c : term) c = columnar::LowerAscii(c);
      terms.push_back(std::move(term));
    }
  }
  return terms;
}

bool IsTermIndexedColumn(std::string_view column) {
  static constexpr std::string_view kIndexed[] = {
      "ProcessCommandLine", "InitiatingProcessCommandLine", "FileName",     "FolderPath",
      "InitiatingProcessFileName", "InitiatingProcessFolderPath", "RemoteUrl", "AccountName",
      "DeviceName", "PreviousFileName", "InitiatingProcessParentFileName", "RegistryKey",
      "RegistryValueData", "AdditionalFields"};
  return std::find(std::begin(kIndexed), std::end(kIndexed), column) != std::end(kIndexed);
}

namespace columnar {
namespace {

using Op = Predicate::Op;

bool IsCaseInsensitive(Op op) { return op == Op::kEqualsCi || op == Op::kInCi || op == Op::kHas || op == Op::kHasAny || op == Op::kContains || op == Op::kStartsWith; }
bool IsMulti(Op op) { return op == Op::kIn || op == Op::kInCi || op == Op::kHasAny; }
bool IsStringOnly(Op op) { return IsCaseInsensitive(op) || op == Op::kMatches; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

// ASCII lower-casing of n bytes, 16 at a time with GCC vector extensions (plain -O2 does not
// vectorise the scalar loop, and this runs over every byte a `has`/`contains` scan touches).
void LowerBytes(const char* __restrict src, char* __restrict dst, size_t n) {
  typedef unsigned char V16 __attribute__((vector_size(16)));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    V16 v;
    std::memcpy(&v, src + i, 16);
    const V16 upper = reinterpret_cast<V16>((v - 'A') < 26);  // 0xff where 'A'..'Z'
    v += upper & 32;
    std::memcpy(dst + i, &v, 16);
  }
  for (; i < n; ++i) dst[i] = LowerAscii(src[i]);
}

bool EqualsLowered(std::string_view s, std::string_view lowered_needle) {
  if (s.size() != lowered_needle.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (LowerAscii(s[i]) != lowered_needle[i]) return false;
  }
  return true;
}

// The terms a value matching `operand` under `op` must contain as whole terms.
std::vector<std::string> RequiredTerms(Op op, std::string_view operand) {
  std::vector<std::string> terms = TermsOf(operand);
  if (!terms.empty() && !operand.empty()) {
    const bool starts = IsTermByte(static_cast<unsigned char>(operand.front()));
    const bool ends = IsTermByte(static_cast<unsigned char>(operand.back()));
    // A prefix may end inside a term; a substring may also begin inside one.
    if ((op == Op::kStartsWith || op == Op::kContains) && ends) terms.pop_back();
    if (op == Op::kContains && starts && !terms.empty()) terms.erase(terms.begin());
  }
  std::erase_if(terms, [](const std::string& t) { return t.size() > kMaxIndexedTermBytes; });
  return terms;
}

template <typename T, typename F>
void ApplyMask(const T* __restrict x, uint8_t* __restrict sel, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) sel[i] &= static_cast<uint8_t>(f(x[i]));
}

template <typename T>
void EvalNumeric(Op op, const T* x, size_t n, const std::vector<T>& values, uint8_t* sel) {
  const T v = values[0];
  switch (op) {
    case Op::kEquals: ApplyMask(x, sel, n, [v](T a) { return a == v; }); break;
    case Op::kNotEquals: ApplyMask(x, sel, n, [v](T a) { return a != v; }); break;
    case Op::kGreater: ApplyMask(x, sel, n, [v](T a) { return a > v; }); break;
    case Op::kGreaterEq: ApplyMask(x, sel, n, [v](T a) { return a >= v; }); break;
    case Op::kLess: ApplyMask(x, sel, n, [v](T a) { return a < v; }); break;
    case Op::kLessEq: ApplyMask(x, sel, n, [v](T a) { return a <= v; }); break;
    case Op::kIn:
      if (values.size() <= 8) {
        ApplyMask(x, sel, n, [&values](T a) {
          bool any = false;
          for (T b : values) any |= a == b;
          return any;
        });
      } else {  // values are sorted at compile time; NaN is "equivalent" to everything there
        ApplyMask(x, sel, n, [&values](T a) { return a == a && std::binary_search(values.begin(), values.end(), a); });
      }
      break;
    default:
      std::memset(sel, 0, n);
      break;
  }
}

void EvalIntsAsDouble(Op op, const int64_t* x, size_t n, const std::vector<double>& values, uint8_t* sel) {
  const double v = values[0];
  switch (op) {
    case Op::kEquals: ApplyMask(x, sel, n, [v](int64_t a) { return static_cast<double>(a) == v; }); break;
    case Op::kNotEquals: ApplyMask(x, sel, n, [v](int64_t a) { return static_cast<double>(a) != v; }); break;
    case Op::kGreater: ApplyMask(x, sel, n, [v](int64_t a) { return static_cast<double>(a) > v; }); break;
    case Op::kGreaterEq: ApplyMask(x, sel, n, [v](int64_t a) { return static_cast<double>(a) >= v; }); break;
    case Op::kLess: ApplyMask(x, sel, n, [v](int64_t a) { return static_cast<double>(a) < v; }); break;
    case Op::kLessEq: ApplyMask(x, sel, n, [v](int64_t a) { return static_cast<double>(a) <= v; }); break;
    case Op::kIn:
      ApplyMask(x, sel, n, [&values](int64_t a) {
        bool any = false;
        for (double b : values) any |= static_cast<double>(a) == b;
        return any;
      });
      break;
    default:
      std::memset(sel, 0, n);
      break;
  }
}

void EvalIntsInMixed(const int64_t* x, size_t n, const std::vector<int64_t>& ints, const std::vector<double>& reals, uint8_t* sel) {
  ApplyMask(x, sel, n, [&](int64_t a) {
    return std::binary_search(ints.begin(), ints.end(), a) || std::binary_search(reals.begin(), reals.end(), static_cast<double>(a));
  });
}

// Marks hits[row] for rows of the lower-cased strings (offsets/low, n rows) containing `needle`,
// with KQL `has` boundaries when has_rules is set.
void SearchRows(const char* low, const uint32_t* off, size_t n, std::string_view needle, bool has_rules, uint8_t* hits) {
  if (needle.empty()) {
    std::memset(hits, 1, n);
    return;
  }
  const bool term_start = has_rules && IsTermByte(static_cast<unsigned char>(needle.front()));
  const bool term_end = has_rules && IsTermByte(static_cast<unsigned char>(needle.back()));
  const size_t len = needle.size();
  size_t pos = off[0];
  const size_t end = off[n];
  size_t row = 0;
  while (pos + len <= end) {
    const void* f = memmem(low + pos, end - pos, needle.data(), len);
    if (f == nullptr) break;
    const size_t h = static_cast<size_t>(static_cast<const char*>(f) - low);
    while (off[row + 1] <= h) ++row;  // the row holding byte h (skips empty rows)
    const size_t row_end = off[row + 1];
    if (h + len <= row_end) {
      const bool ok = (!term_start || h == off[row] || !IsTermByte(static_cast<unsigned char>(low[h - 1]))) &&
                      (!term_end || h + len == row_end || !IsTermByte(static_cast<unsigned char>(low[h + len])));
      if (ok) {
        hits[row] = 1;
        pos = row_end;  // this row is decided
        continue;
      }
    }
    pos = h + 1;
  }
}

// String predicate over n plain strings (no nulls considered): sel[i] &= match.
void EvalStrings(const CompiledPredicate& p, const uint32_t* off, const char* bytes, size_t n, uint8_t* sel, EvalScratch& scratch) {
  auto at = [&](size_t i) { return std::string_view(bytes + off[i], off[i + 1] - off[i]); };
  if (p.op == Op::kMatches) {
    for (size_t i = 0; i < n; ++i) sel[i] = sel[i] && p.matcher->Match(at(i));
    return;
  }
  const std::string& v = p.strs[0];
  switch (p.op) {
    case Op::kEquals:
      for (size_t i = 0; i < n; ++i) {
        const size_t len = off[i + 1] - off[i];
        sel[i] &= len == v.size() && std::memcmp(bytes + off[i], v.data(), len) == 0;
      }
      return;
    case Op::kNotEquals:
      for (size_t i = 0; i < n; ++i) {
        const size_t len = off[i + 1] - off[i];
        sel[i] &= !(len == v.size() && std::memcmp(bytes + off[i], v.data(), len) == 0);
      }
      return;
    case Op::kIn:
      for (size_t i = 0; i < n; ++i) {
        if (!sel[i]) continue;
        std::string_view s = at(i);
        sel[i] = p.strs.size() <= 8 ? std::find(p.strs.begin(), p.strs.end(), s) != p.strs.end()
                                    : std::binary_search(p.strs.begin(), p.strs.end(), s, std::less<>());
      }
      return;
    case Op::kEqualsCi:
      for (size_t i = 0; i < n; ++i) sel[i] &= sel[i] && EqualsLowered(at(i), v);
      return;
    case Op::kInCi:
      for (size_t i = 0; i < n; ++i) {
        if (!sel[i]) continue;
        bool any = false;
        for (const std::string& s : p.strs) any = any || EqualsLowered(at(i), s);
        sel[i] = any;
      }
      return;
    case Op::kStartsWith:
      for (size_t i = 0; i < n; ++i) sel[i] &= sel[i] && at(i).size() >= v.size() && EqualsLowered(at(i).substr(0, v.size()), v);
      return;
    case Op::kGreater: for (size_t i = 0; i < n; ++i) sel[i] &= at(i) > v; return;
    case Op::kGreaterEq: for (size_t i = 0; i < n; ++i) sel[i] &= at(i) >= v; return;
    case Op::kLess: for (size_t i = 0; i < n; ++i) sel[i] &= at(i) < v; return;
    case Op::kLessEq: for (size_t i = 0; i < n; ++i) sel[i] &= at(i) <= v; return;
    case Op::kMatches: return;  // above
    case Op::kHas:
    case Op::kHasAny:
    case Op::kContains: {
      // One pass of memmem over the lower-cased bytes of all rows beats a search per row.
      const size_t total = off[n];
      if (scratch.lowered_of != bytes || scratch.lowered_size != total) {
        scratch.lowered.resize(total);
        LowerBytes(bytes, scratch.lowered.data(), total);
        scratch.lowered_of = bytes;
        scratch.lowered_size = total;
      }
      scratch.hits.assign(n, 0);
      for (const std::string& needle : p.strs) SearchRows(scratch.lowered.data(), off, n, needle, p.op != Op::kContains, scratch.hits.data());
      for (size_t i = 0; i < n; ++i) sel[i] &= scratch.hits[i];
      return;
    }
  }
}

template <typename Code>
void MapCodes(const Code* __restrict codes, const uint8_t* __restrict matches, uint8_t* __restrict sel, size_t n) {
  for (size_t i = 0; i < n; ++i) sel[i] &= matches[codes[i]];
}

}  // namespace

bool HasMatchLowered(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  const bool ts = IsTermByte(static_cast<unsigned char>(needle.front()));
  const bool te = IsTermByte(static_cast<unsigned char>(needle.back()));
  for (size_t pos = hay.find(needle); pos != std::string_view::npos; pos = hay.find(needle, pos + 1)) {
    const bool ok = (!ts || pos == 0 || !IsTermByte(static_cast<unsigned char>(hay[pos - 1]))) &&
                    (!te || pos + needle.size() == hay.size() || !IsTermByte(static_cast<unsigned char>(hay[pos + needle.size()])));
    if (ok) return true;
  }
  return false;
}

Result<CompiledPredicate> CompilePredicate(const TableDef& table, const Predicate& p) {
  CompiledPredicate c;
  c.column = table.Find(p.column);
  if (c.column < 0) return Err(InvalidArgument("unknown column '" + p.column + "' in table " + table.name));
  c.column_name = p.column;
  c.type = table.columns[c.column].type;
  c.op = p.op;
  if (p.op == Op::kMatches) {
    if (!IsStringType(c.type) || p.matcher == nullptr || !p.values.empty()) {
      return Err(InvalidArgument("kMatches needs a string column and a matcher, no values: " + p.column));
    }
    c.matcher = p.matcher;
    c.cost = 4;  // the most expensive test: after every other predicate has narrowed the rows
    return c;
  }
  if (!IsMulti(p.op) && p.values.size() != 1) return Err(InvalidArgument("predicate on " + p.column + " needs exactly one value"));
  if (IsStringOnly(p.op) && !IsStringType(c.type)) {
    return Err(InvalidArgument("string operator on " + std::string(ColumnTypeName(c.type)) + " column " + p.column));
  }
  auto wrong = [&] { return Err(InvalidArgument("operand of the wrong type for " + std::string(ColumnTypeName(c.type)) + " column " + p.column)); };
  for (const CellValue& v : p.values) {
    if (v.index() == 0) continue;  // null operands never match
    if (IsIntType(c.type)) {
      if (const int64_t* i = std::get_if<int64_t>(&v)) c.ints.push_back(*i);
      else if (const double* d = std::get_if<double>(&v)) c.reals.push_back(*d);
      else return wrong();
    } else if (c.type == ColumnType::kReal) {
      if (const int64_t* i = std::get_if<int64_t>(&v)) c.reals.push_back(static_cast<double>(*i));
      else if (const double* d = std::get_if<double>(&v)) c.reals.push_back(*d);
      else return wrong();
    } else {
      const std::string* s = std::get_if<std::string>(&v);
      if (s == nullptr) return wrong();
      c.strs.push_back(IsCaseInsensitive(p.op) ? Lower(*s) : *s);
    }
  }
  // An integer column compares with a real operand as doubles; `in` keeps integer operands exact
  // (beyond 2^53 doubles would merge neighbours) and tests the real ones as doubles.
  c.as_double = IsIntType(c.type) && p.op != Op::kIn && !c.reals.empty();
  // NaN equals nothing; dropping it from `in` lists also keeps them sortable.
  if (p.op == Op::kIn) std::erase_if(c.reals, [](double d) { return std::isnan(d); });
  c.never = c.ints.empty() && c.reals.empty() && c.strs.empty();
  if (p.op == Op::kInCi) std::sort(c.strs.begin(), c.strs.end());
  if (p.op == Op::kIn) {
    std::sort(c.ints.begin(), c.ints.end());
    std::sort(c.reals.begin(), c.reals.end());
    std::sort(c.strs.begin(), c.strs.end());
  }
  if (IsStringType(c.type)) {
    c.cost = IsCaseInsensitive(p.op) ? 3 : 2;
    const bool index_op = p.op == Op::kEquals || p.op == Op::kEqualsCi || p.op == Op::kIn || p.op == Op::kInCi || p.op == Op::kHas || p.op == Op::kHasAny ||
                          p.op == Op::kStartsWith || p.op == Op::kContains;
    if (index_op && IsTermIndexedColumn(p.column) && !c.never) {
      c.uses_term_index = true;
      for (const std::string& s : c.strs) c.terms.push_back(RequiredTerms(p.op, s));
    }
  } else {
    c.cost = 1;
  }
  return c;
}

namespace {

template <typename T>
ZoneVerdict NumericVerdict(Op op, T mn, T mx, const std::vector<T>& values, bool no_nulls) {
  const T v = values[0];
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v) && op != Op::kIn) return op == Op::kNotEquals ? ZoneVerdict::kSome : ZoneVerdict::kNone;
  }
  auto all = [no_nulls](bool cond) { return cond && no_nulls ? ZoneVerdict::kAll : ZoneVerdict::kSome; };
  switch (op) {
    case Op::kEquals:
      if (v < mn || v > mx) return ZoneVerdict::kNone;
      return all(mn == v && mx == v);
    case Op::kNotEquals:
      if (mn == v && mx == v) return ZoneVerdict::kNone;
      return all(v < mn || v > mx);
    case Op::kGreater:
      if (!(mx > v)) return ZoneVerdict::kNone;
      return all(mn > v);
    case Op::kGreaterEq:
      if (!(mx >= v)) return ZoneVerdict::kNone;
      return all(mn >= v);
    case Op::kLess:
      if (!(mn < v)) return ZoneVerdict::kNone;
      return all(mx < v);
    case Op::kLessEq:
      if (!(mn <= v)) return ZoneVerdict::kNone;
      return all(mx <= v);
    case Op::kIn: {
      bool any = false;
      for (T x : values) any |= x >= mn && x <= mx;
      return any ? ZoneVerdict::kSome : ZoneVerdict::kNone;
    }
    default:
      return ZoneVerdict::kSome;
  }
}

// Could some value be > x (strict) or >= x, given the zone's (possibly cut) max?
bool MaxReaches(const Zone& z, std::string_view x, bool strict) {
  if (z.smax_trunc) return x.substr(0, kZonePrefixBytes) <= std::string_view(z.smax);
  return strict ? std::string_view(z.smax) > x : std::string_view(z.smax) >= x;
}
// Is every value < x (strict) or <= x?
bool AllBelow(const Zone& z, std::string_view x, bool strict) {
  if (z.smax_trunc) return x.substr(0, kZonePrefixBytes) > std::string_view(z.smax);
  return strict ? std::string_view(z.smax) < x : std::string_view(z.smax) <= x;
}

ZoneVerdict StringVerdict(const CompiledPredicate& p, const Zone& z, bool no_nulls) {
  const std::string_view mn = z.smin;
  auto all = [no_nulls](bool cond) { return cond && no_nulls ? ZoneVerdict::kAll : ZoneVerdict::kSome; };
  auto may_equal = [&](std::string_view x) { return mn <= x && MaxReaches(z, x, false); };
  const bool exact = !z.smin_trunc && !z.smax_trunc;
  switch (p.op) {
    case Op::kEquals:
      if (!may_equal(p.strs[0])) return ZoneVerdict::kNone;
      return all(exact && z.smin == p.strs[0] && z.smax == p.strs[0]);
    case Op::kNotEquals:
      if (exact && z.smin == p.strs[0] && z.smax == p.strs[0]) return ZoneVerdict::kNone;
      return all(std::string_view(p.strs[0]) < mn || AllBelow(z, p.strs[0], true));
    case Op::kIn:
      for (const std::string& s : p.strs) {
        if (may_equal(s)) return ZoneVerdict::kSome;
      }
      return ZoneVerdict::kNone;
    case Op::kGreater:
      if (!MaxReaches(z, p.strs[0], true)) return ZoneVerdict::kNone;
      return all(mn > std::string_view(p.strs[0]));
    case Op::kGreaterEq:
      if (!MaxReaches(z, p.strs[0], false)) return ZoneVerdict::kNone;
      return all(mn >= std::string_view(p.strs[0]));
    case Op::kLess:
      if (!(mn < std::string_view(p.strs[0]))) return ZoneVerdict::kNone;
      return all(AllBelow(z, p.strs[0], true));
    case Op::kLessEq:
      if (!(mn <= std::string_view(p.strs[0]))) return ZoneVerdict::kNone;
      return all(AllBelow(z, p.strs[0], false));
    default:
      return ZoneVerdict::kSome;  // case-insensitive operators: term index and exact evaluation
  }
}

}  // namespace

ZoneVerdict CheckZone(const CompiledPredicate& p, const Zone& zone) {
  if (p.never || zone.AllNull()) return ZoneVerdict::kNone;
  const bool no_nulls = zone.null_count == 0;
  if (IsIntType(p.type)) {
    if (p.op == Op::kIn && !p.reals.empty()) {
      const double dmin = static_cast<double>(zone.imin), dmax = static_cast<double>(zone.imax);
      bool any = false;
      for (int64_t x : p.ints) any |= x >= zone.imin && x <= zone.imax;
      for (double x : p.reals) any |= x >= dmin && x <= dmax;
      return any ? ZoneVerdict::kSome : ZoneVerdict::kNone;
    }
    if (p.as_double) return NumericVerdict<double>(p.op, static_cast<double>(zone.imin), static_cast<double>(zone.imax), p.reals, no_nulls);
    return NumericVerdict<int64_t>(p.op, zone.imin, zone.imax, p.ints, no_nulls);
  }
  if (p.type == ColumnType::kReal) {
    // A block holding NaN has the range ±inf, which cannot tell "every row" apart: never claim kAll.
    ZoneVerdict v = NumericVerdict<double>(p.op, zone.rmin, zone.rmax, p.reals, no_nulls);
    return v == ZoneVerdict::kAll ? ZoneVerdict::kSome : v;
  }
  return StringVerdict(p, zone, no_nulls);
}

void Evaluate(const CompiledPredicate& p, const ColumnView& v, uint8_t* sel, EvalScratch& scratch) {
  const size_t n = v.rows;
  if (p.never || v.all_null) {
    std::memset(sel, 0, n);
    return;
  }
  if (IsIntType(v.type)) {
    if (p.as_double) EvalIntsAsDouble(p.op, v.ints, n, p.reals, sel);
    else if (p.op == Op::kIn && !p.reals.empty()) EvalIntsInMixed(v.ints, n, p.ints, p.reals, sel);
    else EvalNumeric<int64_t>(p.op, v.ints, n, p.ints, sel);
  } else if (v.type == ColumnType::kReal) {
    EvalNumeric<double>(p.op, v.reals, n, p.reals, sel);
  } else if (v.code_width != 0) {
    // Dictionary: decide each distinct value once, then map the codes.
    scratch.matches.assign(v.dict_size, 1);
    EvalStrings(p, v.offsets, v.bytes, v.dict_size, scratch.matches.data(), scratch);
    scratch.lowered_of = nullptr;  // the dictionary is not the row data
    switch (v.code_width) {
      case 1: MapCodes(static_cast<const uint8_t*>(v.codes), scratch.matches.data(), sel, n); break;
      case 2: MapCodes(static_cast<const uint16_t*>(v.codes), scratch.matches.data(), sel, n); break;
      default: MapCodes(static_cast<const uint32_t*>(v.codes), scratch.matches.data(), sel, n); break;
    }
  } else {
    EvalStrings(p, v.offsets, v.bytes, n, sel, scratch);
  }
  if (v.nulls != nullptr) {
    const uint8_t* __restrict nulls = v.nulls;
    for (size_t i = 0; i < n; ++i) sel[i] &= nulls[i] ^ 1;
  }
}

}  // namespace columnar
}  // namespace ward::events
