// KafkaEventLog against librdkafka's mock cluster, in process (real Kafka protocol on 127.0.0.1).
#include "events/kafka_event_log.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "events/store_writer.h"
#include "events/store_writer_fake_store.h"

namespace ward::events {
namespace {

using namespace std::chrono_literals;

class KafkaEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(owner_, nullptr) << err;
    cluster_ = rd_kafka_mock_cluster_new(owner_, 1);
    ASSERT_NE(cluster_, nullptr);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "ward-events", kPartitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    options_.brokers = rd_kafka_mock_cluster_bootstraps(cluster_);
    options_.request_timeout = 20s;
    // Quick group membership changes; correctness does not depend on these.
    options_.consumer_config = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "300"}};
  }
  void TearDown() override {
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (owner_) rd_kafka_destroy(owner_);
  }

  std::unique_ptr<KafkaEventLog> OpenLog() {
    auto log = KafkaEventLog::Open(options_);
    EXPECT_TRUE(log) << log.error().message();
    return log ? std::move(*log) : nullptr;
  }

  // Polls until `want` records arrived in total or a generous deadline (failures show as missing records).
  static std::vector<LogRecord> PollUntil(LogConsumer& c, size_t want, std::chrono::seconds limit = 60s) {
    std::vector<LogRecord> out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
      auto got = c.Poll(1000, 1 << 20, 200ms);
      if (!got) continue;  // transient (the group is still forming)
      for (LogRecord& r : *got) out.push_back(std::move(r));
    }
    return out;
  }
  static std::multiset<std::string> Payloads(const std::vector<LogRecord>& records) {
    std::multiset<std::string> out;
    for (const LogRecord& r : records) out.insert(r.data);
    return out;
  }
  static void AppendAll(EventLog& log, const std::string& prefix, int n, int devices) {
    for (int i = 0; i < n; ++i) {
      auto r = log.AppendSync(prefix + std::to_string(i), "device-" + std::to_string(i % devices));
      ASSERT_TRUE(r) << r.error().message();
    }
  }
  static std::multiset<std::string> Expected(const std::string& prefix, int n) {
    std::multiset<std::string> out;
    for (int i = 0; i < n; ++i) out.insert(prefix + std::to_string(i));
    return out;
  }

  static constexpr int kPartitions = 4;
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  KafkaEventLogOptions options_;
};

TEST(KafkaUrlTest, ParsesBrokersAndTopic) {
  auto o = ParseKafkaUrl("kafka://127.0.0.1:9092,kafka-2:19092/telemetry.v1");
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->brokers, "127.0.0.1:9092,kafka-2:19092");
  EXPECT_EQ(o->topic, "telemetry.v1");
  auto d = ParseKafkaUrl("kafka://[::1]:9092");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->brokers, "[::1]:9092");
  EXPECT_EQ(d->topic, "ward-events");
  for (const char* bad : {"http://h:1/t", "kafka:///t", "kafka://h/t", "kafka://h:0/t", "kafka://h:99999/t",
                          "kafka://h:1,/t", "kafka://h:1/bad topic", "kafka://:1/t"}) {
    EXPECT_FALSE(ParseKafkaUrl(bad)) << bad;
  }
}

TEST_F(KafkaEventLogTest, AppendPollCommitRoundTrip) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->partitions(), kPartitions);
  AppendAll(*log, "a", 20, 5);
  auto end = log->EndPosition();
  ASSERT_TRUE(end);
  EXPECT_EQ(TotalOffset(*end), 20u);
  EXPECT_FALSE(log->CommittedPosition("rt").value().has_value());
  {
    auto c = log->OpenConsumer("rt");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(Payloads(PollUntil(**c, 20)), Expected("a", 20));
    ASSERT_TRUE((*c)->Commit().ok());
    EXPECT_EQ((*c)->position(), *end);
    EXPECT_EQ((*c)->committed(), *end);
  }
  auto committed = log->CommittedPosition("rt");
  ASSERT_TRUE(committed && committed->has_value());
  EXPECT_EQ(**committed, *end);
  // A new member resumes after the commit: only what came since.
  AppendAll(*log, "b", 8, 5);
  auto c = log->OpenConsumer("rt");
  ASSERT_TRUE(c);
  auto got = PollUntil(**c, 8);
  EXPECT_EQ(Payloads(got), Expected("b", 8));
  EXPECT_TRUE((*c)->Poll(100, 1 << 20, 300ms).value().empty());
}

TEST_F(KafkaEventLogTest, RecordsOfADeviceStayInOrderInOnePartition) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  constexpr int kDevices = 12, kEach = 15;
  for (int i = 0; i < kEach; ++i) {
    for (int d = 0; d < kDevices; ++d) {
      ASSERT_TRUE(log->AppendSync(std::to_string(d) + ":" + std::to_string(i), "device-" + std::to_string(d)));
    }
  }
  auto c = log->OpenConsumer("order");
  ASSERT_TRUE(c);
  auto got = PollUntil(**c, kDevices * kEach);
  ASSERT_EQ(got.size(), size_t{kDevices * kEach});
  std::map<int, int> last;       // device -> last sequence number seen
  std::map<int, int32_t> where;  // device -> partition
  std::set<int32_t> partitions;
  for (const LogRecord& r : got) {
    int device = std::stoi(r.data.substr(0, r.data.find(':')));
    int seq = std::stoi(r.data.substr(r.data.find(':') + 1));
    auto [it, fresh] = where.emplace(device, r.partition);
    EXPECT_EQ(it->second, r.partition) << "device " << device << " moved partition";
    auto l = last.find(device);
    EXPECT_EQ(seq, l == last.end() ? 0 : l->second + 1) << "device " << device << " out of order";
    last[device] = seq;
    partitions.insert(r.partition);
  }
  EXPECT_GT(partitions.size(), 1u);  // the devices are spread over the topic
}

TEST_F(KafkaEventLogTest, ASecondMemberTakesOverFromTheCommittedOffsets) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  AppendAll(*log, "done", 12, 6);
  {
    auto first = log->OpenConsumer("takeover");
    ASSERT_TRUE(first);
    ASSERT_EQ(Payloads(PollUntil(**first, 12)), Expected("done", 12));
    ASSERT_TRUE((*first)->Commit().ok());
    // Returned but never committed: the next owner must get these again.
    AppendAll(*log, "open", 10, 6);
    EXPECT_EQ(Payloads(PollUntil(**first, 10)), Expected("open", 10));
  }  // closed without committing
  auto second = log->OpenConsumer("takeover");
  ASSERT_TRUE(second);
  EXPECT_EQ(Payloads(PollUntil(**second, 10)), Expected("open", 10));
  EXPECT_TRUE((*second)->Poll(100, 1 << 20, 300ms).value().empty());
}

TEST_F(KafkaEventLogTest, TwoMembersSplitThePartitionsAndTogetherSeeEveryRecord) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  AppendAll(*log, "r", 64, 16);
  auto end = log->EndPosition();
  ASSERT_TRUE(end);
  for (uint64_t v : *end) ASSERT_GT(v, 0u) << "every partition should hold records";

  std::mutex mu;
  std::multiset<std::string> seen;
  std::vector<LogPosition> positions(2);
  std::atomic<bool> stop{false};
  auto member = [&](int index) {
    auto c = log->OpenConsumer("split");
    ASSERT_TRUE(c);
    while (!stop.load()) {
      auto got = (*c)->Poll(1000, 1 << 20, 100ms);
      // A commit racing a rebalance may be refused; the records are then delivered again (checked below).
      if (got && !got->empty()) (void)(*c)->Commit();
      std::lock_guard lock(mu);
      if (got) for (const LogRecord& r : *got) seen.insert(r.data);
      positions[index] = (*c)->position();
    }
  };
  std::thread a(member, 0);
  std::this_thread::sleep_for(500ms);  // ordering only, so the second joins an existing group
  std::thread b(member, 1);
  // Done when the two hold disjoint, non-empty sets of partitions that cover the topic, each at its end.
  auto split = [&] {
    std::lock_guard lock(mu);
    std::set<size_t> held[2];
    for (int m = 0; m < 2; ++m) {
      for (size_t p = 0; p < positions[m].size(); ++p) {
        if (positions[m][p] == 0) continue;
        if (positions[m][p] != (*end)[p]) return false;
        held[m].insert(p);
      }
    }
    if (held[0].empty() || held[1].empty() || held[0].size() + held[1].size() != static_cast<size_t>(kPartitions)) return false;
    for (size_t p : held[0]) if (held[1].count(p)) return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (!split() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  stop = true;
  a.join();
  b.join();
  EXPECT_TRUE(split());
  // Every record at least once (a rebalance may deliver some twice, never skip one).
  std::set<std::string> unique(seen.begin(), seen.end());
  auto want = Expected("r", 64);
  EXPECT_EQ(unique, std::set<std::string>(want.begin(), want.end()));
  auto committed = log->CommittedPosition("split");
  ASSERT_TRUE(committed && committed->has_value());
  EXPECT_EQ(**committed, *end);
}

TEST_F(KafkaEventLogTest, GroupPositionsTimesAndRecentRecords) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  AppendAll(*log, "x", 9, 3);
  auto end = log->EndPosition();
  ASSERT_TRUE(end);
  auto none = [](const LogRecord&) { return int64_t{0}; };
  // Only the end is checked: the 2.0 mock cluster does not search by timestamp (any time but
  // "latest" answers "no offset"), so the start of a time range cannot be tested here.
  auto later = log->PositionAt(INT64_MAX / 2, none);
  ASSERT_TRUE(later) << later.error().message();
  EXPECT_EQ(*later, *end);  // after everything: the end
  auto earliest = log->EarliestRetainedTicks(none);
  ASSERT_TRUE(earliest) << earliest.error().message();
  EXPECT_EQ(*earliest, 0);  // nothing was ever dropped
  auto recent = log->ReadRecent(1000);
  ASSERT_TRUE(recent) << recent.error().message();
  EXPECT_EQ(Payloads(*recent), Expected("x", 9));
  auto last = log->ReadRecent(4);  // one per partition: the newest record of each non-empty one
  ASSERT_TRUE(last) << last.error().message();
  for (const LogRecord& r : *last) EXPECT_EQ(r.offset + 1, (*end)[r.partition]);
  // A new group placed at the end sees only what comes after.
  Status committed = log->CommitGroup("late", *end);
  ASSERT_TRUE(committed.ok()) << committed.message();
  auto late = log->CommittedPosition("late");
  ASSERT_TRUE(late) << late.error().message();
  ASSERT_TRUE(late->has_value());
  EXPECT_EQ(**late, *end);
  AppendAll(*log, "y", 3, 3);
  auto c = log->OpenConsumer("late");
  ASSERT_TRUE(c);
  EXPECT_EQ(Payloads(PollUntil(**c, 3)), Expected("y", 3));
  EXPECT_FALSE(log->CommitGroup("late", {1}).ok());  // wrong number of partitions
}

TEST_F(KafkaEventLogTest, RefusedRecordsComeBackAsErrors) {
  options_.producer_config = {{"message.timeout.ms", "1500"}, {"message.max.bytes", "10000"}};
  auto log = OpenLog();
  ASSERT_TRUE(log);
  auto big = log->AppendSync(std::string(20000, 'x'), "d");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), StatusCode::kInvalidArgument) << big.error().message();
  ASSERT_TRUE(log->AppendSync("fine", "d"));
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto down = log->AppendSync("lost?", "d");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), StatusCode::kUnavailable) << down.error().message();
}

TEST_F(KafkaEventLogTest, StoreWriterCommitsItsGroupAfterAppendAndCatchesUpWithTheEnd) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(log->AppendSync(test::BatchRecord("k" + std::to_string(i)), "d" + std::to_string(i)));
  auto end = log->EndPosition();
  ASSERT_TRUE(end);
  test::RecordingStore store(/*fail_first=*/1);
  metrics::Registry metrics;
  StoreWriter writer(*log, store, SchemaRegistry::Hunting(), metrics);
  ASSERT_TRUE(writer.Start().ok());
  ASSERT_TRUE(writer.WaitUntilApplied(*end, 60s));
  writer.Stop();
  auto ids = store.ids();
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 12u);
  auto committed = log->CommittedPosition("store");
  ASSERT_TRUE(committed && committed->has_value());
  EXPECT_EQ(**committed, *end);
}

}  // namespace
}  // namespace ward::events
