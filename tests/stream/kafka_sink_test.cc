// The Kafka destination: settings validation (Event Hubs connection strings included) and real
// delivery over the Kafka protocol to librdkafka's mock cluster on loopback, read back with a
// librdkafka consumer: topics per category or one topic, exact {"records":[...]} envelopes, per
// device order, oversize records rejected, broker outages and produce errors never losing records.
#include "stream/kafka_sink.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "events/schema.h"
#include "stream/stream_record.h"

namespace ward::stream {
namespace {

constexpr int16_t kProduceApiKey = 0;

json::Value Settings(std::string_view text) { return *json::Value::Parse(text); }

std::string ErrorOf(std::string_view settings) {
  Status st = KafkaDestination().validate(Settings(settings));
  return st.ok() ? "ok" : st.message();
}

std::map<std::string, std::string> Properties(const KafkaClientSettings& s) {
  return {s.properties.begin(), s.properties.end()};
}

// ---------------------------------------------------------------------------------------------
// Settings

TEST(KafkaSettingsTest, ValidationNamesTheKey) {
  EXPECT_EQ(ErrorOf(R"({"name":"k","type":"Kafka"})"), "bootstrapServers is missing");
  EXPECT_EQ(ErrorOf(R"({"bootstrapServers":"kafka1:9092,kafka2:9092"})"), "ok");
  // Keys are case-insensitive, like the rest of the API.
  EXPECT_EQ(ErrorOf(R"({"BootstrapServers":"kafka1:9092","COMPRESSION":"ZSTD"})"), "ok");
  EXPECT_EQ(ErrorOf(R"({"bootstrapServers":"[::1]:9092"})"), "ok");
  for (const char* bad :
       {R"("kafka1")", R"("kafka1:0")", R"("kafka1:99999")", R"("kafka1:9092,")", R"(":9092")", R"(42)"}) {
    EXPECT_TRUE(ErrorOf(std::string(R"({"bootstrapServers":)") + bad + "}").starts_with("bootstrapServers ")) << bad;
  }
  struct Case {
    const char* extra;
    const char* key;
  };
  for (Case c :
       {Case{R"("securityProtocol":"TLS")", "securityProtocol must be one of"},
        Case{R"("securityProtocol":"SASL_SSL","saslPassword":"p")", "saslUsername is missing"},
        Case{R"("securityProtocol":"SASL_PLAINTEXT","saslUsername":"u")", "saslPassword is missing"},
        Case{R"("saslUsername":"u","saslPassword":"p")", "saslUsername is set but securityProtocol is PLAINTEXT"},
        Case{R"("securityProtocol":"SASL_SSL","saslMechanism":"GSSAPI","saslUsername":"u","saslPassword":"p")",
             "saslMechanism must be one of"},
        Case{R"("compression":"brotli")", "compression must be one of"},
        Case{R"("topic":"no spaces please")", "topic must be"}, Case{R"("topic":5)", "topic must be a string"},
        Case{R"("lingerMs":-1)", "lingerMs must be an integer"},
        Case{R"("batchBytes":0)", "batchBytes must be an integer"},
        Case{R"("maxMessageBytes":10)", "maxMessageBytes must be an integer"},
        Case{R"("timeoutMs":"soon")", "timeoutMs must be an integer"},
        Case{R"("timeoutMs":1000,"lingerMs":1000)", "timeoutMs must be greater than lingerMs"},
        Case{R"("caFile":"/etc/hosts")", "caFile is set but securityProtocol is PLAINTEXT"},
        Case{R"("securityProtocol":"SSL","caFile":"/nonexistent/ca.pem")",
             "caFile /nonexistent/ca.pem cannot be read"}}) {
    std::string settings = std::string(R"({"bootstrapServers":"kafka1:9092",)") + c.extra + "}";
    EXPECT_TRUE(ErrorOf(settings).starts_with(c.key)) << settings << " gave " << ErrorOf(settings);
  }
  test::TempDir dir("ward-kafka-ca");
  std::string ca = dir.File("ca.pem");
  FILE* f = std::fopen(ca.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  EXPECT_EQ(
      ErrorOf(R"({"bootstrapServers":"kafka1:9093","securityProtocol":"sasl_ssl","saslMechanism":"scram-sha-512",)"
              R"("saslUsername":"u","saslPassword":"p","caFile":")" +
              ca + R"("})"),
      "ok");
}

TEST(KafkaSettingsTest, ResolvesToAnIdempotentProducer) {
  auto s = ResolveKafkaSettings(
      Settings(R"({"bootstrapServers":"k1:9092","securityProtocol":"SASL_SSL","saslMechanism":"SCRAM-SHA-256",
    "saslUsername":"ward","saslPassword":"pw","lingerMs":50,"batchBytes":65536,"timeoutMs":5000})"));
  ASSERT_TRUE(s) << s.error().message();
  auto p = Properties(*s);
  EXPECT_EQ(p["bootstrap.servers"], "k1:9092");
  EXPECT_EQ(p["enable.idempotence"], "true");
  EXPECT_EQ(p["acks"], "all");
  EXPECT_EQ(p["compression.type"], "lz4");
  EXPECT_EQ(p["linger.ms"], "50");
  EXPECT_EQ(p["batch.size"], "65536");
  EXPECT_EQ(p["message.timeout.ms"], "5000");
  EXPECT_EQ(p["security.protocol"], "SASL_SSL");
  EXPECT_EQ(p["sasl.mechanisms"], "SCRAM-SHA-256");
  EXPECT_EQ(p["sasl.username"], "ward");
  EXPECT_EQ(p["sasl.password"], "pw");
  EXPECT_EQ(s->topic, "");
  EXPECT_EQ(s->max_message_bytes, 1000000);
  auto plain = ResolveKafkaSettings(Settings(R"({"bootstrapServers":"k1:9092","topic":"mde"})"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->topic, "mde");
  EXPECT_EQ(Properties(*plain).count("sasl.username"), 0u);
  EXPECT_EQ(Properties(*plain)["linger.ms"], "5");
}

TEST(KafkaSettingsTest, EventHubsConnectionStringGivesTheKafkaEndpoint) {
  const std::string cs =
      "Endpoint=sb://contoso-mde.servicebus.windows.net/;SharedAccessKeyName=ward-send;"
      "SharedAccessKey=AbCdEf0123456789+/abcdefABCDEF0123456789xyz=;EntityPath=mde-events";
  auto s = ResolveKafkaSettings(Settings(R"({"eventHubsConnectionString":")" + cs + R"("})"));
  ASSERT_TRUE(s) << s.error().message();
  auto p = Properties(*s);
  EXPECT_EQ(p["bootstrap.servers"], "contoso-mde.servicebus.windows.net:9093");
  EXPECT_EQ(p["security.protocol"], "SASL_SSL");
  EXPECT_EQ(p["sasl.mechanisms"], "PLAIN");
  EXPECT_EQ(p["sasl.username"], "$ConnectionString");
  EXPECT_EQ(p["sasl.password"], cs);
  EXPECT_EQ(p["compression.type"], "none");  // Event Hubs takes none or gzip only
  EXPECT_EQ(s->topic, "mde-events");
  EXPECT_EQ(KafkaDestination()
                .validate(Settings(R"({"eventHubsConnectionString":")" + cs + R"(","compression":"gzip"})"))
                .message(),
            "");

  // A namespace-level string has no EntityPath: one hub per category, as MDE does.
  const std::string ns =
      "Endpoint=sb://contoso-mde.servicebus.windows.net/"
      ";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k==";
  auto per_category = ResolveKafkaSettings(Settings(R"({"eventHubsConnectionString":")" + ns + R"("})"));
  ASSERT_TRUE(per_category) << per_category.error().message();
  EXPECT_EQ(per_category->topic, "");
  EXPECT_EQ(Properties(*per_category)["sasl.password"], ns);
  auto named = ResolveKafkaSettings(Settings(R"({"eventHubsConnectionString":")" + ns + R"(","topic":"all-mde"})"));
  ASSERT_TRUE(named);
  EXPECT_EQ(named->topic, "all-mde");

  auto error = [&](const std::string& extra, const std::string& conn) {
    return ErrorOf(R"({"eventHubsConnectionString":")" + conn + "\"" + extra + "}");
  };
  EXPECT_TRUE(error("", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a")
                  .starts_with("eventHubsConnectionString lacks SharedAccessKey"));
  EXPECT_TRUE(
      error("", "SharedAccessKeyName=a;SharedAccessKey=b").starts_with("eventHubsConnectionString lacks Endpoint"));
  EXPECT_TRUE(error("", "Endpoint=https://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b")
                  .starts_with("eventHubsConnectionString Endpoint must be sb://"));
  EXPECT_TRUE(error("", "garbage").starts_with("eventHubsConnectionString must be Key=Value"));
  EXPECT_TRUE(error(R"(,"bootstrapServers":"k:9092")", cs).starts_with("bootstrapServers must be absent"));
  EXPECT_TRUE(error(R"(,"compression":"lz4")", cs).starts_with("compression must be none or gzip"));
  EXPECT_TRUE(error(R"(,"saslUsername":"u")", cs).starts_with("saslUsername must be absent"));
  EXPECT_TRUE(error(R"(,"securityProtocol":"PLAINTEXT")", cs).starts_with("securityProtocol must be SASL_SSL"));
  EXPECT_TRUE(error(R"(,"topic":"other")", cs).starts_with("topic must match the connection string's EntityPath"));
  EXPECT_EQ(error(R"(,"topic":"mde-events","securityProtocol":"SASL_SSL")", cs), "ok");
}

TEST(KafkaSettingsTest, RegisteredWithItsSecretsRedacted) {
  const DestinationType* kafka = FindDestinationType("kafka");
  ASSERT_EQ(kafka, &KafkaDestination());
  auto destinations = Settings(
      R"([{"name":"hub","type":"Kafka","eventHubsConnectionString":"Endpoint=sb://a.servicebus.windows.net/;SharedAccessKeyName=n;SharedAccessKey=s"},
                                   {"name":"k","type":"Kafka","bootstrapServers":"k:9092","securityProtocol":"SASL_PLAINTEXT","saslUsername":"u","saslPassword":"pw"}])");
  EXPECT_TRUE(ValidateDestinations(destinations).ok()) << ValidateDestinations(destinations).message();
  json::Value redacted = RedactDestinations(destinations);
  EXPECT_EQ(redacted.items()[0].GetString("eventHubsConnectionString"), "***");
  EXPECT_EQ(redacted.items()[1].GetString("saslPassword"), "***");
  EXPECT_EQ(redacted.items()[1].GetString("saslUsername"), "u");
  auto bad = Settings(R"([{"name":"k","type":"Kafka"}])");
  EXPECT_EQ(ValidateDestinations(bad).message(), "destinations[0].bootstrapServers is missing");
}

// ---------------------------------------------------------------------------------------------
// Delivery to librdkafka's mock cluster (the real protocol on 127.0.0.1)

class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));  // only the mock's bookkeeping
    if (rk_) cluster_ = rd_kafka_mock_cluster_new(rk_, brokers);
  }
  ~MockCluster() {
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (rk_) rd_kafka_destroy(rk_);
  }
  bool ok() const { return cluster_ != nullptr; }
  rd_kafka_mock_cluster_t* get() const { return cluster_; }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

struct ConsumedMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

// A consumer of whole topics: everything from the first offset to the end, partition by partition.
class Reader {
 public:
  explicit Reader(const std::string& bootstrap) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (auto [k, v] : {std::pair{"bootstrap.servers", bootstrap.c_str()}, std::pair{"group.id", "ward-test-reader"},
                        std::pair{"enable.auto.commit", "false"}, std::pair{"enable.partition.eof", "true"},
                        std::pair{"log_level", "3"}}) {
      rd_kafka_conf_set(conf, k, v, err, sizeof(err));
    }
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk_) rd_kafka_poll_set_consumer(rk_);
  }
  ~Reader() {
    if (!rk_) return;
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  std::set<std::string> Topics() {
    std::set<std::string> out;
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk_, 1, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ADD_FAILURE() << "no metadata";
      return out;
    }
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) out.insert(md->topics[i].topic);
    }
    rd_kafka_metadata_destroy(md);
    return out;
  }

  std::vector<ConsumedMessage> ReadAll(const std::string& topic) {
    std::vector<ConsumedMessage> out;
    int partitions = Partitions(topic);
    if (partitions <= 0) {
      ADD_FAILURE() << "topic " << topic << " does not exist";
      return out;
    }
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    std::set<int32_t> at_end;
    // Bounded only so that a broken run ends; no test depends on how long this takes.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (static_cast<int>(at_end.size()) < partitions && std::chrono::steady_clock::now() < give_up) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 200);
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_end.insert(m->partition);
      } else if (m->err) {
        ADD_FAILURE() << "consuming " << topic << ": " << rd_kafka_message_errstr(m);
      } else {
        at_end.erase(m->partition);
        out.push_back({rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                       std::string(static_cast<const char*>(m->key), m->key_len),
                       std::string(static_cast<const char*>(m->payload), m->len)});
      }
      rd_kafka_message_destroy(m);
    }
    EXPECT_EQ(static_cast<int>(at_end.size()), partitions) << "did not reach the end of " << topic;
    rd_kafka_assign(rk_, nullptr);
    return out;
  }

 private:
  int Partitions(const std::string& topic) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    int n = -1;
    if (rd_kafka_metadata(rk_, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) n = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
  }

  rd_kafka_t* rk_ = nullptr;
};

const events::SchemaRegistry& Schema() { return events::SchemaRegistry::Hunting(); }

// A record as RenderRecord makes them, with ReportId `report` and optional padding in a column.
StreamRecord MakeRecord(std::string_view table, const std::string& device, int report, size_t padding = 0) {
  StreamRecord r;
  r.table = Schema().Find(std::string(table))->id;
  r.table_name = table;
  r.tenant_id = "4b5e9d1c-0000-4000-8000-00000000000a";
  r.device_id = device;
  r.time_ticks = 638500000000000000 + report;
  r.json = R"({"time":"2024-05-17T13:04:05.1234567Z","tenantId":")" + r.tenant_id +
           R"(","operationName":"Publish","category":")" + CategoryOf(table) +
           R"(","_TimeReceivedBySvc":"2024-05-17T13:04:05.1234567Z","properties":{"DeviceId":")" + device +
           R"(","ReportId":)" + std::to_string(report) + R"(,"ProcessCommandLine":")" + std::string(padding, 'x') +
           R"("}})";
  return r;
}

int64_t ReportIdOf(const json::Value& record) { return *record.Find("properties")->GetInt("ReportId"); }

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cluster_.ok()); }

  std::unique_ptr<Sink> MakeSink(std::string extra = "") {
    std::string settings =
        R"({"name":"k","type":"Kafka","bootstrapServers":")" + cluster_.bootstrap() + "\"" + extra + "}";
    auto sink = KafkaDestination().make(Settings(settings), SinkContext{});
    EXPECT_TRUE(sink) << sink.error().message();
    return sink ? std::move(*sink) : nullptr;
  }

  // Every record read from `topic`, by ReportId, checking each message's envelope against the
  // records that were sent (byte for byte) on the way.
  std::multiset<int64_t> ReadReports(const std::string& topic, const std::vector<StreamRecord>& sent,
                                     int64_t max_message_bytes = 1000000) {
    std::map<int64_t, const StreamRecord*> by_report;
    for (const StreamRecord& r : sent) by_report[ReportIdOf(*json::Value::Parse(r.json))] = &r;
    std::multiset<int64_t> out;
    Reader reader(cluster_.bootstrap());
    std::map<std::string, std::pair<int32_t, int64_t>> last_of_device;  // device → (partition, last ReportId)
    for (const ConsumedMessage& m : reader.ReadAll(topic)) {
      EXPECT_LE(static_cast<int64_t>(m.key.size() + m.value.size()), max_message_bytes);
      auto parsed = json::Value::Parse(m.value);
      if (!parsed) {
        ADD_FAILURE() << "not JSON: " << m.value;
        continue;
      }
      const json::Value* records = parsed->Find("records");
      if (parsed->members().size() != 1 || !records || !records->is_array() || records->items().empty()) {
        ADD_FAILURE() << "not a {\"records\":[...]} envelope: " << m.value;
        continue;
      }
      std::string expected = "{\"records\":[";
      for (const json::Value& r : records->items()) {
        int64_t report = ReportIdOf(r);
        // A batch sent again after an error repeats what got through the first time (at least
        // once); order is checked on first copies.
        bool repeat = out.count(report) > 0;
        out.insert(report);
        auto it = by_report.find(report);
        if (it == by_report.end()) {
          ADD_FAILURE() << "unexpected record " << report;
          continue;
        }
        if (&r != &records->items().front()) expected += ",";
        expected += it->second->json;
        // The message key is the device: one device's records on one partition, in order.
        EXPECT_EQ(m.key, it->second->device_id);
        auto [last, fresh] = last_of_device.try_emplace(m.key, m.partition, report);
        EXPECT_EQ(last->second.first, m.partition) << m.key;
        if (!fresh && !repeat) {
          EXPECT_LT(last->second.second, report) << m.key;
          last->second.second = report;
        }
      }
      EXPECT_EQ(m.value, expected + "]}");
    }
    return out;
  }

  MockCluster cluster_{3};
};

std::multiset<int64_t> ReportsOf(const std::vector<StreamRecord>& records, std::string_view table = "") {
  std::multiset<int64_t> out;
  for (const StreamRecord& r : records) {
    if (table.empty() || r.table_name == table) out.insert(ReportIdOf(*json::Value::Parse(r.json)));
  }
  return out;
}

// What the stream service does after an error: the same batch again, after a pause, until it is
// confirmed. Returns the last status; the attempts are bounded only so that a broken run ends.
Status DeliverWithRetries(Sink& sink, const std::vector<StreamRecord>& records, std::vector<Rejection>* rejected) {
  Status st;
  for (int attempt = 0; attempt < 30; ++attempt) {
    rejected->clear();
    st = sink.Deliver(records, rejected);
    if (st.ok()) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return st;
}

std::vector<StreamRecord> Interleaved(int per_device, int first_report = 1) {
  std::vector<StreamRecord> records;
  const std::vector<std::string> devices = {"1111111111111111111111111111111111111111",
                                            "2222222222222222222222222222222222222222",
                                            "3333333333333333333333333333333333333333"};
  int report = first_report;
  for (int i = 0; i < per_device; ++i) {
    for (const std::string& d : devices) {
      records.push_back(MakeRecord("DeviceProcessEvents", d, report++));
      records.push_back(MakeRecord("DeviceFileEvents", d, report++));
    }
  }
  return records;
}

TEST_F(KafkaSinkTest, EachCategoryGoesToItsTopicInEventHubsEnvelopes) {
  // Small messages, so that each device's records are cut into several.
  auto sink = MakeSink(R"(,"maxMessageBytes":1024)");
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> records = Interleaved(20);
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(records, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(rejected.empty());
  EXPECT_EQ(ReadReports("insights-logs-advancedhunting-deviceprocessevents", records, 1024),
            ReportsOf(records, "DeviceProcessEvents"));
  EXPECT_EQ(ReadReports("insights-logs-advancedhunting-devicefileevents", records, 1024),
            ReportsOf(records, "DeviceFileEvents"));
  Reader reader(cluster_.bootstrap());
  EXPECT_GT(reader.ReadAll("insights-logs-advancedhunting-devicefileevents").size(), 3u);  // cut into several

  // A second delivery appends after the first, still in order per device.
  std::vector<StreamRecord> more = Interleaved(2, 1000);
  ASSERT_TRUE(sink->Deliver(more, &rejected).ok());
  std::vector<StreamRecord> all = records;
  all.insert(all.end(), more.begin(), more.end());
  EXPECT_EQ(ReadReports("insights-logs-advancedhunting-devicefileevents", all, 1024),
            ReportsOf(all, "DeviceFileEvents"));
}

TEST_F(KafkaSinkTest, OneTopicTakesEveryCategory) {
  auto sink = MakeSink(R"(,"topic":"mde-all","compression":"zstd")");
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> records = Interleaved(5);
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(records, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(ReadReports("mde-all", records), ReportsOf(records));
  Reader reader(cluster_.bootstrap());
  std::set<std::string> topics = reader.Topics();
  EXPECT_EQ(topics.count("mde-all"), 1u);
  EXPECT_EQ(topics.count("insights-logs-advancedhunting-deviceprocessevents"), 0u);
}

TEST_F(KafkaSinkTest, ARecordTooLargeForAMessageIsRejectedAndTheRestFlows) {
  auto sink = MakeSink(R"(,"maxMessageBytes":2048)");
  ASSERT_NE(sink, nullptr);
  std::vector<StreamRecord> records = Interleaved(3);
  records.insert(records.begin() + 4,
                 MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 500, 4000));
  std::vector<Rejection> rejected;
  Status st = sink->Deliver(records, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].index, 4u);
  EXPECT_NE(rejected[0].reason.find("maxMessageBytes 2048"), std::string::npos) << rejected[0].reason;
  std::multiset<int64_t> expected = ReportsOf(records, "DeviceProcessEvents");
  expected.erase(500);
  EXPECT_EQ(ReadReports("insights-logs-advancedhunting-deviceprocessevents", records, 2048), expected);
}

TEST_F(KafkaSinkTest, AMessageTheBrokerRefusesForGoodIsRejected) {
  auto sink = MakeSink();
  ASSERT_NE(sink, nullptr);
  std::vector<Rejection> rejected;
  // Create the topic and the producer's id first, so that the refusal hits our records.
  std::vector<StreamRecord> first = {MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 1)};
  ASSERT_TRUE(sink->Deliver(first, &rejected).ok());
  rd_kafka_mock_push_request_errors(cluster_.get(), kProduceApiKey, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  std::vector<StreamRecord> refused = {
      MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 2),
      MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 3)};
  Status st = sink->Deliver(refused, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_NE(rejected[0].reason.find("too large"), std::string::npos) << rejected[0].reason;
  // The producer goes on.
  rejected.clear();
  std::vector<StreamRecord> after = {MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 4)};
  st = sink->Deliver(after, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(rejected.empty());
  std::vector<StreamRecord> all = first;
  all.insert(all.end(), refused.begin(), refused.end());
  all.push_back(after[0]);
  EXPECT_EQ(ReadReports("insights-logs-advancedhunting-deviceprocessevents", all), (std::multiset<int64_t>{1, 4}));
}

TEST_F(KafkaSinkTest, BrokersDownIsAnErrorAndARetryAfterwardsLosesNothing) {
  auto sink = MakeSink(R"(,"timeoutMs":2000)");
  ASSERT_NE(sink, nullptr);
  std::vector<Rejection> rejected;
  std::vector<StreamRecord> before = Interleaved(2);
  ASSERT_TRUE(sink->Deliver(before, &rejected).ok());

  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<StreamRecord> during = Interleaved(3, 100);
  Status st = sink->Deliver(during, &rejected);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("Kafka did not confirm"), std::string::npos) << st.message();
  EXPECT_TRUE(rejected.empty());

  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  // librdkafka reconnects on its own backoff (up to reconnect.backoff.max.ms), so the first retries
  // may still fail, as they would in the service.
  st = DeliverWithRetries(*sink, during, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  std::vector<StreamRecord> all = before;
  all.insert(all.end(), during.begin(), during.end());
  std::multiset<int64_t> got = ReadReports("insights-logs-advancedhunting-deviceprocessevents", all);
  for (int64_t report : ReportsOf(all, "DeviceProcessEvents")) EXPECT_GE(got.count(report), 1u) << report;
}

TEST_F(KafkaSinkTest, AnUnreachableClusterIsADeliveryErrorNotAStartFailure) {
  // Nothing listens on the discard port: make still succeeds, Deliver says why it failed.
  auto sink = KafkaDestination().make(Settings(R"({"bootstrapServers":"127.0.0.1:9","timeoutMs":1000,"lingerMs":0})"),
                                      SinkContext{});
  ASSERT_TRUE(sink) << sink.error().message();
  std::vector<StreamRecord> records = Interleaved(1);
  std::vector<Rejection> rejected;
  Status st = (*sink)->Deliver(records, &rejected);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("6 of 6 records"), std::string::npos) << st.message();
}

TEST_F(KafkaSinkTest, ProduceErrorsAreRetriedOrReportedNeverDropped) {
  auto sink = MakeSink(R"(,"timeoutMs":5000)");
  ASSERT_NE(sink, nullptr);
  std::vector<Rejection> rejected;
  std::vector<StreamRecord> warmup = {MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 1)};
  ASSERT_TRUE(sink->Deliver(warmup, &rejected).ok());

  // Retriable broker errors: librdkafka retries them itself, and idempotence keeps them single.
  rd_kafka_mock_push_request_errors(cluster_.get(), kProduceApiKey, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  std::vector<StreamRecord> retried = {
      MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 2),
      MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 3)};
  Status st = sink->Deliver(retried, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(rejected.empty());

  // An error librdkafka does not retry surfaces as an error (the service retries), not as success.
  rd_kafka_mock_push_request_errors(cluster_.get(), kProduceApiKey, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  std::vector<StreamRecord> refused = {
      MakeRecord("DeviceProcessEvents", "1111111111111111111111111111111111111111", 4)};
  st = sink->Deliver(refused, &rejected);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("uthoriz"), std::string::npos) << st.message();
  EXPECT_TRUE(rejected.empty());
  // librdkafka keeps the topic's error until its next metadata refresh: retries succeed after that.
  st = DeliverWithRetries(*sink, refused, &rejected);
  ASSERT_TRUE(st.ok()) << st.message();

  std::vector<StreamRecord> all = warmup;
  all.insert(all.end(), retried.begin(), retried.end());
  all.push_back(refused[0]);
  EXPECT_EQ(ReadReports("insights-logs-advancedhunting-deviceprocessevents", all),
            (std::multiset<int64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace ward::stream
