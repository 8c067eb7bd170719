#include <gtest/gtest.h>

#include "kql/lexer.h"
#include "kql/parser.h"

namespace ward::kql {
namespace {

std::vector<Token> LexOk(std::string_view text) {
  SyntaxError err;
  auto toks = Lex(text, &err);
  EXPECT_TRUE(toks.has_value()) << err.message;
  return toks ? *toks : std::vector<Token>{};
}

TEST(Lexer, UnicodeWhitespaceSeparatesTokens) {
  // U+200B zero-width space, U+00A0 no-break space, U+FEFF, U+3000.
  auto toks = LexOk("T\u200B|\u00A0where\uFEFFx\u3000==\u2003 1");
  ASSERT_EQ(toks.size(), 7u);
  EXPECT_EQ(toks[0].text, "T");
  EXPECT_EQ(toks[1].text, "|");
  EXPECT_EQ(toks[2].text, "where");
  EXPECT_EQ(toks[3].text, "x");
  EXPECT_EQ(toks[4].text, "==");
  EXPECT_EQ(toks[5].kind, TokenKind::kLong);
}

TEST(Lexer, StringLiterals) {
  auto toks = LexOk(R"('a\'b' "c\\d\n" @'C:\Windows' @"x""y" h'secret' h@'C:\t' ```multi
line```)");
  ASSERT_EQ(toks.size(), 8u);
  EXPECT_EQ(toks[0].text, "a'b");
  EXPECT_EQ(toks[1].text, "c\\d\n");
  EXPECT_EQ(toks[2].text, "C:\\Windows");
  EXPECT_EQ(toks[3].text, "x\"y");
  EXPECT_EQ(toks[4].text, "secret");
  EXPECT_EQ(toks[5].text, "C:\\t");
  EXPECT_EQ(toks[6].text, "multi\nline");
}

TEST(Lexer, InvalidEscapeIsASyntaxErrorWithPosition) {
  SyntaxError err;
  auto toks = Lex("T\n| where x == \"C:\\Windows\"", &err);
  ASSERT_FALSE(toks.has_value());
  EXPECT_EQ(err.pos.line, 2);
  EXPECT_EQ(err.pos.column, 17);  // the backslash
  EXPECT_NE(err.message.find("escape"), std::string::npos);
}

TEST(Lexer, TimespanLiterals) {
  auto toks = LexOk("1d 2h 30m 10s 100ms 1tick 1.5h 5min 3days");
  ASSERT_EQ(toks.size(), 10u);
  const int64_t s = 10'000'000;
  EXPECT_EQ(toks[0].i, 86400 * s);
  EXPECT_EQ(toks[1].i, 7200 * s);
  EXPECT_EQ(toks[2].i, 1800 * s);
  EXPECT_EQ(toks[3].i, 10 * s);
  EXPECT_EQ(toks[4].i, 1'000'000);
  EXPECT_EQ(toks[5].i, 1);
  EXPECT_EQ(toks[6].i, 5400 * s);
  EXPECT_EQ(toks[7].i, 300 * s);
  EXPECT_EQ(toks[8].i, 3 * 86400 * s);
  for (int k = 0; k < 9; ++k) EXPECT_EQ(toks[k].kind, TokenKind::kTimespan) << k;
  SyntaxError err;
  EXPECT_FALSE(Lex("5weeks", &err).has_value());
}

TEST(Lexer, DatetimeContentsAreRaw) {
  auto toks = LexOk("datetime(2020-01-01 10:00:00.123)");
  ASSERT_EQ(toks.size(), 3u);
  EXPECT_EQ(toks[1].kind, TokenKind::kRawParen);
  EXPECT_EQ(toks[1].text, "2020-01-01 10:00:00.123");
  int64_t t = 0;
  ASSERT_TRUE(ParseDateTimeText(toks[1].text, &t));
  int64_t ts = 0;
  ASSERT_TRUE(ParseTimespanText("1.02:03:04.5", &ts));
  EXPECT_EQ(ts, ((86400 + 2 * 3600 + 3 * 60 + 4) * 10'000'000LL) + 5'000'000);
}

TEST(Lexer, CommentsRunToEndOfLine) {
  auto toks = LexOk("T // a comment | where\n| take 1");
  ASSERT_EQ(toks.size(), 5u);
  EXPECT_EQ(toks[1].text, "|");
  EXPECT_EQ(toks[1].pos.line, 2);
}

TEST(Parser, PipesOperatorsAndPositions) {
  auto q = Parse("let x = 5;\nDeviceProcessEvents\n| where A has 'b' and C !in~ ('d', 'e')\n| project-away F*\n| mv-expand G to typeof(string)");
  ASSERT_TRUE(q.has_value()) << q.error().message();
  ASSERT_EQ(q->statements.size(), 2u);
  EXPECT_EQ(q->statements[0]->kind, NodeKind::kLet);
  const Node& top = *q->statements[1];
  ASSERT_EQ(top.kind, NodeKind::kPipe);
  EXPECT_EQ(top.args[1]->name, "mv-expand");
  EXPECT_EQ(top.args[1]->types[0], "string");
  const Node& away = *top.args[0]->args[1];
  EXPECT_EQ(away.name, "project-away");
  EXPECT_EQ(away.args[0]->name, "F*");
  const Node& where = *top.args[0]->args[0]->args[1];
  EXPECT_EQ(where.name, "where");
  EXPECT_EQ(where.pos.line, 3);
  EXPECT_EQ(where.args[0]->name, "and");
  EXPECT_EQ(where.args[0]->args[1]->name, "!in~");
}

TEST(Parser, SyntaxErrorsHaveLineAndColumn) {
  QueryError err;
  auto q = Parse("T\n| where (a == 1", &err);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(err.line, 2);
  EXPECT_EQ(err.column, 16);  // end of query
  EXPECT_NE(q.error().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(Parse("T | where", &err).has_value());
  EXPECT_FALSE(Parse("", &err).has_value());
  EXPECT_FALSE(Parse(std::string(5000, '('), &err).has_value());  // bounded nesting, no crash
}

TEST(Parser, LambdasDynamicAndDatatable) {
  auto q = Parse(
      "let f = (a:string, n:long = 5) { T | where x == a | take n };\n"
      "let d = dynamic({'k': [1, 2, \"x\"], \"n\": null});\n"
      "datatable(A:string, B:long) ['a', 1, 'b', -2] | join kind=leftouter (f('a')) on $left.A == $right.x");
  ASSERT_TRUE(q.has_value()) << q.error().message();
  ASSERT_EQ(q->statements.size(), 3u);
  const Node& lam = *q->statements[0]->args[0];
  EXPECT_EQ(lam.kind, NodeKind::kLambda);
  EXPECT_EQ(lam.names, (std::vector<std::string>{"a", "n"}));
  const Node& dyn = *q->statements[1]->args[0];
  EXPECT_EQ(dyn.literal.type, Type::kDynamic);
  EXPECT_EQ(dyn.literal.s, R"({"k":[1,2,"x"],"n":null})");
  const Node& join = *q->statements[2]->args[1];
  EXPECT_EQ(join.name, "join");
  EXPECT_EQ(join.options[0], (std::pair<std::string, std::string>{"kind", "leftouter"}));
  EXPECT_EQ(q->statements[2]->args[0]->args.size(), 4u);
}

}  // namespace
}  // namespace ward::kql
