// Sigma value semantics that need no library: wildcards, CIDR ranges, the base64/windash encodings
// and the condition language.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "detect/sigma_rule.h"

namespace ward::detect::sigma_internal {

Glob ParseGlob(std::string_view value) {
  Glob glob;
  auto literal = [&](char c) {
    if (glob.empty() || glob.back().kind != GlobPiece::kLiteral) glob.push_back({GlobPiece::kLiteral, ""});
    glob.back().text.push_back(c);
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size() && (value[i + 1] == '*' || value[i + 1] == '?' || value[i + 1] == '\\')) {
      literal(value[++i]);
    } else if (c == '*') {
      // Consecutive stars are one star: keeps regexes and witnesses simple.
      if (glob.empty() || glob.back().kind != GlobPiece::kStar) glob.push_back({GlobPiece::kStar, ""});
    } else if (c == '?') {
      glob.push_back({GlobPiece::kQuestion, ""});
    } else {
      literal(c);
    }
  }
  return glob;
}

namespace {

bool CharEq(char a, char b, bool case_sensitive) {
  if (case_sensitive) return a == b;
  return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

// Flattened glob: a literal char, or -1 for '*', -2 for '?'.
bool MatchFrom(const std::vector<int>& g, size_t gi, std::string_view s, size_t si, bool cs) {
  // Iterative star backtracking (linear in practice, no recursion depth issues).
  size_t star_g = std::string::npos, star_s = 0;
  while (si < s.size()) {
    if (gi < g.size() && g[gi] == -2) {
      ++gi, ++si;
    } else if (gi < g.size() && g[gi] == -1) {
      star_g = gi++, star_s = si;
    } else if (gi < g.size() && CharEq(static_cast<char>(g[gi]), s[si], cs)) {
      ++gi, ++si;
    } else if (star_g != std::string::npos) {
      gi = star_g + 1, si = ++star_s;
    } else {
      return false;
    }
  }
  while (gi < g.size() && g[gi] == -1) ++gi;
  return gi == g.size();
}

}  // namespace

bool GlobMatches(const Glob& glob, std::string_view text, bool case_sensitive) {
  std::vector<int> flat;
  for (const GlobPiece& p : glob) {
    if (p.kind == GlobPiece::kStar) flat.push_back(-1);
    else if (p.kind == GlobPiece::kQuestion) flat.push_back(-2);
    else for (char c : p.text) flat.push_back(static_cast<unsigned char>(c));
  }
  return MatchFrom(flat, 0, text, 0, case_sensitive);
}

Result<CidrRange> ParseCidr(std::string_view text) {
  CidrRange r;
  r.text = std::string(text);
  std::string addr(text);
  int max_prefix;
  size_t slash = addr.find('/');
  std::string prefix_text = slash == std::string::npos ? "" : addr.substr(slash + 1);
  if (slash != std::string::npos) addr.resize(slash);
  if (inet_pton(AF_INET, addr.c_str(), r.addr.data()) == 1) {
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), r.addr.data()) == 1) {
    r.v6 = true;
    max_prefix = 128;
  } else {
    return Err(InvalidArgument("invalid CIDR address '" + std::string(text) + "'"));
  }
  r.prefix = max_prefix;
  if (slash != std::string::npos) {
    if (prefix_text.empty() || prefix_text.size() > 3 ||
        !std::all_of(prefix_text.begin(), prefix_text.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        std::stoi(prefix_text) > max_prefix) {
      return Err(InvalidArgument("invalid CIDR prefix length in '" + std::string(text) + "'"));
    }
    r.prefix = std::stoi(prefix_text);
  }
  return r;
}

bool CidrContains(const CidrRange& range, std::string_view ip) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (ip.empty() || ip.size() >= sizeof(buf)) return false;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  uint8_t addr[16];
  bool v6 = false;
  if (inet_pton(AF_INET, buf, addr) != 1) {
    if (inet_pton(AF_INET6, buf, addr) != 1) return false;
    v6 = true;
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address for an IPv4 range.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!range.v6 && std::memcmp(addr, kMapped, 12) == 0) {
      std::memmove(addr, addr + 12, 4);
      v6 = false;
    }
  }
  if (v6 != range.v6) return false;
  int full = range.prefix / 8, rest = range.prefix % 8;
  if (std::memcmp(addr, range.addr.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (addr[full] & mask) == (range.addr[full] & mask);
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

std::vector<std::string> Base64OffsetVariants(std::string_view bytes) {
  // pySigma: encode with 0, 1, 2 leading pad bytes and cut the characters those pads (and the
  // unaligned tail) influence, so each variant appears in any base64 text that embeds `bytes`.
  static constexpr size_t kStart[] = {0, 2, 3};
  static constexpr size_t kEndCut[] = {0, 3, 2};
  std::vector<std::string> out;
  for (size_t i = 0; i < 3; ++i) {
    std::string b64 = Base64Encode(std::string(i, ' ') + std::string(bytes));
    size_t cut = kEndCut[(bytes.size() + i) % 3];
    if (b64.size() < kStart[i] + cut) continue;
    out.push_back(b64.substr(kStart[i], b64.size() - kStart[i] - cut));
  }
  return out;
}

std::vector<Glob> WindashVariants(const Glob& glob) {
  // pySigma's `\B[-/]\b`: a dash or slash not preceded by a word character and followed by one
  // becomes each of - / en-dash em-dash horizontal-bar.
  static constexpr std::string_view kDashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::vector<Glob> out = {{}};
  auto append = [&](const GlobPiece& piece) {
    for (Glob& g : out) {
      if (piece.kind == GlobPiece::kLiteral && !g.empty() && g.back().kind == GlobPiece::kLiteral) {
        g.back().text += piece.text;
      } else {
        g.push_back(piece);
      }
    }
  };
  for (const GlobPiece& piece : glob) {
    if (piece.kind != GlobPiece::kLiteral) {
      append(piece);
      continue;
    }
    const std::string& t = piece.text;
    for (size_t i = 0; i < t.size(); ++i) {
      bool dash = (t[i] == '-' || t[i] == '/') && (i == 0 || !word(t[i - 1])) && i + 1 < t.size() && word(t[i + 1]);
      if (!dash) {
        append({GlobPiece::kLiteral, std::string(1, t[i])});
        continue;
      }
      std::vector<Glob> next;
      for (const Glob& g : out) {
        for (std::string_view d : kDashes) {
          Glob v = g;
          if (!v.empty() && v.back().kind == GlobPiece::kLiteral) v.back().text += d;
          else v.push_back({GlobPiece::kLiteral, std::string(d)});
          next.push_back(std::move(v));
        }
      }
      out = std::move(next);
    }
  }
  return out;
}

// ---- conditions -----------------------------------------------------------------------------------

namespace {

struct Token {
  enum Kind { kIdent, kAnd, kOr, kNot, kOpen, kClose, kOneOf, kAllOf, kThem, kPipe, kEnd } kind;
  std::string text;
  size_t pos;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::vector<Token>> Tokenize(std::string_view text) {
  std::vector<Token> out;
  size_t i = 0;
  auto ident_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '*' || c == '-' || c == '.';
  };
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|') {
      // The rest is an aggregation expression; the parser rejects it by name.
      out.push_back({Token::kPipe, "|", i});
      break;
    } else if (c == '(' || c == ')') {
      out.push_back({c == '(' ? Token::kOpen : Token::kClose, std::string(1, c), i});
      ++i;
    } else if (ident_char(c)) {
      size_t start = i;
      while (i < text.size() && ident_char(text[i])) ++i;
      std::string word(text.substr(start, i - start));
      std::string lower = Lower(word);
      if (lower == "and") out.push_back({Token::kAnd, word, start});
      else if (lower == "or") out.push_back({Token::kOr, word, start});
      else if (lower == "not") out.push_back({Token::kNot, word, start});
      else if (lower == "them") out.push_back({Token::kThem, word, start});
      else if (lower == "of") {
        if (out.empty() || out.back().kind != Token::kIdent || (out.back().text != "1" && Lower(out.back().text) != "all"))
          return Err(InvalidArgument("'of' at offset " + std::to_string(start) + " must follow '1' or 'all'"));
        out.back().kind = out.back().text == "1" ? Token::kOneOf : Token::kAllOf;
        out.back().text += " of";
      } else {
        out.push_back({Token::kIdent, word, start});
      }
    } else {
      return Err(InvalidArgument("unexpected character '" + std::string(1, c) + "' at offset " + std::to_string(i)));
    }
  }
  out.push_back({Token::kEnd, "", text.size()});
  return out;
}

class ConditionParser {
 public:
  ConditionParser(std::vector<Token> tokens, const std::vector<std::string>& names)
      : tokens_(std::move(tokens)), names_(names) {}

  Result<CondNode> Parse() {
    WARD_ASSIGN_OR_RETURN(CondNode node, Or());
    if (Peek().kind == Token::kPipe)
      return Err(InvalidArgument("aggregations ('| count() ...') are not supported"));
    if (Peek().kind != Token::kEnd) return Err(Unexpected());
    return node;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  Status Unexpected() const {
    const Token& t = Peek();
    if (t.kind == Token::kEnd) return InvalidArgument("condition ends unexpectedly");
    return InvalidArgument("unexpected '" + t.text + "' at offset " + std::to_string(t.pos));
  }

  // or binds weaker than and: each level is a list of the next level's operands.
  Result<CondNode> Or() { return Chain(Token::kOr, CondNode::kOr, &ConditionParser::And); }
  Result<CondNode> And() { return Chain(Token::kAnd, CondNode::kAnd, &ConditionParser::Unary); }

  Result<CondNode> Chain(Token::Kind token, CondNode::Op op, Result<CondNode> (ConditionParser::*operand)()) {
    WARD_ASSIGN_OR_RETURN(CondNode first, (this->*operand)());
    if (Peek().kind != token) return first;
    CondNode node{op, -1, {std::move(first)}};
    while (Peek().kind == token) {
      ++pos_;
      WARD_ASSIGN_OR_RETURN(CondNode next, (this->*operand)());
      node.children.push_back(std::move(next));
    }
    return node;
  }

  Result<CondNode> Unary() {
    if (Peek().kind == Token::kNot) {
      ++pos_;
      WARD_ASSIGN_OR_RETURN(CondNode inner, Unary());
      return CondNode{CondNode::kNot, -1, {std::move(inner)}};
    }
    return Primary();
  }

  Result<CondNode> Primary() {
    const Token& t = Peek();
    switch (t.kind) {
      case Token::kOpen: {
        ++pos_;
        WARD_ASSIGN_OR_RETURN(CondNode inner, Or());
        if (Peek().kind != Token::kClose) return Err(Unexpected());
        ++pos_;
        return inner;
      }
      case Token::kOneOf:
      case Token::kAllOf: {
        bool all = t.kind == Token::kAllOf;
        ++pos_;
        const Token& target = Peek();
        std::vector<int> matched;
        if (target.kind == Token::kThem) {
          // `them` excludes identifiers starting with an underscore (Sigma specification).
          for (size_t i = 0; i < names_.size(); ++i)
            if (!names_[i].starts_with("_")) matched.push_back(static_cast<int>(i));
        } else if (target.kind == Token::kIdent) {
          Glob pattern = ParseGlob(target.text);
          for (size_t i = 0; i < names_.size(); ++i)
            if (GlobMatches(pattern, names_[i], true)) matched.push_back(static_cast<int>(i));
        } else {
          return Err(Unexpected());
        }
        if (matched.empty())
          return Err(InvalidArgument("'" + t.text + " " + target.text + "' matches no selection"));
        ++pos_;
        CondNode node{all ? CondNode::kAnd : CondNode::kOr, -1, {}};
        for (int i : matched) node.children.push_back(CondNode{CondNode::kSelection, i, {}});
        if (node.children.size() == 1) return std::move(node.children[0]);
        return node;
      }
      case Token::kIdent: {
        for (size_t i = 0; i < names_.size(); ++i) {
          if (names_[i] == t.text) {
            ++pos_;
            return CondNode{CondNode::kSelection, static_cast<int>(i), {}};
          }
        }
        return Err(InvalidArgument("condition references unknown selection '" + t.text + "'"));
      }
      default:
        return Err(Unexpected());
    }
  }

  std::vector<Token> tokens_;
  const std::vector<std::string>& names_;
  size_t pos_ = 0;
};

}  // namespace

Result<CondNode> ParseCondition(std::string_view text, const std::vector<std::string>& selection_names) {
  WARD_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  if (tokens.size() == 1) return Err(InvalidArgument("empty condition"));
  return ConditionParser(std::move(tokens), selection_names).Parse();
}

}  // namespace ward::detect::sigma_internal
