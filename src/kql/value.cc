#include "kql/value.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "common/time.h"
#include "json/json.h"
#include "kql/lexer.h"

namespace ward::kql {

int Table::Find(std::string_view name) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

void Table::Add(std::string name, ColumnPtr col) {
  int i = Find(name);
  if (i >= 0) {
    cols[i] = std::move(col);
  } else {
    names.push_back(std::move(name));
    cols.push_back(std::move(col));
  }
}

Column NewColumn(Type t, size_t reserve) {
  Column c;
  c.type = t;
  c.nulls.reserve(reserve);
  if (IntRep(t)) c.ints.reserve(reserve);
  else if (RealRep(t)) c.reals.reserve(reserve);
  else c.strings.reserve(reserve);
  return c;
}

void AppendNull(Column& c) {
  if (IntRep(c.type)) c.ints.push_back(0);
  else if (RealRep(c.type)) c.reals.push_back(0);
  else c.strings.emplace_back();
  // Strings are never null in KQL: a missing string is "".
  c.nulls.push_back(c.type == Type::kString || c.type == Type::kGuid ? 0 : 1);
}

void AppendScalar(Column& c, const Scalar& v) {
  if (v.null) return AppendNull(c);
  if (c.type == v.type || (IntRep(c.type) && IntRep(v.type)) || (RealRep(c.type) && RealRep(v.type)) ||
      (StrRep(c.type) && StrRep(v.type) && c.type != Type::kDynamic && v.type != Type::kDynamic)) {
    if (IntRep(c.type)) c.ints.push_back(v.i);
    else if (RealRep(c.type)) c.reals.push_back(v.r);
    else c.strings.push_back(v.s);
    c.nulls.push_back(0);
    return;
  }
  // Different types: convert through a one-cell column.
  Column one = Broadcast(v);
  Scalar conv = ConvertCell(one, 0, c.type);
  if (conv.null) return AppendNull(c);
  AppendScalar(c, conv);
}

void AppendFrom(Column& dst, const Column& src, size_t i) {
  size_t k = At(src, i);
  if (dst.type != src.type && !(IntRep(dst.type) && IntRep(src.type)) && !(RealRep(dst.type) && RealRep(src.type)) &&
      !(StrRep(dst.type) && StrRep(src.type))) {
    return AppendScalar(dst, CellScalar(src, i));
  }
  if (IntRep(dst.type)) dst.ints.push_back(src.ints[k]);
  else if (RealRep(dst.type)) dst.reals.push_back(src.reals[k]);
  else if (dst.type == Type::kDynamic && src.type != Type::kDynamic) dst.strings.push_back(json::Quote(src.strings[k]));
  else dst.strings.push_back(src.strings[k]);
  dst.nulls.push_back(src.nulls[k]);
}

Scalar CellScalar(const Column& c, size_t i) {
  size_t k = At(c, i);
  if (c.nulls[k]) return Scalar::Null(c.type);
  Scalar s;
  s.type = c.type;
  if (IntRep(c.type)) s.i = c.ints[k];
  else if (RealRep(c.type)) s.r = c.reals[k];
  else s.s = c.strings[k];
  return s;
}

Column Broadcast(const Scalar& v) {
  Column c = NewColumn(v.type, 1);
  if (v.null) {
    AppendNull(c);
    return c;
  }
  if (IntRep(v.type)) c.ints.push_back(v.i);
  else if (RealRep(v.type)) c.reals.push_back(v.r);
  else c.strings.push_back(v.s);
  c.nulls.push_back(0);
  return c;
}

ColumnPtr Materialize(ColumnPtr c, size_t rows) {
  if (c->nulls.size() == rows) return c;
  Column out = NewColumn(c->type, rows);
  for (size_t i = 0; i < rows; ++i) AppendFrom(out, *c, i);
  return std::make_shared<const Column>(std::move(out));
}

Column Gather(const Column& c, const std::vector<uint32_t>& rows) {
  Column out = NewColumn(c.type, rows.size());
  const bool bc = c.nulls.size() == 1;
  out.nulls.resize(rows.size());
  if (IntRep(c.type)) {
    out.ints.resize(rows.size());
    for (size_t j = 0; j < rows.size(); ++j) {
      size_t k = bc ? 0 : rows[j];
      out.ints[j] = c.ints[k], out.nulls[j] = c.nulls[k];
    }
  } else if (RealRep(c.type)) {
    out.reals.resize(rows.size());
    for (size_t j = 0; j < rows.size(); ++j) {
      size_t k = bc ? 0 : rows[j];
      out.reals[j] = c.reals[k], out.nulls[j] = c.nulls[k];
    }
  } else {
    out.strings.resize(rows.size());
    for (size_t j = 0; j < rows.size(); ++j) {
      size_t k = bc ? 0 : rows[j];
      out.strings[j] = c.strings[k], out.nulls[j] = c.nulls[k];
    }
  }
  return out;
}

Column NullColumn(Type t, size_t n) {
  Column c = NewColumn(t, n);
  for (size_t i = 0; i < n; ++i) AppendNull(c);
  return c;
}

Type FromColumnType(events::ColumnType t) {
  switch (t) {
    case events::ColumnType::kDatetime: return Type::kDateTime;
    case events::ColumnType::kString: return Type::kString;
    case events::ColumnType::kLong: return Type::kLong;
    case events::ColumnType::kInt: return Type::kInt;
    case events::ColumnType::kBool: return Type::kBool;
    case events::ColumnType::kDynamic: return Type::kDynamic;
    case events::ColumnType::kReal: return Type::kReal;
  }
  return Type::kString;
}

std::optional<Type> ParseTypeName(std::string_view n) {
  if (n == "string") return Type::kString;
  if (n == "long" || n == "int64") return Type::kLong;
  if (n == "int" || n == "int32") return Type::kInt;
  if (n == "real" || n == "double") return Type::kReal;
  if (n == "decimal") return Type::kDecimal;
  if (n == "bool" || n == "boolean") return Type::kBool;
  if (n == "datetime" || n == "date") return Type::kDateTime;
  if (n == "timespan" || n == "time") return Type::kTimespan;
  if (n == "dynamic") return Type::kDynamic;
  if (n == "guid" || n == "uniqueid") return Type::kGuid;
  return std::nullopt;
}

std::string FormatReal(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string FormatTimespan(int64_t ticks) {
  std::string out;
  uint64_t t;
  if (ticks < 0) {
    out += '-';
    t = static_cast<uint64_t>(-(ticks + 1)) + 1;
  } else {
    t = static_cast<uint64_t>(ticks);
  }
  const uint64_t tps = kTicksPerSecond;
  uint64_t days = t / (86400 * tps);
  uint64_t rem = t % (86400 * tps);
  char buf[64];
  if (days) out += std::to_string(days) + ".";
  std::snprintf(buf, sizeof buf, "%02llu:%02llu:%02llu", static_cast<unsigned long long>(rem / (3600 * tps)),
                static_cast<unsigned long long>(rem / (60 * tps) % 60), static_cast<unsigned long long>(rem / tps % 60));
  out += buf;
  if (rem % tps) {
    std::snprintf(buf, sizeof buf, ".%07llu", static_cast<unsigned long long>(rem % tps));
    out += buf;
  }
  return out;
}

std::string CellToString(const Column& c, size_t i) {
  size_t k = At(c, i);
  if (c.nulls[k]) return "";
  switch (c.type) {
    case Type::kBool: return c.ints[k] ? "true" : "false";
    case Type::kInt:
    case Type::kLong: return std::to_string(c.ints[k]);
    case Type::kDateTime: return FormatIsoTicks(c.ints[k]);
    case Type::kTimespan: return FormatTimespan(c.ints[k]);
    case Type::kReal:
    case Type::kDecimal: return FormatReal(c.reals[k]);
    case Type::kString:
    case Type::kGuid: return c.strings[k];
    case Type::kDynamic: {
      const std::string& s = c.strings[k];
      if (!s.empty() && s.front() == '"') {
        auto v = json::Value::Parse(s);
        if (v && v->is_string()) return v->as_string();
      }
      return s;
    }
  }
  return "";
}

std::string CellToJson(const Column& c, size_t i) {
  size_t k = At(c, i);
  if (c.nulls[k]) return "null";
  switch (c.type) {
    case Type::kBool: return c.ints[k] ? "true" : "false";
    case Type::kInt:
    case Type::kLong: return std::to_string(c.ints[k]);
    case Type::kReal:
    case Type::kDecimal: return std::isfinite(c.reals[k]) ? FormatReal(c.reals[k]) : json::Quote(FormatReal(c.reals[k]));
    case Type::kDynamic: return c.strings[k].empty() ? "null" : c.strings[k];
    default: return json::Quote(CellToString(c, i));
  }
}

void AppendKey(std::string& key, const Column& c, size_t i) {
  size_t k = At(c, i);
  if (c.nulls[k]) {
    key += '\x01';
    return;
  }
  if (IntRep(c.type) || RealRep(c.type)) {
    double d = IntRep(c.type) ? static_cast<double>(c.ints[k]) : c.reals[k];
    if (IntRep(c.type) || (d == std::trunc(d) && std::fabs(d) < 9e15)) {
      int64_t v = IntRep(c.type) ? c.ints[k] : static_cast<int64_t>(d);
      key += '\x02';
      key.append(reinterpret_cast<const char*>(&v), sizeof v);
    } else {
      key += '\x03';
      key.append(reinterpret_cast<const char*>(&d), sizeof d);
    }
    return;
  }
  const std::string& s = c.strings[k];
  key += '\x04';
  uint32_t len = static_cast<uint32_t>(s.size());
  key.append(reinterpret_cast<const char*>(&len), sizeof len);
  key += s;
}

uint32_t KeyIndex::Insert(std::string_view key, bool* fresh) {
  if ((hashes_.size() + 1) * 2 > slots_.size()) Grow();
  const uint64_t h = std::hash<std::string_view>{}(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint32_t s = slots_[i];
    if (s == 0) {
      const uint32_t id = static_cast<uint32_t>(hashes_.size());
      slots_[i] = id + 1;
      hashes_.push_back(h);
      bytes_.append(key);
      starts_.push_back(bytes_.size());
      *fresh = true;
      return id;
    }
    if (hashes_[s - 1] == h && KeyOf(s - 1) == key) {
      *fresh = false;
      return s - 1;
    }
  }
}

int64_t KeyIndex::Find(std::string_view key) const {
  if (slots_.empty()) return -1;
  const uint64_t h = std::hash<std::string_view>{}(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint32_t s = slots_[i];
    if (s == 0) return -1;
    if (hashes_[s - 1] == h && KeyOf(s - 1) == key) return s - 1;
  }
}

void KeyIndex::Grow() {
  std::vector<uint32_t> slots(std::max<size_t>(16, slots_.size() * 2), 0);
  const size_t mask = slots.size() - 1;
  for (uint32_t id = 0; id < hashes_.size(); ++id) {
    size_t i = hashes_[id] & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = id + 1;
  }
  slots_.swap(slots);
}

namespace {

bool ParseLong(std::string_view s, int64_t* v) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

bool ParseDouble(std::string_view s, double* v) {
  std::string t(s);
  char* end = nullptr;
  errno = 0;
  *v = std::strtod(t.c_str(), &end);
  while (end && *end && std::isspace(static_cast<unsigned char>(*end))) ++end;
  return !t.empty() && end && *end == 0;
}

}  // namespace

Scalar ConvertCell(const Column& c, size_t i, Type to) {
  size_t k = At(c, i);
  if (c.nulls[k]) return to == Type::kString ? Scalar::Str("") : Scalar::Null(to);
  Scalar out;
  out.type = to;
  Type from = c.type;
  // Dynamic: unwrap JSON scalars first.
  if (from == Type::kDynamic && to != Type::kDynamic) {
    auto v = json::Value::Parse(c.strings[k]);
    if (!v || v->is_null()) return to == Type::kString ? Scalar::Str(v ? "" : c.strings[k]) : Scalar::Null(to);
    Column tmp;
    if (v->is_string()) tmp = Broadcast(Scalar::Str(v->as_string()));
    else if (v->is_bool()) tmp = Broadcast(Scalar::Bool(v->as_bool()));
    else if (v->is_int()) tmp = Broadcast(Scalar::Long(v->as_int()));
    else if (v->is_number()) tmp = Broadcast(Scalar::Real(v->as_double()));
    else return to == Type::kString ? Scalar::Str(c.strings[k]) : Scalar::Null(to);
    return ConvertCell(tmp, 0, to);
  }
  switch (to) {
    case Type::kString:
    case Type::kGuid: out.s = CellToString(c, i); return out;
    case Type::kDynamic:
      out.s = CellToJson(c, i);
      return out;
    case Type::kBool:
      if (IntRep(from)) return Scalar::Bool(c.ints[k] != 0);
      if (RealRep(from)) return Scalar::Bool(c.reals[k] != 0);
      {
        std::string l = c.strings[k];
        for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (l == "true" || l == "1") return Scalar::Bool(true);
        if (l == "false" || l == "0") return Scalar::Bool(false);
      }
      return Scalar::Null(to);
    case Type::kInt:
    case Type::kLong: {
      if (IntRep(from)) out.i = c.ints[k];
      else if (RealRep(from)) {
        double d = c.reals[k];
        if (!std::isfinite(d)) return Scalar::Null(to);
        out.i = static_cast<int64_t>(std::trunc(d));
      } else {
        int64_t v;
        double d;
        if (ParseLong(c.strings[k], &v)) out.i = v;
        else if (ParseDouble(c.strings[k], &d) && std::isfinite(d)) out.i = static_cast<int64_t>(std::trunc(d));
        else return Scalar::Null(to);
      }
      if (to == Type::kInt) out.i = static_cast<int32_t>(out.i);
      return out;
    }
    case Type::kReal:
    case Type::kDecimal: {
      if (IntRep(from)) out.r = static_cast<double>(c.ints[k]);
      else if (RealRep(from)) out.r = c.reals[k];
      else if (!ParseDouble(c.strings[k], &out.r)) return Scalar::Null(to);
      return out;
    }
    case Type::kDateTime: {
      if (from == Type::kDateTime) return Scalar::DateTime(c.ints[k]);
      if (from == Type::kLong || from == Type::kInt) return Scalar::DateTime(c.ints[k]);
      if (StrRep(from)) {
        int64_t t;
        if (ParseDateTimeText(c.strings[k], &t)) return Scalar::DateTime(t);
      }
      return Scalar::Null(to);
    }
    case Type::kTimespan: {
      if (IntRep(from) && from != Type::kBool) return Scalar::Timespan(c.ints[k]);
      if (RealRep(from)) return Scalar::Timespan(static_cast<int64_t>(c.reals[k]));
      if (StrRep(from)) {
        int64_t t;
        if (ParseTimespanText(c.strings[k], &t)) return Scalar::Timespan(t);
      }
      return Scalar::Null(to);
    }
  }
  return Scalar::Null(to);
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace ward::kql
