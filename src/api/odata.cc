// OData query options: query-string splitting, a hand-written $filter lexer and recursive-descent
// parser with static type checking against an EntitySchema, and an in-memory evaluator.
//
// Input is untrusted: every failure is an InvalidArgument value (no exceptions), recursion is
// bounded by max_depth, and and/or chains are flattened into n-ary nodes so long chains do not
// build deep trees (which would recurse deeply when evaluated or destroyed).
#include "api/odata.h"
#include "common/strings.h"

#include <array>

#include "common/time.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <type_traits>

namespace ward::odata {
namespace {

constexpr size_t kMaxEchoBytes = 64;             // user text quoted back in error messages
constexpr size_t kHardMaxFilterBytes = 1 << 20;  // ParseFilter called directly, without QueryLimits

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpperAscii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsIdentStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else
      return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// Shortens user text for error messages without splitting a UTF-8 sequence.
std::string Echo(std::string_view s) {
  if (s.size() <= kMaxEchoBytes) return std::string(s);
  size_t n = kMaxEchoBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

// g++ 12 has no <format>; error messages are built by concatenation.
void AppendPart(std::string& out, std::string_view s) { out.append(s); }
void AppendPart(std::string& out, const char* s) { out.append(s); }
void AppendPart(std::string& out, const std::string& s) { out.append(s); }
template <typename T>
requires std::is_integral_v<T>
void AppendPart(std::string& out, T v) { out.append(std::to_string(v)); }

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPart(out, args), ...);
  return out;
}

Status Invalid(std::string msg) { return InvalidArgument(std::move(msg)); }

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok { kEnd, kIdent, kString, kInt, kDouble, kDateTime, kGuid, kLParen, kRParen, kComma, kSlash, kColon };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // identifier / decoded string / raw literal text
  int64_t int_value = 0;
  double double_value = 0;
  size_t pos = 0;
};

bool LooksLikeGuid(std::string_view s, size_t pos) {
  if (pos + 36 > s.size()) return false;
  for (size_t i = 0; i < 36; ++i) {
    const char c = s[pos + i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!IsHex(c)) {
      return false;
    }
  }
  return pos + 36 == s.size() || !IsIdentChar(s[pos + 36]);
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Result<Token> Next() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
    Token t;
    t.pos = pos_;
    if (pos_ >= s_.size()) return t;
    const char c = s_[pos_];
    switch (c) {
      case '(':
        ++pos_;
        t.kind = Tok::kLParen;
        return t;
      case ')':
        ++pos_;
        t.kind = Tok::kRParen;
        return t;
      case ',':
        ++pos_;
        t.kind = Tok::kComma;
        return t;
      case '/':
        ++pos_;
        t.kind = Tok::kSlash;
        return t;
      case ':':
        ++pos_;
        t.kind = Tok::kColon;
        return t;
      case '\'': return LexString(t);
      default: break;
    }
    if (LooksLikeGuid(s_, pos_)) {
      t.kind = Tok::kGuid;
      t.text = std::string(s_.substr(pos_, 36));
      pos_ += 36;
      return t;
    }
    if (IsDigit(c) || (c == '-' && pos_ + 1 < s_.size() && IsDigit(s_[pos_ + 1]))) return LexNumberOrDate(t);
    if (IsIdentStart(c)) {
      size_t end = pos_;
      while (end < s_.size() && IsIdentChar(s_[end])) ++end;
      t.text = std::string(s_.substr(pos_, end - pos_));
      pos_ = end;
      // Typed literal prefixes from OData v3: datetime'...', datetimeoffset'...', guid'...'.
      if (pos_ < s_.size() && s_[pos_] == '\'') {
        const bool is_dt = EqualsIgnoreCase(t.text, "datetime") || EqualsIgnoreCase(t.text, "datetimeoffset");
        const bool is_guid = EqualsIgnoreCase(t.text, "guid");
        if (!is_dt && !is_guid) {
          t.kind = Tok::kIdent;
          return t;
        }
        Token inner;
        WARD_ASSIGN_OR_RETURN(inner, LexString(inner));
        t.text = std::move(inner.text);
        if (is_guid) {
          if (!LooksLikeGuid(t.text, 0) || t.text.size() != 36) {
            return Err(Invalid(Cat("Invalid GUID literal '", Echo(t.text), "'")));
          }
          t.kind = Tok::kGuid;
          return t;
        }
        auto ms = ParseDateTimeMs(t.text);
        if (!ms) return Err(Invalid(Cat("Invalid datetime literal '", Echo(t.text), "'")));
        t.kind = Tok::kDateTime;
        t.int_value = *ms;
        return t;
      }
      t.kind = Tok::kIdent;
      return t;
    }
    return Err(Invalid(Cat("Syntax error: unexpected character at position ", pos_)));
  }

 private:
  Result<Token> LexString(Token& t) {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) return Err(Invalid(Cat("Unterminated string literal at position ", t.pos)));
      const char c = s_[pos_++];
      if (c == '\'') {
        if (pos_ < s_.size() && s_[pos_] == '\'') {  // '' is an escaped quote
          out.push_back('\'');
          ++pos_;
          continue;
        }
        break;
      }
      out.push_back(c);
    }
    t.kind = Tok::kString;
    t.text = std::move(out);
    return std::move(t);
  }

  Result<Token> LexNumberOrDate(Token& t) {
    const size_t start = pos_;
    // YYYY-... is an unquoted datetime.
    if (start + 4 < s_.size() && IsDigit(s_[start]) && IsDigit(s_[start + 1]) && IsDigit(s_[start + 2]) &&
        IsDigit(s_[start + 3]) && s_[start + 4] == '-') {
      size_t end = start;
      while (end < s_.size() &&
             (IsIdentChar(s_[end]) || s_[end] == '-' || s_[end] == '+' || s_[end] == ':' || s_[end] == '.')) {
        ++end;
      }
      const std::string_view raw = s_.substr(start, end - start);
      auto ms = ParseDateTimeMs(raw);
      if (!ms) return Err(Invalid(Cat("Invalid datetime literal '", Echo(raw), "'")));
      pos_ = end;
      t.kind = Tok::kDateTime;
      t.text = std::string(raw);
      t.int_value = *ms;
      return std::move(t);
    }
    size_t end = start;
    if (s_[end] == '-') ++end;
    while (end < s_.size() && IsDigit(s_[end])) ++end;
    bool is_double = false;
    if (end < s_.size() && s_[end] == '.') {
      is_double = true;
      ++end;
      if (end >= s_.size() || !IsDigit(s_[end])) return Err(Invalid(Cat("Invalid number at position ", start)));
      while (end < s_.size() && IsDigit(s_[end])) ++end;
    }
    if (end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
      size_t e = end + 1;
      if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
      if (e < s_.size() && IsDigit(s_[e])) {
        is_double = true;
        end = e;
        while (end < s_.size() && IsDigit(s_[end])) ++end;
      }
    }
    const std::string_view raw = s_.substr(start, end - start);
    // Optional EDM type suffixes (1L, 1.5d, 1.5m, 1.5f).
    if (end < s_.size() && (s_[end] == 'L' || s_[end] == 'l' || s_[end] == 'd' || s_[end] == 'D' || s_[end] == 'm' ||
                            s_[end] == 'M' || s_[end] == 'f' || s_[end] == 'F')) {
      if (end + 1 >= s_.size() || !IsIdentChar(s_[end + 1])) {
        if (s_[end] != 'L' && s_[end] != 'l') is_double = true;
        ++end;
      }
    }
    if (end < s_.size() && IsIdentChar(s_[end])) return Err(Invalid(Cat("Invalid number at position ", start)));
    pos_ = end;
    t.text = std::string(raw);
    if (is_double) {
      double v = 0;
      auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
      if (ec != std::errc() || p != raw.data() + raw.size() || !std::isfinite(v)) {
        return Err(Invalid(Cat("Invalid number '", Echo(raw), "'")));
      }
      t.kind = Tok::kDouble;
      t.double_value = v;
    } else {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
      if (ec != std::errc() || p != raw.data() + raw.size()) {
        return Err(Invalid(Cat("Number out of range '", Echo(raw), "'")));
      }
      t.kind = Tok::kInt;
      t.int_value = v;
    }
    return std::move(t);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Parser with static types.

enum class SType { kBool, kString, kInt, kDouble, kDateTime, kCollection, kNull };

SType FromProperty(PropertyType t) {
  switch (t) {
    case PropertyType::kString: return SType::kString;
    case PropertyType::kInt: return SType::kInt;
    case PropertyType::kDouble: return SType::kDouble;
    case PropertyType::kBool: return SType::kBool;
    case PropertyType::kDateTime: return SType::kDateTime;
    case PropertyType::kStringCollection: return SType::kCollection;
  }
  return SType::kNull;
}

const char* TypeName(SType t) {
  switch (t) {
    case SType::kBool: return "Edm.Boolean";
    case SType::kString: return "Edm.String";
    case SType::kInt: return "Edm.Int64";
    case SType::kDouble: return "Edm.Double";
    case SType::kDateTime: return "Edm.DateTimeOffset";
    case SType::kCollection: return "Collection(Edm.String)";
    case SType::kNull: return "null";
  }
  return "?";
}

bool IsNumeric(SType t) { return t == SType::kInt || t == SType::kDouble; }

// Names an operand in error messages: the property or variable, the function, or the literal as written.
std::string Describe(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kProperty:
    case Expr::Kind::kLambdaVar: return e.name;
    case Expr::Kind::kCall: return e.name + "(...)";
    case Expr::Kind::kLiteral:
      if (e.literal_is_datetime) return FormatDateTimeMs(e.literal.as_int());
      if (e.literal.is_string()) return "'" + Echo(e.literal.as_string()) + "'";
      return e.literal.Serialize();
    default: return "expression";
  }
}

struct Typed {
  std::unique_ptr<Expr> expr;
  SType type;
};

std::unique_ptr<Expr> MakeExpr(Expr::Kind kind) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  return e;
}

Typed MakeLiteral(const Token& t) {
  auto e = MakeExpr(Expr::Kind::kLiteral);
  SType type = SType::kString;
  switch (t.kind) {
    case Tok::kString:
    case Tok::kGuid:
      e->literal = json::Value(t.text);
      type = SType::kString;
      break;
    case Tok::kInt:
      e->literal = json::Value(t.int_value);
      type = SType::kInt;
      break;
    case Tok::kDouble:
      e->literal = json::Value(t.double_value);
      type = SType::kDouble;
      break;
    case Tok::kDateTime:
      e->literal = json::Value(t.int_value);
      e->literal_is_datetime = true;
      type = SType::kDateTime;
      break;
    default: break;
  }
  return {std::move(e), type};
}

// Converts a literal to `want` when OData allows it (quoted datetimes and numbers, int -> double).
// Returns false when the literal cannot represent a value of that type.
bool CoerceLiteral(Typed& lit, SType want) {
  if (lit.type == want || lit.type == SType::kNull) return true;
  Expr& e = *lit.expr;
  switch (want) {
    case SType::kDateTime:
      if (lit.type == SType::kString) {
        auto ms = ParseDateTimeMs(e.literal.as_string());
        if (!ms) return false;
        e.literal = json::Value(*ms);
        e.literal_is_datetime = true;
        lit.type = SType::kDateTime;
        return true;
      }
      return false;
    case SType::kInt:
    case SType::kDouble: {
      if (IsNumeric(lit.type)) return true;  // int vs double compare numerically
      if (lit.type != SType::kString) return false;
      const std::string s(Trim(e.literal.as_string()));
      if (s.empty()) return false;
      int64_t iv = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), iv);
      if (ec == std::errc() && p == s.data() + s.size()) {
        e.literal = json::Value(iv);
        lit.type = SType::kInt;
        return true;
      }
      double dv = 0;
      auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), dv);
      if (ec2 == std::errc() && p2 == s.data() + s.size() && std::isfinite(dv)) {
        e.literal = json::Value(dv);
        lit.type = SType::kDouble;
        return true;
      }
      return false;
    }
    case SType::kBool:
      if (lit.type == SType::kString) {
        const std::string& s = e.literal.as_string();
        if (EqualsIgnoreCase(s, "true") || EqualsIgnoreCase(s, "false")) {
          e.literal = json::Value(EqualsIgnoreCase(s, "true"));
          lit.type = SType::kBool;
          return true;
        }
      }
      return false;
    case SType::kString:
    case SType::kCollection:
      // Collections compare against their element type; a string literal is required.
      return lit.type == SType::kString;
    case SType::kNull: return true;
  }
  return false;
}

class Parser {
 public:
  Parser(std::string_view text, const EntitySchema& schema, int max_depth)
      : lexer_(text), schema_(schema), max_depth_(max_depth) {}

  Result<std::unique_ptr<Expr>> Run() {
    WARD_RETURN_IF_ERROR(Advance());
    if (cur_.kind == Tok::kEnd) return Err(Invalid("Empty $filter expression"));
    Typed root;
    WARD_ASSIGN_OR_RETURN(root, ParseOr());
    if (cur_.kind != Tok::kEnd) return Err(Unexpected());
    if (root.type != SType::kBool) return Err(Invalid("$filter expression must be a boolean expression"));
    return std::move(root.expr);
  }

 private:
  Status Advance() {
    auto t = lexer_.Next();
    if (!t) return t.error();
    cur_ = std::move(*t);
    return Status::Ok();
  }

  Status Unexpected() const {
    if (cur_.kind == Tok::kEnd) return Invalid("Syntax error: unexpected end of $filter expression");
    std::string what;
    switch (cur_.kind) {
      case Tok::kLParen: what = "("; break;
      case Tok::kRParen: what = ")"; break;
      case Tok::kComma: what = ","; break;
      case Tok::kSlash: what = "/"; break;
      case Tok::kColon: what = ":"; break;
      case Tok::kString: what = "'" + cur_.text + "'"; break;
      default: what = cur_.text; break;
    }
    return Invalid(Cat("Syntax error at position ", cur_.pos, ": unexpected '", Echo(what), "'"));
  }

  bool IsKeyword(std::string_view kw) const { return cur_.kind == Tok::kIdent && EqualsIgnoreCase(cur_.text, kw); }

  Status Expect(Tok kind) {
    if (cur_.kind != kind) return Unexpected();
    return Advance();
  }

  Status Enter() {
    if (++depth_ > max_depth_) return Invalid("$filter expression is nested too deeply");
    return Status::Ok();
  }

  // or_expr := and_expr ('or' and_expr)*
  Result<Typed> ParseOr() {
    WARD_RETURN_IF_ERROR(Enter());
    Typed first;
    WARD_ASSIGN_OR_RETURN(first, ParseAnd());
    if (!IsKeyword("or")) {
      --depth_;
      return first;
    }
    auto node = MakeExpr(Expr::Kind::kOr);
    WARD_RETURN_IF_ERROR(RequireBool(first, "or"));
    node->children.push_back(std::move(first.expr));
    while (IsKeyword("or")) {
      WARD_RETURN_IF_ERROR(Advance());
      Typed next;
      WARD_ASSIGN_OR_RETURN(next, ParseAnd());
      WARD_RETURN_IF_ERROR(RequireBool(next, "or"));
      node->children.push_back(std::move(next.expr));
    }
    --depth_;
    return Typed{std::move(node), SType::kBool};
  }

  // and_expr := not_expr ('and' not_expr)*
  Result<Typed> ParseAnd() {
    Typed first;
    WARD_ASSIGN_OR_RETURN(first, ParseNot());
    if (!IsKeyword("and")) return first;
    auto node = MakeExpr(Expr::Kind::kAnd);
    WARD_RETURN_IF_ERROR(RequireBool(first, "and"));
    node->children.push_back(std::move(first.expr));
    while (IsKeyword("and")) {
      WARD_RETURN_IF_ERROR(Advance());
      Typed next;
      WARD_ASSIGN_OR_RETURN(next, ParseNot());
      WARD_RETURN_IF_ERROR(RequireBool(next, "and"));
      node->children.push_back(std::move(next.expr));
    }
    return Typed{std::move(node), SType::kBool};
  }

  // not_expr := 'not' not_expr | comparison
  Result<Typed> ParseNot() {
    if (!IsKeyword("not")) return ParseComparison();
    WARD_RETURN_IF_ERROR(Enter());
    WARD_RETURN_IF_ERROR(Advance());
    Typed operand;
    WARD_ASSIGN_OR_RETURN(operand, ParseNot());
    WARD_RETURN_IF_ERROR(RequireBool(operand, "not"));
    --depth_;
    auto node = MakeExpr(Expr::Kind::kNot);
    node->children.push_back(std::move(operand.expr));
    return Typed{std::move(node), SType::kBool};
  }

  static std::optional<Expr::Op> CompareOp(std::string_view w) {
    if (EqualsIgnoreCase(w, "eq")) return Expr::Op::kEq;
    if (EqualsIgnoreCase(w, "ne")) return Expr::Op::kNe;
    if (EqualsIgnoreCase(w, "gt")) return Expr::Op::kGt;
    if (EqualsIgnoreCase(w, "ge")) return Expr::Op::kGe;
    if (EqualsIgnoreCase(w, "lt")) return Expr::Op::kLt;
    if (EqualsIgnoreCase(w, "le")) return Expr::Op::kLe;
    return std::nullopt;
  }

  // comparison := primary [ cmp_op primary | 'in' '(' literal (',' literal)* ')' ]
  Result<Typed> ParseComparison() {
    Typed left;
    WARD_ASSIGN_OR_RETURN(left, ParsePrimary());
    if (cur_.kind != Tok::kIdent) return left;
    if (auto op = CompareOp(cur_.text)) {
      WARD_RETURN_IF_ERROR(Advance());
      Typed right;
      WARD_ASSIGN_OR_RETURN(right, ParsePrimary());
      WARD_RETURN_IF_ERROR(CheckCompare(left, right, *op));
      auto node = MakeExpr(Expr::Kind::kCompare);
      node->op = *op;
      node->children.push_back(std::move(left.expr));
      node->children.push_back(std::move(right.expr));
      return Typed{std::move(node), SType::kBool};
    }
    if (IsKeyword("in")) {
      WARD_RETURN_IF_ERROR(Advance());
      return ParseIn(std::move(left));
    }
    return left;
  }

  Result<Typed> ParseIn(Typed left) {
    if (left.expr->kind == Expr::Kind::kLiteral) return Err(Invalid("The left operand of 'in' must be a property"));
    WARD_RETURN_IF_ERROR(Expect(Tok::kLParen));
    auto node = MakeExpr(Expr::Kind::kIn);
    node->children.push_back(std::move(left.expr));
    while (true) {
      if (!IsLiteralToken()) return Err(Unexpected());
      Typed lit;
      WARD_ASSIGN_OR_RETURN(lit, ParseLiteralToken());
      if (!CoerceLiteral(lit, left.type)) {
        return Err(
            Invalid(Cat("Operator 'in' on '", Describe(*node->children[0]), "': ", TypeName(lit.type), " value ",
                        Describe(*lit.expr), " is incompatible with ", TypeName(left.type))));
      }
      node->children.push_back(std::move(lit.expr));
      if (cur_.kind == Tok::kComma) {
        WARD_RETURN_IF_ERROR(Advance());
        continue;
      }
      break;
    }
    WARD_RETURN_IF_ERROR(Expect(Tok::kRParen));
    return Typed{std::move(node), SType::kBool};
  }

  bool IsLiteralToken() const {
    switch (cur_.kind) {
      case Tok::kString:
      case Tok::kInt:
      case Tok::kDouble:
      case Tok::kDateTime:
      case Tok::kGuid: return true;
      case Tok::kIdent: return IsKeyword("true") || IsKeyword("false") || IsKeyword("null");
      default: return false;
    }
  }

  Result<Typed> ParseLiteralToken() {
    Typed lit;
    if (cur_.kind == Tok::kIdent) {
      auto e = MakeExpr(Expr::Kind::kLiteral);
      if (IsKeyword("null")) {
        lit = {std::move(e), SType::kNull};
      } else {
        e->literal = json::Value(IsKeyword("true"));
        lit = {std::move(e), SType::kBool};
      }
    } else {
      lit = MakeLiteral(cur_);
    }
    WARD_RETURN_IF_ERROR(Advance());
    return lit;
  }

  Status CheckCompare(Typed& left, Typed& right, Expr::Op op) {
    const bool ordering = op != Expr::Op::kEq && op != Expr::Op::kNe;
    const bool left_lit = left.expr->kind == Expr::Kind::kLiteral;
    const bool right_lit = right.expr->kind == Expr::Kind::kLiteral;
    // Coerce a literal side to the type of the other side ('2019-01-01' vs a datetime, '5' vs an int).
    if (right_lit && !left_lit) {
      if (!CoerceLiteral(right, left.type)) return Incompatible(left, right, op);
    } else if (left_lit && !right_lit) {
      if (!CoerceLiteral(left, right.type)) return Incompatible(left, right, op);
    }
    const SType a = left.type, b = right.type;
    if (a == SType::kNull || b == SType::kNull) {
      if (a == SType::kCollection || b == SType::kCollection) return Incompatible(left, right, op);
      return Status::Ok();  // ordering with null is allowed and evaluates to false
    }
    if (a == SType::kCollection || b == SType::kCollection) {
      // machineTags eq 'Prod' means "contains"; only eq/ne make sense.
      const SType other = a == SType::kCollection ? b : a;
      if (ordering || other != SType::kString) return Incompatible(left, right, op);
      return Status::Ok();
    }
    if (a == SType::kBool || b == SType::kBool) {
      if (a != b || ordering) return Incompatible(left, right, op);
      return Status::Ok();
    }
    if (IsNumeric(a) && IsNumeric(b)) return Status::Ok();
    if (a != b) return Incompatible(left, right, op);
    return Status::Ok();
  }

  static Status Incompatible(const Typed& left, const Typed& right, Expr::Op op) {
    static constexpr const char* kNames[] = {"eq", "ne", "gt", "ge", "lt", "le"};
    const char* name = kNames[static_cast<int>(op)];
    return Invalid(Cat("Operator '", name, "' is not compatible with operand types ", TypeName(left.type), " and ",
                       TypeName(right.type), " in '", Describe(*left.expr), " ", name, " ", Describe(*right.expr),
                       "'"));
  }

  static Status RequireBool(const Typed& t, std::string_view op) {
    if (t.type != SType::kBool) {
      return Invalid(Cat("Operator '", op, "' requires boolean operands, got ", TypeName(t.type)));
    }
    return Status::Ok();
  }

  // primary := '(' or_expr ')' | literal | func '(' args ')' | identifier [ '/' (any|all) '(' ... ')' ]
  Result<Typed> ParsePrimary() {
    if (cur_.kind == Tok::kLParen) {
      WARD_RETURN_IF_ERROR(Advance());
      Typed inner;
      WARD_ASSIGN_OR_RETURN(inner, ParseOr());
      WARD_RETURN_IF_ERROR(Expect(Tok::kRParen));
      return inner;
    }
    if (IsLiteralToken()) return ParseLiteralToken();
    if (cur_.kind != Tok::kIdent) return Err(Unexpected());

    std::string name = cur_.text;
    const size_t name_pos = cur_.pos;
    WARD_RETURN_IF_ERROR(Advance());
    if (cur_.kind == Tok::kLParen) return ParseCall(name, name_pos);

    // Lambda variables shadow properties; they are case-sensitive like in OData.
    for (auto it = lambda_vars_.rbegin(); it != lambda_vars_.rend(); ++it) {
      if (*it == name) {
        if (cur_.kind == Tok::kSlash) return Err(Invalid(Cat("Invalid path on lambda variable '", Echo(name), "'")));
        auto e = MakeExpr(Expr::Kind::kLambdaVar);
        e->name = name;
        return Typed{std::move(e), SType::kString};
      }
    }
    const Property* prop = schema_.Find(name);
    if (prop == nullptr) return Err(Invalid(Cat("Invalid property '", Echo(name), "'")));
    if (!prop->filterable) return Err(Invalid(Cat("Property '", prop->name, "' is not filterable")));
    auto e = MakeExpr(Expr::Kind::kProperty);
    e->name = prop->name;
    Typed typed{std::move(e), FromProperty(prop->type)};
    if (cur_.kind == Tok::kSlash) return ParseLambda(std::move(typed));
    return typed;
  }

  // collection '/' ('any'|'all') '(' [var ':' predicate] ')'
  Result<Typed> ParseLambda(Typed collection) {
    WARD_RETURN_IF_ERROR(Advance());  // '/'
    if (collection.type != SType::kCollection) {
      return Err(Invalid(Cat("Property '", collection.expr->name, "' is not a collection")));
    }
    if (cur_.kind != Tok::kIdent) return Err(Unexpected());
    const bool is_all = EqualsIgnoreCase(cur_.text, "all");
    if (!is_all && !EqualsIgnoreCase(cur_.text, "any")) {
      return Err(Invalid(Cat("Unsupported path segment '", Echo(cur_.text), "' after '", collection.expr->name, "'")));
    }
    WARD_RETURN_IF_ERROR(Advance());
    WARD_RETURN_IF_ERROR(Expect(Tok::kLParen));
    auto node = MakeExpr(Expr::Kind::kAny);
    node->children.push_back(std::move(collection.expr));
    if (cur_.kind == Tok::kRParen) {
      // any() is "non-empty"; all() is vacuously true.
      if (is_all) return Err(Invalid("all() requires a lambda expression"));
      WARD_RETURN_IF_ERROR(Advance());
      return Typed{std::move(node), SType::kBool};
    }
    if (cur_.kind != Tok::kIdent || IsLiteralToken()) return Err(Unexpected());
    std::string var = cur_.text;
    WARD_RETURN_IF_ERROR(Advance());
    WARD_RETURN_IF_ERROR(Expect(Tok::kColon));
    lambda_vars_.push_back(var);
    auto body = ParseOr();
    lambda_vars_.pop_back();
    if (!body) return Err(std::move(body).error());
    WARD_RETURN_IF_ERROR(RequireBool(*body, is_all ? "all" : "any"));
    WARD_RETURN_IF_ERROR(Expect(Tok::kRParen));
    node->name = var;
    if (!is_all) {
      node->children.push_back(std::move(body->expr));
      return Typed{std::move(node), SType::kBool};
    }
    // x/all(v: p) is rewritten as not x/any(v: not p), so the tree needs no separate kind.
    auto negated = MakeExpr(Expr::Kind::kNot);
    negated->children.push_back(std::move(body->expr));
    node->children.push_back(std::move(negated));
    auto outer = MakeExpr(Expr::Kind::kNot);
    outer->children.push_back(std::move(node));
    return Typed{std::move(outer), SType::kBool};
  }

  Result<Typed> ParseCall(const std::string& raw_name, size_t pos) {
    std::string fn;
    for (char c : raw_name) fn.push_back(ToLowerAscii(c));
    size_t arity;
    SType result;
    if (fn == "startswith" || fn == "endswith" || fn == "contains") {
      arity = 2;
      result = SType::kBool;
    } else if (fn == "tolower" || fn == "toupper") {
      arity = 1;
      result = SType::kString;
    } else {
      return Err(Invalid(Cat("Unknown function '", Echo(raw_name), "'")));
    }
    WARD_RETURN_IF_ERROR(Enter());
    WARD_RETURN_IF_ERROR(Advance());  // '('
    auto node = MakeExpr(Expr::Kind::kCall);
    node->name = fn;
    if (cur_.kind != Tok::kRParen) {
      while (true) {
        Typed arg;
        WARD_ASSIGN_OR_RETURN(arg, ParseComparisonOperand());
        if (arg.type != SType::kString) {
          return Err(Invalid(Cat("Function '", fn, "' requires Edm.String arguments, got ", TypeName(arg.type), " (",
                                 Describe(*arg.expr), ")")));
        }
        node->children.push_back(std::move(arg.expr));
        if (cur_.kind != Tok::kComma) break;
        WARD_RETURN_IF_ERROR(Advance());
      }
    }
    WARD_RETURN_IF_ERROR(Expect(Tok::kRParen));
    if (node->children.size() != arity) {
      return Err(Invalid(Cat("Function '", fn, "' takes ", arity, " argument(s)")));
    }
    --depth_;
    return Typed{std::move(node), result};
  }

  // Function arguments are value expressions (properties, literals, nested calls).
  Result<Typed> ParseComparisonOperand() { return ParsePrimary(); }

  Lexer lexer_;
  const EntitySchema& schema_;
  int max_depth_;
  int depth_ = 0;
  Token cur_;
  std::vector<std::string> lambda_vars_;
};

// ---------------------------------------------------------------------------------------------
// Evaluation

struct RValue {
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kDateTime, kCollection } kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;  // kInt, kDateTime (epoch ms)
  double d = 0;
  // kString: a view of the entity's or the literal's string (both outlive the evaluation), so that
  // filtering many entities copies nothing; `owned` holds computed strings (tolower/toupper).
  const std::string* ref = nullptr;
  std::string owned;
  const std::string& str() const { return ref ? *ref : owned; }
  const json::Value* collection = nullptr;
};

RValue FromJson(const json::Value* v, PropertyType type) {
  RValue r;
  if (v == nullptr || v->is_null()) return r;
  switch (type) {
    case PropertyType::kDateTime:
      if (v->is_string()) {
        if (auto ms = ParseDateTimeMs(v->as_string())) {
          r.kind = RValue::Kind::kDateTime;
          r.i = *ms;
        }
      } else if (v->is_int()) {  // stored as epoch ms
        r.kind = RValue::Kind::kDateTime;
        r.i = v->as_int();
      }
      return r;
    case PropertyType::kStringCollection:
      if (v->is_array()) {
        r.kind = RValue::Kind::kCollection;
        r.collection = v;
      }
      return r;
    default: break;
  }
  switch (v->type()) {
    case json::Type::kBool:
      r.kind = RValue::Kind::kBool;
      r.b = v->as_bool();
      break;
    case json::Type::kInt:
      r.kind = RValue::Kind::kInt;
      r.i = v->as_int();
      break;
    case json::Type::kDouble:
      r.kind = RValue::Kind::kDouble;
      r.d = v->as_double();
      break;
    case json::Type::kString:
      r.kind = RValue::Kind::kString;
      r.ref = &v->as_string();
      // Numeric properties that an entity happens to hold as strings still compare numerically.
      if (type == PropertyType::kInt || type == PropertyType::kDouble) {
        const std::string& s = r.str();
        int64_t iv;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), iv);
        if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) {
          r.kind = RValue::Kind::kInt;
          r.i = iv;
        }
      }
      break;
    default: break;  // arrays/objects: treated as null
  }
  return r;
}

const Property* FindProperty(const EntitySchema& schema, const std::string& name) {
  for (const auto& p : schema.properties) {
    if (p.name == name) return &p;
  }
  return schema.Find(name);
}

using Scope = std::vector<std::pair<const std::string*, const json::Value*>>;

class Evaluator {
 public:
  Evaluator(const json::Value& entity, const EntitySchema& schema) : entity_(entity), schema_(schema) {}

  bool Test(const Expr& e) {
    RValue v = Eval(e);
    return v.kind == RValue::Kind::kBool && v.b;
  }

  RValue Eval(const Expr& e) {
    RValue r;
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        if (e.literal_is_datetime) {
          r.kind = RValue::Kind::kDateTime;
          r.i = e.literal.as_int();
          return r;
        }
        return FromJson(&e.literal, PropertyType::kString);
      case Expr::Kind::kProperty: {
        const Property* p = FindProperty(schema_, e.name);
        if (p == nullptr) return r;
        return FromJson(entity_.Find(p->name), p->type);
      }
      case Expr::Kind::kLambdaVar:
        for (auto it = scope_.rbegin(); it != scope_.rend(); ++it) {
          if (*it->first == e.name) return FromJson(it->second, PropertyType::kString);
        }
        return r;
      case Expr::Kind::kCompare:
        if (e.children.size() != 2) return Bool(false);
        return Bool(Compare(Eval(*e.children[0]), Eval(*e.children[1]), e.op));
      case Expr::Kind::kAnd:
        for (const auto& c : e.children) {
          if (!Test(*c)) return Bool(false);
        }
        return Bool(true);
      case Expr::Kind::kOr:
        for (const auto& c : e.children) {
          if (Test(*c)) return Bool(true);
        }
        return Bool(false);
      case Expr::Kind::kNot:
        if (e.children.empty()) return Bool(false);
        return Bool(!Test(*e.children[0]));
      case Expr::Kind::kIn: {
        if (e.children.empty()) return Bool(false);
        RValue left = Eval(*e.children[0]);
        for (size_t i = 1; i < e.children.size(); ++i) {
          if (Compare(left, Eval(*e.children[i]), Expr::Op::kEq)) return Bool(true);
        }
        return Bool(false);
      }
      case Expr::Kind::kCall: return Call(e);
      case Expr::Kind::kAny: {
        if (e.children.empty()) return Bool(false);
        RValue coll = Eval(*e.children[0]);
        if (coll.kind != RValue::Kind::kCollection) return Bool(false);
        const auto& items = coll.collection->items();
        if (e.children.size() < 2) return Bool(!items.empty());
        for (const auto& item : items) {
          scope_.emplace_back(&e.name, &item);
          const bool ok = Test(*e.children[1]);
          scope_.pop_back();
          if (ok) return Bool(true);
        }
        return Bool(false);
      }
    }
    return r;
  }

 private:
  static RValue Bool(bool b) {
    RValue r;
    r.kind = RValue::Kind::kBool;
    r.b = b;
    return r;
  }

  RValue Call(const Expr& e) {
    // The functions take one or two arguments; no allocation per entity.
    if (e.children.empty() || e.children.size() > 2) return Bool(false);
    std::array<RValue, 2> args;
    for (size_t k = 0; k < e.children.size(); ++k) args[k] = Eval(*e.children[k]);
    if (e.name == "tolower" || e.name == "toupper") {
      if (e.children.size() != 1 || args[0].kind != RValue::Kind::kString) return RValue{};
      RValue r;
      r.kind = RValue::Kind::kString;
      r.owned = args[0].str();
      for (char& c : r.owned) c = e.name == "tolower" ? ToLowerAscii(c) : ToUpperAscii(c);
      return r;
    }
    if (e.children.size() != 2 || args[0].kind != RValue::Kind::kString || args[1].kind != RValue::Kind::kString) {
      return Bool(false);
    }
    const std::string_view hay = args[0].str(), needle = args[1].str();
    if (e.name == "startswith") return Bool(hay.starts_with(needle));
    if (e.name == "endswith") return Bool(hay.ends_with(needle));
    if (e.name == "contains") return Bool(hay.find(needle) != std::string_view::npos);
    return Bool(false);
  }

  static bool Compare(const RValue& a, const RValue& b, Expr::Op op) {
    using K = RValue::Kind;
    const bool eq_op = op == Expr::Op::kEq, ne_op = op == Expr::Op::kNe;
    if (a.kind == K::kNull || b.kind == K::kNull) {
      const bool both = a.kind == K::kNull && b.kind == K::kNull;
      if (eq_op) return both;
      if (ne_op) return !both;
      return false;
    }
    if (a.kind == K::kCollection || b.kind == K::kCollection) {
      const RValue& coll = a.kind == K::kCollection ? a : b;
      const RValue& item = a.kind == K::kCollection ? b : a;
      if (item.kind != K::kString || (!eq_op && !ne_op)) return false;
      bool found = false;
      for (const auto& v : coll.collection->items()) {
        if (v.is_string() && v.as_string() == item.str()) {
          found = true;
          break;
        }
      }
      return eq_op ? found : !found;
    }
    int cmp;
    if ((a.kind == K::kInt || a.kind == K::kDouble) && (b.kind == K::kInt || b.kind == K::kDouble)) {
      if (a.kind == K::kInt && b.kind == K::kInt) {
        cmp = a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
      } else {
        const double x = a.kind == K::kInt ? static_cast<double>(a.i) : a.d;
        const double y = b.kind == K::kInt ? static_cast<double>(b.i) : b.d;
        if (std::isnan(x) || std::isnan(y)) return ne_op;
        cmp = x < y ? -1 : (x > y ? 1 : 0);
      }
    } else if (a.kind != b.kind) {
      return ne_op;  // incomparable at run time (entity data of an unexpected type)
    } else if (a.kind == K::kString) {
      const int c = a.str().compare(b.str());
      cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
    } else if (a.kind == K::kDateTime) {
      cmp = a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    } else if (a.kind == K::kBool) {
      cmp = static_cast<int>(a.b) - static_cast<int>(b.b);
    } else {
      return ne_op;
    }
    switch (op) {
      case Expr::Op::kEq: return cmp == 0;
      case Expr::Op::kNe: return cmp != 0;
      case Expr::Op::kGt: return cmp > 0;
      case Expr::Op::kGe: return cmp >= 0;
      case Expr::Op::kLt: return cmp < 0;
      case Expr::Op::kLe: return cmp <= 0;
    }
    return false;
  }

  const json::Value& entity_;
  const EntitySchema& schema_;
  Scope scope_;
};

// Orders two property values for $orderby: nulls first, then by value; mixed kinds by kind rank.
int OrderCompare(const RValue& a, const RValue& b) {
  using K = RValue::Kind;
  auto rank = [](K k) {
    switch (k) {
      case K::kNull: return 0;
      case K::kBool: return 1;
      case K::kInt:
      case K::kDouble: return 2;
      case K::kDateTime: return 3;
      case K::kString: return 4;
      case K::kCollection: return 5;
    }
    return 6;
  };
  const int ra = rank(a.kind), rb = rank(b.kind);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a.kind) {
    case K::kNull:
    case K::kCollection: return 0;
    case K::kBool: return static_cast<int>(a.b) - static_cast<int>(b.b);
    case K::kInt:
    case K::kDouble:
      if (a.kind == K::kInt && b.kind == K::kInt)
        return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
      else {
        const double x = a.kind == K::kInt ? static_cast<double>(a.i) : a.d;
        const double y = b.kind == K::kInt ? static_cast<double>(b.i) : b.d;
        // NaN sorts before all numbers so the order stays a strict weak order.
        if (std::isnan(x) || std::isnan(y)) return std::isnan(x) == std::isnan(y) ? 0 : (std::isnan(x) ? -1 : 1);
        return x < y ? -1 : (x > y ? 1 : 0);
      }
    case K::kDateTime: return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    case K::kString: {
      const int c = a.str().compare(b.str());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Query string

Result<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size() || !IsHex(in[i + 1]) || !IsHex(in[i + 2]))
        return Err(Invalid("Invalid percent-encoding in query string"));
      auto hex = [](char h) { return IsDigit(h) ? h - '0' : ToLowerAscii(h) - 'a' + 10; };
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  if (!IsValidUtf8(out)) return Err(Invalid("Query string is not valid UTF-8"));
  return out;
}

Result<int64_t> ParseNonNegative(std::string_view option, std::string_view value) {
  const std::string_view v = Trim(value);
  if (v.empty()) return Err(Invalid(Cat("Invalid value for ", option, ": empty")));
  for (char c : v) {
    if (!IsDigit(c))
      return Err(Invalid(Cat("Invalid value '", Echo(v), "' for ", option, ": expected a non-negative integer")));
  }
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return Err(Invalid(Cat("Invalid value '", Echo(v), "' for ", option, ": out of range")));
  }
  return n;
}

std::vector<std::string_view> SplitComma(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    parts.push_back(Trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

Status ParseOrderBy(std::string_view value, const EntitySchema& schema, std::vector<Query::Order>& out) {
  for (std::string_view item : SplitComma(value)) {
    if (item.empty()) return Invalid("Invalid $orderby: empty item");
    size_t sp = 0;
    while (sp < item.size() && !IsSpace(item[sp])) ++sp;
    const std::string_view name = item.substr(0, sp);
    const std::string_view dir = Trim(item.substr(sp));
    const Property* p = schema.Find(name);
    if (p == nullptr) return Invalid(Cat("Invalid property '", Echo(name), "'"));
    if (!p->sortable || p->type == PropertyType::kStringCollection) {
      return Invalid(Cat("Property '", p->name, "' is not sortable"));
    }
    Query::Order order{p->name, false};
    if (EqualsIgnoreCase(dir, "desc")) {
      order.descending = true;
    } else if (!dir.empty() && !EqualsIgnoreCase(dir, "asc")) {
      return Invalid(Cat("Invalid $orderby direction '", Echo(dir), "'"));
    }
    out.push_back(std::move(order));
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const Property* EntitySchema::Find(std::string_view name) const {
  for (const auto& p : properties) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
}

std::optional<int64_t> ParseDateTimeMs(std::string_view s) { return ParseIsoMs(s); }

std::string FormatDateTimeMs(int64_t epoch_ms) { return FormatIsoMs(epoch_ms); }

Result<std::unique_ptr<Expr>> ParseFilter(std::string_view text, const EntitySchema& schema, int max_depth) {
  if (text.size() > kHardMaxFilterBytes) return Err(Invalid("$filter expression is too long"));
  if (!IsValidUtf8(text)) return Err(Invalid("$filter expression is not valid UTF-8"));
  Parser parser(text, schema, max_depth);
  return parser.Run();
}

Result<Query> ParseQuery(std::string_view raw_query, const EntitySchema& schema, const QueryLimits& limits) {
  // Percent-encoding can triple the size of a filter; anything beyond that is not a real query.
  if (raw_query.size() > limits.max_filter_length * 3 + 4096) return Err(Invalid("Query string is too long"));
  if (!raw_query.empty() && raw_query.front() == '?') raw_query.remove_prefix(1);

  Query q;
  bool seen_filter = false, seen_top = false, seen_skip = false, seen_orderby = false, seen_select = false,
       seen_expand = false, seen_count = false;
  auto once = [](bool& seen, std::string_view name) -> Status {
    if (seen) return Invalid(Cat("Query option '", name, "' was specified more than once"));
    seen = true;
    return Status::Ok();
  };

  size_t start = 0;
  while (start <= raw_query.size()) {
    size_t amp = raw_query.find('&', start);
    if (amp == std::string_view::npos) amp = raw_query.size();
    const std::string_view part = raw_query.substr(start, amp - start);
    start = amp + 1;
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string key, value;
    WARD_ASSIGN_OR_RETURN(key, PercentDecode(part.substr(0, eq)));
    if (key.empty() || key.front() != '$') continue;  // route parameters are not ours
    if (eq != std::string_view::npos) {
      WARD_ASSIGN_OR_RETURN(value, PercentDecode(part.substr(eq + 1)));
    }
    std::string lower;
    for (char c : key) lower.push_back(ToLowerAscii(c));

    if (lower == "$filter") {
      WARD_RETURN_IF_ERROR(once(seen_filter, "$filter"));
      if (value.size() > limits.max_filter_length) return Err(Invalid("$filter expression is too long"));
      if (Trim(value).empty()) return Err(Invalid("Empty $filter expression"));
      WARD_ASSIGN_OR_RETURN(q.filter, ParseFilter(value, schema, limits.max_depth));
    } else if (lower == "$top") {
      WARD_RETURN_IF_ERROR(once(seen_top, "$top"));
      int64_t top;
      WARD_ASSIGN_OR_RETURN(top, ParseNonNegative("$top", value));
      if (top > limits.max_top) {
        return Err(Invalid(Cat("Invalid value for $top: ", top, " exceeds the maximum of ", limits.max_top)));
      }
      q.top = top;
    } else if (lower == "$skip") {
      WARD_RETURN_IF_ERROR(once(seen_skip, "$skip"));
      WARD_ASSIGN_OR_RETURN(q.skip, ParseNonNegative("$skip", value));
    } else if (lower == "$count") {
      WARD_RETURN_IF_ERROR(once(seen_count, "$count"));
      const std::string_view v = Trim(value);
      if (EqualsIgnoreCase(v, "true"))
        q.count = true;
      else if (EqualsIgnoreCase(v, "false"))
        q.count = false;
      else
        return Err(Invalid(Cat("Invalid value '", Echo(v), "' for $count: expected true or false")));
    } else if (lower == "$orderby") {
      WARD_RETURN_IF_ERROR(once(seen_orderby, "$orderby"));
      WARD_RETURN_IF_ERROR(ParseOrderBy(value, schema, q.orderby));
    } else if (lower == "$select") {
      WARD_RETURN_IF_ERROR(once(seen_select, "$select"));
      bool star = false;
      for (std::string_view item : SplitComma(value)) {
        if (item.empty()) return Err(Invalid("Invalid $select: empty item"));
        if (item == "*") {
          star = true;
          continue;
        }
        const Property* p = schema.Find(item);
        if (p == nullptr) return Err(Invalid(Cat("Invalid property '", Echo(item), "'")));
        if (std::find(q.select.begin(), q.select.end(), p->name) == q.select.end()) q.select.push_back(p->name);
      }
      if (star) q.select.clear();  // '*' selects everything, which is the default
    } else if (lower == "$expand") {
      WARD_RETURN_IF_ERROR(once(seen_expand, "$expand"));
      for (std::string_view item : SplitComma(value)) {
        if (item.empty()) return Err(Invalid("Invalid $expand: empty item"));
        q.expand.emplace_back(item);
      }
    } else {
      return Err(Invalid(Cat("Query option '", Echo(key), "' is not supported")));
    }
  }
  return q;
}

bool Matches(const Expr& filter, const json::Value& entity, const EntitySchema& schema) {
  Evaluator ev(entity, schema);
  return ev.Test(filter);
}

void Apply(const Query& query, const EntitySchema& schema, std::vector<json::Value>& entities) {
  if (query.filter) {
    std::erase_if(entities, [&](const json::Value& e) { return !Matches(*query.filter, e, schema); });
  }
  if (!query.orderby.empty()) {
    // Resolve sort keys once per entity rather than once per comparison.
    std::vector<const Property*> props;
    for (const auto& o : query.orderby) props.push_back(FindProperty(schema, o.property));
    std::vector<std::pair<std::vector<RValue>, size_t>> keyed;
    keyed.reserve(entities.size());
    for (size_t i = 0; i < entities.size(); ++i) {
      std::vector<RValue> keys;
      for (const Property* p : props) {
        keys.push_back(p == nullptr ? RValue{} : FromJson(entities[i].Find(p->name), p->type));
      }
      keyed.emplace_back(std::move(keys), i);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      for (size_t k = 0; k < props.size(); ++k) {
        int c = OrderCompare(a.first[k], b.first[k]);
        if (query.orderby[k].descending) c = -c;
        if (c != 0) return c < 0;
      }
      return false;
    });
    std::vector<json::Value> sorted;
    sorted.reserve(entities.size());
    for (auto& [keys, idx] : keyed) sorted.push_back(std::move(entities[idx]));
    entities = std::move(sorted);
  }
  const auto skip = static_cast<uint64_t>(std::max<int64_t>(query.skip, 0));
  if (skip >= entities.size()) {
    entities.clear();
  } else if (skip > 0) {
    entities.erase(entities.begin(), entities.begin() + static_cast<std::ptrdiff_t>(skip));
  }
  if (query.top && static_cast<uint64_t>(std::max<int64_t>(*query.top, 0)) < entities.size()) {
    entities.resize(static_cast<size_t>(std::max<int64_t>(*query.top, 0)));
  }
}

}  // namespace ward::odata
