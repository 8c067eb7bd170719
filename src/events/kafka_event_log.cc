#include "events/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "common/log.h"
#include "common/time.h"

namespace ward::events {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;

Status KafkaError(std::string_view what, rd_kafka_resp_err_t err) {
  std::string message = "kafka: " + std::string(what) + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
      return InvalidArgument(message);
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return ResourceExhausted(message);
    default:
      return Unavailable(message);
  }
}

void OnLog(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 3) log::Warn("kafka", {{"facility", fac}, {"message", buf}});
}

Result<KafkaConf> MakeConf(const KafkaEventLogOptions& o, const std::vector<std::pair<std::string, std::string>>& own,
                           const std::vector<std::pair<std::string, std::string>>& extra) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return InvalidArgument("kafka event log: " + k + ": " + err);
    return Status::Ok();
  };
  WARD_RETURN_IF_ERROR(set("bootstrap.servers", o.brokers));
  WARD_RETURN_IF_ERROR(set("client.id", "ward"));
  for (const auto& [k, v] : own) WARD_RETURN_IF_ERROR(set(k, v));
  for (const auto& [k, v] : extra) WARD_RETURN_IF_ERROR(set(k, v));
  rd_kafka_conf_set_log_cb(conf.get(), &OnLog);
  return conf;
}

Result<KafkaHandle> NewHandle(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) return Err(Unavailable(std::string("kafka event log: ") + err));
  conf.release();  // rd_kafka_new owns it now
  return KafkaHandle(rk);
}

int TimeoutMs(std::chrono::milliseconds d) { return static_cast<int>(std::clamp<int64_t>(d.count(), 0, INT32_MAX)); }

// One queued Append: owns the payload until the delivery report (librdkafka does not copy it).
struct PendingAppend {
  std::string record;
  EventLog::AppendCallback done;
};

}  // namespace

struct KafkaEventLog::Impl {
  KafkaEventLogOptions options;
  KafkaHandle producer;
  int partitions = 0;
  std::atomic<bool> stop{false};
  std::thread poller;  // serves delivery reports

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    std::unique_ptr<PendingAppend> p(static_cast<PendingAppend*>(m->_private));
    if (!p) return;
    if (m->err) p->done(Err(KafkaError("append", m->err)));
    else p->done(static_cast<uint64_t>(m->offset));
  }

  // A consumer of group "ward-<group>".
  Result<KafkaConf> ConsumerConf(const std::string& group) const {
    std::vector<std::pair<std::string, std::string>> own = {
        {"group.id", "ward-" + group}, {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"}, {"enable.partition.eof", "false"},
        // A node that died (kill -9, power) holds its partitions until the group notices: 10 s
        // rather than librdkafka's 45 s, so another node takes over its share of the log sooner.
        {"session.timeout.ms", "10000"}, {"heartbeat.interval.ms", "1000"}};
    return MakeConf(options, own, options.consumer_config);
  }
  Result<KafkaHandle> NewConsumer(const std::string& group) const {
    WARD_ASSIGN_OR_RETURN(KafkaConf conf, ConsumerConf(group));
    return NewHandle(RD_KAFKA_CONSUMER, std::move(conf));
  }

  PartitionList AllPartitions(const LogPosition* offsets = nullptr) const {
    PartitionList list(rd_kafka_topic_partition_list_new(partitions));
    for (int p = 0; p < partitions; ++p) {
      auto* tp = rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p);
      if (offsets && static_cast<size_t>(p) < offsets->size()) tp->offset = static_cast<int64_t>((*offsets)[p]);
    }
    return list;
  }

  Result<std::pair<int64_t, int64_t>> Watermarks(rd_kafka_t* rk, int partition) const {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, options.topic.c_str(), partition, &lo, &hi,
                                                               TimeoutMs(options.request_timeout));
    if (err) return Err(KafkaError("reading the offsets of " + options.topic, err));
    return std::make_pair(lo, hi);
  }

  // Reads records [from[p], to[p]) of each partition, without a group.
  Result<std::vector<LogRecord>> Fetch(const LogPosition& from, const LogPosition& to) const {
    std::vector<LogRecord> out;
    PartitionList list(rd_kafka_topic_partition_list_new(partitions));
    std::map<int, int64_t> wanted_end;
    for (int p = 0; p < partitions; ++p) {
      if (from[p] >= to[p]) continue;
      rd_kafka_topic_partition_list_add(list.get(), options.topic.c_str(), p)->offset = static_cast<int64_t>(from[p]);
      wanted_end[p] = static_cast<int64_t>(to[p]);
    }
    if (wanted_end.empty()) return out;
    // librdkafka assigns only with a group.id; this handle never subscribes or commits, so the
    // group holds no members and no offsets.
    WARD_ASSIGN_OR_RETURN(KafkaHandle rk, NewConsumer("_fetch"));
    if (auto err = rd_kafka_assign(rk.get(), list.get())) return Err(KafkaError("assigning partitions", err));
    auto deadline = std::chrono::steady_clock::now() + options.request_timeout;
    while (!wanted_end.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Err(Unavailable("kafka: reading " + options.topic + " timed out"));
      KafkaMessage m(rd_kafka_consumer_poll(rk.get(), TimeoutMs(std::min(left, std::chrono::milliseconds(200)))));
      if (!m) continue;
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        return Err(KafkaError("reading " + options.topic, m->err));
      }
      auto it = wanted_end.find(m->partition);
      if (it == wanted_end.end() || m->offset >= it->second) continue;
      out.push_back({static_cast<uint64_t>(m->offset), std::string(static_cast<const char*>(m->payload), m->len),
                     m->partition});
      if (m->offset + 1 >= it->second) wanted_end.erase(it);
    }
    rd_kafka_consumer_close(rk.get());
    return out;
  }
};

namespace {

// One member of a Kafka consumer group. Every librdkafka call happens on the caller's thread
// (Poll serves the rebalance callback), so the bookkeeping needs no lock.
class KafkaConsumer final : public LogConsumer {
 public:
  explicit KafkaConsumer(const KafkaEventLog::Impl& log) : log_(log) {}
  ~KafkaConsumer() override {
    if (rk_) rd_kafka_consumer_close(rk_.get());  // leaves the group (revokes; nothing is committed)
  }

  // Creates the handle (its callbacks reach this object) and subscribes to the topic.
  Status Join(KafkaConf conf) {
    rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::OnRebalance);
    rd_kafka_conf_set_opaque(conf.get(), this);
    WARD_ASSIGN_OR_RETURN(rk_, NewHandle(RD_KAFKA_CONSUMER, std::move(conf)));
    rd_kafka_poll_set_consumer(rk_.get());
    PartitionList topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), log_.options.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (auto err = rd_kafka_subscribe(rk_.get(), topics.get())) return KafkaError("subscribing", err);
    return Status::Ok();
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<KafkaConsumer*>(opaque)->Rebalance(rk, err, parts);
  }

  Result<std::vector<LogRecord>> Poll(size_t max_records, size_t max_bytes, std::chrono::milliseconds timeout) override {
    std::vector<LogRecord> out;
    size_t bytes = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < max_records && bytes < max_bytes) {
      // Wait only while nothing was returned; then take what is already fetched.
      int wait = 0;
      if (out.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        wait = TimeoutMs(std::max(left, std::chrono::milliseconds(0)));
      }
      KafkaMessage m(rd_kafka_consumer_poll(rk_.get(), wait));
      if (!m) {
        if (!out.empty() || std::chrono::steady_clock::now() >= deadline) break;
        continue;
      }
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        // Records already taken are returned; the error comes back on the next call if it persists.
        if (!out.empty()) break;
        return Err(KafkaError("consuming " + log_.options.topic, m->err));
      }
      // A message of a partition revoked meanwhile (fetched before the rebalance) is not ours.
      if (!held_.count(m->partition)) continue;
      out.push_back({static_cast<uint64_t>(m->offset), std::string(static_cast<const char*>(m->payload), m->len),
                     m->partition});
      bytes += m->len;
      held_[m->partition].next = static_cast<uint64_t>(m->offset) + 1;
    }
    return out;
  }

  Status Commit() override {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(held_.size())));
    for (const auto& [p, h] : held_) {
      if (h.next == h.committed) continue;
      rd_kafka_topic_partition_list_add(list.get(), log_.options.topic.c_str(), p)->offset = static_cast<int64_t>(h.next);
    }
    if (list->cnt == 0) return Status::Ok();
    if (auto err = rd_kafka_commit(rk_.get(), list.get(), 0)) return KafkaError("committing", err);
    for (int i = 0; i < list->cnt; ++i) {
      const auto& tp = list->elems[i];
      if (tp.err) return KafkaError("committing partition " + std::to_string(tp.partition), tp.err);
      if (auto it = held_.find(tp.partition); it != held_.end()) it->second.committed = static_cast<uint64_t>(tp.offset);
      seek_.erase(tp.partition);  // the group's position supersedes a local start
    }
    return Status::Ok();
  }

  Status Seek(const LogPosition& position) override {
    for (size_t p = 0; p < position.size() && p < static_cast<size_t>(log_.partitions); ++p) {
      const int partition = static_cast<int>(p);
      seek_[partition] = position[p];
      auto it = held_.find(partition);
      if (it == held_.end()) continue;  // applied when it is assigned
      it->second.next = position[p];
      PartitionList list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), log_.options.topic.c_str(), partition)->offset =
          static_cast<int64_t>(position[p]);
      if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list.get(), TimeoutMs(log_.options.request_timeout))) {
        Status st = Unavailable(std::string("kafka: seek: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return st;
      }
    }
    return Status::Ok();
  }

  LogPosition position() override { return Shape([](const Held& h) { return h.next; }); }
  LogPosition committed() override { return Shape([](const Held& h) { return h.committed; }); }

 private:
  struct Held {
    uint64_t next = 0;       // after the last record returned
    uint64_t committed = 0;  // what the group has
  };

  template <typename F>
  LogPosition Shape(F f) const {
    LogPosition out(static_cast<size_t>(log_.partitions), 0);
    for (const auto& [p, h] : held_) {
      if (static_cast<size_t>(p) < out.size()) out[p] = f(h);
    }
    return out;
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // Where each partition starts: a local Seek, else the group's committed offset, else the
      // earliest retained record (auto.offset.reset=earliest).
      PartitionList committed(rd_kafka_topic_partition_list_copy(parts));
      rd_kafka_resp_err_t cerr = rd_kafka_committed(rk, committed.get(), TimeoutMs(log_.options.request_timeout));
      for (int i = 0; i < parts->cnt; ++i) {
        auto& tp = parts->elems[i];
        Held h;
        int64_t stored = cerr ? RD_KAFKA_OFFSET_INVALID : committed->elems[i].offset;
        if (stored >= 0) {
          h.committed = static_cast<uint64_t>(stored);
        } else if (auto marks = log_.Watermarks(rk, tp.partition)) {
          h.committed = static_cast<uint64_t>(marks->first);
        }
        h.next = h.committed;
        if (auto s = seek_.find(tp.partition); s != seek_.end()) h.next = s->second;
        tp.offset = static_cast<int64_t>(h.next);
        held_[tp.partition] = h;
      }
      if (cerr) log::Warn("kafka: committed offsets unavailable at assignment", {{"error", rd_kafka_err2str(cerr)}});
      rd_kafka_assign(rk, parts);
    } else {
      // Revoked (or an error): forget without committing; the next owner resumes from the group's
      // offsets, so what was returned but not committed is delivered again.
      for (int i = 0; i < parts->cnt; ++i) {
        auto it = held_.find(parts->elems[i].partition);
        if (it == held_.end()) continue;
        if (auto s = seek_.find(it->first); s != seek_.end()) s->second = it->second.next;
        held_.erase(it);
      }
      rd_kafka_assign(rk, nullptr);
    }
  }

  const KafkaEventLog::Impl& log_;
  KafkaHandle rk_;
  std::map<int32_t, Held> held_;
  std::map<int32_t, uint64_t> seek_;  // local start positions (Seek), until a commit covers them
};

}  // namespace

Result<KafkaEventLogOptions> ParseKafkaUrl(std::string_view url) {
  constexpr std::string_view kScheme = "kafka://";
  if (!url.starts_with(kScheme)) return Err(InvalidArgument("a Kafka event log URL starts with kafka://"));
  url.remove_prefix(kScheme.size());
  KafkaEventLogOptions o;
  size_t slash = url.find('/');
  std::string_view brokers = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view topic = url.substr(slash + 1);
    if (!topic.empty()) o.topic = std::string(topic);
  }
  if (o.topic.size() > 249 || !std::all_of(o.topic.begin(), o.topic.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      })) {
    return Err(InvalidArgument("invalid Kafka topic name '" + o.topic + "'"));
  }
  if (brokers.empty()) return Err(InvalidArgument("a Kafka event log URL names at least one broker"));
  size_t start = 0;
  while (start <= brokers.size()) {
    size_t comma = brokers.find(',', start);
    std::string_view broker = brokers.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t colon = broker.rfind(':');
    std::string_view port = colon == std::string_view::npos ? std::string_view() : broker.substr(colon + 1);
    if (colon == 0 || port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      return Err(InvalidArgument("Kafka broker '" + std::string(broker) + "' is not host:port"));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  o.brokers = std::string(brokers);
  return o;
}

Result<std::unique_ptr<KafkaEventLog>> KafkaEventLog::Open(KafkaEventLogOptions options) {
  if (options.brokers.empty()) return Err(InvalidArgument("kafka event log: no brokers"));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const KafkaEventLogOptions& o = impl->options;
  WARD_ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o, {{"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"}},
                                                 o.producer_config));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::OnDelivery);
  WARD_ASSIGN_OR_RETURN(impl->producer, NewHandle(RD_KAFKA_PRODUCER, std::move(conf)));

  std::unique_ptr<rd_kafka_topic_t, KafkaDeleter> topic(rd_kafka_topic_new(impl->producer.get(), o.topic.c_str(), nullptr));
  const rd_kafka_metadata_t* md = nullptr;
  if (auto err = rd_kafka_metadata(impl->producer.get(), 0, topic.get(), &md, TimeoutMs(o.request_timeout)))
    return Err(KafkaError("reading the metadata of " + o.topic, err));
  std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter> metadata(md);
  if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
    return Err(NotFound("kafka: topic " + o.topic + " is not available" +
                        (md->topic_cnt == 1 && md->topics[0].err ? std::string(": ") + rd_kafka_err2str(md->topics[0].err) : "")));
  }
  impl->partitions = md->topics[0].partition_cnt;

  Impl* im = impl.get();
  impl->poller = std::thread([im] {
    while (!im->stop.load()) rd_kafka_poll(im->producer.get(), 100);
  });
  std::unique_ptr<KafkaEventLog> log(new KafkaEventLog());
  log->impl_ = std::move(impl);
  return log;
}

KafkaEventLog::~KafkaEventLog() {
  if (!impl_) return;
  rd_kafka_flush(impl_->producer.get(), TimeoutMs(impl_->options.request_timeout));
  impl_->stop = true;
  impl_->poller.join();
  // What is still queued fails now: every callback runs once, with an error.
  rd_kafka_purge(impl_->producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(impl_->producer.get(), 0);
}

int KafkaEventLog::partitions() const { return impl_->partitions; }

void KafkaEventLog::Append(std::string record, std::string key, AppendCallback done) {
  auto* p = new PendingAppend{std::move(record), std::move(done)};
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  // A full local queue drains as deliveries complete: wait a little rather than fail at once.
  for (int attempt = 0; attempt < 50; ++attempt) {
    err = rd_kafka_producev(impl_->producer.get(), RD_KAFKA_V_TOPIC(impl_->options.topic.c_str()),
                            RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(p->record.data(), p->record.size()), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (err) {
    std::unique_ptr<PendingAppend> owned(p);
    owned->done(Err(KafkaError("append", err)));
  }
}

Result<std::unique_ptr<LogConsumer>> KafkaEventLog::OpenConsumer(const std::string& group) {
  if (group.empty()) return Err(InvalidArgument("consumer group name is empty"));
  WARD_ASSIGN_OR_RETURN(KafkaConf conf, impl_->ConsumerConf(group));
  auto consumer = std::make_unique<KafkaConsumer>(*impl_);
  WARD_RETURN_IF_ERROR(consumer->Join(std::move(conf)));
  return std::unique_ptr<LogConsumer>(std::move(consumer));
}

Result<LogPosition> KafkaEventLog::EndPosition() {
  LogPosition end(static_cast<size_t>(impl_->partitions), 0);
  for (int p = 0; p < impl_->partitions; ++p) {
    WARD_ASSIGN_OR_RETURN(auto marks, impl_->Watermarks(impl_->producer.get(), p));
    end[p] = static_cast<uint64_t>(marks.second);
  }
  return end;
}

Result<std::optional<LogPosition>> KafkaEventLog::CommittedPosition(const std::string& group) {
  WARD_ASSIGN_OR_RETURN(KafkaHandle rk, impl_->NewConsumer(group));
  PartitionList list = impl_->AllPartitions();
  if (auto err = rd_kafka_committed(rk.get(), list.get(), TimeoutMs(impl_->options.request_timeout)))
    return Err(KafkaError("reading the offsets of group ward-" + group, err));
  LogPosition out(static_cast<size_t>(impl_->partitions), 0);
  bool any = false;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    if (tp.err) return Err(KafkaError("reading the offsets of group ward-" + group, tp.err));
    if (tp.offset >= 0) {
      any = true;
      out[tp.partition] = static_cast<uint64_t>(tp.offset);
    } else {
      // No offset yet: a member would start at the earliest retained record.
      WARD_ASSIGN_OR_RETURN(auto marks, impl_->Watermarks(rk.get(), tp.partition));
      out[tp.partition] = static_cast<uint64_t>(marks.first);
    }
  }
  rd_kafka_consumer_close(rk.get());
  if (!any) return std::optional<LogPosition>();
  return std::optional<LogPosition>(std::move(out));
}

Status KafkaEventLog::CommitGroup(const std::string& group, const LogPosition& position) {
  if (position.size() != static_cast<size_t>(impl_->partitions))
    return InvalidArgument("position names " + std::to_string(position.size()) + " partitions; the topic has " +
                           std::to_string(impl_->partitions));
  WARD_ASSIGN_OR_RETURN(KafkaHandle rk, impl_->NewConsumer(group));
  PartitionList list = impl_->AllPartitions(&position);
  rd_kafka_resp_err_t err = rd_kafka_commit(rk.get(), list.get(), 0);
  for (int i = 0; !err && i < list->cnt; ++i) err = list->elems[i].err;
  rd_kafka_consumer_close(rk.get());
  return err ? KafkaError("committing group ward-" + group, err) : Status::Ok();
}

Result<LogPosition> KafkaEventLog::PositionAt(int64_t ticks, const RecordTime&) {
  // Message timestamps are the producer's CreateTime, taken right after ingest stamped the batch.
  PartitionList list = impl_->AllPartitions();
  for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = std::max<int64_t>(0, ticks / kTicksPerMillisecond);
  if (auto err = rd_kafka_offsets_for_times(impl_->producer.get(), list.get(), TimeoutMs(impl_->options.request_timeout)))
    return Err(KafkaError("finding offsets by time", err));
  LogPosition out(static_cast<size_t>(impl_->partitions), 0);
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    if (tp.err) return Err(KafkaError("finding offsets by time", tp.err));
    if (tp.offset >= 0) {
      out[tp.partition] = static_cast<uint64_t>(tp.offset);
    } else {  // nothing at or after that time: the end
      WARD_ASSIGN_OR_RETURN(auto marks, impl_->Watermarks(impl_->producer.get(), tp.partition));
      out[tp.partition] = static_cast<uint64_t>(marks.second);
    }
  }
  return out;
}

Result<int64_t> KafkaEventLog::EarliestRetainedTicks(const RecordTime& time_of) {
  LogPosition from(static_cast<size_t>(impl_->partitions), 0), to(from.size(), 0);
  for (int p = 0; p < impl_->partitions; ++p) {
    WARD_ASSIGN_OR_RETURN(auto marks, impl_->Watermarks(impl_->producer.get(), p));
    // A partition that dropped nothing holds all of its history; only the others have a horizon.
    if (marks.first > 0 && marks.first < marks.second) {
      from[p] = static_cast<uint64_t>(marks.first);
      to[p] = from[p] + 1;
    }
  }
  WARD_ASSIGN_OR_RETURN(std::vector<LogRecord> firsts, impl_->Fetch(from, to));
  int64_t earliest = 0;
  for (const LogRecord& r : firsts) earliest = std::max(earliest, time_of(r));
  return earliest;
}

Result<std::vector<LogRecord>> KafkaEventLog::ReadRecent(size_t max_records) {
  const size_t per_partition = std::max<size_t>(1, max_records / static_cast<size_t>(impl_->partitions));
  LogPosition from(static_cast<size_t>(impl_->partitions), 0), to(from.size(), 0);
  for (int p = 0; p < impl_->partitions; ++p) {
    WARD_ASSIGN_OR_RETURN(auto marks, impl_->Watermarks(impl_->producer.get(), p));
    to[p] = static_cast<uint64_t>(marks.second);
    from[p] = static_cast<uint64_t>(std::max<int64_t>(marks.first, marks.second - static_cast<int64_t>(per_partition)));
  }
  return impl_->Fetch(from, to);
}

}  // namespace ward::events
