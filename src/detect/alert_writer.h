#pragma once
// Raises alerts from detections: writes them to the state store and appends their AlertInfo /
// AlertEvidence rows to the event log. An alert of the same detector (rule or indicator) on the same
// device, still open and raised within the de-duplication window, takes the new evidence instead of a
// new alert being opened. Raising for an event already folded in (same event key) changes nothing,
// so replaying the log after a crash neither loses nor duplicates alerts.
// Thread-safe; meant to be the only writer of detection alerts in the process.
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"
#include "events/schema.h"
#include "state/state_store.h"

namespace ward::detect {

struct AlertSpec {
  std::string tenant_id, machine_id, computer_dns_name;
  std::string detector_id;  // de-duplication: one open alert per (detector, device)
  std::string title, description, recommended_action, category, severity = "Medium", detection_source;
  std::string threat_name;
  std::vector<std::string> mitre_techniques;
  std::vector<state::AlertEvidence> evidence;
  int64_t event_ms = 0;
  std::string event_key;  // "<device>:<table>:<ReportId>"
  size_t row = 0;         // the row of the batch it came from (for suppression)
};

class AlertWriter {
 public:
  AlertWriter(state::StateStore& store, events::EventLog* log, const events::SchemaRegistry& registry,
              std::chrono::hours dedup_window = std::chrono::hours(24));
  struct Raised {
    state::Alert alert;
    bool created = false;  // false: merged into an open alert (or already there)
    bool changed = true;   // false: the event was already in the alert
  };
  Result<Raised> Raise(const AlertSpec& spec);

 private:
  Status LoadTenant(const std::string& tenant);
  state::StateStore& store_;
  events::EventLog* log_;
  const events::SchemaRegistry& registry_;
  std::chrono::hours window_;
  std::mutex mu_;
  std::map<std::string, bool> loaded_;  // tenants whose open alerts are indexed
  std::map<std::string, std::string> open_;  // "tenant/detector/machine" → alert id
};

// "da<.NET ticks>_<10 digits>", the shape of MDE alert ids.
std::string NewAlertId();

}  // namespace ward::detect
