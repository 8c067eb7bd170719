#include "stream/stream_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <unordered_map>

#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "events/rows.h"
#include "state/kind_watch.h"
#include "stream/stream_record.h"

namespace ward::stream {

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kDeadLetterRotateBytes = 16u << 20;
constexpr std::chrono::seconds kMachineCacheTtl{60};
constexpr std::chrono::seconds kGroupNamesCheckEvery{1};
constexpr std::chrono::milliseconds kIdleCommitEvery{1000};

// Device → device-group name, for MachineGroup and the device-group filter. Machines are read one at a
// time and cached for a minute (a reassignment shows within that); group names are re-read when the
// tenant's device groups change. One per worker: not thread-safe.
class MachineGroups {
 public:
  explicit MachineGroups(state::StateStore& store) : store_(store) {}

  const std::string& NameOf(const std::string& tenant, const std::string& device) {
    static const std::string kNone;
    if (device.empty()) return kNone;
    Tenant& t = tenants_[tenant];
    auto now = Clock::now();
    RefreshNames(tenant, t, now);
    auto it = t.machines.find(device);
    if (it == t.machines.end() || now - it->second.fetched > kMachineCacheTtl) {
      std::string name;
      if (auto m = state::Repo<state::Machine>(store_).Get(tenant, device); m && m->rbac_group_id) {
        // A group newer than the last look: look again now rather than cache "" for a minute.
        if (!t.names.count(*m->rbac_group_id)) RefreshNames(tenant, t, now, /*force=*/true);
        if (auto g = t.names.find(*m->rbac_group_id); g != t.names.end()) name = g->second;
      }
      it = t.machines.insert_or_assign(device, Entry{std::move(name), now}).first;
    }
    return it->second.group;
  }

 private:
  struct Entry {
    std::string group;
    Clock::time_point fetched;
  };
  struct Tenant {
    state::KindWatch watch{state::Kind::kDeviceGroup};
    Clock::time_point checked{};
    std::unordered_map<int64_t, std::string> names;
    std::unordered_map<std::string, Entry> machines;
  };

  // Re-reads the group names when the tenant's device groups changed. Looking costs a store query,
  // so it happens at most once a second (unless forced), not once per log record.
  void RefreshNames(const std::string& tenant, Tenant& t, Clock::time_point now, bool force = false) {
    if (!force && now - t.checked < kGroupNamesCheckEvery) return;
    auto changed = t.watch.Changed(store_, tenant);
    if (!changed) return;  // the store failed: look again next time
    if (*changed) {
      auto groups = state::Repo<state::DeviceGroup>(store_).List(tenant);
      if (!groups) return;
      t.names.clear();
      for (const state::DeviceGroup& g : *groups) t.names[g.id] = g.name;
      t.watch.Commit();
      t.machines.clear();
    }
    t.checked = now;
  }

  state::StateStore& store_;
  std::unordered_map<std::string, Tenant> tenants_;
};

// The device a batch is about: sensors' batches name it; alert batches carry it in DeviceId cells.
std::string DeviceOf(const events::RowBatch& batch, const events::SchemaRegistry& registry) {
  if (!batch.device_id.empty()) return batch.device_id;
  for (const events::Row& row : batch.rows) {
    int c = registry.table(row.table).Find("DeviceId");
    if (c >= 0 && static_cast<size_t>(c) < row.values.size()) {
      if (const auto* s = std::get_if<std::string>(&row.values[c]); s && !s->empty()) return *s;
    }
  }
  return "";
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << text;
    if (!out.flush()) return Unavailable("writing " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return ec ? Unavailable("renaming " + tmp + ": " + ec.message()) : Status::Ok();
}

int64_t ReadInt64File(const std::string& path) {
  std::ifstream in(path);
  int64_t v = 0;
  in >> v;
  return in ? v : 0;
}
}  // namespace

// One destination of one configuration: its thread, sink and cursor.
class StreamService::Worker {
 public:
  Worker(StreamService& service, state::StreamConfiguration config, json::Value destination)
      : service_(service), config_(std::move(config)), destination_(std::move(destination)) {
    name_ = destination_.GetString("name").value_or("");
    type_ = destination_.GetString("type").value_or("");
    consumer_ = ConsumerName(config_.id, name_);
    for (const std::string& category : config_.event_types) {
      if (const events::TableDef* t = TableOfCategory(service_.registry_, category)) tables_.insert(t->id);
    }
    for (const std::string& g : config_.device_groups) groups_.insert(AsciiLower(g));
    status_.name = name_;
    status_.type = type_;
    status_.state = "Running";
  }
  ~Worker() { Stop(); }

  // What the worker was built from: a change restarts it.
  static std::string Signature(const state::StreamConfiguration& c, const json::Value& destination) {
    json::Value v = json::Value::Object();
    v.Set("d", destination);
    v.Set("e", state::StringArray(c.event_types));
    v.Set("g", state::StringArray(c.device_groups));
    v.Set("r", json::Value(c.replay_generation));
    return v.Serialize();
  }

  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Stop() {
    stop_.store(true);
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  events::LogPosition committed() {
    std::lock_guard lock(mu_);
    return committed_;
  }
  DestinationStatus Snapshot() {
    events::LogPosition end = service_.log_.EndPosition().value_or(events::LogPosition{});
    std::lock_guard lock(mu_);
    DestinationStatus s = status_;
    s.cursor = events::TotalOffset(committed_);
    s.end_offset = std::max(s.cursor, events::TotalOffset(end));
    int64_t oldest = oldest_pending_ticks_.load();
    s.lag_seconds = oldest > 0 ? std::max<double>(0, static_cast<double>(NowTicks() - oldest) / kTicksPerSecond) : 0;
    return s;
  }

 private:
  std::string ReplayPath() const { return service_.options_.cursor_dir + "/" + consumer_ + ".replay"; }

  // Joins the destination's consumer group, applying a replay request once (this node's marker file).
  Result<std::unique_ptr<events::LogConsumer>> OpenConsumer() {
    events::EventLog& log = service_.log_;
    WARD_ASSIGN_OR_RETURN(std::optional<events::LogPosition> committed, log.CommittedPosition(consumer_));
    if (!committed) {
      // Created on a node that did not prepare it: start with what arrives from now on.
      WARD_ASSIGN_OR_RETURN(events::LogPosition end, log.EndPosition());
      WARD_RETURN_IF_ERROR(log.CommitGroup(consumer_, end));
    }
    if (config_.replay_generation > ReadInt64File(ReplayPath())) {
      // The group is moved while this node has no member in it (the worker restarted for the replay).
      WARD_ASSIGN_OR_RETURN(events::LogPosition from, service_.PositionAt(config_.replay_from_ticks));
      WARD_RETURN_IF_ERROR(log.CommitGroup(consumer_, from));
      WARD_RETURN_IF_ERROR(WriteFileAtomically(ReplayPath(), std::to_string(config_.replay_generation)));
      log::Info("stream destination replays", {{"configuration", config_.id}, {"destination", name_},
                                                {"fromOffset", std::to_string(events::TotalOffset(from))}});
    }
    return log.OpenConsumer(consumer_);
  }

  void NoteCommitted(events::LogConsumer& consumer) {
    std::lock_guard lock(mu_);
    committed_ = consumer.committed();
  }

  bool SleepFor(std::chrono::milliseconds d) {
    std::unique_lock lock(wake_mu_);
    return !wake_.wait_for(lock, d, [this] { return stop_.load(); });
  }

  void SetError(const std::string& message) {
    std::lock_guard lock(mu_);
    status_.state = "Retrying";
    status_.last_error = message;
    status_.last_error_ms = NowMs();
    ++status_.failures;
  }

  // Renders the rows of `record` this destination takes into pending_.
  void Collect(const events::LogRecord& record) {
    auto batch = events::DecodeBatch(record.data, service_.registry_);
    if (!batch) {
      log::Warn("stream: undecodable log record skipped", {{"offset", std::to_string(record.offset)},
                                                           {"partition", std::to_string(record.partition)},
                                                           {"error", batch.error().message()}});
      return;
    }
    if (batch->tenant_id != config_.tenant_id) return;
    bool any = false;
    for (const events::Row& row : batch->rows) any = any || tables_.count(row.table);
    if (!any) return;
    const std::string& group = groups_cache_.NameOf(batch->tenant_id, DeviceOf(*batch, service_.registry_));
    if (!groups_.empty() && !groups_.count(AsciiLower(group))) return;
    for (size_t i = 0; i < batch->rows.size(); ++i) {
      if (!tables_.count(batch->rows[i].table)) continue;
      pending_.push_back(RenderRecord(*batch, i, service_.registry_.table(batch->rows[i].table), group));
    }
  }

  void DeadLetter(const StreamRecord& record, const std::string& reason) {
    std::string path = service_.DeadLetterPath(config_.id, name_);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (fs::exists(path, ec) && fs::file_size(path, ec) > kDeadLetterRotateBytes) fs::rename(path, path + ".1", ec);
    json::Writer w;
    w.StartObject().KV("time", FormatIsoMs(NowMs())).KV("reason", reason).Key("record");
    if (json::IsValidJson(record.json)) w.Raw(record.json);
    else w.String(record.json);
    w.EndObject();
    std::string line = w.Take() + "\n";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fdatasync(fd) != 0) {
      log::Error("stream: dead letter not written", {{"path", path}, {"reason", reason}});
    }
    if (fd >= 0) ::close(fd);
  }

  // Delivers pending_ chunk by chunk, retrying each until it is confirmed. False when stopping.
  bool DeliverPending(Sink& sink) {
    size_t max = std::max<size_t>(1, sink.max_batch_records());
    auto backoff = service_.options_.retry_initial;
    for (size_t start = 0; start < pending_.size();) {
      size_t n = std::min(max, pending_.size() - start);
      std::span<const StreamRecord> chunk(pending_.data() + start, n);
      std::vector<Rejection> rejected;
      ward::Status st = sink.Deliver(chunk, &rejected);
      if (!st.ok()) {
        SetError(st.message());
        service_.failures_.Inc({type_});
        log::Warn("stream delivery failed", {{"configuration", config_.id}, {"destination", name_}, {"error", st.message()},
                                              {"retryInMs", std::to_string(backoff.count())}});
        if (!SleepFor(backoff)) return false;
        backoff = std::min(backoff * 2, service_.options_.retry_max);
        continue;
      }
      backoff = service_.options_.retry_initial;
      for (const Rejection& r : rejected) {
        if (r.index < n) DeadLetter(chunk[r.index], r.reason);
      }
      int64_t now = NowTicks();
      for (const StreamRecord& r : chunk) service_.latency_.Observe({type_}, static_cast<double>(now - r.time_ticks) / kTicksPerSecond);
      service_.delivered_.Inc({type_}, n - rejected.size());
      if (!rejected.empty()) service_.rejected_.Inc({type_}, rejected.size());
      {
        std::lock_guard lock(mu_);
        status_.state = "Running";
        status_.delivered += n - rejected.size();
        status_.rejected += rejected.size();
        ++status_.deliveries;
        status_.last_success_ms = NowMs();
        if (!rejected.empty()) {
          status_.last_error = "rejected by the destination: " + rejected.back().reason;
          status_.last_error_ms = NowMs();
        }
      }
      start += n;
      oldest_pending_ticks_.store(start < pending_.size() ? pending_[start].time_ticks : 0);
    }
    return true;
  }

  void UpdateRate() {
    auto now = Clock::now();
    if (now - rate_since_ < std::chrono::seconds(5)) return;
    std::lock_guard lock(mu_);
    double seconds = std::chrono::duration<double>(now - rate_since_).count();
    status_.records_per_second = static_cast<double>(status_.delivered - rate_base_) / seconds;
    rate_base_ = status_.delivered;
    rate_since_ = now;
  }

  void Run() {
    // The sink and the consumer are made here, so a failure is a visible, retried state.
    std::unique_ptr<Sink> sink;
    std::unique_ptr<events::LogConsumer> consumer;
    auto backoff = service_.options_.retry_initial;
    while (!stop_.load() && (!sink || !consumer)) {
      const DestinationType* kind = FindDestinationType(type_);
      if (!kind) {
        SetError("unknown destination type " + type_);
      } else if (!sink) {
        auto made = kind->make(destination_, service_.options_.sink_context);
        if (made) sink = std::move(*made);
        else SetError(made.error().message());
      }
      if (sink && !consumer) {
        auto opened = OpenConsumer();
        if (opened) consumer = std::move(*opened);
        else SetError(opened.error().message());
      }
      if (sink && consumer) break;
      if (!SleepFor(backoff)) return;
      backoff = std::min(backoff * 2, service_.options_.retry_max);
    }
    if (!sink || !consumer) return;
    NoteCommitted(*consumer);
    rate_since_ = Clock::now();

    auto last_delivery = Clock::now() - sink->min_interval();
    auto last_commit = Clock::now();
    const size_t max_batch = std::max<size_t>(1, sink->max_batch_records());
    while (!stop_.load()) {
      UpdateRate();
      if (pending_.size() < max_batch) {
        // Wait for records only when there is nothing to deliver, or the destination's interval has
        // not passed yet.
        auto since_delivery = Clock::now() - last_delivery;
        std::chrono::milliseconds wait(200);
        if (!pending_.empty()) {
          wait = since_delivery < sink->min_interval()
                     ? std::max(std::chrono::duration_cast<std::chrono::milliseconds>(sink->min_interval() - since_delivery),
                                std::chrono::milliseconds(1))
                     : std::chrono::milliseconds(0);
        }
        auto records = consumer->Poll(service_.options_.read_batches, 16u << 20, wait);
        if (!records) {
          SetError("reading the event log: " + records.error().message());
          if (!SleepFor(service_.options_.retry_initial)) return;
          continue;
        }
        for (const events::LogRecord& r : *records) Collect(r);
        if (!pending_.empty() && oldest_pending_ticks_.load() == 0) oldest_pending_ticks_.store(pending_.front().time_ticks);
        since_delivery = Clock::now() - last_delivery;
        if (!records->empty()) {
          // Gather more while the destination's interval has not passed.
          if (!pending_.empty() && pending_.size() < max_batch && since_delivery < sink->min_interval()) continue;
        } else if (pending_.empty()) {
          // Nothing for this destination: the group still moves past what it skipped, now and then.
          if (consumer->position() != consumer->committed() && Clock::now() - last_commit >= kIdleCommitEvery) {
            if (consumer->Commit().ok()) NoteCommitted(*consumer);
            last_commit = Clock::now();
          }
          continue;
        } else if (since_delivery < sink->min_interval()) {
          continue;
        }
      }
      if (!pending_.empty()) {
        if (!DeliverPending(*sink)) return;  // stopping: the group is not committed, these are sent again later
        pending_.clear();
        oldest_pending_ticks_.store(0);
        last_delivery = Clock::now();
      }
      if (consumer->position() == consumer->committed()) continue;
      if (ward::Status st = consumer->Commit(); !st.ok()) {
        SetError("committing the cursor: " + st.message());
      } else {
        NoteCommitted(*consumer);
        last_commit = Clock::now();
      }
    }
  }

  StreamService& service_;
  state::StreamConfiguration config_;
  json::Value destination_;
  std::string name_, type_, consumer_;
  std::set<uint16_t> tables_;
  std::set<std::string> groups_;
  MachineGroups groups_cache_{service_.store_};
  std::vector<StreamRecord> pending_;
  std::atomic<int64_t> oldest_pending_ticks_{0};
  std::mutex mu_;
  events::LogPosition committed_;  // guarded by mu_
  DestinationStatus status_;
  uint64_t rate_base_ = 0;
  Clock::time_point rate_since_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::thread thread_;

 public:
  const std::string signature = Signature(config_, destination_);
};

StreamService::StreamService(events::EventLog& log, state::StateStore& store, const events::SchemaRegistry& registry,
                             metrics::Registry& metrics, StreamServiceOptions options)
    : log_(log),
      store_(store),
      registry_(registry),
      metrics_(metrics),
      options_(std::move(options)),
      delivered_(metrics.AddCounter("ward_stream_records_delivered_total", "Records confirmed by streaming destinations", {"type"})),
      rejected_(metrics.AddCounter("ward_stream_records_rejected_total", "Records streaming destinations refused (dead-lettered)", {"type"})),
      failures_(metrics.AddCounter("ward_stream_delivery_failures_total", "Failed deliveries (retried)", {"type"})),
      latency_(metrics.AddHistogram("ward_stream_delivery_delay_seconds", "From ingest to the destination's confirmation", {"type"},
                                    {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300})) {}

StreamService::~StreamService() { Stop(); }

std::string StreamService::ConsumerName(const std::string& config_id, const std::string& destination) {
  return "stream-" + config_id + "." + destination;
}

std::string StreamService::DeadLetterPath(const std::string& config_id, const std::string& destination) const {
  return options_.dead_letter_dir + "/" + config_id + "/" + destination + ".ndjson";
}

Status StreamService::Start() {
  std::error_code ec;
  fs::create_directories(options_.cursor_dir, ec);
  if (ec) return Unavailable("creating " + options_.cursor_dir + ": " + ec.message());
  WARD_RETURN_IF_ERROR(ReconcileOnce());
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void StreamService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_.exchange(true)) return;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::map<std::string, std::unique_ptr<Worker>> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  workers.clear();  // each stops and joins
}

void StreamService::Reconcile() {
  {
    std::lock_guard lock(mu_);
    reconcile_now_ = true;
  }
  wake_.notify_all();
}

void StreamService::Run() {
  std::unique_lock lock(mu_);
  while (!stop_.load()) {
    wake_.wait_for(lock, options_.refresh, [this] { return stop_.load() || reconcile_now_; });
    if (stop_.load()) break;
    reconcile_now_ = false;
    lock.unlock();
    if (Status st = ReconcileOnce(); !st.ok()) log::Warn("stream configurations not reloaded", {{"error", st.message()}});
    lock.lock();
  }
}

Status StreamService::ReconcileOnce() {
  // Desired workers: every destination of every enabled configuration.
  std::map<std::string, std::pair<state::StreamConfiguration, json::Value>> desired;
  WARD_ASSIGN_OR_RETURN(auto tenants, store_.ListTenants());
  for (const state::Tenant& t : tenants) {
    WARD_ASSIGN_OR_RETURN(auto configs, state::Repo<state::StreamConfiguration>(store_).List(t.id));
    for (state::StreamConfiguration& c : configs) {
      if (!c.enabled) continue;
      auto destinations = json::Value::Parse(c.destinations_json);
      if (!destinations || !destinations->is_array()) continue;
      for (const json::Value& d : destinations->items()) {
        std::string key = t.id + "/" + c.id + "/" + d.GetString("name").value_or("");
        desired.emplace(key, std::make_pair(c, d));
      }
    }
  }
  std::vector<std::unique_ptr<Worker>> retired;
  std::vector<Worker*> started;
  {
    std::lock_guard lock(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto want = desired.find(it->first);
      if (want == desired.end() || Worker::Signature(want->second.first, want->second.second) != it->second->signature) {
        retired.push_back(std::move(it->second));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  retired.clear();  // stopped (joined) outside the lock: a delivery may take a while to finish
  std::lock_guard lock(mu_);
  if (stop_.load()) return Status::Ok();
  for (auto& [key, want] : desired) {
    if (workers_.count(key)) continue;
    auto worker = std::make_unique<Worker>(*this, want.first, want.second);
    started.push_back(worker.get());
    workers_.emplace(key, std::move(worker));
  }
  for (Worker* w : started) w->Start();
  return Status::Ok();
}

Status StreamService::PrepareCursors(const state::StreamConfiguration& config, std::optional<int64_t> from_ticks) {
  WARD_ASSIGN_OR_RETURN(json::Value destinations, json::Value::Parse(config.destinations_json));
  std::optional<events::LogPosition> start;
  for (const json::Value& d : destinations.items()) {
    std::string consumer = ConsumerName(config.id, d.GetString("name").value_or(""));
    WARD_ASSIGN_OR_RETURN(std::optional<events::LogPosition> committed, log_.CommittedPosition(consumer));
    if (committed) continue;
    if (!start) {
      if (from_ticks) {
        WARD_ASSIGN_OR_RETURN(start, PositionAt(*from_ticks));
      } else {
        WARD_ASSIGN_OR_RETURN(start, log_.EndPosition());
      }
    }
    WARD_RETURN_IF_ERROR(log_.CommitGroup(consumer, *start));
  }
  return Status::Ok();
}

events::LogPosition StreamService::oldest_needed() const {
  std::lock_guard lock(mu_);
  events::LogPosition oldest;
  for (const auto& [key, w] : workers_) oldest = events::MinPosition(oldest, w->committed());
  return oldest;
}

int64_t StreamService::RecordTicks(const events::LogRecord& record) const {
  auto batch = events::DecodeBatch(record.data, registry_);
  return batch ? batch->received_ticks : 0;
}

int64_t StreamService::earliest_replayable_ticks() {
  // A log that never dropped a record holds everything: any time is replayable.
  return log_.EarliestRetainedTicks([this](const events::LogRecord& r) { return RecordTicks(r); }).value_or(0);
}

Result<events::LogPosition> StreamService::PositionAt(int64_t ticks) {
  return log_.PositionAt(ticks, [this](const events::LogRecord& r) { return RecordTicks(r); });
}

std::vector<DestinationStatus> StreamService::StatusOf(const std::string& tenant, const std::string& config_id) {
  std::vector<DestinationStatus> out;
  std::lock_guard lock(mu_);
  std::string prefix = tenant + "/" + config_id + "/";
  for (auto it = workers_.lower_bound(prefix); it != workers_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    out.push_back(it->second->Snapshot());
  }
  return out;
}

Result<std::vector<DeadLetter>> StreamService::DeadLetters(const std::string& tenant, const std::string& config_id,
                                                           const std::string& destination, size_t limit) {
  std::vector<DeadLetter> out;
  for (const std::string& path : {DeadLetterPath(config_id, destination), DeadLetterPath(config_id, destination) + ".1"}) {
    std::ifstream in(path);
    std::vector<DeadLetter> file;
    for (std::string line; std::getline(in, line);) {
      auto v = json::Value::Parse(line);
      if (!v) continue;
      DeadLetter d;
      d.time_ms = ParseIsoMs(v->GetString("time").value_or("")).value_or(0);
      d.reason = v->GetString("reason").value_or("");
      if (const json::Value* r = v->Find("record")) d.record = r->Serialize();
      file.push_back(std::move(d));
    }
    for (auto it = file.rbegin(); it != file.rend() && out.size() < limit; ++it) out.push_back(std::move(*it));
  }
  return out;
}

bool StreamService::WaitUntilDelivered(const std::string& tenant, const std::string& config_id,
                                       const events::LogPosition& position, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  const std::string prefix = tenant + "/" + config_id + "/";
  while (Clock::now() < deadline) {
    bool any = false, done = true;
    {
      std::lock_guard lock(mu_);
      for (auto it = workers_.lower_bound(prefix); it != workers_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
        any = true;
        done = done && events::Reached(it->second->committed(), position);
      }
    }
    if (any && done) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace ward::stream
