#include "json/json.h"

#include <gtest/gtest.h>

namespace ward::json {
namespace {

TEST(JsonTest, ParsesAndSerialisesRoundTrip) {
  auto v = Value::Parse(R"({"a":1,"b":[true,null,"x\u00e9"],"c":{"d":2.5}})");
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->GetInt("a"), 1);
  EXPECT_EQ(v->Find("b")->items()[2].as_string(), "x\xc3\xa9");
  EXPECT_DOUBLE_EQ(v->Find("c")->Find("d")->as_double(), 2.5);
  auto again = Value::Parse(v->Serialize());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *v);
}

TEST(JsonTest, RejectsBadInput) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"\xff\xfe\"", "{\"a\":1,\"a\":2}"}) {
    EXPECT_FALSE(Value::Parse(bad)) << bad;
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(Value::Parse(deep, 64));
  EXPECT_TRUE(Value::Parse(deep, 200));
}

TEST(JsonTest, CaseInsensitiveLookupPrefersExactKey) {
  auto v = Value::Parse(R"({"Comment":"a","comment":"b"})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->FindCaseInsensitive("comment")->as_string(), "b");
  EXPECT_EQ(v->FindCaseInsensitive("COMMENT")->as_string(), "a");
}

TEST(JsonTest, WriterEscapesStrings) {
  Writer w;
  w.StartObject().KV("k", std::string_view("a\"b\\c\n\x01")).KVOrNull("n", std::nullopt).EndObject();
  EXPECT_EQ(w.Take(), R"({"k":"a\"b\\c\n\u0001","n":null})");
  EXPECT_EQ(Quote("x"), "\"x\"");
}

TEST(JsonTest, NonFiniteDoublesBecomeNull) {
  Writer w;
  w.StartArray().Double(1.0 / 0.0).Double(0.5).EndArray();
  EXPECT_EQ(w.Take(), "[null,0.5]");
}

}  // namespace
}  // namespace ward::json

namespace ward::json {
namespace {

TEST(JsonTest, AppendChainsOnTheArray) {
  Value arr = Value::Array().Append("a").Append(2);
  EXPECT_EQ(arr.Serialize(), R"(["a",2])");
  Value obj = Value::Object();
  obj.Set("k", Value::Array().Append("x"));
  EXPECT_EQ(obj.Serialize(), R"({"k":["x"]})");
}

}  // namespace
}  // namespace ward::json
