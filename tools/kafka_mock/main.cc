// ward-kafka-mock: librdkafka's built-in mock Kafka cluster as a process, for end-to-end tests and
// benchmarks of the Kafka streaming destination without a real Kafka.
//
//   ward-kafka-mock [--brokers N] [--topics a,b[:partitions],...] [--partitions P]
//
// Prints "bootstrap=127.0.0.1:PORT[,...]" as the first line of stdout (flushed), then runs until
// SIGTERM or SIGINT. Clients speak the real Kafka protocol to it: point the Kafka destination's
// bootstrapServers at it and read with `kcat -b <bootstrap> -C -t <topic> -o beginning -e`.
//
// Known behaviour of the librdkafka 2.0.x mock (it is an experimental API):
// - Brokers listen on 127.0.0.1 only (INADDR_LOOPBACK, kernel-chosen ports); this tool refuses to
//   run if the cluster ever reports another address.
// - Any topic a client asks about is created on the spot, with 4 partitions, whoever asks:
//   consumers too, whatever their allow.auto.create.topics. So `kcat -C -t <topic> -e` on a topic
//   nobody produced to prints nothing and exits 0 (a real broker would say "Unknown topic"): an
//   empty read does not prove the topic was never written. --topics creates topics up front with
//   --partitions partitions (or name:N), replicated on min(brokers, 3).
// - kcat -e stops once every partition reached its end, which works against the mock as against Kafka.
// - Everything is in memory; the mock keeps every message until it exits. No TLS, no SASL, no ACLs,
//   no CreateTopics admin API, no message-size limits (use maxMessageBytes on the sink for those).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

int Usage(const char* why) {
  std::fprintf(
      stderr,
      "ward-kafka-mock: %s\nusage: ward-kafka-mock [--brokers N] [--topics a,b[:partitions],...] [--partitions P]\n",
      why);
  return 2;
}

bool ParseCount(const char* s, int max, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v < 1 || v > max) return false;
  *out = static_cast<int>(v);
  return true;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  int partitions = 4;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return Usage("a mock Kafka cluster on 127.0.0.1");
    if (i + 1 >= argc) return Usage("an option lacks its value");
    if (arg == "--brokers") {
      if (!ParseCount(argv[++i], 32, &brokers)) return Usage("--brokers must be 1 to 32");
    } else if (arg == "--partitions") {
      if (!ParseCount(argv[++i], 1000, &partitions)) return Usage("--partitions must be 1 to 1000");
    } else if (arg == "--topics") {
      for (std::string& t : Split(argv[++i], ',')) topics.push_back(t);
    } else {
      return Usage("unknown option");
    }
  }

  // librdkafka's threads inherit this mask, so the signals come only to sigwait below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof(err));
  // The mock needs a client instance for its bookkeeping; this one never connects anywhere.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk) {
    std::fprintf(stderr, "ward-kafka-mock: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::fprintf(stderr, "ward-kafka-mock: could not start the mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  for (const std::string& b : Split(bootstrap, ',')) {
    if (b.rfind("127.0.0.1:", 0) != 0) {
      std::fprintf(stderr, "ward-kafka-mock: the mock listens on %s, not loopback; refusing to run\n", b.c_str());
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  for (const std::string& spec : topics) {
    std::string name = spec;
    int n = partitions;
    if (size_t colon = spec.find(':'); colon != std::string::npos) {
      name = spec.substr(0, colon);
      if (!ParseCount(spec.c_str() + colon + 1, 1000, &n)) return Usage("--topics partitions must be 1 to 1000");
    }
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster, name.c_str(), n, brokers < 3 ? brokers : 3);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "ward-kafka-mock: creating topic %s: %s\n", name.c_str(), rd_kafka_err2str(e));
      return 1;
    }
  }

  std::printf("bootstrap=%s\n", bootstrap.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  // Tearing the mock down cleanly takes librdkafka seconds (its threads' poll timers) and saves
  // nothing: all it has is memory and loopback sockets, which exit releases at once.
  std::_Exit(0);
}
