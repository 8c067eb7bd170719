#include "detect/detection_engine.h"

#include "common/log.h"
#include "common/time.h"

namespace ward::detect {
namespace {

bool Alerts(const state::Indicator& i) {
  const std::string& a = i.action;
  if (a == "Allowed") return false;
  if (a == "Block" || a == "BlockAndRemediate") return i.generate_alert;
  return true;  // Alert, AlertAndBlock, Audit (always with generateAlert), Warn
}

std::string EventKey(const events::RowBatch& batch, const RowView& row) {
  auto report = row.Int("ReportId");
  return batch.device_id + ":" + row.table().name + ":" +
         (report ? std::to_string(*report) : std::to_string(row.Int("Timestamp").value_or(0)));
}

}  // namespace

IocDetector::IocDetector(state::StateStore& store, const events::SchemaRegistry& registry, std::chrono::milliseconds refresh)
    : store_(store), registry_(registry), refresh_(refresh) {}

Result<IocDetector::Tenant*> IocDetector::For(const std::string& tenant) {
  Tenant& t = tenants_[tenant];
  auto now = std::chrono::steady_clock::now();
  if (t.matcher && now - t.checked < refresh_) return &t;
  t.checked = now;
  // Re-read only when an indicator was added, changed or deleted since the last read.
  const int64_t started = NowMs();
  WARD_ASSIGN_OR_RETURN(bool changed, t.indicators.Changed(store_, tenant));
  if (changed || !t.matcher) {
    WARD_ASSIGN_OR_RETURN(std::vector<state::Indicator> all, state::Repo<state::Indicator>(store_).List(tenant));
    std::vector<state::Indicator> alerting, allowed;
    for (state::Indicator& i : all) (i.action == "Allowed" ? allowed : alerting).push_back(std::move(i));
    t.matcher = std::make_shared<const IocMatcher>(IocMatcher::Build(std::move(alerting), started));
    t.allowed = std::make_shared<const IocMatcher>(IocMatcher::Build(std::move(allowed), started));
  }
  t.indicators.Commit();
  return &t;
}

Status IocDetector::Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) {
  WARD_ASSIGN_OR_RETURN(Tenant * t, For(batch.tenant_id));
  if (t->matcher->size() == 0) return Status::Ok();
  std::vector<IocHit> hits;
  for (size_t r = 0; r < batch.rows.size(); ++r) {
    const events::TableDef& table = registry_.table(batch.rows[r].table);
    RowView row(batch.rows[r], table);
    hits.clear();
    t->matcher->Match(row, &hits);
    for (const IocHit& hit : hits) {
      const state::Indicator& i = t->matcher->indicators()[hit.indicator];
      if (!Alerts(i)) continue;
      // Indicators scoped to device groups apply only to devices in them.
      if (!i.rbac_group_ids.empty()) {
        std::string group = machine.rbac_group_id ? std::to_string(*machine.rbac_group_id) : "";
        if (std::find(i.rbac_group_ids.begin(), i.rbac_group_ids.end(), group) == i.rbac_group_ids.end()) continue;
      }
      AlertSpec s;
      s.tenant_id = batch.tenant_id;
      s.machine_id = machine.id;
      s.computer_dns_name = machine.computer_dns_name;
      s.detector_id = "indicator:" + i.id;
      s.title = i.title;
      s.description = i.description.empty() ? "Activity matched the indicator " + i.indicator_value : i.description;
      s.recommended_action = i.recommended_actions;
      s.category = "SuspiciousActivity";
      s.severity = i.severity.empty() || i.severity == "Informational" ? "Informational" : i.severity;
      s.detection_source = "CustomTi";
      s.event_ms = row.TimeMs("Timestamp");
      s.event_key = EventKey(batch, row);
      s.evidence = EvidenceFromRow(row, NowMs());
      s.row = r;
      out->push_back(std::move(s));
    }
  }
  return Status::Ok();
}

bool IocDetector::Suppresses(const events::RowBatch& batch, size_t r) {
  auto t = For(batch.tenant_id);
  if (!t || (*t)->allowed->size() == 0) return false;
  std::vector<IocHit> hits;
  (*t)->allowed->Match(RowView(batch.rows[r], registry_.table(batch.rows[r].table)), &hits);
  return !hits.empty();
}

DetectionEngine::DetectionEngine(events::EventLog& log, state::StateStore& store, AlertWriter& writer,
                                 const events::SchemaRegistry& registry, metrics::Registry& metrics)
    : log_(log),
      store_(store),
      writer_(writer),
      registry_(registry),
      detections_(metrics.AddCounter("ward_detections_total", "Detections by outcome (created, merged, duplicate)",
                                     {"outcome"})),
      errors_(metrics.AddCounter("ward_detection_errors_total", "Event-log records detection could not process", {"reason"})),
      delay_(metrics.AddHistogram("ward_detection_delay_seconds", "From the event's arrival to its alert",
                                  {}, {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

DetectionEngine::~DetectionEngine() { Stop(); }

void DetectionEngine::AddDetector(std::unique_ptr<Detector> detector) { detectors_.push_back(std::move(detector)); }

Status DetectionEngine::Start() {
  WARD_ASSIGN_OR_RETURN(consumer_, log_.OpenConsumer("detect"));
  committed_ = consumer_->committed();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void DetectionEngine::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

bool DetectionEngine::WaitUntilApplied(const events::LogPosition& position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return applied_cv_.wait_for(lock, timeout, [&] { return events::Reached(committed_, position); });
}

events::LogPosition DetectionEngine::committed() {
  std::lock_guard lock(mu_);
  return committed_;
}

Status DetectionEngine::Process(const events::RowBatch& batch) {
  if (batch.device_id.empty()) return Status::Ok();  // the server's own rows (alerts)
  auto machine = state::Repo<state::Machine>(store_).Get(batch.tenant_id, batch.device_id);
  if (!machine) return machine.error().code() == StatusCode::kNotFound ? Status::Ok() : machine.error();
  std::vector<AlertSpec> specs;
  for (const auto& d : detectors_) WARD_RETURN_IF_ERROR(d->Detect(batch, *machine, &specs));
  for (const AlertSpec& spec : specs) {
    bool allowed = false;
    for (const auto& d : detectors_) allowed = allowed || d->Suppresses(batch, spec.row);
    if (allowed) {
      detections_.Inc({"allowed"});
      continue;
    }
    WARD_ASSIGN_OR_RETURN(AlertWriter::Raised raised, writer_.Raise(spec));
    detections_.Inc({raised.created ? "created" : raised.changed ? "merged" : "duplicate"});
    if (raised.changed) delay_.Observe({}, std::max(0.0, double(NowTicks() - batch.received_ticks) / kTicksPerSecond));
  }
  return Status::Ok();
}

void DetectionEngine::Run() {
  while (!stop_) {
    if (pending_.empty()) {
      auto records = consumer_->Poll(512, 16ull << 20, std::chrono::milliseconds(200));
      if (!records) {
        errors_.Inc({"read"});
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      if (records->empty()) {
        // Partitions assigned meanwhile (Kafka) count as detected up to their committed offsets.
        NoteCommitted();
        continue;
      }
      pending_ = std::move(*records);
    }
    size_t done = 0;
    // A stop does not wait for the rest of a large poll: what is not committed is detected again
    // after the restart (the alert writer merges repeats).
    for (; done < pending_.size() && !stop_; ++done) {
      const events::LogRecord& r = pending_[done];
      auto batch = events::DecodeBatch(r.data, registry_);
      if (!batch) {
        errors_.Inc({"decode"});  // a record this build cannot read is counted, never retried forever
      } else if (Status st = Process(*batch); !st.ok()) {
        // Alerts could not be stored: retry this record rather than skip it.
        errors_.Inc({"process"});
        log::Warn("detection failed; retrying", {{"offset", std::to_string(r.offset)},
                                                 {"partition", std::to_string(r.partition)}, {"error", st.message()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        break;
      }
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
    // The group can only be committed past everything polled: a partial batch waits for its retry.
    if (!pending_.empty()) continue;
    if (Status st = consumer_->Commit(); !st.ok()) {
      log::Warn("detection cursor commit failed", {{"error", st.message()}});
      continue;
    }
    NoteCommitted();
  }
}

void DetectionEngine::NoteCommitted() {
  {
    std::lock_guard lock(mu_);
    committed_ = consumer_->committed();
  }
  applied_cv_.notify_all();
}

}  // namespace ward::detect
