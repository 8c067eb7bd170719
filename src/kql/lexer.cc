#include "kql/lexer.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "common/time.h"
#include "kql/value.h"

namespace ward::kql {
namespace {

constexpr int64_t kTicksPerDay = 86400 * kTicksPerSecond;
constexpr int64_t kMaxTimespanDays = 10'000'000;  // int64 ticks hold about 10.67 million days

// Length in bytes of the Unicode whitespace sequence at p (0 = none). Kusto's TextFacts.IsWhitespace.
size_t UnicodeSpaceLen(std::string_view s, size_t p) {
  auto b = [&](size_t k) { return p + k < s.size() ? static_cast<unsigned char>(s[p + k]) : 0u; };
  const unsigned c = b(0);
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') return 1;
  if (c == 0xC2 && (b(1) == 0xA0 || b(1) == 0x85)) return 2;
  if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) return 3;  // U+1680
  if (c == 0xE2 && b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x8B) || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF)) return 3;
  if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000
  if (c == 0xEF && b(1) == 0xBB && b(2) == 0xBF) return 3;  // U+FEFF
  return 0;
}

bool IdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c == '$'; }
bool IdentChar(unsigned char c) { return std::isalnum(c) || c == '_'; }

struct UnitDef {
  const char* name;
  int64_t ticks;
};
constexpr UnitDef kUnits[] = {
    {"d", kTicksPerDay}, {"day", kTicksPerDay}, {"days", kTicksPerDay},
    {"h", 3600 * kTicksPerSecond}, {"hr", 3600 * kTicksPerSecond}, {"hrs", 3600 * kTicksPerSecond},
    {"hour", 3600 * kTicksPerSecond}, {"hours", 3600 * kTicksPerSecond},
    {"m", 60 * kTicksPerSecond}, {"min", 60 * kTicksPerSecond}, {"minute", 60 * kTicksPerSecond}, {"minutes", 60 * kTicksPerSecond},
    {"s", kTicksPerSecond}, {"sec", kTicksPerSecond}, {"second", kTicksPerSecond}, {"seconds", kTicksPerSecond},
    {"ms", kTicksPerMillisecond}, {"milli", kTicksPerMillisecond}, {"millis", kTicksPerMillisecond},
    {"millisec", kTicksPerMillisecond}, {"millisecond", kTicksPerMillisecond}, {"milliseconds", kTicksPerMillisecond},
    {"micro", 10}, {"micros", 10}, {"microsec", 10}, {"microsecond", 10}, {"microseconds", 10},
    {"tick", 1}, {"ticks", 1},
};

class Lexer {
 public:
  Lexer(std::string_view s, SyntaxError* err) : s_(s), err_(err) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> out;
    while (true) {
      SkipSpace();
      if (failed_) return Fail();
      Token t;
      t.pos = PosAt(p_);
      if (p_ >= s_.size()) {
        t.kind = TokenKind::kEnd;
        t.end = p_;
        out.push_back(std::move(t));
        return out;
      }
      if (!Next(t, out)) return Fail();
      t.end = p_;
      out.push_back(std::move(t));
    }
  }

 private:
  std::unexpected<Status> Fail() {
    if (err_) *err_ = error_;
    return Err(InvalidArgument("Syntax error: " + error_.message + " (line " + std::to_string(error_.pos.line) + ", column " +
                               std::to_string(error_.pos.column) + ")"));
  }
  bool Error(size_t at, std::string msg) {
    error_.pos = PosAt(at);
    error_.message = std::move(msg);
    failed_ = true;
    return false;
  }

  // Positions are computed incrementally: tokens are produced in order.
  Pos PosAt(size_t off) {
    if (off < pos_off_) pos_off_ = 0, line_ = 1, col_ = 1;
    for (; pos_off_ < off && pos_off_ < s_.size(); ++pos_off_) {
      const unsigned char c = s_[pos_off_];
      if (c == '\n') ++line_, col_ = 1;
      else if ((c & 0xC0) != 0x80) ++col_;
    }
    return Pos{line_, col_, off};
  }

  void SkipSpace() {
    while (p_ < s_.size()) {
      if (size_t n = UnicodeSpaceLen(s_, p_)) {
        p_ += n;
      } else if (s_[p_] == '/' && p_ + 1 < s_.size() && s_[p_ + 1] == '/') {
        while (p_ < s_.size() && s_[p_] != '\n') ++p_;
      } else {
        return;
      }
    }
  }

  bool Next(Token& t, std::vector<Token>& out) {
    const unsigned char c = s_[p_];
    // Obfuscated strings h"…" / h@"…": same value as the plain literal.
    if ((c == 'h' || c == 'H') && p_ + 1 < s_.size() &&
        (s_[p_ + 1] == '"' || s_[p_ + 1] == '\'' || (s_[p_ + 1] == '@' && p_ + 2 < s_.size() && (s_[p_ + 2] == '"' || s_[p_ + 2] == '\'')))) {
      ++p_;
      return String(t);
    }
    if (c == '"' || c == '\'' || (c == '@' && p_ + 1 < s_.size() && (s_[p_ + 1] == '"' || s_[p_ + 1] == '\''))) return String(t);
    if (c == '`' && s_.substr(p_, 3) == "```") return MultiLine(t);
    if (IdentStart(c)) {
      size_t b = p_;
      ++p_;
      while (p_ < s_.size() && IdentChar(static_cast<unsigned char>(s_[p_]))) ++p_;
      t.kind = TokenKind::kIdent;
      t.text = std::string(s_.substr(b, p_ - b));
      // datetime(…), timespan(…), time(…): contents are not KQL tokens.
      if (t.text == "datetime" || t.text == "timespan" || t.text == "time") {
        size_t q = p_;
        while (q < s_.size() && UnicodeSpaceLen(s_, q)) q += UnicodeSpaceLen(s_, q);
        if (q < s_.size() && s_[q] == '(') {
          size_t close = s_.find(')', q);
          if (close == std::string_view::npos) return Error(q, "Expected: )");
          t.end = p_;
          out.push_back(t);
          Token raw;
          raw.kind = TokenKind::kRawParen;
          raw.pos = PosAt(q);
          raw.text = std::string(s_.substr(q + 1, close - q - 1));
          p_ = close + 1;
          t = std::move(raw);
        }
      }
      return true;
    }
    if (std::isdigit(c) || (c == '.' && p_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_ + 1])) &&
                            !(p_ > 0 && s_[p_ - 1] == '.'))) {
      return Number(t);
    }
    static const char* kTwo[] = {"==", "!=", "=~", "!~", "<=", ">=", "<>", "..", "=>"};
    for (const char* op : kTwo) {
      if (s_.substr(p_, 2) == op) {
        t.kind = TokenKind::kPunct;
        t.text = op;
        p_ += 2;
        return true;
      }
    }
    if (std::strchr("|()[]{},;=<>+-*/%.:!~@?#", c) != nullptr && c != 0) {
      t.kind = TokenKind::kPunct;
      t.text = std::string(1, static_cast<char>(c));
      ++p_;
      return true;
    }
    return Error(p_, "Unexpected character '" + std::string(s_.substr(p_, (c & 0x80) ? std::min<size_t>(4, s_.size() - p_) : 1)) + "'");
  }

  bool Number(Token& t) {
    size_t b = p_;
    bool real = false;
    if (s_.substr(p_, 2) == "0x" || s_.substr(p_, 2) == "0X") {
      p_ += 2;
      size_t hb = p_;
      while (p_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
      if (p_ == hb) return Error(b, "Invalid hexadecimal literal");
      // from_chars, not stoull: more than 64 bits is an error value here, not an exception.
      unsigned long long v = 0;
      auto [end, ec] = std::from_chars(s_.data() + hb, s_.data() + p_, v, 16);
      if (ec != std::errc() || end != s_.data() + p_) return Error(b, "Hexadecimal literal '" + std::string(s_.substr(b, p_ - b)) + "' is out of range");
      t.kind = TokenKind::kLong;
      t.i = static_cast<int64_t>(v);  // 0x8000000000000000 and up are negative longs, as in Kusto
      return true;
    }
    while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    if (p_ < s_.size() && s_[p_] == '.' && !(p_ + 1 < s_.size() && s_[p_ + 1] == '.')) {
      real = true;
      ++p_;
      while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      size_t q = p_ + 1;
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
      if (q < s_.size() && std::isdigit(static_cast<unsigned char>(s_[q]))) {
        real = true;
        p_ = q;
        while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
      }
    }
    const std::string num(s_.substr(b, p_ - b));
    if (p_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[p_]))) {
      size_t ub = p_;
      while (p_ < s_.size() && IdentChar(static_cast<unsigned char>(s_[p_]))) ++p_;
      int64_t unit = TimespanUnitTicks(s_.substr(ub, p_ - ub));
      if (unit < 0) return Error(b, "Invalid literal '" + std::string(s_.substr(b, p_ - b)) + "'");
      t.kind = TokenKind::kTimespan;
      // llround of a value outside int64 is unspecified (glibc gives INT64_MIN): refuse it instead.
      const double ticks = std::strtod(num.c_str(), nullptr) * static_cast<double>(unit);
      if (!(ticks < 9.2e18)) return Error(b, "Timespan literal '" + std::string(s_.substr(b, p_ - b)) + "' is out of range");
      t.i = static_cast<int64_t>(std::llround(ticks));
      return true;
    }
    if (real) {
      t.kind = TokenKind::kReal;
      t.r = std::strtod(num.c_str(), nullptr);
    } else {
      errno = 0;
      t.kind = TokenKind::kLong;
      char* endp = nullptr;
      unsigned long long v = std::strtoull(num.c_str(), &endp, 10);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
        t.kind = TokenKind::kReal;
        t.r = std::strtod(num.c_str(), nullptr);
      } else {
        t.i = static_cast<int64_t>(v);
      }
    }
    return true;
  }

  bool MultiLine(Token& t) {
    size_t b = p_;
    size_t close = s_.find("```", p_ + 3);
    if (close == std::string_view::npos) return Error(b, "Unterminated multi-line string literal");
    t.kind = TokenKind::kString;
    t.text = std::string(s_.substr(p_ + 3, close - p_ - 3));
    p_ = close + 3;
    return true;
  }

  bool String(Token& t) {
    size_t b = p_;
    bool verbatim = false;
    if (s_[p_] == '@') verbatim = true, ++p_;
    const char q = s_[p_++];
    t.kind = TokenKind::kString;
    std::string& v = t.text;
    while (true) {
      if (p_ >= s_.size() || s_[p_] == '\n') return Error(b, "Unterminated string literal");
      char c = s_[p_];
      if (c == q) {
        if (verbatim && p_ + 1 < s_.size() && s_[p_ + 1] == q) {
          v += q;
          p_ += 2;
          continue;
        }
        ++p_;
        return true;
      }
      if (c == '\\' && !verbatim) {
        if (p_ + 1 >= s_.size()) return Error(b, "Unterminated string literal");
        char e = s_[p_ + 1];
        p_ += 2;
        switch (e) {
          case '\\': v += '\\'; break;
          case '"': v += '"'; break;
          case '\'': v += '\''; break;
          case 'a': v += '\a'; break;
          case 'b': v += '\b'; break;
          case 'f': v += '\f'; break;
          case 'n': v += '\n'; break;
          case 'r': v += '\r'; break;
          case 't': v += '\t'; break;
          case 'v': v += '\v'; break;
          case 'x': case 'u': case 'U': {
            size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (p_ + digits > s_.size()) return Error(p_ - 2, "Invalid escape sequence");
            uint32_t cp = 0;
            for (size_t k = 0; k < digits; ++k) {
              char h = s_[p_ + k];
              if (!std::isxdigit(static_cast<unsigned char>(h))) return Error(p_ - 2, "Invalid escape sequence");
              cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
            }
            p_ += digits;
            AppendUtf8(v, cp);
            break;
          }
          default:
            if (e >= '0' && e <= '7') {
              uint32_t cp = static_cast<uint32_t>(e - '0');
              for (int k = 0; k < 2 && p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '7'; ++k) cp = cp * 8 + static_cast<uint32_t>(s_[p_++] - '0');
              AppendUtf8(v, cp);
              break;
            }
            return Error(p_ - 2, std::string("Invalid escape sequence '\\") + e + "' in string literal (use @\"...\" for verbatim strings)");
        }
        continue;
      }
      v += c;
      ++p_;
    }
  }



  std::string_view s_;
  SyntaxError* err_;
  SyntaxError error_;
  bool failed_ = false;
  size_t p_ = 0;
  size_t pos_off_ = 0;
  int line_ = 1, col_ = 1;
};

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

int64_t TimespanUnitTicks(std::string_view unit) {
  for (const UnitDef& u : kUnits) {
    if (unit == u.name) return u.ticks;
  }
  if (unit == "nano" || unit == "nanos" || unit == "nanosec" || unit == "nanosecond" || unit == "nanoseconds") return 0;  // < 1 tick
  return -1;
}

bool ParseDateTimeText(std::string_view text, int64_t* ticks) {
  text = TrimSpace(text);
  std::string t(text);
  // US style "MM/DD/YYYY[ HH:MM:SS]" (accepted by Kusto's datetime parser).
  int mo = 0, d = 0, y = 0, consumed = 0;
  if (std::sscanf(t.c_str(), "%d/%d/%d%n", &mo, &d, &y, &consumed) == 3 && y > 999) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, mo, d);
    t = buf + t.substr(static_cast<size_t>(consumed));
  }
  // Kusto accepts a space between date and time.
  if (t.size() > 10 && t[10] == ' ') t[10] = 'T';
  auto v = ParseIsoTicks(t);
  if (!v) return false;
  *ticks = *v;
  return true;
}

bool ParseTimespanText(std::string_view text, int64_t* ticks) {
  text = TrimSpace(text);
  if (text.empty()) return false;
  bool neg = false;
  if (text.front() == '-') neg = true, text.remove_prefix(1);
  // Number + unit (timespan(5m)).
  size_t k = 0;
  while (k < text.size() && (std::isdigit(static_cast<unsigned char>(text[k])) || text[k] == '.')) ++k;
  if (k > 0 && k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) {
    int64_t unit = TimespanUnitTicks(text.substr(k));
    if (unit < 0) return false;
    *ticks = static_cast<int64_t>(std::llround(std::strtod(std::string(text.substr(0, k)).c_str(), nullptr) * static_cast<double>(unit)));
    if (neg) *ticks = -*ticks;
    return true;
  }
  // [d.]hh:mm[:ss[.fffffff]]
  int64_t days = 0;
  std::string_view rest = text;
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    // Plain number = days.
    char* e = nullptr;
    std::string s(rest);
    double d = std::strtod(s.c_str(), &e);
    if (e == s.c_str() || *e) return false;
    if (!(std::fabs(d) < kMaxTimespanDays)) return false;  // beyond a timespan's range (or NaN)
    *ticks = static_cast<int64_t>(std::llround(d * static_cast<double>(kTicksPerDay)));
    if (neg) *ticks = -*ticks;
    return true;
  }
  size_t dot = rest.find('.');
  if (dot != std::string_view::npos && dot < colon) {
    days = std::strtoll(std::string(rest.substr(0, dot)).c_str(), nullptr, 10);
    rest = rest.substr(dot + 1);
  }
  int h = 0, m = 0;
  double sec = 0;
  std::string s(rest);
  int n = std::sscanf(s.c_str(), "%d:%d:%lf", &h, &m, &sec);
  if (n < 2) return false;
  // hh:mm:ss within a day, days within a timespan's range: no overflow below.
  if (days < 0 || days >= kMaxTimespanDays || h < 0 || h > 23 || m < 0 || m > 59 || !(sec >= 0 && sec < 60)) return false;
  *ticks = days * kTicksPerDay + static_cast<int64_t>(h) * 3600 * kTicksPerSecond + static_cast<int64_t>(m) * 60 * kTicksPerSecond +
           static_cast<int64_t>(std::llround(sec * kTicksPerSecond));
  if (neg) *ticks = -*ticks;
  return true;
}

Result<std::vector<Token>> Lex(std::string_view text, SyntaxError* error) { return Lexer(text, error).Run(); }

}  // namespace ward::kql
