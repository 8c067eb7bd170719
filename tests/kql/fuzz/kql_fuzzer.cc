// libFuzzer target for the KQL front end: lexer, parser and binder (against the real hunting
// schema registry). Built by tests/kql/fuzz/CMakeLists.txt with clang and
// -fsanitize=fuzzer,address,undefined; run by scripts/fuzz.sh (`make fuzz`, part of `make test`).
//
// The contract checked (engine.h): any input comes back as a value — a bound plan, or an error with
// a message (and, from the lexer/parser, a 1-based position). A crash, sanitizer report, hang or
// broken contract (the abort below) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "events/schema.h"
#include "kql/binder.h"
#include "kql/lexer.h"
#include "kql/parser.h"

namespace {

[[noreturn]] void Broken(const char* what, std::string_view input) {
  std::fprintf(stderr, "kql_fuzzer: contract broken: %s\ninput (%zu bytes): %.*s\n", what, input.size(),
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The API refuses queries over 100,000 characters; longer inputs only slow the search down.
  if (size > 100'000) return -1;
  using namespace ward::kql;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  SyntaxError lex_error;
  auto tokens = Lex(text, &lex_error);
  if (!tokens && tokens.error().message().empty()) Broken("lexer error without a message", text);
  if (tokens && (tokens->empty() || tokens->back().kind != TokenKind::kEnd)) Broken("token list does not end with kEnd", text);

  QueryError err;
  auto parsed = Parse(text, &err);
  if (!parsed) {
    if (parsed.error().message().empty()) Broken("parse error without a message", text);
    if (err.line < 1 || err.column < 1) Broken("parse error without a position", text);
    return 0;
  }
  // A fixed instant keeps runs reproducible (now() and ago() are folded by the binder).
  BindOptions bo;
  bo.now_ticks = 638'000'000'000'000'000;  // 2022-09
  QueryError bind_err;
  auto bound = Bind(*parsed, ward::events::SchemaRegistry::Hunting(), bo, &bind_err);
  if (!bound) {
    if (bound.error().message().empty()) Broken("bind error without a message", text);
  } else if (!bound->plan) {
    Broken("bound query without a plan", text);
  }
  return 0;
}
