#include "stream/kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>

#include "common/log.h"
#include "common/strings.h"
#include "stream/stream_record.h"

namespace ward::stream {

namespace {

// {"records":[ ... ]} around the records, and the comma between two.
constexpr int64_t kEnvelopeBytes = 14;
// librdkafka refuses a message whose key + value + record framing exceeds message.max.bytes; we
// keep key + value within maxMessageBytes and leave this much for the framing.
constexpr int64_t kFramingBytes = 512;

struct Property {
  std::string name;
  std::string value;
  std::string_view setting;  // the setting it comes from, for error messages
};

struct Resolved {
  std::vector<Property> properties;
  std::string topic;
  int64_t max_message_bytes = 1000000;
  int64_t timeout_ms = 30000;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

Status CheckBootstrapServers(std::string_view servers) {
  for (std::string_view entry : Split(servers, ',')) {
    entry = Trim(entry);
    size_t colon = entry.rfind(':');
    std::string_view host = colon == std::string_view::npos ? "" : entry.substr(0, colon);
    std::string_view port = colon == std::string_view::npos ? "" : entry.substr(colon + 1);
    bool port_ok = !port.empty() && port.size() <= 5 &&
                   std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                   std::stoi(std::string(port)) >= 1 && std::stoi(std::string(port)) <= 65535;
    bool host_ok = !host.empty() && host.find_first_of(" \t/") == std::string_view::npos;
    if (!host_ok || !port_ok) {
      return InvalidArgument("bootstrapServers must be host:port entries separated by commas (got '" +
                             std::string(entry) + "')");
    }
  }
  return Status::Ok();
}

// Kafka's own rule for topic names (and Event Hubs' for hub names is narrower still).
bool ValidTopic(std::string_view t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

struct EventHubsConnection {
  std::string host;
  std::string entity_path;
};

// "Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=..;SharedAccessKey=..[;EntityPath=..]"
Result<EventHubsConnection> ParseEventHubsConnectionString(std::string_view s) {
  std::map<std::string, std::string> parts;
  for (std::string_view part : Split(s, ';')) {
    part = Trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');  // the key itself ends in '=' padding: split at the first one
    if (eq == std::string_view::npos || eq == 0) {
      return Err(InvalidArgument("eventHubsConnectionString must be Key=Value pairs separated by ';'"));
    }
    parts[AsciiLower(Trim(part.substr(0, eq)))] = std::string(Trim(part.substr(eq + 1)));
  }
  for (std::string_view required : {"Endpoint", "SharedAccessKeyName", "SharedAccessKey"}) {
    if (parts[AsciiLower(required)].empty()) {
      return Err(InvalidArgument("eventHubsConnectionString lacks " + std::string(required) +
                                 " (copy it from the namespace's or hub's Shared access policies)"));
    }
  }
  std::string_view endpoint = parts["endpoint"];
  if (endpoint.size() < 5 || !EqualsIgnoreCase(endpoint.substr(0, 5), "sb://")) {
    return Err(InvalidArgument("eventHubsConnectionString Endpoint must be sb://<namespace>.servicebus.windows.net/"));
  }
  endpoint.remove_prefix(5);
  EventHubsConnection c;
  c.host = AsciiLower(endpoint.substr(0, endpoint.find('/')));
  // Sovereign clouds use other suffixes (servicebus.chinacloudapi.cn, ...): accept any host name.
  if (c.host.empty() || c.host.find_first_of(":@ ") != std::string::npos || c.host.find('.') == std::string::npos) {
    return Err(InvalidArgument("eventHubsConnectionString Endpoint must be sb://<namespace>.servicebus.windows.net/"));
  }
  c.entity_path = parts["entitypath"];
  return c;
}

Result<Resolved> Resolve(const json::Value& v) {
  SettingsReader r(v);
  Resolved out;
  auto set = [&](std::string name, std::string value, std::string_view setting) {
    out.properties.push_back({std::move(name), std::move(value), setting});
  };
  WARD_ASSIGN_OR_RETURN(std::string connection, r.String("eventHubsConnectionString", false));
  WARD_ASSIGN_OR_RETURN(std::string servers, r.String("bootstrapServers", connection.empty()));
  WARD_ASSIGN_OR_RETURN(std::string topic, r.String("topic", false));
  WARD_ASSIGN_OR_RETURN(std::string protocol,
                        r.OneOf("securityProtocol", {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"},
                                connection.empty() ? "PLAINTEXT" : "SASL_SSL"));
  WARD_ASSIGN_OR_RETURN(std::string mechanism,
                        r.OneOf("saslMechanism", {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, "PLAIN"));
  WARD_ASSIGN_OR_RETURN(std::string username, r.String("saslUsername", false));
  WARD_ASSIGN_OR_RETURN(std::string password, r.String("saslPassword", false));
  WARD_ASSIGN_OR_RETURN(std::string ca_file, r.String("caFile", false));
  WARD_ASSIGN_OR_RETURN(std::string compression, r.OneOf("compression", {"none", "gzip", "snappy", "lz4", "zstd"},
                                                         connection.empty() ? "lz4" : "none"));
  WARD_ASSIGN_OR_RETURN(int64_t linger_ms, r.Int("lingerMs", 5, 0, 900000));
  WARD_ASSIGN_OR_RETURN(int64_t batch_bytes, r.Int("batchBytes", 0, 1, 2147483647));
  WARD_ASSIGN_OR_RETURN(out.max_message_bytes, r.Int("maxMessageBytes", 1000000, 1024, 100000000));
  WARD_ASSIGN_OR_RETURN(out.timeout_ms, r.Int("timeoutMs", 30000, 1000, 3600000));

  if (!connection.empty()) {
    WARD_ASSIGN_OR_RETURN(EventHubsConnection hub, ParseEventHubsConnectionString(connection));
    if (!servers.empty())
      return Err(
          InvalidArgument("bootstrapServers must be absent with eventHubsConnectionString, which names the namespace"));
    if (protocol != "SASL_SSL")
      return Err(InvalidArgument("securityProtocol must be SASL_SSL (or absent) with eventHubsConnectionString"));
    if (mechanism != "PLAIN")
      return Err(InvalidArgument("saslMechanism must be PLAIN (or absent) with eventHubsConnectionString"));
    if (!username.empty() || !password.empty()) {
      return Err(InvalidArgument(std::string(username.empty() ? "saslPassword" : "saslUsername") +
                                 " must be absent with eventHubsConnectionString, which is the credential"));
    }
    if (compression != "none" && compression != "gzip") {
      return Err(InvalidArgument("compression must be none or gzip for Event Hubs, which refuses the other codecs"));
    }
    if (!hub.entity_path.empty()) {
      if (!topic.empty() && topic != hub.entity_path) {
        return Err(InvalidArgument("topic must match the connection string's EntityPath '" + hub.entity_path +
                                   "' (or be absent)"));
      }
      topic = hub.entity_path;
    }
    servers = hub.host + ":9093";
    username = "$ConnectionString";
    password = connection;
  }
  WARD_RETURN_IF_ERROR(CheckBootstrapServers(servers));
  if (!topic.empty() && !ValidTopic(topic)) {
    return Err(InvalidArgument(
        "topic must be at most 249 letters, digits, '.', '_' or '-' (or empty for one topic per category)"));
  }
  out.topic = topic;
  bool sasl = protocol.starts_with("SASL_");
  bool tls = protocol.ends_with("SSL");
  if (sasl) {
    if (username.empty()) return Err(InvalidArgument("saslUsername is missing (securityProtocol is " + protocol + ")"));
    if (password.empty()) return Err(InvalidArgument("saslPassword is missing (securityProtocol is " + protocol + ")"));
  } else if (!username.empty() || !password.empty()) {
    return Err(InvalidArgument(std::string(username.empty() ? "saslPassword" : "saslUsername") +
                               " is set but securityProtocol is " + protocol + "; use SASL_PLAINTEXT or SASL_SSL"));
  }
  if (!ca_file.empty()) {
    if (!tls)
      return Err(InvalidArgument("caFile is set but securityProtocol is " + protocol + "; use SSL or SASL_SSL"));
    if (::access(ca_file.c_str(), R_OK) != 0) {
      return Err(InvalidArgument("caFile " + ca_file + " cannot be read: " + std::strerror(errno)));
    }
  }
  if (out.timeout_ms <= linger_ms) return Err(InvalidArgument("timeoutMs must be greater than lingerMs"));

  set("bootstrap.servers", servers, connection.empty() ? "bootstrapServers" : "eventHubsConnectionString");
  set("client.id", "ward", "");
  // At least once, in order per partition, without duplicates from librdkafka's own retries.
  set("enable.idempotence", "true", "");
  set("acks", "all", "");
  set("compression.type", compression, "compression");
  set("linger.ms", std::to_string(linger_ms), "lingerMs");
  if (batch_bytes > 0) set("batch.size", std::to_string(batch_bytes), "batchBytes");
  set("message.max.bytes", std::to_string(out.max_message_bytes + kFramingBytes), "maxMessageBytes");
  set("message.timeout.ms", std::to_string(out.timeout_ms), "timeoutMs");
  set("security.protocol", protocol, "securityProtocol");
  if (sasl) {
    set("sasl.mechanisms", mechanism, "saslMechanism");
    set("sasl.username", username, connection.empty() ? "saslUsername" : "eventHubsConnectionString");
    set("sasl.password", password, connection.empty() ? "saslPassword" : "eventHubsConnectionString");
  }
  if (!ca_file.empty()) set("ssl.ca.location", ca_file, "caFile");
  if (!connection.empty()) {
    // Event Hubs closes connections idle for 240 s and advises these client settings.
    set("socket.keepalive.enable", "true", "");
    set("metadata.max.age.ms", "180000", "");
    set("connections.max.idle.ms", "180000", "");
  }
  return out;
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// librdkafka's own checks of each value (a codec it was built without, say), named by our key.
Result<ConfPtr> BuildConf(const Resolved& s) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const Property& p : s.properties) {
    if (rd_kafka_conf_set(conf.get(), p.name.c_str(), p.value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::string key = p.setting.empty() ? p.name : std::string(p.setting);
      return Err(InvalidArgument(key + " is not accepted by librdkafka " + rd_kafka_version_str() + ": " + err));
    }
  }
  return conf;
}

// Refusals that sending again cannot change: the records are dead-lettered instead.
bool IsPermanent(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
         err == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(Resolved settings) : settings_(std::move(settings)) {}
  ~KafkaSink() override { DestroyProducer(); }

  // Creates the producer; librdkafka connects from its own threads, so this does not wait on the network.
  Status CreateProducer() {
    WARD_ASSIGN_OR_RETURN(ConfPtr conf, BuildConf(settings_));
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::OnDelivery);
    rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::OnError);
    rd_kafka_conf_set_log_cb(conf.get(), &KafkaSink::OnLog);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof(err));
    if (!rk) return Unavailable(std::string("creating the Kafka producer: ") + err);
    conf.release();  // rd_kafka_new owns it now
    rk_ = rk;
    return Status::Ok();
  }

  Status Deliver(std::span<const StreamRecord> records, std::vector<Rejection>* rejected) override {
    if (!rk_) WARD_RETURN_IF_ERROR(CreateProducer());
    client_error_.clear();
    Pack(records, rejected);
    base_ = next_id_;
    next_id_ += messages_.size();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(settings_.timeout_ms);

    size_t produced = 0;
    for (size_t m = 0; m < messages_.size(); ++m) {
      Message& msg = messages_[m];
      std::vector<const StreamRecord*> ptrs;
      ptrs.reserve(msg.indices.size());
      for (size_t i : msg.indices) ptrs.push_back(&records[i]);
      std::string value = WrapRecords(ptrs);
      const std::string& key = records[msg.indices.front()].device_id;
      rd_kafka_resp_err_t err;
      for (;;) {
        err = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(msg.topic.c_str()), RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
            RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(base_ + m))), RD_KAFKA_V_END);
        // The local queue is full: serve delivery reports, which frees it, and try again.
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline) break;
        rd_kafka_poll(rk_, 100);
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        msg.reported = true;
        msg.err = err;
        msg.reason = rd_kafka_err2str(err);
        continue;
      }
      ++produced;
    }

    // message.timeout.ms bounds each message; librdkafka checks it about once a second, hence the margin.
    if (produced > 0) rd_kafka_flush(rk_, static_cast<int>(settings_.timeout_ms + 1500));
    size_t unreported = 0;
    for (const Message& m : messages_) unreported += m.reported ? 0 : 1;
    if (unreported > 0) {
      // Whatever is still queued is given up (the service sends the batch again), so that it
      // cannot pile up behind the next Deliver.
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(rk_, 0);
    }

    Status status = Collect(records.size(), rejected);
    char fatal[512];
    if (rd_kafka_fatal_error(rk_, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // An idempotent producer that lost track of its sequence numbers cannot go on; a new one can.
      log::Warn("Kafka producer failed fatally; it is replaced on the next delivery", {{"error", fatal}});
      DestroyProducer();
      if (status.ok()) status = Unavailable(std::string("Kafka producer failed fatally: ") + fatal);
    }
    messages_.clear();
    if (!status.ok()) rejected->clear();  // an error means the whole batch comes again
    return status;
  }

  size_t max_batch_records() const override { return 5000; }

 private:
  struct Message {
    std::string topic;
    std::vector<size_t> indices;  // into the batch, in order
    bool reported = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string reason;
  };

  // Groups the batch by topic and device, keeping the batch's order within each group, and cuts
  // each group into messages of at most max_message_bytes (key included).
  void Pack(std::span<const StreamRecord> records, std::vector<Rejection>* rejected) {
    messages_.clear();
    std::map<std::pair<std::string, std::string_view>, size_t> open;  // (topic, device) → message being filled
    std::vector<int64_t> sizes;
    for (size_t i = 0; i < records.size(); ++i) {
      const StreamRecord& r = records[i];
      int64_t alone = kEnvelopeBytes + static_cast<int64_t>(r.json.size() + r.device_id.size());
      if (alone > settings_.max_message_bytes) {
        rejected->push_back({i, "record is " + std::to_string(alone) +
                                    " bytes as a Kafka message, above maxMessageBytes " +
                                    std::to_string(settings_.max_message_bytes)});
        continue;
      }
      auto [it, fresh] = open.try_emplace({TopicOf(r), r.device_id}, messages_.size());
      size_t m = it->second;
      if (!fresh && sizes[m] + 1 + static_cast<int64_t>(r.json.size()) > settings_.max_message_bytes) {
        fresh = true;
        m = it->second = messages_.size();
      }
      if (fresh) {
        messages_.emplace_back().topic = it->first.first;
        sizes.push_back(kEnvelopeBytes - 1 + static_cast<int64_t>(r.device_id.size()));
      }
      messages_[m].indices.push_back(i);
      sizes[m] += 1 + static_cast<int64_t>(r.json.size());
    }
  }

  const std::string& TopicOf(const StreamRecord& r) {
    if (!settings_.topic.empty()) return settings_.topic;
    auto it = topics_.find(r.table);
    if (it == topics_.end()) it = topics_.emplace(r.table, ContainerOf(r.table_name)).first;
    return it->second;
  }

  Status Collect(size_t total, std::vector<Rejection>* rejected) {
    size_t failed = 0, unreported = 0, records_failed = 0;
    std::string first;
    for (const Message& m : messages_) {
      if (!m.reported) {
        ++unreported;
        records_failed += m.indices.size();
        continue;
      }
      if (m.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (IsPermanent(m.err)) {
        for (size_t i : m.indices)
          rejected->push_back({i, "Kafka refused the message for " + m.topic + ": " + m.reason});
        continue;
      }
      ++failed;
      records_failed += m.indices.size();
      if (first.empty()) first = m.topic + ": " + m.reason;
    }
    if (failed == 0 && unreported == 0) return Status::Ok();
    std::string msg = "Kafka did not confirm " + std::to_string(failed + unreported) + " of " +
                      std::to_string(messages_.size()) + " messages (" + std::to_string(records_failed) + " of " +
                      std::to_string(total) + " records)";
    if (!first.empty()) msg += ": " + first;
    if (unreported) msg += "; " + std::to_string(unreported) + " not reported within timeoutMs";
    if (!client_error_.empty()) msg += " (" + client_error_ + ")";
    return Unavailable(msg);
  }

  void DestroyProducer() {
    if (!rk_) return;
    // Nothing queued is owed to anyone: a Deliver that left messages behind has already failed.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

  // Called from rd_kafka_poll/flush, so on Deliver's thread.
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    uint64_t id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
    // A report of an earlier, failed Deliver (or of a destroyed producer's purge) is nobody's now.
    if (id < self->base_ || id >= self->base_ + self->messages_.size()) return;
    Message& msg = self->messages_[id - self->base_];
    msg.reported = true;
    msg.err = m->err;
    if (m->err) msg.reason = rd_kafka_err2str(m->err);
  }

  // Client-level errors (all brokers down, authentication failed): also served by poll/flush.
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    self->client_error_ = reason;
  }

  // From librdkafka's threads; ward's log is thread-safe.
  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
    if (level > 4) return;  // keep warnings and worse
    log::Write(level <= 3 ? log::Level::kError : log::Level::kWarn, "librdkafka",
               {{"client", rd_kafka_name(rk)}, {"facility", facility}, {"message", message}});
  }

  Resolved settings_;
  rd_kafka_t* rk_ = nullptr;
  std::vector<Message> messages_;  // of the Deliver in progress; delivery reports find theirs by id
  uint64_t base_ = 0;              // id of messages_[0]
  uint64_t next_id_ = 1;
  std::string client_error_;                // the last client-level error seen during this Deliver
  std::map<uint16_t, std::string> topics_;  // table id → its topic (one per category)
};

Status Validate(const json::Value& v) {
  WARD_ASSIGN_OR_RETURN(Resolved s, Resolve(v));
  auto conf = BuildConf(s);
  return conf ? Status::Ok() : conf.error();
}

Result<std::unique_ptr<Sink>> Make(const json::Value& v, const SinkContext&) {
  WARD_ASSIGN_OR_RETURN(Resolved s, Resolve(v));
  auto sink = std::make_unique<KafkaSink>(std::move(s));
  WARD_RETURN_IF_ERROR(sink->CreateProducer());
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace

Result<KafkaClientSettings> ResolveKafkaSettings(const json::Value& settings) {
  WARD_ASSIGN_OR_RETURN(Resolved s, Resolve(settings));
  KafkaClientSettings out;
  for (Property& p : s.properties) out.properties.emplace_back(std::move(p.name), std::move(p.value));
  out.topic = std::move(s.topic);
  out.max_message_bytes = s.max_message_bytes;
  out.timeout_ms = s.timeout_ms;
  return out;
}

const DestinationType& KafkaDestination() {
  static const DestinationType type{"Kafka", {"saslPassword", "eventHubsConnectionString"}, &Validate, &Make};
  return type;
}

}  // namespace ward::stream
