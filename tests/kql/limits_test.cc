// Cancellation, the timeout and the result-size limit end a query with MDE's messages (engine.h).
// The long query is CPU-bound over a `range` (no store data needed, memory bounded by the executor's
// slices) and takes far longer than the test lets it run; nothing here asserts a duration.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <stdlib.h>

#include "events/event_store.h"
#include "kql/engine.h"

namespace ward::kql {
namespace {

// Tens of seconds of hashing uncancelled (about 45 s on the reference machine): nine million rows,
// each hashed twelve times over.
constexpr const char* kLongQuery =
    "range x from 1 to 9000000 step 1\n"
    "| extend h = hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256("
    "hash_sha256(hash_sha256(hash_sha256(hash_sha256(strcat('w', tostring(x))))))))))))))\n"
    "| where h == 'no such hash'\n"
    "| count";

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ward_kql_limits_XXXXXX";
    dir_ = mkdtemp(tmpl);
    events::ColumnarStoreOptions so;
    so.dir = dir_;
    auto store = events::ColumnarStore::Open(so, events::SchemaRegistry::Hunting());
    ASSERT_TRUE(store.has_value()) << store.error().message();
    store_ = std::move(*store);
    options_.tenant_id = "tenant-a";
    options_.timeout = std::chrono::minutes(30);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<QueryResult> Run(std::string_view q) { return RunQuery(q, options_, *store_, events::SchemaRegistry::Hunting()); }

  std::string dir_;
  std::unique_ptr<events::ColumnarStore> store_;
  QueryOptions options_;
};

TEST_F(Limits, CancelFromAnotherThreadStopsALongQuery) {
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto r = Run(kLongQuery);
  canceller.join();
  ASSERT_FALSE(r.has_value()) << "the long query finished before it was cancelled";
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.error().message(), "Query was cancelled.");
}

TEST_F(Limits, CancelIsSeenInsideAJoin) {
  // A cross join: every left row matches every right row. Cancelled before it starts, it must not
  // build its output first.
  std::atomic<bool> cancel{true};
  options_.cancel = &cancel;
  auto r = Run("range a from 1 to 3000 step 1 | extend k = 1 | join kind=inner (range b from 1 to 3000 step 1 | extend k = 1) on k | count");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "Query was cancelled.");
}

TEST_F(Limits, AJoinTooLargeStopsWithMdesMessage) {
  // 3,000 × 3,000 = 9 million pairs against a cap of one million: stopped while building.
  options_.max_join_rows = 1'000'000;
  const char* cross = "range a from 1 to 3000 step 1 | extend k = 1 | join kind=inner (range b from 1 to 3000 step 1 | extend k = 1) on k | count";
  auto r = Run(cross);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.error().message(), "Query stopped due to excessive resource consumption.");
  // Within the cap the same join runs.
  options_.max_join_rows = 10'000'000;
  auto ok = Run(cross);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->columns[0].ints[0], 9'000'000);
}

TEST_F(Limits, TimeoutHasMdesMessage) {
  options_.timeout = std::chrono::milliseconds(0);
  auto r = Run(kLongQuery);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.error().message(), "Query exceeded the timeout period.");
}

TEST_F(Limits, ResultSizeHasMdesMessage) {
  options_.max_result_bytes = 1000;
  auto r = Run("range x from 1 to 1000 step 1 | extend s = strcat('row ', tostring(x))");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.error().message(),
            "Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again");
  // Under the limit the same query runs.
  options_.max_result_bytes = 124ull << 20;
  auto ok = Run("range x from 1 to 1000 step 1 | extend s = strcat('row ', tostring(x))");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->rows, 1000u);
}

TEST_F(Limits, RowsBeyondMaxRowsAreTruncated) {
  options_.max_rows = 10;
  auto r = Run("range x from 1 to 1000 step 1");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->rows, 10u);
  EXPECT_TRUE(r->truncated);
}

TEST_F(Limits, SlicedOperatorsGiveTheWholeAnswer) {
  // More rows than one executor slice (65,536): filter, extend and project run slice by slice.
  auto r = Run("range x from 1 to 200000 step 1 | extend y = x * 2 | where y % 3 == 0 | project y | summarize n = count(), s = sum(y)");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->rows, 1u);
  // y = 2x for x in [1, 200000] with 3 | 2x, i.e. 3 | x: x = 3k, k = 1..66666; sum(y) = 6 * (66666 * 66667 / 2).
  EXPECT_EQ(r->columns[0].ints[0], 66666);
  EXPECT_EQ(r->columns[1].ints[0], int64_t{6} * (int64_t{66666} * 66667 / 2));
}

}  // namespace
}  // namespace ward::kql
