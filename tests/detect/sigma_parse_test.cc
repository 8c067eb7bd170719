// The Sigma value and condition languages, independent of any event.
#include <gtest/gtest.h>

#include "detect/sigma_rule.h"

namespace ward::detect::sigma_internal {
namespace {

std::vector<std::string> Names() { return {"selection", "selection_img", "filter_a", "filter_b", "_hidden"}; }

bool Eval(std::string_view cond, std::vector<bool> values) {
  auto node = ParseCondition(cond, Names());
  EXPECT_TRUE(node.has_value()) << cond << ": " << (node ? "" : node.error().message());
  if (!node) return false;
  return EvaluateCondition(*node, [&](int i) { return static_cast<bool>(values[static_cast<size_t>(i)]); });
}

TEST(SigmaConditionTest, PrecedenceIsNotThenAndThenOr) {
  // selection or (selection_img and (not filter_a))
  EXPECT_TRUE(Eval("selection or selection_img and not filter_a", {true, false, true, false, false}));
  EXPECT_TRUE(Eval("selection or selection_img and not filter_a", {false, true, false, false, false}));
  EXPECT_FALSE(Eval("selection or selection_img and not filter_a", {false, true, true, false, false}));
  EXPECT_FALSE(Eval("(selection or selection_img) and not filter_a", {true, false, true, false, false}));
  EXPECT_TRUE(Eval("not not selection", {true, false, false, false, false}));
}

TEST(SigmaConditionTest, NestedParentheses) {
  EXPECT_TRUE(Eval("((selection and (selection_img or filter_a)) and not (filter_b))", {true, false, true, false, false}));
  EXPECT_FALSE(Eval("((selection and (selection_img or filter_a)) and not (filter_b))", {true, false, true, true, false}));
  EXPECT_FALSE(Eval("((selection and (selection_img or filter_a)) and not (filter_b))", {true, false, false, false, false}));
}

TEST(SigmaConditionTest, OneOfAndAllOfPatterns) {
  EXPECT_TRUE(Eval("1 of selection*", {false, true, false, false, false}));
  EXPECT_FALSE(Eval("all of selection*", {false, true, false, false, false}));
  EXPECT_TRUE(Eval("all of selection*", {true, true, false, false, false}));
  EXPECT_TRUE(Eval("selection and not 1 of filter_*", {true, false, false, false, false}));
  EXPECT_FALSE(Eval("selection and not 1 of filter_*", {true, false, false, true, false}));
  EXPECT_TRUE(Eval("all of filter_*", {false, false, true, true, false}));
}

TEST(SigmaConditionTest, ThemSkipsUnderscoreSelections) {
  EXPECT_TRUE(Eval("all of them", {true, true, true, true, false}));
  EXPECT_FALSE(Eval("all of them", {true, true, true, false, true}));
  EXPECT_FALSE(Eval("1 of them", {false, false, false, false, true}));
  EXPECT_TRUE(Eval("1 of them", {false, false, false, true, false}));
  EXPECT_TRUE(Eval("_hidden", {false, false, false, false, true}));
}

TEST(SigmaConditionTest, ErrorsNameTheProblem) {
  auto unknown = ParseCondition("selection and nope", Names());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("'nope'"), std::string::npos);
  auto nomatch = ParseCondition("1 of missing_*", Names());
  ASSERT_FALSE(nomatch);
  EXPECT_NE(nomatch.error().message().find("matches no selection"), std::string::npos);
  auto agg = ParseCondition("selection | count() > 5", Names());
  ASSERT_FALSE(agg);
  EXPECT_NE(agg.error().message().find("aggregation"), std::string::npos);
  EXPECT_FALSE(ParseCondition("selection and", Names()));
  EXPECT_FALSE(ParseCondition("(selection", Names()));
  EXPECT_FALSE(ParseCondition("selection selection_img", Names()));
  EXPECT_FALSE(ParseCondition("", Names()));
  EXPECT_FALSE(ParseCondition("2 of selection*", Names()));
}

TEST(SigmaGlobTest, WildcardsAndEscapes) {
  EXPECT_TRUE(GlobMatches(ParseGlob("*/bin/*sh"), "/usr/bin/bash", false));
  EXPECT_TRUE(GlobMatches(ParseGlob("/BIN/?ash"), "/bin/dash", false));
  EXPECT_FALSE(GlobMatches(ParseGlob("/bin/?ash"), "/bin/ash", false));
  EXPECT_FALSE(GlobMatches(ParseGlob("/BIN/bash"), "/bin/bash", true));
  // \* and \? are literal; \\ is one backslash; a lone backslash stays.
  Glob star = ParseGlob("a\\*b");
  ASSERT_EQ(star.size(), 1u);
  EXPECT_EQ(star[0].text, "a*b");
  EXPECT_TRUE(GlobMatches(star, "a*b", false));
  EXPECT_FALSE(GlobMatches(star, "axxb", false));
  EXPECT_TRUE(GlobMatches(ParseGlob("what\\?"), "what?", false));
  EXPECT_FALSE(GlobMatches(ParseGlob("what\\?"), "whatx", false));
  Glob bs = ParseGlob("C:\\\\*");  // escaped backslash, then a wildcard
  ASSERT_EQ(bs.size(), 2u);
  EXPECT_EQ(bs[0].text, "C:\\");
  EXPECT_EQ(bs[1].kind, GlobPiece::kStar);
  EXPECT_EQ(ParseGlob("a\\b")[0].text, "a\\b");
}

TEST(SigmaCidrTest, V4V6AndMapped) {
  auto r = ParseCidr("172.16.0.0/12");
  ASSERT_TRUE(r);
  EXPECT_TRUE(CidrContains(*r, "172.31.255.1"));
  EXPECT_FALSE(CidrContains(*r, "172.32.0.1"));
  EXPECT_TRUE(CidrContains(*r, "::ffff:172.20.1.1"));
  EXPECT_FALSE(CidrContains(*r, "not an ip"));
  auto v6 = ParseCidr("fe80::/10");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(CidrContains(*v6, "fe80::1"));
  EXPECT_TRUE(CidrContains(*v6, "febf::1"));
  EXPECT_FALSE(CidrContains(*v6, "fec0::1"));
  EXPECT_FALSE(CidrContains(*v6, "10.0.0.1"));
  auto host = ParseCidr("10.1.2.3");
  ASSERT_TRUE(host);
  EXPECT_TRUE(CidrContains(*host, "10.1.2.3"));
  EXPECT_FALSE(CidrContains(*host, "10.1.2.4"));
  EXPECT_FALSE(ParseCidr("10.0.0.0/33"));
  EXPECT_FALSE(ParseCidr("10.0.0/8"));
  EXPECT_FALSE(ParseCidr("10.0.0.0/"));
}

TEST(SigmaEncodingTest, Base64AndOffsetsFollowPySigma) {
  EXPECT_EQ(Base64Encode("whoami"), "d2hvYW1p");
  EXPECT_EQ(Base64Encode("a"), "YQ==");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  // Reference values computed with pySigma's algorithm.
  EXPECT_EQ(Base64OffsetVariants("/bin/sh"), (std::vector<std::string>{"L2Jpbi9za", "9iaW4vc2", "vYmluL3No"}));
  EXPECT_EQ(Base64OffsetVariants("curl"), (std::vector<std::string>{"Y3Vyb", "N1cm", "jdXJs"}));
}

TEST(SigmaEncodingTest, WindashExpandsOptionDashesOnly) {
  std::vector<Glob> v = WindashVariants(ParseGlob("* -exec /tmp/x*"));
  // " -exec": dash after a space and before a word char → 5 variants; "/tmp" slash after a space too;
  // the slash in "tmp/x" follows a word character and stays.
  ASSERT_EQ(v.size(), 25u);
  std::vector<std::string> texts;
  for (const Glob& g : v) texts.push_back(g[1].text);
  EXPECT_NE(std::find(texts.begin(), texts.end(), " /exec -tmp/x"), texts.end());
  EXPECT_NE(std::find(texts.begin(), texts.end(), " \xE2\x80\x94" "exec /tmp/x"), texts.end());
  EXPECT_EQ(WindashVariants(ParseGlob("a-b")).size(), 1u);
}

}  // namespace
}  // namespace ward::detect::sigma_internal
