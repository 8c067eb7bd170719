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

namespace ward::json {
namespace {

TEST(FlatObjectReaderTest, FieldsOfAnObjectAndOfAnArray) {
  FlatObjectReader r;
  ASSERT_TRUE(r.Read(R"({"a":1,"b":"x","c":null,"d":true,"e":2.5,"f":{"k":[1,2]},"g":[1,"y"],"h":18446744073709551615})").ok());
  EXPECT_FALSE(r.is_array());
  ASSERT_EQ(r.size(), 1u);
  auto f = r.Object(0);
  ASSERT_TRUE(f);
  ASSERT_EQ((*f)->size(), 8u);
  const auto& v = **f;
  EXPECT_EQ(v[0].key, "a");
  EXPECT_EQ(v[0].value.type, Type::kInt);
  EXPECT_EQ(v[0].value.i, 1);
  EXPECT_EQ(v[1].value.type, Type::kString);
  EXPECT_EQ(v[1].value.text, "x");
  EXPECT_EQ(v[2].value.type, Type::kNull);
  EXPECT_TRUE(v[3].value.b);
  EXPECT_DOUBLE_EQ(v[4].value.as_double(), 2.5);
  EXPECT_EQ(v[5].value.type, Type::kObject);
  EXPECT_EQ(v[5].value.text, R"({"k":[1,2]})");
  EXPECT_EQ(v[6].value.type, Type::kArray);
  EXPECT_EQ(v[6].value.text, R"([1,"y"])");
  EXPECT_EQ(v[7].value.type, Type::kDouble);  // beyond int64, as Value::Parse

  ASSERT_TRUE(r.Read(R"([{"a":1},2,{"a":1,"a":2}])").ok());
  EXPECT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r.Object(0));
  EXPECT_FALSE(r.Object(1));  // not an object
  auto dup = r.Object(2);
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("duplicate key"), std::string::npos);
}

TEST(FlatObjectReaderTest, RefusesWhatValueParseRefuses) {
  FlatObjectReader r;
  EXPECT_FALSE(r.Read("{nope").ok());
  EXPECT_FALSE(r.Read("{} trailing").ok());
  EXPECT_FALSE(r.Read("\"just a string\"").ok());
  EXPECT_FALSE(r.Read(std::string("{\"a\":\"\xff\"}")).ok());  // invalid UTF-8
  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  ASSERT_TRUE(r.Read(deep).ok());
  EXPECT_FALSE(r.Object(0));  // deeper than 64
}

}  // namespace
}  // namespace ward::json
