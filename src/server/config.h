#pragma once
// Server configuration: <data-dir>/config.json (written by `ward init`, editable), overridden by
// command-line flags. Unknown keys are rejected so that a typo does not silently do nothing.
//
// {
//   "publicUrl": "https://ward.example.com",          // issuer base and onboarding URL
//   "logLevel": "info",                                 // debug|info|warn|error
//   "rateLimits": {"enabled": true, "perMinute": 100, "perHour": 1500,
//                  "routes": {"/api/alerts/batchUpdate": {"perMinute": 10, "perHour": 500}}},
//   "limits": {"maxBodyBytes": 16777216, "maxHeaderBytes": 16384},
//   "retentionDays": 30,
//   "hunting": {"maxRows": 100000, "maxResultBytes": 130023424, "timeoutSeconds": 200, "lookbackDays": 30,
//               "concurrentQueries": 1},               // queries running at once, shared fairly by tenants
//   "actions": {"pendingTimeoutSeconds": 259200,     // a device that never picks an action up: TimeOut
//               "runningTimeoutSeconds": 86400,      // an action whose device stopped reporting: TimeOut
//               "longPolls": 4},                     // sensors waiting at once (each holds an HTTP thread)
//   "streaming": {"replayHours": 6},                 // the event log keeps at least this long to replay from
//   "siem": {"listen": "127.0.0.1:8444"},            // a separate listener for the SIEM API (GET /api/alerts)
//   // Scale-out backends (docs/deployment.md); absent = the embedded defaults in the data directory.
//   "state": "postgres://ward@db.example.com:5432/ward",        // state store (default: <data-dir>/state.db)
//   "log": "kafka://k1.example.com:9092,k2.example.com:9092/ward-events",  // event log (default: <data-dir>/events/log)
//   "events": "clickhouse://ch.example.com:8123/ward",          // event store (default: <data-dir>/events/store)
//   "sharedDir": "/mnt/ward-shared"  // files every node must see: action uploads, the live-response library,
//                                    // the download-link key (default: the data directory)
// }
#include <string>

#include "api/rate_limiter.h"
#include "common/status.h"
#include "kql/engine.h"

namespace ward::server {

struct Config {
  std::string public_url;
  std::string log_level = "info";
  api::RateLimiterConfig rate_limits;
  size_t max_body_bytes = 16 * 1024 * 1024;  // sensor batches are the largest bodies
  size_t max_header_bytes = 16 * 1024;
  int retention_days = 30;  // telemetry in the columnar store
  kql::QueryOptions hunting;  // MDE's limits by default (100,000 rows, 124 MB, 200 s, 30 days)
  int hunting_slots = 0;      // concurrent hunting queries; 0 = half the cores (each query uses two threads)
  int64_t action_pending_timeout_s = 3 * 24 * 3600;  // MDE queues actions for offline devices for 3 days
  int64_t action_running_timeout_s = 24 * 3600;
  int action_long_polls = 0;  // 0 = a quarter of the HTTP threads
  int stream_replay_hours = 6;  // the event log's minimum retention (also the dedup window of retried batches)
  std::string siem_listen;    // host:port of the separate SIEM listener; "" = none (/siem/api/alerts only)
  // Backends by URL; "" = embedded. Checked for their scheme here, opened by server/backends.h.
  std::string state_url;   // postgres:// or postgresql://
  std::string log_url;     // kafka://
  std::string events_url;  // clickhouse://
  std::string shared_dir;  // "" = the data directory
  bool distributed() const { return !state_url.empty(); }
};

// MDE's per-endpoint exceptions to the 100/min + 1,500/h default (reference/mde-api.md §6).
api::RateLimiterConfig MdeDefaultRateLimits();

// Reads `config_path`, or <data-dir>/config.json when it is empty; a missing file means defaults.
Result<Config> LoadConfig(const std::string& data_dir, const std::string& config_path = "");
Status WriteDefaultConfig(const std::string& data_dir, const std::string& public_url);

}  // namespace ward::server
