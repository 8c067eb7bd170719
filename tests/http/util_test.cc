#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "http/server.h"

namespace ward::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(PercentDecodeTest, Decodes) {
  EXPECT_EQ(PercentDecode("", false), "");
  EXPECT_EQ(PercentDecode("/api/alerts", false), "/api/alerts");
  EXPECT_EQ(PercentDecode("a%20b", false), "a b");
  EXPECT_EQ(PercentDecode("%2F%2f%41", false), "//A");
  EXPECT_EQ(PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
  EXPECT_EQ(PercentDecode("%00", false), std::string(1, '\0'));
}

TEST(PercentDecodeTest, PlusHandling) {
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a%2Bb", true), "a+b");
}

TEST(PercentDecodeTest, RejectsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("abc%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%4", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%zz", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%4g", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%g4", true), std::nullopt);
  EXPECT_EQ(PercentDecode("ok%2", true), std::nullopt);
  EXPECT_EQ(PercentDecode("% 20", false), std::nullopt);
}

TEST(ParseFormTest, Pairs) {
  EXPECT_EQ(ParseForm(""), Pairs{});
  EXPECT_EQ(ParseForm("a=1&b=x+y&c=%26%3D"), (Pairs{{"a", "1"}, {"b", "x y"}, {"c", "&="}}));
  EXPECT_EQ(ParseForm("grant_type=client_credentials&scope=https%3A%2F%2Fapi%2F.default"),
            (Pairs{{"grant_type", "client_credentials"}, {"scope", "https://api/.default"}}));
}

TEST(ParseFormTest, EdgeCases) {
  EXPECT_EQ(ParseForm("flag"), (Pairs{{"flag", ""}}));
  EXPECT_EQ(ParseForm("a="), (Pairs{{"a", ""}}));
  EXPECT_EQ(ParseForm("=v"), (Pairs{{"", "v"}}));
  EXPECT_EQ(ParseForm("a=1&&b=2&"), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ParseForm("a=b=c"), (Pairs{{"a", "b=c"}}));
  EXPECT_EQ(ParseForm("x=1&x=2"), (Pairs{{"x", "1"}, {"x", "2"}}));
  EXPECT_EQ(ParseForm("$top=10&$filter=name+eq+'a'"), (Pairs{{"$top", "10"}, {"$filter", "name eq 'a'"}}));
}

TEST(ParseFormTest, RejectsMalformedEscapes) {
  EXPECT_EQ(ParseForm("a=%"), std::nullopt);
  EXPECT_EQ(ParseForm("a=1&b=%zz"), std::nullopt);
  EXPECT_EQ(ParseForm("%4=1"), std::nullopt);
}

TEST(HeadersTest, CaseInsensitiveLookup) {
  Headers h;
  EXPECT_FALSE(h.Has("content-type"));
  EXPECT_EQ(h.Get("content-type"), "");
  h.Add("Content-Type", "application/json");
  h.Add("X-Multi", "1");
  h.Add("x-multi", "2");
  EXPECT_TRUE(h.Has("CONTENT-TYPE"));
  EXPECT_EQ(h.Get("content-type"), "application/json");
  EXPECT_EQ(h.Get("X-MULTI"), "1");  // first value
  EXPECT_EQ(h.entries().size(), 3u);
}

TEST(HeadersTest, SetReplacesAllValues) {
  Headers h;
  h.Add("A", "keep");
  h.Add("X-Multi", "1");
  h.Add("x-multi", "2");
  h.Set("X-MULTI", "3");
  ASSERT_EQ(h.entries().size(), 2u);
  EXPECT_EQ(h.Get("x-multi"), "3");
  EXPECT_EQ(h.entries()[0].first, "A");
}

TEST(ResponseTest, Set) {
  Response res;
  res.headers.Add("content-type", "text/plain");
  res.Set(201, "application/json", "{}");
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.body, "{}");
  EXPECT_EQ(res.headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(res.headers.entries().size(), 1u);
}

TEST(RequestTest, PathParam) {
  Request req;
  req.path_params = {{"id", "42"}, {"name", "x"}};
  EXPECT_EQ(req.PathParam("id"), "42");
  EXPECT_EQ(req.PathParam("name"), "x");
  EXPECT_EQ(req.PathParam("ID"), "");
}

}  // namespace
}  // namespace ward::http
