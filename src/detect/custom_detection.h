#pragma once
// Custom detection rules (MDE's custom detections; Microsoft Graph's security detectionRule): a KQL
// query run on a schedule over a look-back window. Every result row names an event by Timestamp,
// DeviceId and ReportId and raises an alert from the rule's template through the AlertWriter
// (detection source "CustomDetection", detectorId = the rule's, de-duplicated per rule and device
// like every detection, AlertInfo/AlertEvidence rows in the log).
//
// Once per (rule, DeviceId, ReportId): the look-back is longer than the period (as in MDE, so late
// events are still found), so consecutive windows overlap and a row comes back run after run. Rows
// already alerted are skipped by an index of the rule's event keys, built at start from the rule's
// alerts (open or resolved) and extended as it raises. An alert is stored before its key counts as
// seen, and the AlertWriter is idempotent per event key, so a crash between the two changes nothing.
//
// The schedule lives in the rule record: a rule runs when it never ran, when its query changed
// since its last run, or when the period has passed since its last run — so a restart neither runs
// rules early nor skips them. The first run of a query looks back 30 days (MDE); a run after a
// pause (server down) stretches its window back over the gap. A failing rule records its error in
// its last-run details; the other rules keep running.
//
// Thread-safety: the public functions are thread-safe; runs are serialised (one at a time).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "common/metrics.h"
#include "common/status.h"
#include "detect/alert_writer.h"
#include "events/event_store.h"
#include "events/schema.h"
#include "kql/engine.h"
#include "state/state_store.h"

namespace ward::detect {

inline constexpr std::string_view kCustomDetectionSource = "CustomDetection";

// A rule's schedule. Periods: Graph's "0" (near real time; Ward runs it every `nrt_every` over the
// last hour), "1H", "3H", "12H", "24H" (look-backs 4H, 12H, 48H, 30 days, as MDE), and the Ward
// extension "<N>M" (N = 1..1440 minutes, look-back 4 periods). The Ward extension `lookback`
// ("<N>M", "<N>H" or "<N>D", from the period to 30 days) replaces the default look-back.
struct Schedule {
  std::string period;    // canonical spelling (upper-case unit)
  std::string lookback;  // canonical spelling, "" = the period's default
  std::chrono::milliseconds every{0};
  std::chrono::milliseconds window{0};
};
// InvalidArgument naming the allowed values.
Result<Schedule> ParseSchedule(std::string_view period, std::string_view lookback = "",
                               std::chrono::milliseconds nrt_every = std::chrono::seconds(30));

// When the rule is due (epoch ms): the moment its query was last changed when that query has not
// run yet, else its last run + the period. nullopt when the rule is disabled.
std::optional<int64_t> NextRunMs(const state::CustomDetectionRule& rule, const Schedule& schedule);

// The start of the window a run at `now_ms` covers (its end is now): the look-back, reaching back
// to where the last completed run left off after a pause, and `max_lookback` for a query's first run.
int64_t WindowStartMs(const state::CustomDetectionRule& rule, const Schedule& schedule, int64_t now_ms,
                      std::chrono::milliseconds max_lookback);

// Checks a rule's query as the API accepts it: it parses and binds (no data is read), and it returns
// Timestamp (datetime), DeviceId (string) and ReportId (long) columns. Errors are InvalidArgument,
// in Kusto's words with the position for a bad query; `error` gets the position.
Result<kql::QueryShape> CheckRuleQuery(std::string_view text, const events::SchemaRegistry& registry,
                                       kql::QueryError* error = nullptr);

// The table whose columns describe the result rows (for evidence): the query's only source table,
// else the source (or, with none, any device table) sharing the most columns with the result.
const events::TableDef& SourceTable(const kql::QueryShape& shape, const events::SchemaRegistry& registry);

// The alert one result row raises: the rule's template, the row's device and event, and evidence from
// the well-known columns (FileName, FolderPath, SHA1, SHA256, ProcessCommandLine, RemoteIP,
// RemoteUrl, AccountName, InitiatingProcess*, ...) read as columns of `source`. The event key is
// "<DeviceId>:<ReportId>". InvalidArgument naming the column when Timestamp, DeviceId or ReportId
// is missing or null. computer_dns_name is the row's DeviceName (the caller may know better).
Result<AlertSpec> AlertFromRow(const state::CustomDetectionRule& rule, const kql::QueryResult& result, size_t row,
                               const events::TableDef& source, int64_t now_ms);

struct CustomDetectionOptions {
  std::chrono::milliseconds tick{1000};  // how often the scheduler looks for due rules
  std::chrono::milliseconds nrt_every{std::chrono::seconds(30)};
  std::chrono::milliseconds max_lookback{std::chrono::hours(24 * 30)};
  size_t max_alerts_per_run = 100;  // MDE: "only the first 100 query results were processed"
  kql::QueryOptions query;          // limits for the rule queries (tenant, window and scope are set per run)
  std::function<int64_t()> now_ms;  // clock seam; default: the system clock
  // Called before each run, e.g. to wait until the event store holds every event acknowledged so
  // far (after a restart it replays the log): a window is only marked covered once it was readable.
  std::function<void()> before_run;
};

class CustomDetections {
 public:
  CustomDetections(state::StateStore& store, events::EventStore& events, AlertWriter& writer,
                   const events::SchemaRegistry& registry, metrics::Registry& metrics,
                   CustomDetectionOptions options = {});
  ~CustomDetections();  // Stop()
  const CustomDetectionOptions& options() const { return options_; }

  // The scheduler thread: RunDue every tick (or sooner after Wake).
  Status Start();
  void Stop();
  // Rules changed (the API saved one): look for due rules now rather than at the next tick.
  void Wake();
  // Runs every due rule of every tenant once, on the caller's thread. Returns how many ran.
  size_t RunDue();
  // Runs one rule now, whatever its schedule, and returns it with its last-run details (tests).
  Result<state::CustomDetectionRule> RunNow(const std::string& tenant, const std::string& id);

 private:
  struct Seen {
    bool loaded = false;
    // detector id → event key → when a run last saw it (ms); dropped once older than a window's start.
    std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> by_detector;
  };
  Result<state::CustomDetectionRule> Run(const state::CustomDetectionRule& rule, int64_t now_ms);
  bool ClaimRun(const state::CustomDetectionRule& rule, const Schedule& schedule);
  Status LoadSeen(const std::string& tenant, Seen& seen);
  void Loop();
  int64_t Now() const;

  state::StateStore& store_;
  events::EventStore& events_;
  AlertWriter& writer_;
  const events::SchemaRegistry& registry_;
  CustomDetectionOptions options_;
  metrics::Counter& runs_;
  metrics::Counter& alerts_;
  std::mutex run_mu_;  // one run at a time; guards seen_
  std::map<std::string, Seen> seen_;  // by tenant
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ward::detect
