#pragma once
// Detection at ingest: a consumer of the durable event log (consumer group "detect"). Every
// batch goes through every detector (indicators of compromise, Sigma rules, ...); detections become
// alerts through the AlertWriter. The group is committed only after the alerts of the records
// before it are stored, and raising is idempotent per event, so a restart resumes without skipping
// an event and without alerting twice for the same event and detector.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "detect/alert_writer.h"
#include "detect/evidence.h"
#include "detect/ioc_matcher.h"
#include "events/event_log.h"
#include "events/rows.h"
#include "state/kind_watch.h"

namespace ward::detect {

// One kind of detection. Detect runs on the engine's thread only.
class Detector {
 public:
  virtual ~Detector() = default;
  // Appends detections for the rows of one device batch; `machine` names the device.
  virtual Status Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) = 0;
  // Whether the row is allowed (an Allowed indicator): no detector alerts on it.
  virtual bool Suppresses(const events::RowBatch& batch, size_t row) { return false; }
};

// Indicators of compromise: alerts for the rows that match an active indicator whose action alerts
// (Alert, AlertAndBlock, Audit, Warn; Block and BlockAndRemediate when generateAlert is set), and
// suppression for rows that match an Allowed indicator. The tenant's indicators are re-read when
// they change (checked at most every `refresh`).
class IocDetector final : public Detector {
 public:
  IocDetector(state::StateStore& store, const events::SchemaRegistry& registry,
              std::chrono::milliseconds refresh = std::chrono::milliseconds(1000));
  Status Detect(const events::RowBatch& batch, const state::Machine& machine, std::vector<AlertSpec>* out) override;
  bool Suppresses(const events::RowBatch& batch, size_t row) override;

 private:
  struct Tenant {
    std::shared_ptr<const IocMatcher> matcher;
    std::shared_ptr<const IocMatcher> allowed;
    state::KindWatch indicators{state::Kind::kIndicator};
    std::chrono::steady_clock::time_point checked;
  };
  Result<Tenant*> For(const std::string& tenant);
  state::StateStore& store_;
  const events::SchemaRegistry& registry_;
  std::chrono::milliseconds refresh_;
  std::unordered_map<std::string, Tenant> tenants_;
};

class DetectionEngine {
 public:
  DetectionEngine(events::EventLog& log, state::StateStore& store, AlertWriter& writer,
                  const events::SchemaRegistry& registry, metrics::Registry& metrics);
  ~DetectionEngine();  // Stop()
  void AddDetector(std::unique_ptr<Detector> detector);  // before Start
  Status Start();
  void Stop();
  // Everything before this position is detected and committed.
  events::LogPosition committed();
  // Blocks until every record before `position` is through detection or the timeout (tests).
  bool WaitUntilApplied(const events::LogPosition& position, std::chrono::milliseconds timeout);

 private:
  void Run();
  Status Process(const events::RowBatch& batch);
  void NoteCommitted();

  events::EventLog& log_;
  state::StateStore& store_;
  AlertWriter& writer_;
  const events::SchemaRegistry& registry_;
  metrics::Counter& detections_;
  metrics::Counter& errors_;
  metrics::Histogram& delay_;
  std::vector<std::unique_ptr<Detector>> detectors_;
  std::unique_ptr<events::LogConsumer> consumer_;
  std::vector<events::LogRecord> pending_;  // polled, not yet through detection (a failure retries them)
  events::LogPosition committed_;           // guarded by mu_
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable applied_cv_;
  std::thread thread_;
};

}  // namespace ward::detect
