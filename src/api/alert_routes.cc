// Alerts (mde-api.md §3.1): lists and lookups scoped by the alert's device group, related entities,
// updates (PATCH, batchUpdate) and CreateAlertByReference, which raises an alert on an event already
// in the store. Also the read side of machine actions (their write side comes with response actions).
#include <algorithm>
#include <set>

#include "api/api.h"
#include "api/entities.h"
#include "api/validators.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/time.h"
#include "detect/alert_writer.h"
#include "detect/evidence.h"

namespace ward::api {
namespace {


// ---- evidence from a stored event ---------------------------------------------------------------

// Row `i` of a scanned batch as a typed row of `table` (columns the scan did not return stay null).
events::Row RowOf(const events::ColumnBatch& b, size_t i, const events::TableDef& table) {
  events::Row row;
  row.table = table.id;
  row.values.assign(table.columns.size(), std::monostate{});
  for (size_t c = 0; c < b.names.size(); ++c) {
    int col = table.Find(b.names[c]);
    const events::ColumnVector& v = b.columns[c];
    if (col < 0 || v.nulls[i]) continue;
    if (!v.strings.empty()) row.values[static_cast<size_t>(col)] = v.strings[i];
    else if (!v.reals.empty()) row.values[static_cast<size_t>(col)] = v.reals[i];
    else if (!v.ints.empty()) row.values[static_cast<size_t>(col)] = v.ints[i];
  }
  return row;
}

// The device tables an alert can reference by (machine, report id, time).
const std::vector<std::string>& ReferencableTables() {
  static const std::vector<std::string> t = {"DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents",
                                             "DeviceLogonEvents", "DeviceRegistryEvents", "DeviceImageLoadEvents",
                                             "DeviceEvents"};
  return t;
}

struct EventEvidence {
  std::string table;  // where the event was found
  std::vector<state::AlertEvidence> evidence;
};

// Finds the event and turns it into evidence; NotFound when no such event is stored.
Result<EventEvidence> EvidenceForEvent(Call& call, const std::string& machine_id, int64_t report_id,
                                       int64_t event_ticks, int64_t* event_ms) {
  if (!call.services.event_store) return Err(Unavailable("the event store is not running"));
  for (const std::string& table : ReferencableTables()) {
    if (!events::SchemaRegistry::Hunting().Find(table)) continue;
    events::ScanRequest req;
    req.tenant_id = call.tenant();
    req.table = table;
    // Clients pass the Timestamp they got from hunting, in 100-ns or coarser precision.
    req.from_ticks = event_ticks - kTicksPerSecond;
    req.to_ticks = event_ticks + kTicksPerSecond;
    req.predicates.push_back({"DeviceId", events::Predicate::Op::kEquals, {machine_id}});
    req.predicates.push_back({"ReportId", events::Predicate::Op::kEquals, {report_id}});
    std::optional<EventEvidence> found;
    const events::TableDef& def = *events::SchemaRegistry::Hunting().Find(table);
    auto scanned = call.services.event_store->Scan(req, [&](events::ColumnBatch&& b) {
      if (b.rows == 0) return true;
      // Of several matches, the one closest to the given time.
      size_t ts_col = std::find(b.names.begin(), b.names.end(), "Timestamp") - b.names.begin();
      size_t best = 0;
      int64_t best_gap = INT64_MAX;
      for (size_t i = 0; i < b.rows && ts_col < b.names.size(); ++i) {
        int64_t gap = std::llabs(b.columns[ts_col].ints[i] - event_ticks);
        if (gap < best_gap) best = i, best_gap = gap;
      }
      events::Row row = RowOf(b, best, def);
      detect::RowView view(row, def);
      *event_ms = view.TimeMs("Timestamp");
      found = EventEvidence{table, detect::EvidenceFromRow(view, NowMs())};
      return false;
    });
    if (!scanned) return Err(scanned.error());
    if (found) return *found;
  }
  return Err(NotFound("No event with reportId " + std::to_string(report_id) + " at that time was found on machine " +
                      machine_id));
}

// The detectorId of CreateAlertByReference alerts: a GUID from the title, so that the AlertWriter's
// de-duplication (one open alert per detector and device) merges alerts of the same title, as MDE.
std::string ReferenceDetectorId(std::string_view title) {
  std::string h = HexEncode(Sha256("CreateAlertByReference:" + std::string(title)).substr(0, 16));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

void CreateAlertByReference(Call& call) {
  if (Status st = call.Require(requirements::ReadWriteAlerts()); !st.ok()) return call.Fail(st);
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  std::map<std::string, std::string> s;
  for (const char* name : {"eventTime", "machineId", "severity", "title", "description", "recommendedAction", "category"}) {
    const json::Value* v = body->Find(name);
    if (!v || v->is_null()) return call.Fail(InvalidArgument(std::string("Parameter ") + name + " is missing"));
    if (!v->is_string()) return call.Fail(InvalidArgument(std::string("Request body is incorrect: ") + name + " must be a string"));
    s[name] = v->as_string();
  }
  const json::Value* report = body->Find("reportId");
  if (!report || report->is_null()) return call.Fail(InvalidArgument("Parameter reportId is missing"));
  int64_t report_id = 0;
  if (report->is_number()) {
    report_id = report->as_int();
  } else if (report->is_string() && !report->as_string().empty() &&
             std::all_of(report->as_string().begin(), report->as_string().end(), ::isdigit) &&
             report->as_string().size() < 19) {
    report_id = std::stoll(report->as_string());
  } else {
    return call.Fail(InvalidArgument("Request body is incorrect: reportId must be a number"));
  }
  if (CanonicalAlertSeverity(s["severity"]) != s["severity"]) {
    return call.Fail(InvalidArgument("severity must be Informational, Low, Medium or High, not '" + s["severity"] + "'"));
  }
  if (!IsAlertCategory(s["category"])) return call.Fail(InvalidArgument("category '" + s["category"] + "' is not valid"));
  if (s["title"].empty() || s["title"].size() > 512) return call.Fail(InvalidArgument("title must have 1 to 512 characters"));
  if (s["description"].size() > 16384 || s["recommendedAction"].size() > 16384) {
    return call.Fail(InvalidArgument("description and recommendedAction are limited to 16384 characters"));
  }
  auto ticks = ParseIsoTicks(s["eventTime"]);
  if (!ticks) return call.Fail(InvalidArgument("eventTime must be an ISO-8601 datetime, not '" + s["eventTime"] + "'"));
  auto machine = FindMachineForCaller(call, s["machineId"], requirements::ReadWriteAlerts());
  if (!machine) return call.Fail(machine.error());
  int64_t event_ms = 0;
  auto evidence = EvidenceForEvent(call, machine->id, report_id, *ticks, &event_ms);
  if (!evidence) return call.Fail(evidence.error());

  if (!call.services.alert_writer) return call.Fail(Unavailable("alerts cannot be raised: detection is not running"));
  // One mechanism for every alert: the AlertWriter. MDE merges into an open alert with the same title
  // on the device, so the de-duplication key (detectorId) is derived from the title; referencing an
  // event already in the alert changes nothing (its event key).
  detect::AlertSpec spec;
  spec.tenant_id = call.tenant();
  spec.machine_id = machine->id;
  spec.computer_dns_name = machine->computer_dns_name;
  spec.detector_id = ReferenceDetectorId(s["title"]);
  spec.title = s["title"];
  spec.description = s["description"];
  spec.recommended_action = s["recommendedAction"];
  spec.category = s["category"];
  spec.severity = s["severity"];
  spec.detection_source = "CustomDetection";
  spec.evidence = std::move(evidence->evidence);
  spec.event_ms = event_ms;
  spec.event_key = machine->id + ":" + evidence->table + ":" + std::to_string(report_id);
  auto raised = call.services.alert_writer->Raise(spec);
  if (!raised) return call.Fail(raised.error());
  call.audit_target = "alert:" + raised->alert.id;
  CallerView names;
  if (auto groups = call.services.authz.DeviceGroups(call.tenant())) names.groups = *groups;
  call.ODataEntity("Alerts", AlertJson(raised->alert, names.GroupName(*machine), true));
}

// ---- alert updates (PATCH and batchUpdate) --------------------------------------------------------

struct AlertUpdate {
  std::optional<std::string> status, assigned_to, classification, determination, comment;
};

// MDE's determinations per classification; both historic spellings are accepted (mde-api.md §4).
const std::vector<std::string>& DeterminationsFor(std::string_view classification) {
  static const std::vector<std::string> tp = {"MultiStagedAttack", "MaliciousUserActivity", "CompromisedUser", "Malware",
                                              "Phishing", "UnwantedSoftware", "Apt", "Other"};
  static const std::vector<std::string> info = {"SecurityTesting", "LineOfBusinessApplication", "ConfirmedUserActivity",
                                                "ConfirmedActivity", "SecurityPersonnel", "Other"};
  static const std::vector<std::string> fp = {"Clean", "NotMalicious", "InsufficientData", "Other"};
  static const std::vector<std::string> none;
  if (classification == "TruePositive") return tp;
  if (classification == "InformationalExpectedActivity") return info;
  if (classification == "FalsePositive") return fp;
  return none;
}

// Reads the updatable fields of a PATCH or batchUpdate body (names are case-sensitive, as MDE's).
Result<AlertUpdate> ParseAlertUpdate(const json::Value& body, const std::set<std::string, std::less<>>& also_allowed) {
  AlertUpdate u;
  static const std::set<std::string, std::less<>> kFields = {"status", "assignedTo", "classification", "determination",
                                                            "comment"};
  for (const auto& [k, v] : body.members()) {
    if (also_allowed.count(k)) continue;
    if (!kFields.count(k)) return Err(InvalidArgument("Request body is incorrect: unknown property '" + k + "'"));
    if (v.is_null()) continue;
    if (!v.is_string()) return Err(InvalidArgument("Request body is incorrect: " + k + " must be a string"));
    std::string value = v.as_string();
    if (k == "status") {
      if (value != "New" && value != "InProgress" && value != "Resolved") {
        return Err(InvalidArgument("status must be New, InProgress or Resolved, not '" + value + "'"));
      }
      u.status = value;
    } else if (k == "assignedTo") {
      if (value.size() > 256) return Err(InvalidArgument("assignedTo is longer than 256 characters"));
      u.assigned_to = value;
    } else if (k == "classification") {
      if (value == "Informational, expected activity") value = "InformationalExpectedActivity";
      if (DeterminationsFor(value).empty()) {
        return Err(InvalidArgument("classification must be TruePositive, InformationalExpectedActivity or FalsePositive, not '" +
                                   value + "'"));
      }
      u.classification = value;
    } else if (k == "determination") {
      u.determination = value;
    } else {
      if (value.size() > 16384) return Err(InvalidArgument("comment is longer than 16384 characters"));
      u.comment = value;
    }
  }
  if (!u.status && !u.assigned_to && !u.classification && !u.determination && !u.comment) {
    return Err(InvalidArgument("Request body is incorrect: nothing to update"));
  }
  return u;
}

// Applies an update to an alert; InvalidArgument when the determination does not fit the classification.
Status ApplyAlertUpdate(const AlertUpdate& u, const std::string& by, int64_t now, state::Alert& a) {
  std::string classification = u.classification.value_or(a.classification);
  if (u.determination) {
    const auto& allowed = DeterminationsFor(classification);
    if (classification.empty()) return InvalidArgument("determination needs a classification");
    if (std::find(allowed.begin(), allowed.end(), *u.determination) == allowed.end()) {
      return InvalidArgument("determination '" + *u.determination + "' does not fit classification " + classification);
    }
    a.determination = *u.determination;
  }
  if (u.classification) {
    if (u.classification != a.classification && !u.determination) a.determination.clear();  // no longer fits
    a.classification = *u.classification;
  }
  if (u.status) {
    if (*u.status == "Resolved" && a.status != "Resolved") a.resolved_ms = now;
    if (*u.status != "Resolved") a.resolved_ms = 0;
    a.status = *u.status;
  }
  if (u.assigned_to) a.assigned_to = *u.assigned_to;
  if (u.comment) a.comments.push_back({*u.comment, by, now});
  a.last_update_ms = now;
  return Status::Ok();
}

void PatchAlert(Call& call) {
  auto found = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadWriteAlerts());
  if (!found) return call.Fail(found.error());
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  auto update = ParseAlertUpdate(*body, {});
  if (!update) return call.Fail(update.error());
  const int64_t now = NowMs();
  auto written = state::Repo<state::Alert>(call.services.store).Mutate(call.tenant(), found->id, [&](state::Alert& a) {
    return ApplyAlertUpdate(*update, call.principal.name, now, a);
  });
  if (!written) return call.Fail(written.error());
  call.audit_target = "alert:" + written->id;
  CallerView names;
  if (auto groups = call.services.authz.DeviceGroups(call.tenant())) names.groups = *groups;
  std::string group;
  if (auto m = state::Repo<state::Machine>(call.services.store).Get(call.tenant(), written->machine_id)) group = names.GroupName(*m);
  call.ODataEntity("Alerts", AlertJson(*written, group, true));
}

void BatchUpdateAlerts(Call& call) {
  if (Status st = call.Require(requirements::ReadWriteAlerts()); !st.ok()) return call.Fail(st);
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  auto ids = call.IdBatch(*body, "alertIds");
  if (!ids) return;
  auto update = ParseAlertUpdate(*body, {"alertIds"});
  if (!update) return call.Fail(update.error());
  // All or none: every alert must exist, be visible and accept the update before any is written.
  const int64_t now = NowMs();
  for (const std::string& id : *ids) {
    auto a = FindAlertForCaller(call, id, requirements::ReadWriteAlerts());
    if (!a) return call.Fail(a.error());
    if (Status st = ApplyAlertUpdate(*update, call.principal.name, now, *a); !st.ok()) return call.Fail(st);
  }
  state::Repo<state::Alert> repo(call.services.store);
  for (const std::string& id : *ids) {
    auto written = repo.Mutate(call.tenant(), id, [&](state::Alert& a) { return ApplyAlertUpdate(*update, call.principal.name, now, a); });
    if (!written) return call.Fail(written.error());
  }
  call.audit_target = "alerts:" + std::to_string(ids->size());
  call.res.status = 200;
}

// {"@odata.context": ".../$metadata#<set>", "value": [...]} for small fixed collections.
void RespondValues(Call& call, std::string_view set, const std::vector<json::Value>& values) {
  json::Writer w;
  w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#" + std::string(set)).Key("value").StartArray();
  for (const json::Value& v : values) w.Val(v);
  w.EndArray().EndObject();
  call.Json(200, w.Take());
}

}  // namespace

void RegisterAlertRoutes(Api& api) {
  api.Add("POST", "/api/alerts/CreateAlertByReference", CreateAlertByReference);
  api.Add("POST", "/api/alerts/batchUpdate", BatchUpdateAlerts);
  api.Add("PATCH", "/api/alerts/{id}", PatchAlert);
  api.Add("GET", "/api/alerts", [](Call& call) {
    if (Status st = call.Require(requirements::ReadAlerts()); !st.ok()) return call.Fail(st);
    auto view = LoadCallerView(call);
    if (!view) return call.Fail(view.error());
    std::vector<const state::Alert*> alerts;
    for (const state::Alert& a : view->alerts) alerts.push_back(&a);
    RespondAlerts(call, *view, std::move(alerts));
  });
  api.Add("GET", "/api/alerts/{id}", [](Call& call) {
    auto a = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadAlerts());
    if (!a) return call.Fail(a.error());
    CallerView names;
    if (auto groups = call.services.authz.DeviceGroups(call.tenant())) names.groups = *groups;
    std::string group;
    if (auto m = state::Repo<state::Machine>(call.services.store).Get(call.tenant(), a->machine_id)) group = names.GroupName(*m);
    call.ODataEntity("Alerts", AlertJson(*a, group, true));
  });
  api.Add("GET", "/api/alerts/{id}/machine", [](Call& call) {
    auto a = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadAlerts());
    if (!a) return call.Fail(a.error());
    auto m = FindMachineForCaller(call, a->machine_id, requirements::ReadMachines());
    if (!m) return call.Fail(m.error());
    auto groups = call.services.authz.DeviceGroups(call.tenant());
    if (!groups) return call.Fail(groups.error());
    auto derived = DeriveForMachine(call, m->id);
    if (!derived) return call.Fail(derived.error());
    call.ODataEntity("Machines", MachineJson(*m, **groups, NowMs(), *derived));
  });
  api.Add("GET", "/api/alerts/{id}/ips", [](Call& call) {
    if (Status st = call.Require(requirements::ReadIps()); !st.ok()) return call.Fail(st);
    auto a = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadIps());
    if (!a) return call.Fail(a.error());
    std::vector<json::Value> out;
    std::set<std::string> seen;
    for (const state::AlertEvidence& e : a->evidence) {
      if (e.ip_address.empty() || !seen.insert(e.ip_address).second) continue;
      json::Value v = json::Value::Object();
      v.AppendMember("id", e.ip_address);
      out.push_back(std::move(v));
    }
    RespondValues(call, "Ips", out);
  });
  api.Add("GET", "/api/alerts/{id}/domains", [](Call& call) {
    if (Status st = call.Require(requirements::ReadUrls()); !st.ok()) return call.Fail(st);
    auto a = FindAlertForCaller(call, call.req.PathParam("id"), requirements::ReadUrls());
    if (!a) return call.Fail(a.error());
    std::vector<json::Value> out;
    std::set<std::string> seen;
    for (const state::AlertEvidence& e : a->evidence) {
      if (e.url.empty()) continue;
      std::string host = UrlHost(e.url);
      if (host.empty() || !seen.insert(host).second) continue;
      json::Value v = json::Value::Object();
      v.AppendMember("host", host);
      out.push_back(std::move(v));
    }
    RespondValues(call, "Domains", out);
  });

  api.Add("GET", "/api/machineactions", [](Call& call) {
    if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(MachineActionSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto view = LoadCallerView(call, false);
    if (!view) return call.Fail(view.error());
    auto actions = state::Repo<state::MachineAction>(call.services.store).List(call.tenant());
    if (!actions) return call.Fail(actions.error());
    // Newest first, as MDE lists them.
    std::sort(actions->begin(), actions->end(), [](const auto& x, const auto& y) { return x.creation_ms > y.creation_ms; });
    std::vector<json::Value> out;
    for (const state::MachineAction& a : *actions) {
      if (view->FindMachine(a.machine_id)) out.push_back(MachineActionJson(a));
    }
    call.ODataList(MachineActionSchema(), *q, std::move(out));
  });
  api.Add("GET", "/api/machineactions/{id}", [](Call& call) {
    std::string id(call.req.PathParam("id"));
    auto a = FindOnMachineForCaller<state::MachineAction>(call, "MachineAction", id, state::LowerAscii(id),
                                                          requirements::ReadMachines());
    if (!a) return call.Fail(a.error());
    call.ODataEntity("MachineActions", MachineActionJson(*a));
  });
}

}  // namespace ward::api
