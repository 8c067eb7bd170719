#pragma once
// The legacy MDE SIEM detections API (reference/mde-api.md §8) as pure functions: its query
// parameters, which alerts a query selects, and the flattening of an alert into MDE's flat
// detections. The route (siem_routes.cc) loads the caller's view and writes the array.
//
// One detection per evidence item (IOC), as MDE's exporter did: AlertPart is the evidence's index,
// IocUniqueId a hash of the alert id and the evidence's identity (so it stays the same across pulls
// while evidence is only ever appended), FullId "<AlertId>:<IocUniqueId>". An alert without evidence
// gives one detection. Every field of §8 is present, in its order; unknown strings are "",
// RemediationIsSuccess and WasExecutingWhileDetected null, AlertPart and ReportID numbers.
//
// Source follows MDE's vocabulary: Ward's own EDR detections (Sigma rules, "WardEdr") are "EDR",
// custom indicators ("CustomTi") "CustomerTI", custom detections and CreateAlertByReference
// ("CustomDetection") "CustomDetection"; any other source is passed through unchanged.
// Lists (tags, IP addresses, logged-on users) are joined with "; ", as MDE writes LogOnUsers.
// Thread-safe; no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "json/json.h"
#include "state/records.h"

namespace ward::api {

// GET /api/alerts on the SIEM exporter. Names are matched case-insensitively (clients vary);
// unknown parameters are ignored.
struct SiemQuery {
  // LastProcessedTimeUtc (the alert's last update) window, both ends inclusive, in ticks.
  int64_t since_ticks = 0, until_ticks = 0;
  std::optional<int64_t> limit;             // the most recent N alerts (every part of each)
  std::vector<std::string> machine_groups;  // device group names (repeatable); empty = all
  std::vector<std::string> device_tags;     // DeviceCreatedMachineTags: tags the device reports
  std::vector<std::string> cloud_tags;      // CloudCreatedMachineTags: tags set through the API
};

inline constexpr int64_t kSiemDefaultWindowTicks = 2LL * 3600 * 10'000'000;  // no parameters: last 2 hours

// Reads the query string's pairs (already percent-decoded). InvalidArgument naming the parameter for
// a malformed value, a repeated single-valued parameter, `ago` with `sinceTimeUtc`, or an
// untilTimeUtc before the window's start. A start after now is an empty window (clocks differ).
Result<SiemQuery> ParseSiemQuery(const std::vector<std::pair<std::string, std::string>>& params, int64_t now_ticks);

// Whether the query selects this alert on this machine (in group `machine_group`): time window,
// device groups and tags (names and tags compared case-insensitively). The limit is the caller's.
bool SiemSelects(const SiemQuery& q, const state::Alert& alert, const state::Machine& machine,
                 std::string_view machine_group);

// What an alert's detections need besides the alert.
struct SiemAlertContext {
  const state::Machine* machine = nullptr;  // the alert's device; null = only the alert's own fields
  std::string machine_group;                // the device group's name ("" when ungrouped)
  std::string portal_url;                   // links are <portal_url>/alert/<id> and /incidents/byalert
  // The indicator that raised a custom-TI alert (MDE indicatorType and value); "" otherwise.
  std::string creator_ioc_name, creator_ioc_value;
};

// MDE's SIEM Source for a Ward detection source.
std::string SiemSource(std::string_view detection_source);

// The alert's detections, one per evidence item (one for an alert without evidence).
std::vector<json::Value> SiemDetections(const state::Alert& alert, const SiemAlertContext& context);

}  // namespace ward::api
