// Scalar functions and operators of hunting-schema.md §2, registered as data in kFunctions.
#include "kql/functions.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <list>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/crypto.h"
#include "common/time.h"
#include "events/columnar_eval.h"
#include "json/json.h"
#include "kql/lexer.h"

namespace ward::kql {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

constexpr int64_t kDay = 86400 * kTicksPerSecond;

// ---------------------------------------------------------------------------------------------
// Helpers

// A string view of any cell: string columns directly, others through tostring().
class StrArg {
 public:
  explicit StrArg(const Column& c) : c_(c), direct_(c.type == Type::kString || c.type == Type::kGuid) {}
  std::string_view operator()(size_t i) {
    if (direct_) return c_.strings[At(c_, i)];
    tmp_ = CellToString(c_, i);
    return tmp_;
  }

 private:
  const Column& c_;
  bool direct_;
  std::string tmp_;
};

void PushStr(Column& out, std::string s) {
  out.strings.push_back(std::move(s));
  out.nulls.push_back(0);
}
void PushInt(Column& out, int64_t v) {
  out.ints.push_back(v);
  out.nulls.push_back(0);
}
void PushReal(Column& out, double v) {
  out.reals.push_back(v);
  out.nulls.push_back(0);
}
void PushBool(Column& out, bool v) { PushInt(out, v ? 1 : 0); }
void PushDyn(Column& out, std::string json) {
  if (json == "null") return AppendNull(out);
  PushStr(out, std::move(json));
}

bool AnyNull(const std::vector<const Column*>& a, size_t i) {
  for (const Column* c : a) {
    if (IsNull(*c, i)) return true;
  }
  return false;
}

int64_t IntAt(const Column& c, size_t i) {
  if (IntRep(c.type)) return c.ints[At(c, i)];
  Scalar s = ConvertCell(c, i, Type::kLong);
  return s.i;
}
double RealAt(const Column& c, size_t i) {
  if (RealRep(c.type)) return c.reals[At(c, i)];
  if (IntRep(c.type)) return static_cast<double>(c.ints[At(c, i)]);
  Scalar s = ConvertCell(c, i, Type::kReal);
  return s.null ? NAN : s.r;
}
bool NullAs(const Column& c, size_t i, Type t) {
  if (IsNull(c, i)) return true;
  if (c.type == Type::kDynamic) return ConvertCell(c, i, t).null;
  return false;
}

// Regexes compiled once per thread and pattern (patterns are usually constants).
const RE2* Regex(std::string_view pattern) {
  thread_local std::unordered_map<std::string, std::unique_ptr<RE2>> cache;
  auto it = cache.find(std::string(pattern));
  if (it != cache.end()) return it->second->ok() ? it->second.get() : nullptr;
  if (cache.size() > 256) cache.clear();
  RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), o);
  const RE2* p = re->ok() ? re.get() : nullptr;
  cache.emplace(std::string(pattern), std::move(re));
  return p;
}

Status BadRegex(std::string_view p) { return InvalidArgument("Relop semantic error: invalid regular expression '" + std::string(p) + "'"); }

// Parsed dynamic values (for member access, array functions).
std::optional<json::Value> Dyn(const Column& c, size_t i) {
  if (IsNull(c, i)) return std::nullopt;
  if (c.type != Type::kDynamic) {
    // A string used as dynamic: parse it if it is JSON (Kusto converts implicitly in a few places).
    auto v = json::Value::Parse(c.strings[At(c, i)]);
    if (v) return std::move(*v);
    return json::Value(c.strings[At(c, i)]);
  }
  auto v = json::Value::Parse(c.strings[At(c, i)]);
  if (!v) return json::Value(c.strings[At(c, i)]);
  return std::move(*v);
}

// ---------------------------------------------------------------------------------------------
// Type rules

template <Type T>
Result<Type> Fixed(const std::vector<Type>&) {
  return T;
}
Result<Type> SameAsFirst(const std::vector<Type>& a) { return a.empty() ? Type::kDynamic : a[0]; }

Type Promote(Type a, Type b) {
  if (a == b) return a;
  if (a == Type::kDynamic) return b;
  if (b == Type::kDynamic) return a;
  if (RealRep(a) || RealRep(b)) return Type::kReal;
  if ((a == Type::kInt || a == Type::kLong || a == Type::kBool) && (b == Type::kInt || b == Type::kLong || b == Type::kBool)) return Type::kLong;
  return a;
}

Result<Type> ArithRule(const std::vector<Type>& a, char op) {
  Type l = a[0], r = a[1];
  auto num = [](Type t) { return Numeric(t) || t == Type::kDynamic || t == Type::kBool; };
  if (l == Type::kDateTime && r == Type::kDateTime && op == '-') return Type::kTimespan;
  if (l == Type::kDateTime && r == Type::kTimespan && (op == '+' || op == '-')) return Type::kDateTime;
  if (l == Type::kTimespan && r == Type::kDateTime && op == '+') return Type::kDateTime;
  if (l == Type::kTimespan && r == Type::kTimespan) {
    if (op == '/') return Type::kReal;
    if (op == '+' || op == '-' || op == '%') return Type::kTimespan;
  }
  if (l == Type::kTimespan && num(r) && (op == '*' || op == '/')) return Type::kTimespan;
  if (num(l) && r == Type::kTimespan && op == '*') return Type::kTimespan;
  if (num(l) && num(r)) {
    if (l == Type::kDynamic || r == Type::kDynamic) return Type::kReal;
    if (l == Type::kInt && r == Type::kInt) return Type::kInt;
    return Promote(l, r);
  }
  return Err(InvalidArgument(std::string("Operator '") + op + "' cannot be applied to operands of types " + TypeName(l) + " and " + TypeName(r)));
}
Result<Type> AddRule(const std::vector<Type>& a) { return ArithRule(a, '+'); }
Result<Type> SubRule(const std::vector<Type>& a) { return ArithRule(a, '-'); }
Result<Type> MulRule(const std::vector<Type>& a) { return ArithRule(a, '*'); }
Result<Type> DivRule(const std::vector<Type>& a) { return ArithRule(a, '/'); }
Result<Type> ModRule(const std::vector<Type>& a) { return ArithRule(a, '%'); }

bool Comparable(Type a, Type b) {
  if (a == Type::kDynamic || b == Type::kDynamic) return true;
  if (Numeric(a) && Numeric(b)) return true;
  // bool compares with numbers as 0/1 (IsSigned == 1 in published queries).
  if ((a == Type::kBool && Numeric(b) && !RealRep(b)) || (b == Type::kBool && Numeric(a) && !RealRep(a))) return true;
  if (StrRep(a) && StrRep(b)) return true;
  return a == b;
}
Result<Type> CompareRule(const std::vector<Type>& a) {
  if (!Comparable(a[0], a[1])) {
    return Err(InvalidArgument(std::string("Cannot compare values of types ") + TypeName(a[0]) + " and " + TypeName(a[1]) +
                               ". Try adding explicit casts"));
  }
  return Type::kBool;
}
Result<Type> IffRule(const std::vector<Type>& a) {
  Type t = a[1];
  if (t == Type::kDynamic || a[2] == Type::kDynamic) return a[1] == a[2] ? t : (t == Type::kDynamic ? a[2] : t);
  if (!Comparable(a[1], a[2])) return Err(InvalidArgument("iff(): then and else must be of the same type"));
  return Promote(a[1], a[2]);
}
Result<Type> CaseRule(const std::vector<Type>& a) {
  if (a.size() % 2 == 0) return Err(InvalidArgument("case(): expects predicate/value pairs and an else value"));
  Type t = a.back();
  for (size_t k = 1; k + 1 < a.size(); k += 2) t = Promote(t, a[k]);
  return t;
}
Result<Type> CoalesceRule(const std::vector<Type>& a) {
  Type t = a[0];
  for (Type x : a) t = Promote(t, x);
  return t;
}
Result<Type> NumericArg(const std::vector<Type>& a) {
  if (a[0] == Type::kDynamic) return Type::kReal;
  return a[0];
}
Result<Type> BinRule(const std::vector<Type>& a) {
  if (a[0] == Type::kDynamic) return Type::kReal;
  if (a[0] == Type::kInt) return Type::kLong;
  return a[0];
}
Result<Type> RoundRule(const std::vector<Type>& a) { return RealRep(a[0]) || a[0] == Type::kDynamic ? Type::kReal : a[0]; }
Result<Type> ExtractRule(const std::vector<Type>& a) { return Type::kString; }
Result<Type> MinOfRule(const std::vector<Type>& a) { return CoalesceRule(a); }

// ---------------------------------------------------------------------------------------------
// Logic

Status AndImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    bool ln = NullAs(*a[0], i, Type::kBool), rn = NullAs(*a[1], i, Type::kBool);
    bool l = !ln && IntAt(*a[0], i), r = !rn && IntAt(*a[1], i);
    if ((!ln && !l) || (!rn && !r)) PushBool(out, false);
    else if (ln || rn) AppendNull(out);
    else PushBool(out, true);
  }
  return Status::Ok();
}
Status OrImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    bool ln = NullAs(*a[0], i, Type::kBool), rn = NullAs(*a[1], i, Type::kBool);
    bool l = !ln && IntAt(*a[0], i), r = !rn && IntAt(*a[1], i);
    if (l || r) PushBool(out, true);
    else if (ln || rn) AppendNull(out);
    else PushBool(out, false);
  }
  return Status::Ok();
}
Status NotImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (NullAs(*a[0], i, Type::kBool)) AppendNull(out);
    else PushBool(out, !IntAt(*a[0], i));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Comparison

// -1/0/1; 2 = unordered (NaN). Types are comparable (checked by the binder).
int CompareCells(const Column& a, size_t i, const Column& b, size_t j) {
  if (a.type == Type::kDynamic || b.type == Type::kDynamic) {
    if (a.type == Type::kDynamic && b.type == Type::kDynamic) {
      const std::string &x = a.strings[At(a, i)], &y = b.strings[At(b, j)];
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const Column& dyn = a.type == Type::kDynamic ? a : b;
    const Column& other = a.type == Type::kDynamic ? b : a;
    size_t di = a.type == Type::kDynamic ? i : j, oi = a.type == Type::kDynamic ? j : i;
    Scalar s = ConvertCell(dyn, di, other.type == Type::kInt ? Type::kLong : other.type);
    if (s.null) return 2;
    Column one = Broadcast(s);
    int c = CompareCells(one, 0, other, oi);
    return a.type == Type::kDynamic ? c : (c == 2 ? 2 : -c);
  }
  if (StrRep(a.type)) {
    int c = a.strings[At(a, i)].compare(b.strings[At(b, j)]);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (IntRep(a.type) && IntRep(b.type)) {
    int64_t x = a.ints[At(a, i)], y = b.ints[At(b, j)];
    return x < y ? -1 : x > y ? 1 : 0;
  }
  double x = RealAt(a, i), y = RealAt(b, j);
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : x > y ? 1 : 0;
}

enum class Cmp { kEq, kNe, kLt, kLe, kGt, kGe };

template <Cmp op>
Status CompareImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column &l = *a[0], &r = *a[1];
  // Fast path: string column against a string (the most common hunting predicate).
  if ((op == Cmp::kEq || op == Cmp::kNe) && l.type == Type::kString && r.type == Type::kString) {
    out.ints.resize(n);
    out.nulls.assign(n, 0);
    for (size_t i = 0; i < n; ++i) out.ints[i] = (l.strings[At(l, i)] == r.strings[At(r, i)]) == (op == Cmp::kEq);
    return Status::Ok();
  }
  for (size_t i = 0; i < n; ++i) {
    bool ln = IsNull(l, i), rn = IsNull(r, i);
    if (ln || rn) {
      // null == null → null; null == 5 → false; null != 5 → true (hunting-schema.md §2).
      if (ln && rn) AppendNull(out);
      else if (op == Cmp::kEq) PushBool(out, false);
      else if (op == Cmp::kNe) PushBool(out, true);
      else AppendNull(out);
      continue;
    }
    int c = CompareCells(l, i, r, i);
    if (c == 2) {
      PushBool(out, op == Cmp::kNe);
      continue;
    }
    bool v = op == Cmp::kEq ? c == 0 : op == Cmp::kNe ? c != 0 : op == Cmp::kLt ? c < 0 : op == Cmp::kLe ? c <= 0 : op == Cmp::kGt ? c > 0 : c >= 0;
    PushBool(out, v);
  }
  return Status::Ok();
}

template <bool neg>
Status EqCiImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg l(*a[0]), r(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    std::string_view x = l(i);
    std::string_view y = r(i);
    bool eq = x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](char p, char q) {
                return std::tolower(static_cast<unsigned char>(p)) == std::tolower(static_cast<unsigned char>(q));
              });
    PushBool(out, eq != neg);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// String operators

enum class SOp { kHas, kHasPrefix, kHasSuffix, kContains, kStartsWith, kEndsWith };

bool IsTermByte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

bool StrMatch(SOp op, std::string_view hay, std::string_view needle) {
  switch (op) {
    case SOp::kHas: return events::columnar::HasMatchLowered(hay, needle);
    case SOp::kContains: return hay.find(needle) != std::string_view::npos;
    case SOp::kStartsWith: return hay.substr(0, needle.size()) == needle;
    case SOp::kEndsWith: return hay.size() >= needle.size() && hay.substr(hay.size() - needle.size()) == needle;
    case SOp::kHasPrefix:
    case SOp::kHasSuffix: {
      if (needle.empty()) return true;
      for (size_t p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + 1)) {
        if (op == SOp::kHasPrefix && (p == 0 || !IsTermByte(static_cast<unsigned char>(hay[p - 1])))) return true;
        size_t e = p + needle.size();
        if (op == SOp::kHasSuffix && (e == hay.size() || !IsTermByte(static_cast<unsigned char>(hay[e])))) return true;
      }
      return false;
    }
  }
  return false;
}

template <SOp op, bool cs, bool neg>
Status StrOpImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg l(*a[0]), r(*a[1]);
  const bool const_rhs = a[1]->nulls.size() == 1;
  std::string needle;
  if (const_rhs) needle = cs ? std::string(r(0)) : Lower(r(0));
  std::string lowered;
  out.ints.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!const_rhs) needle = cs ? std::string(r(i)) : Lower(r(i));
    std::string_view hay = l(i);
    if (!cs) {
      lowered.assign(hay);
      for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      hay = lowered;
    }
    PushBool(out, StrMatch(op, hay, needle) != neg);
  }
  return Status::Ok();
}

Status MatchesRegexImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg l(*a[0]), r(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    const RE2* re = Regex(r(i));
    if (!re) return BadRegex(r(i));
    std::string_view s = l(i);
    PushBool(out, RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re));
  }
  return Status::Ok();
}

// The values of list operands (in, has_any): scalars, and dynamic arrays flattened.
void ListValues(const std::vector<const Column*>& a, size_t first, size_t i, std::vector<std::pair<std::string, bool>>* out,
                bool numeric_key) {
  out->clear();
  for (size_t k = first; k < a.size(); ++k) {
    const Column& c = *a[k];
    if (IsNull(c, i)) {
      out->emplace_back("", true);
      continue;
    }
    if (c.type == Type::kDynamic) {
      auto v = Dyn(c, i);
      if (v && v->is_array()) {
        for (const json::Value& e : v->items()) {
          if (e.is_null()) out->emplace_back("", true);
          else if (e.is_string()) out->emplace_back(e.as_string(), false);
          else if (e.is_number() && numeric_key) out->emplace_back(FormatReal(e.as_double()), false);
          else out->emplace_back(e.Serialize(), false);
        }
        continue;
      }
      if (v && v->is_string()) {
        out->emplace_back(v->as_string(), false);
        continue;
      }
    }
    if (numeric_key && (Numeric(c.type))) out->emplace_back(FormatReal(RealAt(c, i)), false);
    else out->emplace_back(CellToString(c, i), false);
  }
}

template <bool ci, bool neg>
Status InImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column& l = *a[0];
  const bool numeric = Numeric(l.type);
  bool const_list = true;
  for (size_t k = 1; k < a.size(); ++k) const_list &= a[k]->nulls.size() == 1;
  std::unordered_set<std::string> set;
  bool list_has_null = false;
  std::vector<std::pair<std::string, bool>> vals;
  auto build = [&](size_t i) {
    set.clear();
    list_has_null = false;
    ListValues(a, 1, i, &vals, numeric);
    for (auto& [v, isnull] : vals) {
      if (isnull) list_has_null = true;
      else set.insert(ci ? Lower(v) : v);
    }
  };
  if (const_list) build(0);
  std::string key;
  for (size_t i = 0; i < n; ++i) {
    if (!const_list) build(i);
    if (IsNull(l, i)) {
      PushBool(out, neg ? !list_has_null : list_has_null);
      continue;
    }
    if (l.type == Type::kString) key = ci ? Lower(l.strings[At(l, i)]) : l.strings[At(l, i)];
    else if (numeric) key = FormatReal(RealAt(l, i));
    else key = ci ? Lower(CellToString(l, i)) : CellToString(l, i);
    PushBool(out, (set.count(key) > 0) != neg);
  }
  return Status::Ok();
}

template <bool all, bool neg>
Status HasAnyImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg l(*a[0]);
  bool const_list = true;
  for (size_t k = 1; k < a.size(); ++k) const_list &= a[k]->nulls.size() == 1;
  std::vector<std::pair<std::string, bool>> vals;
  std::vector<std::string> needles;
  auto build = [&](size_t i) {
    ListValues(a, 1, i, &vals, false);
    needles.clear();
    for (auto& [v, isnull] : vals) {
      if (!isnull) needles.push_back(Lower(v));
    }
  };
  if (const_list) build(0);
  std::string lowered;
  for (size_t i = 0; i < n; ++i) {
    if (!const_list) build(i);
    lowered = Lower(l(i));
    bool r = all;
    for (const std::string& nd : needles) {
      bool m = events::columnar::HasMatchLowered(lowered, nd);
      if (all && !m) {
        r = false;
        break;
      }
      if (!all && m) {
        r = true;
        break;
      }
    }
    if (all && needles.empty()) r = false;
    PushBool(out, r != neg);
  }
  return Status::Ok();
}

template <bool neg>
Status BetweenImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (AnyNull(a, i)) {
      AppendNull(out);
      continue;
    }
    int lo = CompareCells(*a[0], i, *a[1], i), hi = CompareCells(*a[0], i, *a[2], i);
    if (lo == 2 || hi == 2) {
      PushBool(out, neg);
      continue;
    }
    PushBool(out, (lo >= 0 && hi <= 0) != neg);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Arithmetic

template <char op>
Status ArithImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column &l = *a[0], &r = *a[1];
  const bool real = RealRep(out.type) && !(l.type == Type::kTimespan && r.type == Type::kTimespan);
  const bool ts_div = l.type == Type::kTimespan && r.type == Type::kTimespan && op == '/';
  for (size_t i = 0; i < n; ++i) {
    if (NullAs(l, i, Type::kReal) || NullAs(r, i, Type::kReal)) {
      AppendNull(out);
      continue;
    }
    if (ts_div) {
      int64_t d = r.ints[At(r, i)];
      if (d == 0) AppendNull(out);
      else PushReal(out, static_cast<double>(l.ints[At(l, i)]) / static_cast<double>(d));
      continue;
    }
    if (real) {
      double x = RealAt(l, i), y = RealAt(r, i);
      double v = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : op == '/' ? x / y : std::fmod(x, y);
      PushReal(out, v);
      continue;
    }
    if (IntRep(out.type) && (RealRep(l.type) || RealRep(r.type))) {
      // timespan * 1.5 and the like.
      double x = RealAt(l, i), y = RealAt(r, i);
      double v = op == '*' ? x * y : op == '/' ? x / y : op == '+' ? x + y : x - y;
      if (!std::isfinite(v)) AppendNull(out);
      else PushInt(out, static_cast<int64_t>(v));
      continue;
    }
    int64_t x = IntAt(l, i), y = IntAt(r, i);
    uint64_t ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
    int64_t v = 0;
    if (op == '+') v = static_cast<int64_t>(ux + uy);
    else if (op == '-') v = static_cast<int64_t>(ux - uy);
    else if (op == '*') v = static_cast<int64_t>(ux * uy);
    else {
      if (y == 0 || (x == INT64_MIN && y == -1)) {
        AppendNull(out);
        continue;
      }
      v = op == '/' ? x / y : x % y;
    }
    if (out.type == Type::kInt) v = static_cast<int32_t>(v);
    PushInt(out, v);
  }
  return Status::Ok();
}

Status NegImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (NullAs(*a[0], i, Type::kReal)) AppendNull(out);
    else if (RealRep(out.type)) PushReal(out, -RealAt(*a[0], i));
    else PushInt(out, static_cast<int64_t>(0ull - static_cast<uint64_t>(IntAt(*a[0], i))));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Conditionals and null tests

void PushConverted(Column& out, const Column& src, size_t i) {
  if (src.type == out.type || (IntRep(src.type) && IntRep(out.type)) || (RealRep(src.type) && RealRep(out.type))) return AppendFrom(out, src, i);
  Scalar s = ConvertCell(src, i, out.type);
  AppendScalar(out, s);
}

Status IffImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    bool c = !NullAs(*a[0], i, Type::kBool) && IntAt(*a[0], i);
    PushConverted(out, c ? *a[1] : *a[2], i);
  }
  return Status::Ok();
}

Status CaseImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    size_t pick = a.size() - 1;
    for (size_t k = 0; k + 1 < a.size(); k += 2) {
      if (!NullAs(*a[k], i, Type::kBool) && IntAt(*a[k], i)) {
        pick = k + 1;
        break;
      }
    }
    PushConverted(out, *a[pick], i);
  }
  return Status::Ok();
}

bool EmptyCell(const Column& c, size_t i) {
  if (IsNull(c, i)) return true;
  if (StrRep(c.type)) return c.strings[At(c, i)].empty();
  return false;
}

Status CoalesceImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    size_t pick = a.size() - 1;
    for (size_t k = 0; k < a.size(); ++k) {
      if (!EmptyCell(*a[k], i)) {
        pick = k;
        break;
      }
    }
    PushConverted(out, *a[pick], i);
  }
  return Status::Ok();
}

template <bool empty_test, bool neg>
Status NullTestImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    bool v = empty_test ? EmptyCell(*a[0], i) : IsNull(*a[0], i);
    PushBool(out, v != neg);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Conversions

template <Type T>
Status ConvertImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) AppendScalar(out, ConvertCell(*a[0], i, T));
  return Status::Ok();
}

Status ParseJsonImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column& c = *a[0];
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(c, i)) {
      AppendNull(out);
      continue;
    }
    if (c.type == Type::kDynamic) {
      AppendFrom(out, c, i);
      continue;
    }
    std::string s = CellToString(c, i);
    auto v = json::Value::Parse(s);
    // Invalid JSON → a dynamic holding the original string.
    if (v) PushDyn(out, v->Serialize());
    else PushStr(out, json::Quote(s));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Strings

// strcat / strcat_delim: the text forms of args[first…] joined by args[0] when delimited.
Status JoinArgs(const std::vector<const Column*>& a, bool delimited, size_t n, Column& out) {
  std::vector<StrArg> args;
  for (const Column* c : a) args.emplace_back(*c);
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    std::string d = delimited ? std::string(args[0](i)) : "";
    for (size_t k = delimited ? 1 : 0; k < args.size(); ++k) {
      if (k > (delimited ? 1u : 0u)) s += d;
      s += args[k](i);
    }
    PushStr(out, std::move(s));
  }
  return Status::Ok();
}
Status StrcatImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) { return JoinArgs(a, false, n, out); }
Status StrcatDelimImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) { return JoinArgs(a, true, n, out); }

std::vector<std::string_view> SplitAll(std::string_view s, std::string_view d) {
  std::vector<std::string_view> parts;
  if (d.empty()) {
    parts.push_back(s);
    return parts;
  }
  size_t p = 0;
  while (true) {
    size_t q = s.find(d, p);
    if (q == std::string_view::npos) {
      parts.push_back(s.substr(p));
      return parts;
    }
    parts.push_back(s.substr(p, q - p));
    p = q + d.size();
  }
}

Status SplitImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]), d(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    std::string_view text = s(i);
    std::string text_copy(text);
    auto parts = SplitAll(text_copy, d(i));
    json::Value arr = json::Value::Array();
    if (a.size() > 2) {
      if (IsNull(*a[2], i)) {
        AppendNull(out);
        continue;
      }
      int64_t k = IntAt(*a[2], i);
      if (k < 0) k += static_cast<int64_t>(parts.size());
      if (k >= 0 && k < static_cast<int64_t>(parts.size())) arr.Append(json::Value(parts[k]));
    } else {
      for (auto p : parts) arr.Append(json::Value(p));
    }
    PushStr(out, arr.Serialize());
  }
  return Status::Ok();
}

template <bool upper>
Status CaseConvImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string v(s(i));
    for (char& c : v) c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
    PushStr(out, std::move(v));
  }
  return Status::Ok();
}

// trim(regex, text): removes leading/trailing matches of the regex.
template <bool start, bool end>
Status TrimImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg re_s(*a[0]), s(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    std::string pat(re_s(i));
    std::string v(s(i));
    if (start) {
      const RE2* re = Regex("^(?:" + pat + ")+");
      if (!re) return BadRegex(pat);
      RE2::Replace(&v, *re, "");
    }
    if (end) {
      const RE2* re = Regex("(?:" + pat + ")+$");
      if (!re) return BadRegex(pat);
      RE2::Replace(&v, *re, "");
    }
    PushStr(out, std::move(v));
  }
  return Status::Ok();
}

Status ReplaceStringImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]), f(*a[1]), r(*a[2]);
  for (size_t i = 0; i < n; ++i) {
    std::string text(s(i)), from(f(i)), to(r(i));
    if (from.empty()) {
      PushStr(out, std::move(text));
      continue;
    }
    std::string res;
    size_t p = 0;
    for (size_t q; (q = text.find(from, p)) != std::string::npos; p = q + from.size()) res.append(text, p, q - p).append(to);
    res.append(text, p);
    PushStr(out, std::move(res));
  }
  return Status::Ok();
}

// Kusto rewrite strings use \1 or $1 for groups; RE2 uses \1.
std::string Rewrite(std::string_view r) {
  std::string out;
  for (size_t k = 0; k < r.size(); ++k) {
    if (r[k] == '$' && k + 1 < r.size() && std::isdigit(static_cast<unsigned char>(r[k + 1]))) out += '\\';
    else out += r[k];
  }
  return out;
}

Status ReplaceRegexOn(const Column& text_c, const Column& re_c, const Column& rw_c, size_t n, Column& out) {
  StrArg s(text_c), p(re_c), r(rw_c);
  for (size_t i = 0; i < n; ++i) {
    std::string pat(p(i));
    const RE2* re = Regex(pat);
    if (!re) return BadRegex(pat);
    std::string v(s(i));
    RE2::GlobalReplace(&v, *re, Rewrite(r(i)));
    PushStr(out, std::move(v));
  }
  return Status::Ok();
}
Status ReplaceRegexImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return ReplaceRegexOn(*a[0], *a[1], *a[2], n, out);
}
// Deprecated replace(regex, rewrite, text): argument order differs from replace_regex.
Status ReplaceImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return ReplaceRegexOn(*a[2], *a[0], *a[1], n, out);
}

// Byte offsets of code point boundaries (Kusto counts characters).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
size_t ByteOfChar(std::string_view s, int64_t ch) {
  size_t k = 0;
  int64_t seen = 0;
  for (; k < s.size(); ++k) {
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) {
      if (seen == ch) return k;
      ++seen;
    }
  }
  return s.size();
}

Status SubstringImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string_view v = s(i);
    int64_t len = static_cast<int64_t>(CodePoints(v));
    int64_t start = IsNull(*a[1], i) ? 0 : IntAt(*a[1], i);
    if (start < 0) start = std::max<int64_t>(0, len + start);
    int64_t count = a.size() > 2 && !IsNull(*a[2], i) ? IntAt(*a[2], i) : len;
    if (count < 0) count = 0;
    int64_t end = std::min(len, start + count);
    if (start >= len) {
      PushStr(out, "");
      continue;
    }
    size_t b = ByteOfChar(v, start), e = ByteOfChar(v, end);
    PushStr(out, std::string(v.substr(b, e - b)));
  }
  return Status::Ok();
}

Status StrlenImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) PushInt(out, static_cast<int64_t>(CodePoints(s(i))));
  return Status::Ok();
}

Status IndexOfImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]), f(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    std::string text(s(i)), find(f(i));
    int64_t start = a.size() > 2 && !IsNull(*a[2], i) ? IntAt(*a[2], i) : 0;
    int64_t occurrence = a.size() > 4 && !IsNull(*a[4], i) ? IntAt(*a[4], i) : 1;
    int64_t len = static_cast<int64_t>(CodePoints(text));
    if (start < 0) start = std::max<int64_t>(0, len + start);
    if (start > len) {
      PushInt(out, -1);
      continue;
    }
    size_t from = ByteOfChar(text, start);
    size_t limit = text.size();
    if (a.size() > 3 && !IsNull(*a[3], i) && IntAt(*a[3], i) >= 0) limit = ByteOfChar(text, start + IntAt(*a[3], i));
    size_t pos = std::string::npos;
    for (int64_t k = 0; k < occurrence; ++k) {
      pos = text.find(find, from);
      if (pos == std::string::npos) break;
      from = pos + 1;
    }
    if (pos == std::string::npos || pos + find.size() > limit) PushInt(out, -1);
    else PushInt(out, static_cast<int64_t>(CodePoints(std::string_view(text).substr(0, pos))));
  }
  return Status::Ok();
}

Status CountOfImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]), f(*a[1]);
  StrArg kind(a.size() > 2 ? *a[2] : *a[1]);
  for (size_t i = 0; i < n; ++i) {
    std::string text(s(i)), find(f(i));
    bool regex = a.size() > 2 && kind(i) == "regex";
    int64_t count = 0;
    if (regex) {
      const RE2* re = Regex(find);
      if (!re) return BadRegex(find);
      re2::StringPiece in(text);
      re2::StringPiece m;
      while (!in.empty() && re->Match(in, 0, in.size(), RE2::UNANCHORED, &m, 1)) {
        ++count;
        size_t adv = static_cast<size_t>(m.data() - in.data()) + std::max<size_t>(1, m.size());
        if (adv > in.size()) break;
        in.remove_prefix(adv);
      }
    } else if (!find.empty()) {
      for (size_t p = text.find(find); p != std::string::npos; p = text.find(find, p + find.size())) ++count;
    }
    PushInt(out, count);
  }
  return Status::Ok();
}

Status ReverseImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string v(s(i));
    std::reverse(v.begin(), v.end());
    PushStr(out, std::move(v));
  }
  return Status::Ok();
}

// extract(regex, group, text [, typeof(T)]).
Status ExtractImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg p(*a[0]), s(*a[2]);
  for (size_t i = 0; i < n; ++i) {
    std::string pat(p(i));
    const RE2* re = Regex(pat);
    if (!re) return BadRegex(pat);
    int64_t g = IntAt(*a[1], i);
    std::string text(s(i));
    if (g < 0 || g > re->NumberOfCapturingGroups()) {
      PushStr(out, "");
      continue;
    }
    std::vector<re2::StringPiece> m(static_cast<size_t>(g) + 1);
    if (re->Match(text, 0, text.size(), RE2::UNANCHORED, m.data(), static_cast<int>(m.size())) && m[g].data() != nullptr) {
      PushStr(out, std::string(m[g].data(), m[g].size()));
    } else {
      PushStr(out, "");
    }
  }
  return Status::Ok();
}

// extract_all(regex, [groups,] text): dynamic array of matches (of the group, or arrays of groups).
Status ExtractAllImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column& text_c = *a[a.size() - 1];
  StrArg p(*a[0]), s(text_c);
  for (size_t i = 0; i < n; ++i) {
    std::string pat(p(i));
    const RE2* re = Regex(pat);
    if (!re) return BadRegex(pat);
    std::string text(s(i));
    int groups = re->NumberOfCapturingGroups();
    std::vector<int64_t> wanted;
    if (a.size() == 3) {
      auto v = Dyn(*a[1], i);
      if (v && v->is_array()) {
        for (const auto& e : v->items()) wanted.push_back(e.as_int());
      }
    }
    std::vector<re2::StringPiece> m(static_cast<size_t>(groups) + 1);
    json::Value arr = json::Value::Array();
    size_t pos = 0;
    while (pos <= text.size() && re->Match(text, pos, text.size(), RE2::UNANCHORED, m.data(), static_cast<int>(m.size()))) {
      auto str = [&](int g) { return m[g].data() ? json::Value(std::string_view(m[g].data(), m[g].size())) : json::Value(""); };
      if (!wanted.empty()) {
        json::Value row = json::Value::Array();
        for (int64_t g : wanted) row.Append(g >= 0 && g <= groups ? str(static_cast<int>(g)) : json::Value(""));
        arr.Append(std::move(row));
      } else if (groups == 0) {
        arr.Append(str(0));
      } else if (groups == 1) {
        arr.Append(str(1));
      } else {
        json::Value row = json::Value::Array();
        for (int g = 1; g <= groups; ++g) row.Append(str(g));
        arr.Append(std::move(row));
      }
      size_t end = static_cast<size_t>(m[0].data() - text.data()) + m[0].size();
      pos = m[0].empty() ? end + 1 : end;
    }
    if (arr.items().empty()) AppendNull(out);
    else PushStr(out, arr.Serialize());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Datetime

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Status NowImpl(const EvalContext& ctx, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < std::max<size_t>(n, 1); ++i) PushInt(out, ctx.now_ticks + (a.empty() || IsNull(*a[0], i) ? 0 : IntAt(*a[0], i)));
  return Status::Ok();
}
Status AgoImpl(const EvalContext& ctx, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(*a[0], i)) AppendNull(out);
    else PushInt(out, ctx.now_ticks - IntAt(*a[0], i));
  }
  return Status::Ok();
}

// bin(value, size): floor to a multiple of size (numbers, datetimes from the epoch, timespans).
Status BinImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column &v = *a[0], &s = *a[1];
  for (size_t i = 0; i < n; ++i) {
    if (NullAs(v, i, Type::kReal) || NullAs(s, i, Type::kReal)) {
      AppendNull(out);
      continue;
    }
    if (IntRep(out.type)) {
      int64_t size = RealRep(s.type) ? static_cast<int64_t>(RealAt(s, i)) : IntAt(s, i);
      if (size <= 0) {
        AppendNull(out);
        continue;
      }
      int64_t x = IntAt(v, i);
      PushInt(out, FloorDiv(x, size) * size);
    } else {
      double size = RealAt(s, i), x = RealAt(v, i);
      if (!(size > 0)) {
        AppendNull(out);
        continue;
      }
      PushReal(out, std::floor(x / size) * size);
    }
  }
  return Status::Ok();
}

// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

enum class Period { kDay, kWeek, kMonth, kYear };

template <Period p, bool end>
Status StartOfImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(*a[0], i)) {
      AppendNull(out);
      continue;
    }
    int64_t t = IntAt(*a[0], i);
    int64_t offset = a.size() > 1 && !IsNull(*a[1], i) ? IntAt(*a[1], i) : 0;
    int64_t days = FloorDiv(t, kDay);
    int64_t y;
    unsigned m, d;
    int64_t start = 0, next = 0;
    switch (p) {
      case Period::kDay: start = days + offset, next = start + 1; break;
      case Period::kWeek: {
        int64_t dow = ((days % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday; weeks start on Sunday
        start = days - dow + 7 * offset, next = start + 7;
        break;
      }
      case Period::kMonth: {
        CivilFromDays(days, &y, &m, &d);
        int64_t mm = static_cast<int64_t>(m) - 1 + offset;
        y += FloorDiv(mm, 12), mm = mm - FloorDiv(mm, 12) * 12;
        start = DaysFromCivil(y, static_cast<unsigned>(mm + 1), 1);
        int64_t ny = y + (mm == 11), nm = mm == 11 ? 0 : mm + 1;
        next = DaysFromCivil(ny, static_cast<unsigned>(nm + 1), 1);
        break;
      }
      case Period::kYear:
        CivilFromDays(days, &y, &m, &d);
        start = DaysFromCivil(y + offset, 1, 1), next = DaysFromCivil(y + offset + 1, 1, 1);
        break;
    }
    PushInt(out, end ? next * kDay - 1 : start * kDay);
  }
  return Status::Ok();
}

Status DayOfWeekImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(*a[0], i)) AppendNull(out);
    else PushInt(out, (((FloorDiv(IntAt(*a[0], i), kDay) % 7) + 7 + 4) % 7) * kDay);
  }
  return Status::Ok();
}

enum class Part { kYear, kQuarter, kMonth, kWeek, kDay, kHour, kMinute, kSecond, kMillisecond, kMicrosecond, kNanosecond, kBad };
Part ParsePart(std::string_view s) {
  std::string l = Lower(s);
  if (l == "year") return Part::kYear;
  if (l == "quarter") return Part::kQuarter;
  if (l == "month") return Part::kMonth;
  if (l == "week" || l == "weekofyear") return Part::kWeek;
  if (l == "day" || l == "dayofyear") return Part::kDay;
  if (l == "hour") return Part::kHour;
  if (l == "minute") return Part::kMinute;
  if (l == "second") return Part::kSecond;
  if (l == "millisecond") return Part::kMillisecond;
  if (l == "microsecond") return Part::kMicrosecond;
  if (l == "nanosecond") return Part::kNanosecond;
  return Part::kBad;
}
int64_t PartTicks(Part p) {
  switch (p) {
    case Part::kWeek: return 7 * kDay;
    case Part::kDay: return kDay;
    case Part::kHour: return 3600 * kTicksPerSecond;
    case Part::kMinute: return 60 * kTicksPerSecond;
    case Part::kSecond: return kTicksPerSecond;
    case Part::kMillisecond: return kTicksPerMillisecond;
    case Part::kMicrosecond: return 10;
    default: return 1;
  }
}

Status GetPartImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out, int which) {
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(*a[0], i)) {
      AppendNull(out);
      continue;
    }
    int64_t t = IntAt(*a[0], i);
    int64_t days = FloorDiv(t, kDay);
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, &y, &m, &d);
    int64_t v = 0;
    switch (which) {
      case 0: v = (t - days * kDay) / (3600 * kTicksPerSecond); break;  // hourofday
      case 1: v = d; break;                                              // dayofmonth
      case 2: v = m; break;                                              // getmonth
      case 3: v = y; break;                                              // getyear
      case 4: v = days - DaysFromCivil(y, 1, 1) + 1; break;              // dayofyear
      default: break;
    }
    PushInt(out, v);
  }
  return Status::Ok();
}
Status HourOfDayImpl(const EvalContext& c, const std::vector<const Column*>& a, size_t n, Column& out) { return GetPartImpl(c, a, n, out, 0); }
Status DayOfMonthImpl(const EvalContext& c, const std::vector<const Column*>& a, size_t n, Column& out) { return GetPartImpl(c, a, n, out, 1); }
Status GetMonthImpl(const EvalContext& c, const std::vector<const Column*>& a, size_t n, Column& out) { return GetPartImpl(c, a, n, out, 2); }
Status GetYearImpl(const EvalContext& c, const std::vector<const Column*>& a, size_t n, Column& out) { return GetPartImpl(c, a, n, out, 3); }
Status DayOfYearImpl(const EvalContext& c, const std::vector<const Column*>& a, size_t n, Column& out) { return GetPartImpl(c, a, n, out, 4); }

int64_t AddMonths(int64_t t, int64_t months) {
  int64_t days = FloorDiv(t, kDay), tod = t - days * kDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int64_t mm = static_cast<int64_t>(m) - 1 + months;
  y += FloorDiv(mm, 12);
  mm -= FloorDiv(mm, 12) * 12;
  static const unsigned kDim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned dim = kDim[mm] + (mm == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  return DaysFromCivil(y, static_cast<unsigned>(mm + 1), std::min(d, dim)) * kDay + tod;
}

// The rows of f(part, x, y): null when x or y is null; an unknown part is an error naming `fn`.
template <typename Row>
Status EachPartRow(const char* fn, const std::vector<const Column*>& a, size_t n, Column& out, Row row) {
  StrArg part_s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(*a[1], i) || IsNull(*a[2], i)) {
      AppendNull(out);
      continue;
    }
    Part p = ParsePart(part_s(i));
    if (p == Part::kBad) return InvalidArgument(std::string(fn) + "(): invalid period '" + std::string(part_s(i)) + "'");
    row(p, IntAt(*a[1], i), IntAt(*a[2], i));
  }
  return Status::Ok();
}

// datetime_add(part, amount, datetime)
Status DatetimeAddImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return EachPartRow("datetime_add", a, n, out, [&](Part p, int64_t amount, int64_t t) {
    if (p == Part::kYear) PushInt(out, AddMonths(t, amount * 12));
    else if (p == Part::kQuarter) PushInt(out, AddMonths(t, amount * 3));
    else if (p == Part::kMonth) PushInt(out, AddMonths(t, amount));
    else if (p == Part::kNanosecond) PushInt(out, t + amount / 100);
    else PushInt(out, t + amount * PartTicks(p));
  });
}

// datetime_diff(part, dt1, dt2): calendar boundaries crossed from dt2 to dt1.
Status DatetimeDiffImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return EachPartRow("datetime_diff", a, n, out, [&](Part p, int64_t t1, int64_t t2) {
    int64_t y1, y2;
    unsigned m1, m2, d1, d2;
    CivilFromDays(FloorDiv(t1, kDay), &y1, &m1, &d1);
    CivilFromDays(FloorDiv(t2, kDay), &y2, &m2, &d2);
    int64_t v;
    switch (p) {
      case Part::kYear: v = y1 - y2; break;
      case Part::kQuarter: v = (y1 * 4 + (m1 - 1) / 3) - (y2 * 4 + (m2 - 1) / 3); break;
      case Part::kMonth: v = (y1 * 12 + m1) - (y2 * 12 + m2); break;
      case Part::kWeek: {
        // Weeks start on Sunday.
        auto week = [](int64_t t) { int64_t d = FloorDiv(t, kDay); return FloorDiv(d + 4, 7); };
        v = week(t1) - week(t2);
        break;
      }
      case Part::kNanosecond: v = (t1 - t2) * 100; break;
      default: v = FloorDiv(t1, PartTicks(p)) - FloorDiv(t2, PartTicks(p)); break;
    }
    PushInt(out, v);
  });
}

// Kusto's format strings: runs of one letter ("yyyy", "fff") are fields, anything else is literal.
// field(c, run, r) appends a field and returns false for letters that are not fields.
template <typename Field>
std::string FormatByRuns(std::string_view fmt, Field field) {
  std::string r;
  for (size_t k = 0; k < fmt.size();) {
    char c = fmt[k];
    size_t run = 1;
    while (k + run < fmt.size() && fmt[k + run] == c) ++run;
    if (!field(c, run, r)) r.append(run, c);
    k += run;
  }
  return r;
}

void AppendPadded(std::string& r, int64_t v, size_t width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", static_cast<int>(width), static_cast<long long>(v));
  r += buf;
}

void AppendFraction(std::string& r, int64_t frac, size_t run, bool trim) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%07lld", static_cast<long long>(frac));
  std::string digits = std::string(buf).substr(0, std::min<size_t>(run, 7));
  if (trim) {
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    if (digits.empty() && !r.empty() && r.back() == '.') r.pop_back();
  }
  r += digits;
}

// Formats each row's ticks (datetime or timespan) with the row's format string; null gives "".
template <typename Format>
Status FormatEachRow(const std::vector<const Column*>& a, size_t n, Column& out, Format format) {
  StrArg fmt_s(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    if (IsNull(*a[0], i)) PushStr(out, "");
    else PushStr(out, format(IntAt(*a[0], i), fmt_s(i)));
  }
  return Status::Ok();
}

struct TimeOfDay {
  int64_t h, mi, s, frac;
  explicit TimeOfDay(int64_t tod)
      : h(tod / (3600 * kTicksPerSecond)), mi(tod / (60 * kTicksPerSecond) % 60), s(tod / kTicksPerSecond % 60), frac(tod % kTicksPerSecond) {}
};

// format_datetime(dt, "yyyy-MM-dd HH:mm:ss.fff tt")
Status FormatDatetimeImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return FormatEachRow(a, n, out, [](int64_t t, std::string_view fmt) {
    int64_t days = FloorDiv(t, kDay);
    int64_t y;
    unsigned mo, d;
    CivilFromDays(days, &y, &mo, &d);
    const TimeOfDay c(t - days * kDay);
    return FormatByRuns(fmt, [&](char f, size_t run, std::string& r) {
      switch (f) {
        case 'y': AppendPadded(r, run <= 2 ? y % 100 : y, run); return true;
        case 'M': AppendPadded(r, mo, run); return true;
        case 'd': AppendPadded(r, d, run); return true;
        case 'H': AppendPadded(r, c.h, run); return true;
        case 'h': AppendPadded(r, c.h % 12 == 0 ? 12 : c.h % 12, run); return true;
        case 'm': AppendPadded(r, c.mi, run); return true;
        case 's': AppendPadded(r, c.s, run); return true;
        case 'f':
        case 'F': AppendFraction(r, c.frac, run, f == 'F'); return true;
        case 't': r += c.h < 12 ? (run == 1 ? "A" : "AM") : (run == 1 ? "P" : "PM"); return true;
        default: return false;
      }
    });
  });
}

// format_timespan(ts, "d.hh:mm:ss.fff"): d = days, h = hours of the day, m, s, f/F fractions.
Status FormatTimespanImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return FormatEachRow(a, n, out, [](int64_t t, std::string_view fmt) {
    const bool negative = t < 0;
    if (negative) t = -t;
    const int64_t days = t / kDay;
    const TimeOfDay c(t % kDay);
    std::string r = FormatByRuns(fmt, [&](char f, size_t run, std::string& r) {
      switch (f) {
        case 'd': AppendPadded(r, days, run); return true;
        case 'h':
        case 'H': AppendPadded(r, c.h, run); return true;
        case 'm': AppendPadded(r, c.mi, run); return true;
        case 's': AppendPadded(r, c.s, run); return true;
        case 'f':
        case 'F': AppendFraction(r, c.frac, run, f == 'F'); return true;
        default: return false;
      }
    });
    return negative ? "-" + r : r;
  });
}

// ---------------------------------------------------------------------------------------------
// Window functions: the executor evaluates them over the whole serialized input (Plan::whole_input),
// so row i - 1 is the previous row.

// row_number([start [, restart]]): start, start + 1, …; back to start where restart is true.
Status RowNumberImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  int64_t start = a.empty() || IsNull(*a[0], 0) ? 1 : IntAt(*a[0], 0), v = start;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && a.size() > 1 && !NullAs(*a[1], i, Type::kBool) && IntAt(*a[1], i)) v = start;
    PushInt(out, v++);
  }
  return Status::Ok();
}

// prev(x [, offset [, default]]) / next(…): x of the row `offset` before/after; default (or null) past the edge.
Status ShiftRows(const std::vector<const Column*>& a, size_t n, Column& out, int direction) {
  const int64_t offset = a.size() > 1 && !IsNull(*a[1], 0) ? IntAt(*a[1], 0) : 1;
  for (size_t i = 0; i < n; ++i) {
    const int64_t j = static_cast<int64_t>(i) + direction * offset;
    if (j >= 0 && j < static_cast<int64_t>(n)) PushConverted(out, *a[0], static_cast<size_t>(j));
    else if (a.size() > 2) PushConverted(out, *a[2], i);
    else AppendNull(out);
  }
  return Status::Ok();
}
Status PrevImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) { return ShiftRows(a, n, out, -1); }
Status NextImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) { return ShiftRows(a, n, out, 1); }

// row_cumsum(x [, restart]): the running sum of x (nulls add nothing), restarting where restart is true.
Status RowCumsumImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  int64_t si = 0;
  double sr = 0;
  for (size_t i = 0; i < n; ++i) {
    if (a.size() > 1 && !NullAs(*a[1], i, Type::kBool) && IntAt(*a[1], i)) si = 0, sr = 0;
    if (RealRep(out.type)) {
      if (!NullAs(*a[0], i, Type::kReal)) sr += RealAt(*a[0], i);
      PushReal(out, sr);
    } else {
      if (!NullAs(*a[0], i, Type::kLong)) si += IntAt(*a[0], i);
      PushInt(out, si);
    }
  }
  return Status::Ok();
}
Result<Type> CumsumRule(const std::vector<Type>& a) {
  if (!Numeric(a[0]) && a[0] != Type::kDynamic) return Err(InvalidArgument("row_cumsum(): expects a number"));
  return RealRep(a[0]) || a[0] == Type::kDynamic ? Type::kReal : Type::kLong;
}

// ---------------------------------------------------------------------------------------------
// Math

Status AbsImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (NullAs(*a[0], i, Type::kReal)) AppendNull(out);
    else if (RealRep(out.type)) PushReal(out, std::fabs(RealAt(*a[0], i)));
    else PushInt(out, std::llabs(IntAt(*a[0], i)));
  }
  return Status::Ok();
}

Status RoundImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (NullAs(*a[0], i, Type::kReal)) {
      AppendNull(out);
      continue;
    }
    int64_t prec = a.size() > 1 && !IsNull(*a[1], i) ? IntAt(*a[1], i) : 0;
    if (!RealRep(out.type)) {
      PushInt(out, IntAt(*a[0], i));
      continue;
    }
    double f = std::pow(10.0, static_cast<double>(prec));
    PushReal(out, std::round(RealAt(*a[0], i) * f) / f);
  }
  return Status::Ok();
}

template <int which>
Status MathImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    if (AnyNull(a, i)) {
      AppendNull(out);
      continue;
    }
    double x = RealAt(*a[0], i);
    double v = which == 0 ? std::sqrt(x) : which == 1 ? std::log(x) : which == 2 ? std::log10(x) : which == 3 ? std::exp(x)
             : which == 4 ? std::pow(x, RealAt(*a[1], i)) : which == 5 ? std::log2(x) : std::isnan(x);
    PushReal(out, v);
  }
  return Status::Ok();
}
Status IsNanImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) PushBool(out, !IsNull(*a[0], i) && std::isnan(RealAt(*a[0], i)));
  return Status::Ok();
}

template <bool max>
Status MinOfImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    int best = -1;
    for (size_t k = 0; k < a.size(); ++k) {
      if (IsNull(*a[k], i)) continue;
      if (best < 0) {
        best = static_cast<int>(k);
        continue;
      }
      int c = CompareCells(*a[k], i, *a[best], i);
      if ((max && c == 1) || (!max && c == -1)) best = static_cast<int>(k);
    }
    if (best < 0) AppendNull(out);
    else PushConverted(out, *a[best], i);
  }
  return Status::Ok();
}

// hash(x [, mod]): FNV-1a 64 of the text form (Kusto uses xxhash64: values differ; used for partitioning).
Status HashImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    std::string s = CellToString(*a[0], i);
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    int64_t v = static_cast<int64_t>(h >> 1);
    if (a.size() > 1 && !IsNull(*a[1], i) && IntAt(*a[1], i) > 0) v %= IntAt(*a[1], i);
    PushInt(out, v);
  }
  return Status::Ok();
}

// hash_sha256 / hash_sha1 / hash_md5: lower-case hex of the digest of the text form.
template <std::string (*Digest)(std::string_view)>
Status HashHexImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) PushStr(out, HexEncode(Digest(CellToString(*a[0], i))));
  return Status::Ok();
}

// new_guid() and rand([n]) differ per row (IsVolatile: never folded).
Status NewGuidImpl(const EvalContext&, const std::vector<const Column*>&, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) PushStr(out, NewGuid());
  return Status::Ok();
}
Status RandImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (size_t i = 0; i < n; ++i) {
    if (a.empty()) {
      PushReal(out, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
      continue;
    }
    int64_t m = IsNull(*a[0], i) ? 0 : IntAt(*a[0], i);
    if (m <= 0) AppendNull(out);
    else PushInt(out, static_cast<int64_t>(rng() % static_cast<uint64_t>(m)));
  }
  return Status::Ok();
}
Result<Type> RandRule(const std::vector<Type>& a) { return a.empty() ? Type::kReal : Type::kLong; }

// parse_csv("a,\"b,c\",d"): the fields of the first CSV record (RFC 4180 quoting) as a string array.
Status ParseCsvImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string_view text = s(i);
    json::Value arr = json::Value::Array();
    std::string field;
    bool quoted = false;
    size_t k = 0;
    for (; k < text.size(); ++k) {
      char c = text[k];
      if (quoted) {
        if (c == '"' && k + 1 < text.size() && text[k + 1] == '"') field += '"', ++k;
        else if (c == '"') quoted = false;
        else field += c;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        arr.Append(json::Value(field));
        field.clear();
      } else if (c == '\n' || c == '\r') {
        break;
      } else {
        field += c;
      }
    }
    arr.Append(json::Value(field));
    PushStr(out, arr.Serialize());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Dynamic

// d[key] / d.key / d[index] (negative index from the end).
Status MemberImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  const Column &d = *a[0], &k = *a[1];
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(d, i);
    if (!v || IsNull(k, i)) {
      AppendNull(out);
      continue;
    }
    const json::Value* r = nullptr;
    if (IntRep(k.type)) {
      if (v->is_array()) {
        int64_t ix = IntAt(k, i);
        int64_t sz = static_cast<int64_t>(v->items().size());
        if (ix < 0) ix += sz;
        if (ix >= 0 && ix < sz) r = &v->items()[static_cast<size_t>(ix)];
      }
    } else if (v->is_object()) {
      r = v->Find(CellToString(k, i));
    }
    if (r == nullptr || r->is_null()) AppendNull(out);
    else PushStr(out, r->Serialize());
  }
  return Status::Ok();
}

Status ArrayLengthImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(*a[0], i);
    if (v && v->is_array()) PushInt(out, static_cast<int64_t>(v->items().size()));
    else AppendNull(out);
  }
  return Status::Ok();
}

Status PackArrayImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    std::string s = "[";
    for (size_t k = 0; k < a.size(); ++k) {
      if (k) s += ',';
      s += CellToJson(*a[k], i);
    }
    s += ']';
    PushStr(out, std::move(s));
  }
  return Status::Ok();
}

Status PackImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  if (a.size() % 2) return InvalidArgument("pack(): expects key/value pairs");
  for (size_t i = 0; i < n; ++i) {
    std::string s = "{";
    for (size_t k = 0; k + 1 < a.size(); k += 2) {
      if (k) s += ',';
      s += json::Quote(CellToString(*a[k], i)) + ":" + CellToJson(*a[k + 1], i);
    }
    s += '}';
    // Normalise (duplicate keys: the parser rejects them; keep text then).
    auto v = json::Value::Parse(s);
    PushStr(out, v ? v->Serialize() : s);
  }
  return Status::Ok();
}

Status BagKeysImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(*a[0], i);
    if (!v || !v->is_object()) {
      AppendNull(out);
      continue;
    }
    json::Value arr = json::Value::Array();
    for (const auto& m : v->members()) arr.Append(json::Value(m.key));
    PushStr(out, arr.Serialize());
  }
  return Status::Ok();
}

Status ArrayIndexOfImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(*a[0], i);
    if (!v || !v->is_array()) {
      AppendNull(out);
      continue;
    }
    std::string want = CellToJson(*a[1], i);
    int64_t idx = -1;
    for (size_t k = 0; k < v->items().size(); ++k) {
      if (v->items()[k].Serialize() == want) {
        idx = static_cast<int64_t>(k);
        break;
      }
    }
    PushInt(out, idx);
  }
  return Status::Ok();
}

Status ArraySliceImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(*a[0], i);
    if (!v || !v->is_array() || IsNull(*a[1], i) || IsNull(*a[2], i)) {
      AppendNull(out);
      continue;
    }
    int64_t sz = static_cast<int64_t>(v->items().size());
    int64_t s = IntAt(*a[1], i), e = IntAt(*a[2], i);
    if (s < 0) s += sz;
    if (e < 0) e += sz;
    s = std::max<int64_t>(s, 0), e = std::min<int64_t>(e, sz - 1);
    json::Value arr = json::Value::Array();
    for (int64_t k = s; k <= e; ++k) arr.Append(v->items()[static_cast<size_t>(k)]);
    PushStr(out, arr.Serialize());
  }
  return Status::Ok();
}

Status ArrayConcatImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    json::Value arr = json::Value::Array();
    for (const Column* c : a) {
      auto v = Dyn(*c, i);
      if (v && v->is_array()) {
        for (const auto& e : v->items()) arr.Append(e);
      }
    }
    PushStr(out, arr.Serialize());
  }
  return Status::Ok();
}

Status StrcatArrayImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg d(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(*a[0], i);
    std::string s;
    if (v && v->is_array()) {
      bool first = true;
      for (const auto& e : v->items()) {
        if (!first) s += d(i);
        first = false;
        s += e.is_string() ? e.as_string() : e.is_null() ? "" : e.Serialize();
      }
    }
    PushStr(out, std::move(s));
  }
  return Status::Ok();
}

Status SetHasElementImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    auto v = Dyn(*a[0], i);
    std::string want = CellToJson(*a[1], i);
    bool found = false;
    if (v && v->is_array()) {
      for (const auto& e : v->items()) found |= e.Serialize() == want;
    }
    PushBool(out, found);
  }
  return Status::Ok();
}

// extractjson("$.a.b[0]", json): a subset of JSONPath (dots, [n], ['key']).
Status ExtractJsonImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg path_s(*a[0]), text_s(*a[1]);
  for (size_t i = 0; i < n; ++i) {
    std::string path(path_s(i));
    auto doc = json::Value::Parse(text_s(i));
    if (!doc || path.empty() || path[0] != '$') {
      PushStr(out, "");
      continue;
    }
    const json::Value* cur = &*doc;
    size_t k = 1;
    while (cur && k < path.size()) {
      if (path[k] == '.') {
        size_t e = k + 1;
        while (e < path.size() && path[e] != '.' && path[e] != '[') ++e;
        cur = cur->is_object() ? cur->Find(path.substr(k + 1, e - k - 1)) : nullptr;
        k = e;
      } else if (path[k] == '[') {
        size_t e = path.find(']', k);
        if (e == std::string::npos) {
          cur = nullptr;
          break;
        }
        std::string key = path.substr(k + 1, e - k - 1);
        if (!key.empty() && (key[0] == '\'' || key[0] == '"')) {
          cur = cur->is_object() ? cur->Find(key.substr(1, key.size() - 2)) : nullptr;
        } else {
          size_t ix = static_cast<size_t>(std::strtoull(key.c_str(), nullptr, 10));
          cur = cur->is_array() && ix < cur->items().size() ? &cur->items()[ix] : nullptr;
        }
        k = e + 1;
      } else {
        cur = nullptr;
      }
    }
    if (!cur || cur->is_null()) PushStr(out, "");
    else PushStr(out, cur->is_string() ? cur->as_string() : cur->Serialize());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// IPv4

std::optional<uint32_t> ParseIp(std::string_view s, int* prefix) {
  unsigned b[4];
  int consumed = 0;
  std::string t(s);
  if (std::sscanf(t.c_str(), "%u.%u.%u.%u%n", &b[0], &b[1], &b[2], &b[3], &consumed) != 4) return std::nullopt;
  for (unsigned x : b) {
    if (x > 255) return std::nullopt;
  }
  int p = 32;
  if (static_cast<size_t>(consumed) < t.size()) {
    if (t[consumed] != '/') return std::nullopt;
    p = std::atoi(t.c_str() + consumed + 1);
    if (p < 0 || p > 32) return std::nullopt;
  }
  if (prefix) *prefix = p;
  return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
}
uint32_t MaskOf(int p) { return p == 0 ? 0 : ~uint32_t{0} << (32 - p); }

// Calls f(address, prefix, row) for rows whose first argument parses as IPv4 ("a.b.c.d[/n]");
// the other rows are null. f appends exactly one value.
template <typename F>
Status EachIp(const std::vector<const Column*>& a, size_t n, Column& out, F f) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    int p;
    auto ip = ParseIp(s(i), &p);
    if (!ip) AppendNull(out);
    else f(*ip, p, i);
  }
  return Status::Ok();
}

Status Ipv4IsPrivateImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return EachIp(a, n, out, [&](uint32_t v, int, size_t) {
    PushBool(out, (v >> 24) == 10 || (v >> 20) == ((172u << 4) | 1) || (v >> 16) == ((192u << 8) | 168));
  });
}

Status Ipv4InRangeImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg r(*a[1]);
  return EachIp(a, n, out, [&](uint32_t ip, int, size_t i) {
    int p2;
    auto range = ParseIp(r(i), &p2);
    if (!range) AppendNull(out);
    else PushBool(out, (ip & MaskOf(p2)) == (*range & MaskOf(p2)));
  });
}

Status Ipv4CompareImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s2(*a[1]);
  return EachIp(a, n, out, [&](uint32_t x, int p1, size_t i) {
    int p2;
    auto y = ParseIp(s2(i), &p2);
    if (!y) return AppendNull(out);
    int p = std::min(p1, p2);
    if (a.size() > 2 && !IsNull(*a[2], i)) p = std::min<int>(p, static_cast<int>(IntAt(*a[2], i)));
    uint32_t m = MaskOf(p);
    uint32_t xv = x & m, yv = *y & m;
    PushInt(out, xv < yv ? -1 : xv > yv ? 1 : 0);
  });
}

Status ParseIpv4Impl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  return EachIp(a, n, out, [&](uint32_t ip, int p, size_t) { PushInt(out, ip & MaskOf(p)); });
}

// ---------------------------------------------------------------------------------------------
// Encodings and URLs

Status Base64DecodeImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    auto v = Base64Decode(s(i));
    PushStr(out, v ? *v : "");
  }
  return Status::Ok();
}
// base64_decode_toarray(s): the decoded bytes as an array of numbers; invalid base64 is null.
Status Base64DecodeToArrayImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    auto v = Base64Decode(s(i));
    if (!v) {
      AppendNull(out);
      continue;
    }
    std::string arr = "[";
    for (size_t k = 0; k < v->size(); ++k) {
      if (k) arr += ',';
      arr += std::to_string(static_cast<unsigned char>((*v)[k]));
    }
    PushStr(out, arr + "]");
  }
  return Status::Ok();
}

// make_string(x, …): the string of the Unicode code points given as numbers or arrays of numbers;
// a value that is not a valid code point makes the result null.
Status MakeStringImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    bool ok = true;
    auto add = [&](int64_t cp) {
      if (cp < 0 || cp >= 0x110000 || (cp >= 0xD800 && cp < 0xE000)) ok = false;
      else AppendUtf8(s, static_cast<uint32_t>(cp));
    };
    for (const Column* c : a) {
      if (IsNull(*c, i)) continue;
      if (c->type != Type::kDynamic) {
        add(IntAt(*c, i));
        continue;
      }
      auto v = Dyn(*c, i);
      if (!v) continue;
      if (v->is_number()) add(v->as_int());
      if (!v->is_array()) continue;
      for (const auto& e : v->items()) {
        if (e.is_number()) add(e.as_int());
        else ok = false;
      }
    }
    if (ok) PushStr(out, std::move(s));
    else AppendNull(out);
  }
  return Status::Ok();
}

Status Base64EncodeImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) PushStr(out, Base64Encode(s(i)));
  return Status::Ok();
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '%' && k + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[k + 1])) && std::isxdigit(static_cast<unsigned char>(s[k + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(k + 1, 2)), nullptr, 16));
      k += 2;
    } else if (s[k] == '+') {
      out += ' ';
    } else {
      out += s[k];
    }
  }
  return out;
}
Status UrlDecodeImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) PushStr(out, UrlDecode(s(i)));
  return Status::Ok();
}
Status UrlEncodeImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string r;
    for (unsigned char c : s(i)) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        r += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        r += buf;
      }
    }
    PushStr(out, std::move(r));
  }
  return Status::Ok();
}

// parse_url: {"Scheme","Host","Port","Path","Username","Password","Query Parameters":{},"Fragment"}.
Status ParseUrlImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  StrArg s(*a[0]);
  for (size_t i = 0; i < n; ++i) {
    std::string url(s(i));
    json::Value o = json::Value::Object();
    size_t se = url.find("://");
    if (se == std::string::npos) {
      PushStr(out, "{}");
      continue;
    }
    std::string scheme = url.substr(0, se), rest = url.substr(se + 3), frag, query, user, pass, host, port, path;
    if (size_t h = rest.find('#'); h != std::string::npos) frag = rest.substr(h + 1), rest = rest.substr(0, h);
    if (size_t q = rest.find('?'); q != std::string::npos) query = rest.substr(q + 1), rest = rest.substr(0, q);
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    path = slash == std::string::npos ? "" : rest.substr(slash);
    if (size_t at = authority.rfind('@'); at != std::string::npos) {
      std::string cred = authority.substr(0, at);
      authority = authority.substr(at + 1);
      size_t c = cred.find(':');
      user = cred.substr(0, c);
      if (c != std::string::npos) pass = cred.substr(c + 1);
    }
    size_t colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']') == std::string::npos) host = authority.substr(0, colon), port = authority.substr(colon + 1);
    else host = authority;
    json::Value params = json::Value::Object();
    for (std::string_view kv : SplitAll(query, "&")) {
      if (kv.empty()) continue;
      size_t eq = kv.find('=');
      params.Set(UrlDecode(kv.substr(0, eq)), json::Value(eq == std::string_view::npos ? "" : UrlDecode(kv.substr(eq + 1))));
    }
    o.AppendMember("Scheme", json::Value(scheme));
    o.AppendMember("Host", json::Value(host));
    o.AppendMember("Port", json::Value(port));
    o.AppendMember("Path", json::Value(path));
    o.AppendMember("Username", json::Value(user));
    o.AppendMember("Password", json::Value(pass));
    o.AppendMember("Query Parameters", std::move(params));
    o.AppendMember("Fragment", json::Value(frag));
    PushStr(out, o.Serialize());
  }
  return Status::Ok();
}

Status TypeOfImpl(const EvalContext&, const std::vector<const Column*>& a, size_t n, Column& out) {
  for (size_t i = 0; i < n; ++i) {
    const Column& c = *a[0];
    if (c.type != Type::kDynamic) {
      PushStr(out, TypeName(c.type));
      continue;
    }
    auto v = Dyn(c, i);
    const char* t = !v || v->is_null() ? "null" : v->is_array() ? "array" : v->is_object() ? "dictionary" : v->is_string() ? "string"
                    : v->is_bool() ? "bool" : v->is_int() ? "long" : "real";
    PushStr(out, t);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The registry

constexpr int kAny = -1;

const FunctionDef kFunctions[] = {
    // Logic and comparison operators.
    {"and", 2, 2, Fixed<Type::kBool>, AndImpl},
    {"or", 2, 2, Fixed<Type::kBool>, OrImpl},
    {"not", 1, 1, Fixed<Type::kBool>, NotImpl},
    {"==", 2, 2, CompareRule, CompareImpl<Cmp::kEq>},
    {"!=", 2, 2, CompareRule, CompareImpl<Cmp::kNe>},
    {"<", 2, 2, CompareRule, CompareImpl<Cmp::kLt>},
    {"<=", 2, 2, CompareRule, CompareImpl<Cmp::kLe>},
    {">", 2, 2, CompareRule, CompareImpl<Cmp::kGt>},
    {">=", 2, 2, CompareRule, CompareImpl<Cmp::kGe>},
    {"=~", 2, 2, Fixed<Type::kBool>, EqCiImpl<false>},
    {"!~", 2, 2, Fixed<Type::kBool>, EqCiImpl<true>},
    {"has", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHas, false, false>},
    {"!has", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHas, false, true>},
    {"has_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHas, true, false>},
    {"!has_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHas, true, true>},
    {"hasprefix", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHasPrefix, false, false>},
    {"!hasprefix", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHasPrefix, false, true>},
    {"hasprefix_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHasPrefix, true, false>},
    {"hassuffix", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHasSuffix, false, false>},
    {"!hassuffix", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHasSuffix, false, true>},
    {"hassuffix_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kHasSuffix, true, false>},
    {"contains", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kContains, false, false>},
    {"!contains", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kContains, false, true>},
    {"notcontains", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kContains, false, true>},
    {"contains_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kContains, true, false>},
    {"!contains_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kContains, true, true>},
    {"startswith", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kStartsWith, false, false>},
    {"!startswith", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kStartsWith, false, true>},
    {"startswith_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kStartsWith, true, false>},
    {"!startswith_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kStartsWith, true, true>},
    {"endswith", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kEndsWith, false, false>},
    {"!endswith", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kEndsWith, false, true>},
    {"endswith_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kEndsWith, true, false>},
    {"!endswith_cs", 2, 2, Fixed<Type::kBool>, StrOpImpl<SOp::kEndsWith, true, true>},
    {"matches regex", 2, 2, Fixed<Type::kBool>, MatchesRegexImpl},
    {"in", 2, kAny, Fixed<Type::kBool>, InImpl<false, false>},
    {"!in", 2, kAny, Fixed<Type::kBool>, InImpl<false, true>},
    {"in~", 2, kAny, Fixed<Type::kBool>, InImpl<true, false>},
    {"!in~", 2, kAny, Fixed<Type::kBool>, InImpl<true, true>},
    {"has_any", 2, kAny, Fixed<Type::kBool>, HasAnyImpl<false, false>},
    {"!has_any", 2, kAny, Fixed<Type::kBool>, HasAnyImpl<false, true>},
    {"has_all", 2, kAny, Fixed<Type::kBool>, HasAnyImpl<true, false>},
    {"between", 3, 3, Fixed<Type::kBool>, BetweenImpl<false>},
    {"!between", 3, 3, Fixed<Type::kBool>, BetweenImpl<true>},
    // Arithmetic.
    {"+", 2, 2, AddRule, ArithImpl<'+'>},
    {"-", 2, 2, SubRule, ArithImpl<'-'>},
    {"*", 2, 2, MulRule, ArithImpl<'*'>},
    {"/", 2, 2, DivRule, ArithImpl<'/'>},
    {"%", 2, 2, ModRule, ArithImpl<'%'>},
    {"neg", 1, 1, NumericArg, NegImpl},
    {"[]", 2, 2, Fixed<Type::kDynamic>, MemberImpl},
    // Conditionals, null tests.
    {"iff", 3, 3, IffRule, IffImpl},
    {"iif", 3, 3, IffRule, IffImpl},
    {"case", 3, kAny, CaseRule, CaseImpl},
    {"coalesce", 1, kAny, CoalesceRule, CoalesceImpl},
    {"isempty", 1, 1, Fixed<Type::kBool>, NullTestImpl<true, false>},
    {"isnotempty", 1, 1, Fixed<Type::kBool>, NullTestImpl<true, true>},
    {"notempty", 1, 1, Fixed<Type::kBool>, NullTestImpl<true, true>},
    {"isnull", 1, 1, Fixed<Type::kBool>, NullTestImpl<false, false>},
    {"isnotnull", 1, 1, Fixed<Type::kBool>, NullTestImpl<false, true>},
    {"notnull", 1, 1, Fixed<Type::kBool>, NullTestImpl<false, true>},
    // Conversions.
    {"tostring", 1, 1, Fixed<Type::kString>, ConvertImpl<Type::kString>},
    {"toint", 1, 1, Fixed<Type::kInt>, ConvertImpl<Type::kInt>},
    {"tolong", 1, 1, Fixed<Type::kLong>, ConvertImpl<Type::kLong>},
    {"toreal", 1, 1, Fixed<Type::kReal>, ConvertImpl<Type::kReal>},
    {"todouble", 1, 1, Fixed<Type::kReal>, ConvertImpl<Type::kReal>},
    {"todecimal", 1, 1, Fixed<Type::kReal>, ConvertImpl<Type::kReal>},
    {"tobool", 1, 1, Fixed<Type::kBool>, ConvertImpl<Type::kBool>},
    {"toboolean", 1, 1, Fixed<Type::kBool>, ConvertImpl<Type::kBool>},
    {"todatetime", 1, 1, Fixed<Type::kDateTime>, ConvertImpl<Type::kDateTime>},
    {"totimespan", 1, 1, Fixed<Type::kTimespan>, ConvertImpl<Type::kTimespan>},
    {"totime", 1, 1, Fixed<Type::kTimespan>, ConvertImpl<Type::kTimespan>},
    {"toguid", 1, 1, Fixed<Type::kGuid>, ConvertImpl<Type::kGuid>},
    {"parse_json", 1, 1, Fixed<Type::kDynamic>, ParseJsonImpl},
    {"parsejson", 1, 1, Fixed<Type::kDynamic>, ParseJsonImpl},
    {"todynamic", 1, 1, Fixed<Type::kDynamic>, ParseJsonImpl},
    {"toobject", 1, 1, Fixed<Type::kDynamic>, ParseJsonImpl},
    {"gettype", 1, 1, Fixed<Type::kString>, TypeOfImpl},
    // Strings.
    {"strcat", 1, kAny, Fixed<Type::kString>, StrcatImpl},
    {"strcat_delim", 3, kAny, Fixed<Type::kString>, StrcatDelimImpl},
    {"split", 2, 3, Fixed<Type::kDynamic>, SplitImpl},
    {"tolower", 1, 1, Fixed<Type::kString>, CaseConvImpl<false>},
    {"toupper", 1, 1, Fixed<Type::kString>, CaseConvImpl<true>},
    {"trim", 2, 2, Fixed<Type::kString>, TrimImpl<true, true>},
    {"trim_start", 2, 2, Fixed<Type::kString>, TrimImpl<true, false>},
    {"trim_end", 2, 2, Fixed<Type::kString>, TrimImpl<false, true>},
    {"replace_string", 3, 3, Fixed<Type::kString>, ReplaceStringImpl},
    {"replace_regex", 3, 3, Fixed<Type::kString>, ReplaceRegexImpl},
    {"replace", 3, 3, Fixed<Type::kString>, ReplaceImpl},
    {"substring", 2, 3, Fixed<Type::kString>, SubstringImpl},
    {"strlen", 1, 1, Fixed<Type::kLong>, StrlenImpl},
    {"indexof", 2, 5, Fixed<Type::kLong>, IndexOfImpl},
    {"countof", 2, 3, Fixed<Type::kLong>, CountOfImpl},
    {"reverse", 1, 1, Fixed<Type::kString>, ReverseImpl},
    {"extract", 3, 4, ExtractRule, ExtractImpl},
    {"extract_all", 2, 3, Fixed<Type::kDynamic>, ExtractAllImpl},
    {"extractjson", 2, 3, Fixed<Type::kString>, ExtractJsonImpl},
    {"hash_sha256", 1, 1, Fixed<Type::kString>, HashHexImpl<Sha256>},
    {"hash_sha1", 1, 1, Fixed<Type::kString>, HashHexImpl<Sha1>},
    {"hash_md5", 1, 1, Fixed<Type::kString>, HashHexImpl<Md5>},
    {"new_guid", 0, 0, Fixed<Type::kString>, NewGuidImpl},
    {"row_number", 0, 2, Fixed<Type::kLong>, RowNumberImpl},
    {"prev", 1, 3, SameAsFirst, PrevImpl},
    {"next", 1, 3, SameAsFirst, NextImpl},
    {"row_cumsum", 1, 2, CumsumRule, RowCumsumImpl},
    {"rand", 0, 1, RandRule, RandImpl},
    {"parse_csv", 1, 1, Fixed<Type::kDynamic>, ParseCsvImpl},
    {"format_timespan", 2, 2, Fixed<Type::kString>, FormatTimespanImpl},
    {"hash", 1, 2, Fixed<Type::kLong>, HashImpl},
    {"base64_decode_tostring", 1, 1, Fixed<Type::kString>, Base64DecodeImpl},
    {"base64_decodestring", 1, 1, Fixed<Type::kString>, Base64DecodeImpl},
    {"base64_decode_toarray", 1, 1, Fixed<Type::kDynamic>, Base64DecodeToArrayImpl},
    {"make_string", 1, 64, Fixed<Type::kString>, MakeStringImpl},
    {"base64_encode_tostring", 1, 1, Fixed<Type::kString>, Base64EncodeImpl},
    {"base64_encodestring", 1, 1, Fixed<Type::kString>, Base64EncodeImpl},
    {"url_decode", 1, 1, Fixed<Type::kString>, UrlDecodeImpl},
    {"url_encode", 1, 1, Fixed<Type::kString>, UrlEncodeImpl},
    {"url_encode_component", 1, 1, Fixed<Type::kString>, UrlEncodeImpl},
    {"parse_url", 1, 1, Fixed<Type::kDynamic>, ParseUrlImpl},
    // Datetime.
    {"now", 0, 1, Fixed<Type::kDateTime>, NowImpl},
    {"ago", 1, 1, Fixed<Type::kDateTime>, AgoImpl},
    {"bin", 2, 2, BinRule, BinImpl},
    {"floor", 2, 2, BinRule, BinImpl},
    {"startofday", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kDay, false>},
    {"endofday", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kDay, true>},
    {"startofweek", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kWeek, false>},
    {"endofweek", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kWeek, true>},
    {"startofmonth", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kMonth, false>},
    {"endofmonth", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kMonth, true>},
    {"startofyear", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kYear, false>},
    {"endofyear", 1, 2, Fixed<Type::kDateTime>, StartOfImpl<Period::kYear, true>},
    {"dayofweek", 1, 1, Fixed<Type::kTimespan>, DayOfWeekImpl},
    {"hourofday", 1, 1, Fixed<Type::kInt>, HourOfDayImpl},
    {"dayofmonth", 1, 1, Fixed<Type::kInt>, DayOfMonthImpl},
    {"dayofyear", 1, 1, Fixed<Type::kInt>, DayOfYearImpl},
    {"getmonth", 1, 1, Fixed<Type::kInt>, GetMonthImpl},
    {"monthofyear", 1, 1, Fixed<Type::kInt>, GetMonthImpl},
    {"getyear", 1, 1, Fixed<Type::kInt>, GetYearImpl},
    {"datetime_add", 3, 3, Fixed<Type::kDateTime>, DatetimeAddImpl},
    {"datetime_diff", 3, 3, Fixed<Type::kLong>, DatetimeDiffImpl},
    {"format_datetime", 2, 2, Fixed<Type::kString>, FormatDatetimeImpl},
    // Math.
    {"abs", 1, 1, NumericArg, AbsImpl},
    {"round", 1, 2, RoundRule, RoundImpl},
    {"sqrt", 1, 1, Fixed<Type::kReal>, MathImpl<0>},
    {"log", 1, 1, Fixed<Type::kReal>, MathImpl<1>},
    {"log10", 1, 1, Fixed<Type::kReal>, MathImpl<2>},
    {"log2", 1, 1, Fixed<Type::kReal>, MathImpl<5>},
    {"exp", 1, 1, Fixed<Type::kReal>, MathImpl<3>},
    {"pow", 2, 2, Fixed<Type::kReal>, MathImpl<4>},
    {"isnan", 1, 1, Fixed<Type::kBool>, IsNanImpl},
    {"min_of", 1, kAny, MinOfRule, MinOfImpl<false>},
    {"max_of", 1, kAny, MinOfRule, MinOfImpl<true>},
    // Dynamic.
    {"array_length", 1, 1, Fixed<Type::kLong>, ArrayLengthImpl},
    {"pack_array", 1, kAny, Fixed<Type::kDynamic>, PackArrayImpl},
    {"pack", 0, kAny, Fixed<Type::kDynamic>, PackImpl},
    {"bag_pack", 0, kAny, Fixed<Type::kDynamic>, PackImpl},
    {"bag_keys", 1, 1, Fixed<Type::kDynamic>, BagKeysImpl},
    {"array_index_of", 2, 2, Fixed<Type::kLong>, ArrayIndexOfImpl},
    {"array_slice", 3, 3, Fixed<Type::kDynamic>, ArraySliceImpl},
    {"array_concat", 1, kAny, Fixed<Type::kDynamic>, ArrayConcatImpl},
    {"strcat_array", 2, 2, Fixed<Type::kString>, StrcatArrayImpl},
    {"set_has_element", 2, 2, Fixed<Type::kBool>, SetHasElementImpl},
    // IPv4.
    {"ipv4_is_private", 1, 1, Fixed<Type::kBool>, Ipv4IsPrivateImpl},
    {"ipv4_is_in_range", 2, 2, Fixed<Type::kBool>, Ipv4InRangeImpl},
    {"ipv4_compare", 2, 3, Fixed<Type::kLong>, Ipv4CompareImpl},
    {"parse_ipv4", 1, 1, Fixed<Type::kLong>, ParseIpv4Impl},
};

}  // namespace

bool IsWindowFunction(std::string_view name) {
  return name == "row_number" || name == "prev" || name == "next" || name == "row_cumsum";
}
bool IsVolatile(const FunctionDef& fn) { return fn.name == "new_guid" || fn.name == "rand" || IsWindowFunction(fn.name); }

const FunctionDef* FindFunction(std::string_view name) {
  static const std::unordered_map<std::string_view, const FunctionDef*> index = [] {
    std::unordered_map<std::string_view, const FunctionDef*> m;
    for (const FunctionDef& f : kFunctions) m.emplace(f.name, &f);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

}  // namespace ward::kql
