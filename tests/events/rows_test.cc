#include "events/rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace ward::events {
namespace {

// A registry with one column of every type (the hunting schema has no real/dynamic columns).
const SchemaRegistry& TestRegistry() {
  static const SchemaRegistry reg = [] {
    std::string error;
    auto r = SchemaRegistry::FromTsv(
        "table\tcolumn\ttype\n"
        "Alpha\tTimestamp\tdatetime\nAlpha\tName\tstring\nAlpha\tCount\tlong\nAlpha\tPort\tint\n"
        "Alpha\tFlag\tbool\nAlpha\tExtra\tdynamic\nAlpha\tScore\treal\n"
        "Beta\tTimestamp\tdatetime\nBeta\tNote\tstring\n",
        &error);
    EXPECT_TRUE(r.has_value()) << error;
    return std::move(*r);
  }();
  return reg;
}

RowBatch SampleBatch() {
  RowBatch b;
  b.tenant_id = "6f1c2a9e-0000-4000-8000-000000000001";
  b.device_id = std::string(40, 'a');
  b.batch_id = "batch-1";
  b.received_ticks = 638'400'000'000'000'123;
  b.rows.push_back(Row{0, {int64_t{638'399'999'999'999'999}, std::string("cmd.exe /c whoami"), int64_t{-5}, int64_t{443}, int64_t{1},
                           std::string(R"({"a":[1,2]})"), 3.25}});
  b.rows.push_back(Row{0, {std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{},
                           std::monostate{}}});
  b.rows.push_back(Row{0, {std::numeric_limits<int64_t>::min(), std::string("\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"), std::numeric_limits<int64_t>::max(),
                           int64_t{0}, int64_t{0}, std::string(), -0.0}});
  b.rows.push_back(Row{1, {int64_t{0}, std::string(100000, 'x')}});
  return b;
}

TEST(RowsTest, RoundTripEveryTypeAndNull) {
  RowBatch b = SampleBatch();
  std::string bytes = EncodeBatch(b);
  auto decoded = DecodeBatch(bytes, TestRegistry());
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
  EXPECT_EQ(decoded->tenant_id, b.tenant_id);
  EXPECT_EQ(decoded->device_id, b.device_id);
  EXPECT_EQ(decoded->batch_id, b.batch_id);
  EXPECT_EQ(decoded->received_ticks, b.received_ticks);
  ASSERT_EQ(decoded->rows.size(), b.rows.size());
  for (size_t i = 0; i < b.rows.size(); ++i) {
    EXPECT_EQ(decoded->rows[i].table, b.rows[i].table);
    EXPECT_EQ(decoded->rows[i].values, b.rows[i].values) << "row " << i;
  }
  EXPECT_TRUE(std::signbit(std::get<double>(decoded->rows[2].values[6])));  // -0.0 kept bit-exact
}

TEST(RowsTest, NanAndInfinityRoundTrip) {
  RowBatch b;
  b.tenant_id = "t";
  b.rows.push_back(Row{0, {int64_t{1}, std::string("a"), int64_t{1}, int64_t{1}, int64_t{1}, std::string("{}"), std::nan("")}});
  b.rows.push_back(Row{0, {int64_t{1}, std::string("a"), int64_t{1}, int64_t{1}, int64_t{1}, std::string("{}"), -INFINITY}});
  auto d = DecodeBatch(EncodeBatch(b), TestRegistry());
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(std::isnan(std::get<double>(d->rows[0].values[6])));
  EXPECT_EQ(std::get<double>(d->rows[1].values[6]), -INFINITY);
}

TEST(RowsTest, EmptyBatch) {
  RowBatch b;
  auto d = DecodeBatch(EncodeBatch(b), TestRegistry());
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->rows.empty());
  EXPECT_EQ(d->tenant_id, "");
}

TEST(RowsTest, EveryTruncationFailsCleanly) {
  std::string bytes = EncodeBatch(SampleBatch());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto d = DecodeBatch(std::string_view(bytes).substr(0, n), TestRegistry());
    ASSERT_FALSE(d.has_value()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
  }
  // Copies, so that address sanitizers see reads past the end of the prefix.
  for (size_t n = 0; n < 64; ++n) {
    std::string copy = bytes.substr(0, n);
    EXPECT_FALSE(DecodeBatch(copy, TestRegistry()).has_value());
  }
}

TEST(RowsTest, TrailingBytesRejected) {
  std::string bytes = EncodeBatch(SampleBatch()) + "x";
  auto d = DecodeBatch(bytes, TestRegistry());
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
}

Status DecodeStatus(const RowBatch& b) {
  auto d = DecodeBatch(EncodeBatch(b), TestRegistry());
  return d.has_value() ? Status::Ok() : d.error();
}

TEST(RowsTest, SchemaViolationsAreInvalidArgument) {
  RowBatch base;
  base.tenant_id = "t";
  {
    RowBatch b = base;
    b.rows.push_back(Row{2, {int64_t{1}}});  // table id out of range
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
  {
    RowBatch b = base;
    b.rows.push_back(Row{1, {int64_t{1}}});  // Beta has two columns
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
  {
    RowBatch b = base;
    b.rows.push_back(Row{1, {int64_t{1}, std::string("a"), std::string("b")}});
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
  {
    RowBatch b = base;
    b.rows.push_back(Row{1, {std::string("2024-01-01"), std::string("a")}});  // string in a datetime column
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
  {
    RowBatch b = base;
    b.rows.push_back(Row{1, {int64_t{1}, int64_t{2}}});  // integer in a string column
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
  {
    RowBatch b = base;
    b.rows.push_back(Row{0, {int64_t{1}, std::string("a"), int64_t{1}, int64_t{1}, int64_t{1}, std::string("{}"), int64_t{3}}});  // long in real
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
  {
    RowBatch b = base;
    b.rows.push_back(Row{0, {int64_t{1}, std::string("a"), 1.5, int64_t{1}, int64_t{1}, std::string("{}"), 1.5}});  // real in long
    EXPECT_EQ(DecodeStatus(b).code(), StatusCode::kInvalidArgument);
  }
}

TEST(RowsTest, MalformedHeadersRejected) {
  std::string bytes = EncodeBatch(SampleBatch());
  {
    std::string b = bytes;
    b[0] = 9;  // unknown version
    EXPECT_FALSE(DecodeBatch(b, TestRegistry()).has_value());
  }
  {
    // A row count far beyond the input must not be trusted for allocation.
    RowBatch empty;
    std::string b = EncodeBatch(empty);
    b.pop_back();  // row count 0
    b += std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9);
    auto d = DecodeBatch(b, TestRegistry());
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
  }
  {
    // An over-long varint (11 bytes of continuation).
    std::string b(1, '\x01');
    b += std::string(11, '\x80');
    EXPECT_FALSE(DecodeBatch(b, TestRegistry()).has_value());
  }
}

TEST(RowsTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(7);
  std::string good = EncodeBatch(SampleBatch());
  for (int i = 0; i < 2000; ++i) {
    std::string b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    auto d = DecodeBatch(b, TestRegistry());  // may succeed (a flipped string byte); must not crash
    if (!d.has_value()) {
      EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(RowsTest, HuntingSchemaRow) {
  const SchemaRegistry& reg = SchemaRegistry::Hunting();
  const TableDef* t = reg.Find("DeviceProcessEvents");
  ASSERT_NE(t, nullptr);
  RowBatch b;
  b.tenant_id = "t";
  Row row{t->id, std::vector<CellValue>(t->columns.size())};
  row.values[t->Find("Timestamp")] = int64_t{638'400'000'000'000'000};
  row.values[t->Find("ProcessCommandLine")] = std::string("powershell -enc AAAA");
  b.rows.push_back(row);
  auto d = DecodeBatch(EncodeBatch(b), reg);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(d->rows[0].values, row.values);
}

}  // namespace
}  // namespace ward::events
