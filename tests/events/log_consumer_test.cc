// The file log's consumer groups: a group is its cursor file, a member reads with Read.
#include <gtest/gtest.h>

#include "common/temp_dir.h"
#include "events/event_log.h"

namespace ward::events {
namespace {

using namespace std::chrono_literals;

TEST(LogPositionTest, ComparesPartitionByPartition) {
  EXPECT_TRUE(Reached({3, 5}, {3, 4}));
  EXPECT_FALSE(Reached({9, 1}, {3, 4}));
  EXPECT_TRUE(Reached({}, {0, 0}));
  EXPECT_FALSE(Reached({}, {1}));
  EXPECT_EQ(RecordsBehind({1, 7}, {4, 6}), 3u);
  EXPECT_EQ(MinPosition({1, 7}, {4, 6}), (LogPosition{1, 6}));
  EXPECT_EQ(MinPosition({}, {4, 6}), (LogPosition{4, 6}));  // no entries: needs nothing
  EXPECT_EQ(TotalOffset({4, 6}), 10u);
}

class FileLogConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    log_.reset();
    FileEventLogOptions o;
    o.dir = dir_.File("log");
    o.cursor_dir = dir_.File("cursors");
    auto log = FileEventLog::Open(o);
    ASSERT_TRUE(log) << log.error().message();
    log_ = std::move(*log);
  }
  std::vector<std::string> PollAll(LogConsumer& c, size_t max = 100) {
    std::vector<std::string> out;
    auto got = c.Poll(max, 1 << 20, 0ms);
    EXPECT_TRUE(got);
    if (got) for (auto& r : *got) out.push_back(r.data);
    return out;
  }
  test::TempDir dir_{"ward-log-consumer"};
  std::unique_ptr<FileEventLog> log_;
};

TEST_F(FileLogConsumerTest, ACommittedPositionSurvivesARestartAndUncommittedRecordsReturn) {
  for (const char* r : {"a", "b", "c", "d"}) ASSERT_TRUE(log_->AppendSync(r));
  EXPECT_FALSE(log_->CommittedPosition("g").value().has_value());
  {
    auto c = log_->OpenConsumer("g");
    ASSERT_TRUE(c);
    EXPECT_EQ(PollAll(**c, 2), (std::vector<std::string>{"a", "b"}));
    ASSERT_TRUE((*c)->Commit().ok());
    EXPECT_EQ(PollAll(**c, 1), (std::vector<std::string>{"c"}));  // returned, not committed
    EXPECT_EQ((*c)->position(), LogPosition{3});
    EXPECT_EQ((*c)->committed(), LogPosition{2});
  }
  Reopen();
  EXPECT_EQ(log_->CommittedPosition("g").value().value(), LogPosition{2});
  auto c = log_->OpenConsumer("g");
  ASSERT_TRUE(c);
  EXPECT_EQ(PollAll(**c), (std::vector<std::string>{"c", "d"}));
  EXPECT_TRUE((*c)->Poll(10, 1 << 20, 10ms).value().empty());
  // Existing data dirs keep working: the group is the same "<name>.cursor" file as before.
  ASSERT_TRUE((*c)->Commit().ok());
  auto cursor = Cursor::Open(dir_.File("cursors"), "g");
  ASSERT_TRUE(cursor);
  EXPECT_EQ(cursor->offset(), 4u);
}

TEST_F(FileLogConsumerTest, SeekCommitGroupAndTimes) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(log_->AppendSync(std::to_string(i * 10)));
  ASSERT_TRUE(log_->CommitGroup("late", {4}).ok());
  EXPECT_FALSE(log_->CommitGroup("late", {4, 1}).ok());
  auto c = log_->OpenConsumer("late");
  ASSERT_TRUE(c);
  EXPECT_EQ(PollAll(**c), (std::vector<std::string>{"40", "50"}));
  ASSERT_TRUE((*c)->Seek({1}).ok());
  EXPECT_EQ(PollAll(**c, 1), (std::vector<std::string>{"10"}));
  auto time_of = [](const LogRecord& r) { return int64_t{std::stoi(r.data)}; };
  EXPECT_EQ(log_->PositionAt(25, time_of).value(), LogPosition{3});
  EXPECT_EQ(log_->PositionAt(1000, time_of).value(), LogPosition{6});
  EXPECT_EQ(log_->EarliestRetainedTicks(time_of).value(), 0);
  EXPECT_EQ(log_->ReadRecent(2).value().size(), 2u);
  EXPECT_EQ(log_->EndPosition().value(), LogPosition{6});
}

}  // namespace
}  // namespace ward::events
