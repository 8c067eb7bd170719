#pragma once
// The Kafka destination: MDE's Event Hubs message format over the Kafka protocol, to any Kafka
// cluster or to Azure Event Hubs' Kafka endpoint. librdkafka stays inside kafka_sink.cc.
//
// Settings (keys case-insensitive):
//   bootstrapServers   "host:port[,host:port...]" (required unless eventHubsConnectionString).
//   topic              "" or absent: one topic per category, "insights-logs-advancedhunting-<table>",
//                      as Event Hubs names its hubs; otherwise every record goes to this topic.
//   securityProtocol   PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL.
//   saslMechanism      PLAIN (default) | SCRAM-SHA-256 | SCRAM-SHA-512; with saslUsername and
//                      saslPassword (secret), both required for SASL_*.
//   eventHubsConnectionString (secret) "Endpoint=sb://<ns>.servicebus.windows.net/;
//                      SharedAccessKeyName=..;SharedAccessKey=..[;EntityPath=<hub>]": implies
//                      bootstrap <ns>.servicebus.windows.net:9093, SASL_SSL, PLAIN, username
//                      "$ConnectionString", password = the string, topic = EntityPath when given
//                      (what Event Hubs' Kafka endpoint requires). The other connection settings
//                      must then be absent or agree.
//   caFile             PEM CA bundle for SSL/SASL_SSL (default: the system's CA store).
//   compression        none | gzip | snappy | lz4 | zstd; default lz4, but Event Hubs accepts only
//                      none and gzip, so with eventHubsConnectionString the default is none and the
//                      others are refused.
//   lingerMs (5), batchBytes (librdkafka's batch.size), maxMessageBytes (1,000,000: Event Hubs'
//   limit on one event; key + value of one message stay within it), timeoutMs (30,000: how long a
//   message may take to be confirmed, retries included).
// Validation reads the settings and builds librdkafka's configuration without connecting; an
// error names the key ("bootstrapServers is missing").
//
// Delivery: records are grouped by topic and device; each group is packed, in order, into messages
// {"records":[...]} of at most maxMessageBytes, keyed by the device id, so one device's records
// stay in order on one partition. The producer is idempotent with acks=all. Deliver returns Ok
// only when the broker acknowledged every message. A record too large for a message on its own,
// or a message the broker refuses for good (MSG_SIZE_TOO_LARGE, INVALID_RECORD), is a Rejection
// of those records; anything else (broker down, timeout, authentication) is an Unavailable error
// carrying librdkafka's message, and the service sends the whole batch again (duplicates, never
// loss). One producer per sink, made in make, which neither waits on nor fails for the network
// (librdkafka does open a connection to a bootstrap broker from its own threads straight away);
// a producer that failed fatally is replaced on the next Deliver. After an outage librdkafka
// reconnects on its own backoff (up to 10 s), so the first retries may still fail. Deliver must be
// called from one thread at a time; it blocks up to timeoutMs + 1.5 s.
#include <string>
#include <utility>
#include <vector>

#include "stream/destinations.h"

namespace ward::stream {

const DestinationType& KafkaDestination();

// What the settings resolve to (for tests and diagnostics): the librdkafka producer properties in
// the order they are set, and the topic ("" = one per category). Errors are those of validate.
struct KafkaClientSettings {
  std::vector<std::pair<std::string, std::string>> properties;
  std::string topic;
  int64_t max_message_bytes = 0;
  int64_t timeout_ms = 0;
};
Result<KafkaClientSettings> ResolveKafkaSettings(const json::Value& settings);

}  // namespace ward::stream
