#include "sensor/disk_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor/batcher.h"
#include "sensor/fake_server.h"

namespace ward::sensor {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

std::unique_ptr<DiskQueue> OpenQueue(const std::string& dir, uint64_t max_bytes = 1 << 20, uint64_t segment = 0) {
  DiskQueueOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.segment_bytes = segment;
  o.fsync = false;
  auto q = DiskQueue::Open(o);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message());
  return q ? std::move(*q) : nullptr;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name).starts_with("seg-")) {
      struct stat st {};
      ::stat((dir + "/" + e->d_name).c_str(), &st);
      total += static_cast<uint64_t>(st.st_size);
    }
  }
  ::closedir(d);
  return total;
}

TEST(DiskQueueTest, FifoWithCommit) {
  TempDir dir;
  auto q = OpenQueue(dir.path());
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->Peek(10ms).has_value());
  ASSERT_TRUE(q->Append("b1", 3, "payload-1").ok());
  ASSERT_TRUE(q->Append("b2", 2, "payload-2").ok());
  QueueStats s = q->Stats();
  EXPECT_EQ(s.pending_events, 5u);
  EXPECT_EQ(s.pending_batches, 2u);
  auto b = q->Peek(10ms);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->batch_id, "b1");
  EXPECT_EQ(b->events, 3u);
  EXPECT_EQ(b->payload, "payload-1");
  // Not committed: the same batch comes back (retries keep the batch id).
  auto again = q->Peek(10ms);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->batch_id, "b1");
  ASSERT_TRUE(q->Commit(*b).ok());
  // Committing twice is harmless.
  ASSERT_TRUE(q->Commit(*b).ok());
  auto b2 = q->Peek(10ms);
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->batch_id, "b2");
  ASSERT_TRUE(q->Commit(*b2).ok());
  EXPECT_FALSE(q->Peek(10ms).has_value());
  EXPECT_EQ(q->Stats().pending_events, 0u);
}

TEST(DiskQueueTest, SurvivesReopen) {
  TempDir dir;
  {
    auto q = OpenQueue(dir.path(), 1 << 20, 4096);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(q->Append("batch-" + std::to_string(i), 10, std::string(300, static_cast<char>('a' + i % 26))).ok());
    }
    // Consume the first 7.
    for (int i = 0; i < 7; ++i) {
      auto b = q->Peek(10ms);
      ASSERT_TRUE(b);
      ASSERT_EQ(b->batch_id, "batch-" + std::to_string(i));
      ASSERT_TRUE(q->Commit(*b).ok());
    }
    // Peeked but not committed: must come back after a restart.
    auto inflight = q->Peek(10ms);
    ASSERT_TRUE(inflight);
    EXPECT_EQ(inflight->batch_id, "batch-7");
    q->CountDropped("rejected_by_server", 4);
    auto ack = q->Peek(10ms);  // the cursor persists drop counters too
    ASSERT_TRUE(q->Commit(*ack).ok());
  }
  auto q = OpenQueue(dir.path(), 1 << 20, 4096);
  QueueStats s = q->Stats();
  EXPECT_EQ(s.pending_batches, 42u);
  EXPECT_EQ(s.pending_events, 420u);
  EXPECT_EQ(s.dropped["rejected_by_server"], 4u);
  for (int i = 8; i < 50; ++i) {
    auto b = q->Peek(10ms);
    ASSERT_TRUE(b) << i;
    EXPECT_EQ(b->batch_id, "batch-" + std::to_string(i));
    EXPECT_EQ(b->payload, std::string(300, static_cast<char>('a' + i % 26)));
    ASSERT_TRUE(q->Commit(*b).ok());
  }
  EXPECT_FALSE(q->Peek(10ms).has_value());
  // Consumed segments are deleted; only the active one remains.
  EXPECT_LE(DirBytes(dir.path()), 4096u + 400);
}

TEST(DiskQueueTest, EnforcesBoundByDroppingOldest) {
  TempDir dir;
  const uint64_t kMax = 16 * 1024;
  auto q = OpenQueue(dir.path(), kMax, 2048);
  const std::string payload(500, 'x');
  const int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) {
    ASSERT_TRUE(q->Append("b" + std::to_string(i), 5, payload).ok());
    ASSERT_LE(DirBytes(dir.path()), kMax) << i;
  }
  QueueStats s = q->Stats();
  EXPECT_GT(s.dropped["queue_full"], 0u);
  // Nothing is lost silently: every event is either pending or counted as dropped.
  EXPECT_EQ(s.pending_events + s.dropped["queue_full"], static_cast<uint64_t>(kBatches) * 5);
  EXPECT_LE(s.disk_bytes, kMax);
  // What remains is the newest data, in order, ending with the last batch.
  std::string last;
  int previous = -1;
  while (auto b = q->Peek(1ms)) {
    int n = std::stoi(b->batch_id.substr(1));
    EXPECT_GT(n, previous);
    previous = n;
    last = b->batch_id;
    ASSERT_TRUE(q->Commit(*b).ok());
  }
  EXPECT_EQ(last, "b" + std::to_string(kBatches - 1));
  // Drop counts survive a restart.
  q.reset();
  auto reopened = OpenQueue(dir.path(), kMax, 2048);
  EXPECT_EQ(reopened->Stats().dropped["queue_full"], s.dropped["queue_full"]);
}

TEST(DiskQueueTest, DroppingUnderAnInFlightBatchIgnoresItsCommit) {
  TempDir dir;
  auto q = OpenQueue(dir.path(), 8192, 4096);
  ASSERT_TRUE(q->Append("old", 1, std::string(3000, 'o')).ok());
  auto inflight = q->Peek(1ms);
  ASSERT_TRUE(inflight);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q->Append("new" + std::to_string(i), 1, std::string(3000, 'n')).ok());
  EXPECT_GE(q->Stats().dropped["queue_full"], 1u);
  ASSERT_TRUE(q->Commit(*inflight).ok());  // stale: must not skip a newer batch
  auto next = q->Peek(1ms);
  ASSERT_TRUE(next);
  EXPECT_NE(next->batch_id, "old");
  uint64_t pending = q->Stats().pending_events;
  EXPECT_EQ(pending + q->Stats().dropped["queue_full"], 6u);
}

TEST(DiskQueueTest, TruncatesTornTailOnOpen) {
  TempDir dir;
  {
    auto q = OpenQueue(dir.path());
    ASSERT_TRUE(q->Append("a", 1, "first").ok());
    ASSERT_TRUE(q->Append("b", 1, "second").ok());
  }
  // Simulate a crash in the middle of an append: half a record at the end.
  std::string seg;
  DIR* d = ::opendir(dir.path().c_str());
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name).starts_with("seg-")) seg = dir.path() + "/" + e->d_name;
  }
  ::closedir(d);
  ASSERT_FALSE(seg.empty());
  {
    int fd = ::open(seg.c_str(), O_WRONLY | O_APPEND);
    std::string junk = "WQB1\x40\x00\x00\x00garbage";
    ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    ::close(fd);
  }
  auto q = OpenQueue(dir.path());
  EXPECT_EQ(q->Stats().pending_batches, 2u);
  ASSERT_TRUE(q->Append("c", 1, "third").ok());
  std::vector<std::string> ids;
  while (auto b = q->Peek(1ms)) {
    ids.push_back(b->batch_id);
    ASSERT_TRUE(q->Commit(*b).ok());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(DiskQueueTest, CorruptRecordIsSkippedAndCounted) {
  TempDir dir;
  {
    auto q = OpenQueue(dir.path(), 1 << 20, 4096);
    ASSERT_TRUE(q->Append("a", 7, std::string(100, 'a')).ok());
  }
  std::string seg;
  DIR* d = ::opendir(dir.path().c_str());
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name).starts_with("seg-")) seg = dir.path() + "/" + e->d_name;
  }
  ::closedir(d);
  int fd = ::open(seg.c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, "zz", 2, kQueueRecordHeader + 10), 2);  // flip payload bytes: CRC mismatch
  ::close(fd);
  auto q = OpenQueue(dir.path(), 1 << 20, 4096);
  ASSERT_TRUE(q->Append("b", 1, "fine").ok());
  auto b = q->Peek(1ms);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->batch_id, "b");
  EXPECT_EQ(q->Stats().dropped["queue_corrupt"], 7u);
}

TEST(DiskQueueTest, PeekWakesOnAppend) {
  TempDir dir;
  auto q = OpenQueue(dir.path());
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    q->Append("late", 1, "x");
  });
  auto start = std::chrono::steady_clock::now();
  auto b = q->Peek(5s);
  writer.join();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->batch_id, "late");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  q->Shutdown();
  EXPECT_FALSE(q->Peek(5s).has_value());
}

TEST(BatcherTest, CutsBatchesBySizeAndTimeWithIncreasingReportIds) {
  TempDir dir;
  auto q = OpenQueue(dir.path() + "/queue");
  auto ids = ReportIdCounter::Open(dir.File("report_id"), 100);
  ASSERT_TRUE(ids.has_value());
  BatcherOptions o;
  o.max_events = 10;
  o.max_delay = 100ms;
  Batcher batcher(q.get(), ids->get(), o);
  batcher.Start();
  for (int i = 0; i < 25; ++i) batcher.Emit(NewEvent(kProcessTable, "ProcessCreated"));
  std::this_thread::sleep_for(400ms);
  batcher.Stop();
  std::vector<int64_t> report_ids;
  int batches = 0;
  while (auto b = q->Peek(1ms)) {
    ++batches;
    auto body = ZstdDecompress(b->payload);
    ASSERT_TRUE(body.has_value());
    uint32_t lines = 0;
    for (auto line : SplitLines(*body)) {
      if (line.empty()) continue;
      ++lines;
      auto ev = json::Value::Parse(line);
      ASSERT_TRUE(ev.has_value());
      report_ids.push_back(ev->GetInt("ReportId").value_or(-1));
      EXPECT_EQ(ev->GetString("$table").value_or(""), "DeviceProcessEvents");
    }
    EXPECT_EQ(lines, b->events);
    EXPECT_LE(b->events, 10u);
    q->Commit(*b);
  }
  EXPECT_EQ(batches, 3);
  ASSERT_EQ(report_ids.size(), 25u);
  for (size_t i = 1; i < report_ids.size(); ++i) EXPECT_GT(report_ids[i], report_ids[i - 1]);
  // A restart continues above everything handed out before.
  int64_t last = report_ids.back();
  ids->reset();
  auto reopened = ReportIdCounter::Open(dir.File("report_id"), 100);
  EXPECT_GT((*reopened)->Next(), last);
}

}  // namespace
}  // namespace ward::sensor
