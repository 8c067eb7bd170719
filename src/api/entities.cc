#include "api/entities.h"

#include "api/machine_catalog.h"

#include <algorithm>
#include <unordered_map>

#include "common/time.h"
#include "ingest/devices.h"

namespace ward::api {
namespace {

using odata::PropertyType;

json::Value OptTime(int64_t ms) { return ms ? json::Value(odata::FormatDateTimeMs(ms)) : json::Value(); }
json::Value OptStr(const std::string& s) { return s.empty() ? json::Value() : json::Value(s); }
json::Value OptInt(const std::optional<int64_t>& v) { return v ? json::Value(*v) : json::Value(); }

int SeverityRank(std::string_view s) {
  if (s == "High") return 4;
  if (s == "Medium") return 3;
  if (s == "Low") return 2;
  if (s == "Informational") return 1;
  return 0;
}

// Filterable = the fields MDE documents as filterable (§5); the rest can be selected and sorted.
odata::Property P(const char* name, PropertyType type, bool filterable = false) { return {name, type, filterable, true}; }

}  // namespace

const odata::EntitySchema& MachineSchema() {
  static const odata::EntitySchema s{"Machines", {
      P("id", PropertyType::kString, true), P("computerDnsName", PropertyType::kString, true),
      P("firstSeen", PropertyType::kDateTime), P("lastSeen", PropertyType::kDateTime, true),
      P("osPlatform", PropertyType::kString, true), P("osVersion", PropertyType::kString),
      P("osProcessor", PropertyType::kString), P("version", PropertyType::kString, true),
      P("lastIpAddress", PropertyType::kString, true), P("lastExternalIpAddress", PropertyType::kString),
      P("agentVersion", PropertyType::kString), P("osBuild", PropertyType::kInt),
      P("healthStatus", PropertyType::kString, true), P("deviceValue", PropertyType::kString, true),
      P("rbacGroupId", PropertyType::kInt, true), P("rbacGroupName", PropertyType::kString),
      P("riskScore", PropertyType::kString, true), P("exposureLevel", PropertyType::kString, true),
      P("isAadJoined", PropertyType::kBool), P("aadDeviceId", PropertyType::kString, true),
      P("machineTags", PropertyType::kStringCollection, true), P("onboardingStatus", PropertyType::kString, true),
      P("osArchitecture", PropertyType::kString), P("managedBy", PropertyType::kString),
      P("managedByStatus", PropertyType::kString), P("defenderAvStatus", PropertyType::kString),
      P("isPotentialDuplication", PropertyType::kBool), P("isExcluded", PropertyType::kBool),
      P("exclusionReason", PropertyType::kString), P("mergedIntoMachineId", PropertyType::kString)}};
  return s;
}

const odata::EntitySchema& AlertSchema() {
  static const odata::EntitySchema s{"Alerts", {
      P("id", PropertyType::kString, true), P("incidentId", PropertyType::kInt, true),
      P("investigationId", PropertyType::kInt, true), P("assignedTo", PropertyType::kString, true),
      P("severity", PropertyType::kString, true), P("status", PropertyType::kString, true),
      P("classification", PropertyType::kString), P("determination", PropertyType::kString),
      P("investigationState", PropertyType::kString), P("detectionSource", PropertyType::kString, true),
      P("detectorId", PropertyType::kString), P("category", PropertyType::kString, true),
      P("threatFamilyName", PropertyType::kString), P("threatName", PropertyType::kString),
      P("title", PropertyType::kString), P("description", PropertyType::kString),
      P("alertCreationTime", PropertyType::kDateTime, true), P("firstEventTime", PropertyType::kDateTime),
      P("lastEventTime", PropertyType::kDateTime, true), P("lastUpdateTime", PropertyType::kDateTime, true),
      P("resolvedTime", PropertyType::kDateTime), P("machineId", PropertyType::kString),
      P("computerDnsName", PropertyType::kString), P("rbacGroupName", PropertyType::kString),
      P("aadTenantId", PropertyType::kString), P("mitreTechniques", PropertyType::kStringCollection)}};
  return s;
}

const odata::EntitySchema& MachineActionSchema() {
  static const odata::EntitySchema s{"MachineActions", {
      P("id", PropertyType::kString, true), P("type", PropertyType::kString, true), P("scope", PropertyType::kString),
      P("requestor", PropertyType::kString, true), P("requestorComment", PropertyType::kString),
      P("requestSource", PropertyType::kString), P("externalID", PropertyType::kString),
      P("status", PropertyType::kString, true), P("machineId", PropertyType::kString, true),
      P("computerDnsName", PropertyType::kString), P("creationDateTimeUtc", PropertyType::kDateTime, true),
      P("lastUpdateDateTimeUtc", PropertyType::kDateTime), P("cancellationRequestor", PropertyType::kString),
      P("cancellationComment", PropertyType::kString), P("cancellationDateTimeUtc", PropertyType::kDateTime),
      P("title", PropertyType::kString), P("errorHResult", PropertyType::kInt)}};
  return s;
}

const odata::EntitySchema& IndicatorSchema() {
  static const odata::EntitySchema s{"Indicators", {
      P("id", PropertyType::kString), P("indicatorValue", PropertyType::kString, true),
      P("indicatorType", PropertyType::kString, true), P("application", PropertyType::kString, true),
      P("action", PropertyType::kString, true), P("externalID", PropertyType::kString),
      P("sourceType", PropertyType::kString), P("source", PropertyType::kString),
      P("createdBySource", PropertyType::kString), P("createdBy", PropertyType::kString, true),
      P("createdByDisplayName", PropertyType::kString, true), P("lastUpdatedBy", PropertyType::kString),
      P("creationTimeDateTimeUtc", PropertyType::kDateTime, true), P("expirationTime", PropertyType::kDateTime, true),
      P("lastUpdateTime", PropertyType::kDateTime), P("severity", PropertyType::kString, true),
      P("title", PropertyType::kString, true), P("description", PropertyType::kString),
      P("recommendedActions", PropertyType::kString), P("rbacGroupNames", PropertyType::kStringCollection, true),
      P("rbacGroupIds", PropertyType::kStringCollection, true), P("generateAlert", PropertyType::kBool, true)}};
  return s;
}

const std::vector<const odata::EntitySchema*>& AllEntitySchemas() {
  static const std::vector<const odata::EntitySchema*> all = {&MachineSchema(), &AlertSchema(),
                                                              &MachineActionSchema(), &IndicatorSchema()};
  return all;
}

namespace requirements {
using rbac::PortalPermission;
const rbac::Requirement& ReadWriteMachines() {
  static const rbac::Requirement r{{"Machine.ReadWrite.All"}, {"Machine.ReadWrite"}, PortalPermission::kAlertsInvestigation};
  return r;
}
const rbac::Requirement& ReadAlerts() {
  static const rbac::Requirement r{{"Alert.Read.All", "Alert.ReadWrite.All"}, {"Alert.Read", "Alert.ReadWrite"},
                                   PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadWriteAlerts() {
  static const rbac::Requirement r{{"Alert.ReadWrite.All"}, {"Alert.ReadWrite"}, PortalPermission::kAlertsInvestigation};
  return r;
}
const rbac::Requirement& ReadFiles() {
  static const rbac::Requirement r{{"File.Read.All"}, {"File.Read.All"}, PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadIps() {
  static const rbac::Requirement r{{"Ip.Read.All"}, {"Ip.Read.All"}, PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadUrls() {
  static const rbac::Requirement r{{"URL.Read.All", "Url.Read.All"}, {"URL.Read.All", "Url.Read.All"},
                                   PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadUsers() {
  static const rbac::Requirement r{{"User.Read.All"}, {"User.Read.All"}, PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadIndicators() {
  static const rbac::Requirement r{{"Ti.Read.All", "Ti.ReadWrite", "Ti.ReadWrite.All"}, {"Ti.Read", "Ti.ReadWrite"},
                                   PortalPermission::kViewData};
  return r;
}
}  // namespace requirements

json::Value MachineJson(const state::Machine& m, const std::vector<state::DeviceGroup>& groups, int64_t now_ms,
                        const AlertDerived& derived) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", m.id);
  v.AppendMember("computerDnsName", m.computer_dns_name);
  v.AppendMember("firstSeen", OptTime(m.first_seen_ms));
  v.AppendMember("lastSeen", OptTime(m.last_seen_ms));
  v.AppendMember("osPlatform", m.os_platform);
  v.AppendMember("osVersion", OptStr(m.os_version));
  v.AppendMember("osProcessor", OptStr(m.os_architecture));
  v.AppendMember("version", OptStr(m.os_version));
  v.AppendMember("lastIpAddress", OptStr(m.last_ip_address));
  v.AppendMember("lastExternalIpAddress", OptStr(m.last_external_ip_address));
  v.AppendMember("agentVersion", OptStr(m.agent_version));
  v.AppendMember("osBuild", m.os_build ? json::Value(m.os_build) : json::Value());
  v.AppendMember("healthStatus", ingest::HealthStatus(m, now_ms));
  v.AppendMember("deviceValue", m.device_value);
  v.AppendMember("rbacGroupId", m.rbac_group_id ? json::Value(*m.rbac_group_id) : json::Value(int64_t{0}));
  json::Value group_name;
  for (const state::DeviceGroup& g : groups) {
    if (m.rbac_group_id && g.id == *m.rbac_group_id) group_name = g.name;
  }
  v.AppendMember("rbacGroupName", std::move(group_name));
  v.AppendMember("riskScore", derived.risk_score);
  v.AppendMember("exposureLevel", derived.exposure_level);
  v.AppendMember("isAadJoined", false);
  v.AppendMember("aadDeviceId", json::Value());
  std::vector<std::string> tags = m.tags;
  for (const std::string& t : m.api_tags) {
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
  }
  v.AppendMember("machineTags", state::StringArray(tags));
  v.AppendMember("onboardingStatus", m.offboarded ? "Offboarded" : m.onboarding_status);
  // Sensors report uname's machine (x86_64, aarch64); DeviceInfo's OSArchitecture spelling is "64-bit".
  std::string arch = m.os_architecture == "x86_64" || m.os_architecture == "aarch64" || m.os_architecture == "x64" ||
                             m.os_architecture == "arm64" || m.os_architecture == "64-bit"
                         ? "64-bit"
                         : (m.os_architecture.empty() ? "" : "32-bit");
  v.AppendMember("osArchitecture", OptStr(arch));
  v.AppendMember("managedBy", "Unknown");
  v.AppendMember("managedByStatus", "Unknown");
  v.AppendMember("defenderAvStatus", "NotSupported");
  v.AppendMember("isPotentialDuplication", false);
  v.AppendMember("isExcluded", false);
  v.AppendMember("exclusionReason", json::Value());
  v.AppendMember("mergedIntoMachineId", json::Value());
  json::Value ips = json::Value::Array();
  for (const std::string& ip : m.ip_addresses) {
    json::Value a = json::Value::Object();
    a.AppendMember("ipAddress", ip);
    a.AppendMember("macAddress", json::Value());
    a.AppendMember("type", json::Value());
    a.AppendMember("operationalStatus", "Up");
    ips.Append(std::move(a));
  }
  v.AppendMember("ipAddresses", std::move(ips));
  v.AppendMember("vmMetadata", json::Value());
  return v;
}

json::Value EvidenceJson(const state::AlertEvidence& e) {
  json::Value v = json::Value::Object();
  v.AppendMember("entityType", e.entity_type);
  v.AppendMember("evidenceCreationTime", OptTime(e.evidence_creation_ms));
  v.AppendMember("sha1", OptStr(e.sha1));
  v.AppendMember("sha256", OptStr(e.sha256));
  v.AppendMember("fileName", OptStr(e.file_name));
  v.AppendMember("filePath", OptStr(e.file_path));
  v.AppendMember("processId", OptInt(e.process_id));
  v.AppendMember("processCommandLine", OptStr(e.process_command_line));
  v.AppendMember("processCreationTime", OptTime(e.process_creation_ms));
  v.AppendMember("parentProcessId", OptInt(e.parent_process_id));
  v.AppendMember("parentProcessCreationTime", OptTime(e.parent_process_creation_ms));
  v.AppendMember("parentProcessFileName", OptStr(e.parent_process_file_name));
  v.AppendMember("parentProcessFilePath", OptStr(e.parent_process_file_path));
  v.AppendMember("ipAddress", OptStr(e.ip_address));
  v.AppendMember("url", OptStr(e.url));
  v.AppendMember("registryKey", OptStr(e.registry_key));
  v.AppendMember("registryHive", OptStr(e.registry_hive));
  v.AppendMember("registryValueType", OptStr(e.registry_value_type));
  v.AppendMember("registryValue", OptStr(e.registry_value));
  v.AppendMember("accountName", OptStr(e.account_name));
  v.AppendMember("domainName", OptStr(e.domain_name));
  v.AppendMember("userSid", OptStr(e.user_sid));
  v.AppendMember("aadUserId", OptStr(e.aad_user_id));
  v.AppendMember("userPrincipalName", OptStr(e.user_principal_name));
  v.AppendMember("detectionStatus", OptStr(e.detection_status));
  return v;
}

json::Value AlertJson(const state::Alert& a, std::string_view rbac_group_name, bool expand_evidence) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", a.id);
  v.AppendMember("incidentId", OptInt(a.incident_id));
  v.AppendMember("investigationId", OptInt(a.investigation_id));
  v.AppendMember("assignedTo", OptStr(a.assigned_to));
  v.AppendMember("severity", a.severity);
  v.AppendMember("status", a.status);
  v.AppendMember("classification", OptStr(a.classification));
  v.AppendMember("determination", OptStr(a.determination));
  v.AppendMember("investigationState", a.investigation_state.empty() ? json::Value("Unknown") : json::Value(a.investigation_state));
  v.AppendMember("detectionSource", a.detection_source);
  v.AppendMember("detectorId", OptStr(a.detector_id));
  v.AppendMember("category", a.category);
  v.AppendMember("threatFamilyName", OptStr(a.threat_family_name));
  v.AppendMember("threatName", OptStr(a.threat_name));
  v.AppendMember("title", a.title);
  v.AppendMember("description", a.description);
  v.AppendMember("alertCreationTime", OptTime(a.alert_creation_ms));
  v.AppendMember("firstEventTime", OptTime(a.first_event_ms));
  v.AppendMember("lastEventTime", OptTime(a.last_event_ms));
  v.AppendMember("lastUpdateTime", OptTime(a.last_update_ms));
  v.AppendMember("resolvedTime", OptTime(a.resolved_ms));
  v.AppendMember("machineId", OptStr(a.machine_id));
  v.AppendMember("computerDnsName", OptStr(a.computer_dns_name));
  v.AppendMember("rbacGroupName", rbac_group_name.empty() ? json::Value() : json::Value(std::string(rbac_group_name)));
  v.AppendMember("aadTenantId", a.tenant_id);
  v.AppendMember("mitreTechniques", state::StringArray(a.mitre_techniques));
  if (a.related_user_name.empty()) {
    v.AppendMember("relatedUser", json::Value());
  } else {
    json::Value u = json::Value::Object();
    u.AppendMember("userName", a.related_user_name);
    u.AppendMember("domainName", OptStr(a.related_user_domain));
    v.AppendMember("relatedUser", std::move(u));
  }
  json::Value comments = json::Value::Array();
  for (const state::AlertComment& c : a.comments) {
    json::Value cj = json::Value::Object();
    cj.AppendMember("comment", c.comment);
    cj.AppendMember("createdBy", c.created_by);
    cj.AppendMember("createdTime", OptTime(c.created_ms));
    comments.Append(std::move(cj));
  }
  v.AppendMember("comments", std::move(comments));
  json::Value evidence = json::Value::Array();
  if (expand_evidence) {
    for (const state::AlertEvidence& e : a.evidence) evidence.Append(EvidenceJson(e));
  }
  v.AppendMember("evidence", std::move(evidence));
  return v;
}

json::Value MachineActionJson(const state::MachineAction& a) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", a.id);
  v.AppendMember("type", a.type);
  v.AppendMember("title", OptStr(a.title));
  v.AppendMember("scope", OptStr(a.scope));
  v.AppendMember("requestor", a.requestor);
  v.AppendMember("requestorComment", OptStr(a.requestor_comment));
  v.AppendMember("requestSource", OptStr(a.request_source));
  v.AppendMember("externalID", OptStr(a.external_id));
  v.AppendMember("status", a.status);
  v.AppendMember("machineId", a.machine_id);
  v.AppendMember("computerDnsName", OptStr(a.computer_dns_name));
  v.AppendMember("creationDateTimeUtc", OptTime(a.creation_ms));
  v.AppendMember("lastUpdateDateTimeUtc", OptTime(a.last_update_ms));
  v.AppendMember("cancellationRequestor", OptStr(a.cancellation_requestor));
  v.AppendMember("cancellationComment", OptStr(a.cancellation_comment));
  v.AppendMember("cancellationDateTimeUtc", OptTime(a.cancellation_ms));
  v.AppendMember("errorHResult", a.error_hresult ? json::Value(*a.error_hresult) : json::Value(int64_t{0}));
  if (a.related_file_identifier.empty()) {
    v.AppendMember("relatedFileInfo", json::Value());
  } else {
    json::Value f = json::Value::Object();
    f.AppendMember("fileIdentifier", a.related_file_identifier);
    f.AppendMember("fileIdentifierType", a.related_file_identifier_type);
    v.AppendMember("relatedFileInfo", std::move(f));
  }
  json::Value commands = json::Value::Array();
  if (!a.commands_json.empty()) {
    if (auto parsed = json::Value::Parse(a.commands_json); parsed && parsed->is_array()) commands = std::move(*parsed);
  }
  v.AppendMember("commands", std::move(commands));
  return v;
}

json::Value IndicatorJson(const state::Indicator& i) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", i.id);
  v.AppendMember("indicatorValue", i.indicator_value);
  v.AppendMember("indicatorType", i.indicator_type);
  v.AppendMember("action", i.action);
  v.AppendMember("application", OptStr(i.application));
  v.AppendMember("source", OptStr(i.source));
  v.AppendMember("sourceType", OptStr(i.source_type));
  v.AppendMember("createdBySource", OptStr(i.source));
  v.AppendMember("externalID", OptStr(i.external_id));
  v.AppendMember("createdBy", OptStr(i.created_by));
  v.AppendMember("createdByDisplayName", OptStr(i.created_by_display_name));
  v.AppendMember("lastUpdatedBy", OptStr(i.last_updated_by));
  v.AppendMember("severity", i.severity);
  v.AppendMember("title", i.title);
  v.AppendMember("description", i.description);
  v.AppendMember("recommendedActions", OptStr(i.recommended_actions));
  v.AppendMember("creationTimeDateTimeUtc", OptTime(i.creation_ms));
  v.AppendMember("expirationTime", OptTime(i.expiration_ms));
  v.AppendMember("lastUpdateTime", OptTime(i.last_update_ms));
  v.AppendMember("rbacGroupNames", state::StringArray(i.rbac_group_names));
  v.AppendMember("rbacGroupIds", state::StringArray(i.rbac_group_ids));
  v.AppendMember("generateAlert", i.generate_alert);
  return v;
}

const state::Machine* CallerView::FindMachine(std::string_view id) const {
  for (const state::Machine& m : machines) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

std::string CallerView::GroupName(const state::Machine& m) const {
  if (!groups || !m.rbac_group_id) return "";
  for (const state::DeviceGroup& g : *groups) {
    if (g.id == *m.rbac_group_id) return g.name;
  }
  return "";
}

std::string CallerView::GroupNameOfMachine(std::string_view machine_id) const {
  const state::Machine* m = FindMachine(machine_id);
  return m ? GroupName(*m) : "";
}

AlertDerived DeriveFromAlerts(const std::vector<state::Alert>& alerts, std::string_view machine_id) {
  int worst = 0;
  for (const state::Alert& a : alerts) {
    if (a.machine_id != machine_id || a.status == "Resolved") continue;
    worst = std::max(worst, SeverityRank(a.severity));
  }
  AlertDerived d;
  static const char* kRisk[] = {"None", "Informational", "Low", "Medium", "High"};
  d.risk_score = kRisk[worst];
  // Without vulnerability data, exposure follows the open alerts: informational and low alerts
  // count as low exposure.
  d.exposure_level = worst == 0 ? "None" : worst <= 2 ? "Low" : worst == 3 ? "Medium" : "High";
  return d;
}

AlertDerived CallerView::DerivedFor(std::string_view machine_id) const { return DeriveFromAlerts(alerts, machine_id); }

Result<AlertDerived> DeriveForMachine(Call& call, std::string_view machine_id) {
  if (call.services.machine_catalog) {
    // The catalog holds each machine's alerts (current as of this request): no tenant-wide read.
    WARD_ASSIGN_OR_RETURN(auto snap, call.services.machine_catalog->Get(call.tenant()));
    return DeriveFromAlerts(snap->AlertsOf(machine_id), machine_id);
  }
  WARD_ASSIGN_OR_RETURN(std::vector<state::Alert> alerts, state::Repo<state::Alert>(call.services.store).List(call.tenant()));
  return DeriveFromAlerts(alerts, machine_id);
}

Result<CallerView> LoadCallerView(Call& call, bool with_alerts) {
  CallerView view;
  WARD_ASSIGN_OR_RETURN(view.groups, call.services.authz.DeviceGroups(call.tenant()));
  WARD_ASSIGN_OR_RETURN(std::vector<state::Machine> all, state::Repo<state::Machine>(call.services.store).List(call.tenant()));
  rbac::DeviceScope scope = call.services.authz.ScopeFor(call.principal);
  for (state::Machine& m : all) {
    if (scope.Contains(m.rbac_group_id)) view.machines.push_back(std::move(m));
  }
  if (with_alerts) {
    WARD_ASSIGN_OR_RETURN(std::vector<state::Alert> alerts, state::Repo<state::Alert>(call.services.store).List(call.tenant()));
    for (state::Alert& a : alerts) {
      if (view.FindMachine(a.machine_id)) view.alerts.push_back(std::move(a));
    }
  }
  return view;
}

Result<state::Machine> FindMachineForCaller(Call& call, std::string_view key, const rbac::Requirement& need) {
  std::string not_found = "Machine " + std::string(key) + " was not found";
  state::Repo<state::Machine> repo(call.services.store);
  auto m = repo.Get(call.tenant(), state::LowerAscii(key));
  if (!m && call.services.machine_catalog) {
    // MDE accepts the computer name in place of the id: the catalog's name index, not a table scan.
    auto snap = call.services.machine_catalog->Get(call.tenant());
    if (!snap) return Err(snap.error());
    if (const MachineCatalog::Entry* e = (*snap)->Find(key)) m = e->machine;
  } else if (!m) {
    auto all = repo.List(call.tenant());
    if (all) {
      auto it = std::find_if(all->begin(), all->end(), [&](const state::Machine& x) {
        return state::LowerAscii(x.computer_dns_name) == state::LowerAscii(key);
      });
      if (it != all->end()) m = *it;
    }
  }
  if (!m) {
    // A caller without the permission gets 403 either way; only permitted callers learn of absence.
    WARD_RETURN_IF_ERROR(call.Require(need));
    return Err(NotFound(not_found));
  }
  WARD_RETURN_IF_ERROR(call.services.authz.CheckDevice(call.principal, need, m->rbac_group_id, not_found));
  return *m;
}

Result<state::Alert> FindAlertForCaller(Call& call, std::string_view id, const rbac::Requirement& need) {
  return FindOnMachineForCaller<state::Alert>(call, "Alert", id, id, need);
}

void RespondAlerts(Call& call, const CallerView& view, std::vector<const state::Alert*> alerts) {
  auto q = call.ODataQuery(AlertSchema());
  if (!q) return call.Fail(q.error(), "ODataError");
  bool expand = false;
  for (const std::string& e : q->expand) {
    if (state::LowerAscii(e) != "evidence") {
      return call.Fail(InvalidArgument("$expand supports only 'evidence' on Alerts, not '" + e + "'"), "ODataError");
    }
    expand = true;
  }
  std::vector<json::Value> out;
  out.reserve(alerts.size());
  for (const state::Alert* a : alerts) out.push_back(AlertJson(*a, view.GroupNameOfMachine(a->machine_id), expand));
  call.ODataList(AlertSchema(), *q, std::move(out));
}

void RespondMachines(Call& call, const CallerView& view, std::vector<const state::Machine*> machines) {
  auto q = call.ODataQuery(MachineSchema());
  if (!q) return call.Fail(q.error(), "ODataError");
  int64_t now = NowMs();
  std::vector<json::Value> out;
  out.reserve(machines.size());
  for (const state::Machine* m : machines) out.push_back(MachineJson(*m, *view.groups, now, view.DerivedFor(m->id)));
  call.ODataList(MachineSchema(), *q, std::move(out));
}

// ---- Files, IPs, domains and users (entity_routes.cc) ----

namespace requirements {
const rbac::Requirement& ReadAlertsWithReadWrite() {
  static const rbac::Requirement r{{"Alert.ReadWrite.All"}, {"Alert.ReadWrite"}, PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& ReadMachinesWithReadWrite() {
  static const rbac::Requirement r{{"Machine.ReadWrite.All"}, {"Machine.ReadWrite"}, PortalPermission::kViewData};
  return r;
}
}  // namespace requirements

namespace {

json::Value OptTicks(int64_t ticks) { return ticks ? json::Value(FormatIsoTicks(ticks)) : json::Value(); }

// The extension of a file name, lower-case, without the dot ("" when there is none).
std::string ExtensionOf(std::string_view file_name) {
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == file_name.size()) return "";
  return state::LowerAscii(file_name.substr(dot + 1));
}

bool IsPeExtension(std::string_view ext) {
  static constexpr std::string_view kPe[] = {"exe", "dll", "sys", "scr", "ocx", "cpl", "drv", "efi"};
  return std::find(std::begin(kPe), std::end(kPe), ext) != std::end(kPe);
}

void AppendPrevalence(json::Value& v, const Prevalence& org) {
  v.AppendMember("organizationPrevalence", org.devices);
  v.AppendMember("orgFirstSeen", OptTicks(org.first_ticks));
  v.AppendMember("orgLastSeen", OptTicks(org.last_ticks));
}

}  // namespace

json::Value FileJson(const FileFacts& f) {
  json::Value v = json::Value::Object();
  v.AppendMember("sha1", OptStr(f.sha1));
  v.AppendMember("sha256", OptStr(f.sha256));
  v.AppendMember("md5", OptStr(f.md5));
  v.AppendMember("globalPrevalence", f.global ? json::Value(f.global->devices) : json::Value());
  v.AppendMember("globalFirstObserved", f.global ? OptTicks(f.global->first_ticks) : json::Value());
  v.AppendMember("globalLastObserved", f.global ? OptTicks(f.global->last_ticks) : json::Value());
  v.AppendMember("size", OptInt(f.size));
  std::string ext = ExtensionOf(f.file_name);
  std::string type = ext;  // MDE names types by extension, upper-case ("EXE", "DLL")
  for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  v.AppendMember("fileType", OptStr(type));
  v.AppendMember("isPeFile", IsPeExtension(ext));
  v.AppendMember("filePublisher", OptStr(f.publisher));
  v.AppendMember("fileProductName", OptStr(f.product_name));
  v.AppendMember("signer", OptStr(f.signer));
  v.AppendMember("issuer", OptStr(f.issuer));
  v.AppendMember("signerHash", OptStr(f.signer_hash));
  v.AppendMember("isValidCertificate", f.certificate_trusted);
  // Ward does not classify files itself; detections show up as alerts instead.
  v.AppendMember("determinationType", "Unknown");
  v.AppendMember("determinationValue", json::Value());
  return v;
}

json::Value InOrgFileStatsJson(std::string_view sha1, const Prevalence& org, const std::optional<Prevalence>& global,
                               const std::vector<std::string>& top_file_names) {
  json::Value v = json::Value::Object();
  v.AppendMember("sha1", sha1.empty() ? json::Value() : json::Value(sha1));
  AppendPrevalence(v, org);
  v.AppendMember("globallyPrevalence", global ? json::Value(global->devices) : json::Value());
  v.AppendMember("globalFirstObserved", global ? OptTicks(global->first_ticks) : json::Value());
  v.AppendMember("globalLastObserved", global ? OptTicks(global->last_ticks) : json::Value());
  v.AppendMember("topFileNames", state::StringArray(top_file_names));
  return v;
}

json::Value InOrgIpStatsJson(std::string_view ip, const Prevalence& org) {
  json::Value v = json::Value::Object();
  v.AppendMember("ipAddress", ip);
  AppendPrevalence(v, org);
  return v;
}

json::Value InOrgDomainStatsJson(std::string_view host, const Prevalence& org) {
  json::Value v = json::Value::Object();
  v.AppendMember("host", host);
  AppendPrevalence(v, org);
  return v;
}

const odata::EntitySchema& LogonUserSchema() {
  static const odata::EntitySchema s{"Users", {
      P("id", PropertyType::kString, true), P("accountName", PropertyType::kString, true),
      P("accountDomain", PropertyType::kString, true), P("accountSid", PropertyType::kString, true),
      P("firstSeen", PropertyType::kDateTime, true), P("lastSeen", PropertyType::kDateTime, true),
      P("mostPrevalentMachineId", PropertyType::kString), P("leastPrevalentMachineId", PropertyType::kString),
      P("logonTypes", PropertyType::kString, true), P("logOnMachinesCount", PropertyType::kInt, true),
      P("isDomainAdmin", PropertyType::kBool, true), P("isOnlyNetworkUser", PropertyType::kBool, true)}};
  return s;
}

json::Value LogonUserJson(const LogonUser& u) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", u.account_domain.empty() ? u.account_name : u.account_domain + "\\" + u.account_name);
  v.AppendMember("accountName", u.account_name);
  v.AppendMember("accountDomain", OptStr(u.account_domain));
  v.AppendMember("accountSid", OptStr(u.account_sid));
  v.AppendMember("firstSeen", OptTicks(u.first_ticks));
  v.AppendMember("lastSeen", OptTicks(u.last_ticks));
  v.AppendMember("mostPrevalentMachineId", OptStr(u.most_prevalent_machine_id));
  v.AppendMember("leastPrevalentMachineId", OptStr(u.least_prevalent_machine_id));
  std::string types;
  for (const std::string& t : u.logon_types) types += (types.empty() ? "" : ", ") + t;
  v.AppendMember("logonTypes", OptStr(types));
  v.AppendMember("logOnMachinesCount", u.machines);
  // Ward has no directory service to ask about domain roles.
  v.AppendMember("isDomainAdmin", false);
  v.AppendMember("isOnlyNetworkUser", !u.logon_types.empty() && std::all_of(u.logon_types.begin(), u.logon_types.end(),
                                                                            [](const std::string& t) { return t == "Network"; }));
  return v;
}

}  // namespace ward::api
