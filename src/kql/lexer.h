#pragma once
// KQL tokens (hunting-schema.md §2, "Lexing / syntax"): identifiers, punctuation, string literals
// (with escapes, verbatim @"…", obfuscated h"…", multi-line ```…```), numbers, timespan literals
// (1d, 2h, 10min, 1tick …), and the raw text inside datetime(…)/timespan(…)/time(…). Unicode
// whitespace (U+00A0, U+200B, U+FEFF, U+2000–U+200A, U+3000 …) separates tokens; `//` comments
// run to the end of the line.
//
// Errors are InvalidArgument with a position; the lexer never reads out of bounds.
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kql/ast.h"

namespace ward::kql {

enum class TokenKind { kIdent, kString, kLong, kReal, kTimespan, kRawParen, kPunct, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // identifier, punctuation, decoded string value, raw (…) contents
  int64_t i = 0;      // kLong value, kTimespan ticks
  double r = 0;       // kReal value
  Pos pos;
  size_t end = 0;     // byte offset just past the token (adjacency checks: `project-away`, `!in`)
};

// The syntax error thrown by lexer and parser: Kusto's wording, and where.
struct SyntaxError {
  Pos pos;
  std::string message;
};

Result<std::vector<Token>> Lex(std::string_view text, SyntaxError* error);

// Ticks for a timespan unit ("d", "min", "ms", "tick", ...), or -1 when not a unit.
int64_t TimespanUnitTicks(std::string_view unit);

// Parses the contents of datetime(…) / timespan(…) (e.g. "2020-01-01 10:00", "1.02:03:04", "5m").
bool ParseDateTimeText(std::string_view text, int64_t* ticks);
bool ParseTimespanText(std::string_view text, int64_t* ticks);

}  // namespace ward::kql
