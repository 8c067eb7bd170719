// StoreWriter on a store that is durable at Append: it merges what it polled into one Append per
// tenant, commits its consumer group after it, retries a refused Append, and resumes after the
// committed position.
#include "events/store_writer.h"

#include <gtest/gtest.h>

#include "common/temp_dir.h"
#include "events/store_writer_fake_store.h"

namespace ward::events {
namespace {

using namespace std::chrono_literals;

TEST(StoreWriterTest, CommitsAfterAppendRetriesRefusalsAndResumesAfterTheCommit) {
  ward::test::TempDir dir("ward-store-writer");
  FileEventLogOptions o;
  o.dir = dir.File("log");
  auto log = FileEventLog::Open(o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->AppendSync(test::BatchRecord("b" + std::to_string(i))));
  const auto& schema = SchemaRegistry::Hunting();
  {
    test::RecordingStore store(/*fail_first=*/2);
    metrics::Registry metrics;
    StoreWriter writer(**log, store, schema, metrics);
    ASSERT_TRUE(writer.Start().ok());
    ASSERT_TRUE(writer.WaitUntilApplied((*log)->EndPosition().value(), 60s));
    writer.Stop();
    EXPECT_EQ(store.ids(), (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4"}));
    // The records of one tenant polled together go in as one Append (one insert, one ClickHouse part).
    EXPECT_LT(store.appends(), 5);
  }
  EXPECT_EQ((*log)->CommittedPosition("store").value().value(), LogPosition{5});
  ASSERT_TRUE((*log)->AppendSync(test::BatchRecord("b5")));
  test::RecordingStore store;
  metrics::Registry metrics;
  StoreWriter writer(**log, store, schema, metrics);
  ASSERT_TRUE(writer.Start().ok());
  ASSERT_TRUE(writer.WaitUntilApplied((*log)->EndPosition().value(), 60s));
  writer.Stop();
  EXPECT_EQ(store.ids(), (std::vector<std::string>{"b5"}));
}

}  // namespace
}  // namespace ward::events
