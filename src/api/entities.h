#pragma once
// MDE entity shapes (reference/mde-api.md §4) and their OData entity sets (§5), declared once as
// data and shared by every route file, the $metadata document and the OpenAPI document.
//
// Renderers turn state records into MDE JSON: every documented property is present (null when
// unknown), with MDE's casing and JSON types. Loaders return only what the caller may see: a user
// token sees the objects of its device groups; apps see the whole tenant.
#include <string>
#include <string_view>
#include <vector>

#include "api/api.h"
#include "api/odata.h"
#include "json/json.h"
#include "state/records.h"

namespace ward::api {

// Entity sets with their properties (filterable ones marked), in MDE spelling.
const odata::EntitySchema& MachineSchema();
const odata::EntitySchema& AlertSchema();
const odata::EntitySchema& MachineActionSchema();
const odata::EntitySchema& IndicatorSchema();
// Every entity set above plus the stats/related shapes, for $metadata and OpenAPI.
const std::vector<const odata::EntitySchema*>& AllEntitySchemas();

// Requirements of the investigation API (mde-api.md §3).
namespace requirements {
const rbac::Requirement& ReadWriteMachines();
const rbac::Requirement& ReadAlerts();
const rbac::Requirement& ReadWriteAlerts();
const rbac::Requirement& ReadFiles();
const rbac::Requirement& ReadIps();
const rbac::Requirement& ReadUrls();
const rbac::Requirement& ReadUsers();
const rbac::Requirement& ReadIndicators();
}  // namespace requirements

// Facts derived from a device's open alerts: riskScore (highest open severity) and exposureLevel.
struct AlertDerived {
  std::string risk_score = "None";      // None | Informational | Low | Medium | High
  std::string exposure_level = "None";  // None | Low | Medium | High
};

json::Value MachineJson(const state::Machine& m, const std::vector<state::DeviceGroup>& groups, int64_t now_ms,
                        const AlertDerived& derived);
// expand_evidence: evidence is listed on single GETs and with $expand=evidence, else [].
json::Value AlertJson(const state::Alert& a, std::string_view rbac_group_name, bool expand_evidence);
json::Value EvidenceJson(const state::AlertEvidence& e);
json::Value MachineActionJson(const state::MachineAction& a);
json::Value IndicatorJson(const state::Indicator& i);

// The caller-visible view of a tenant, loaded once per request: machines in scope (by id), their
// group names, and the alerts on them. Cheap enough per request for the embedded store.
struct CallerView {
  std::vector<state::Machine> machines;           // in scope
  std::vector<state::Alert> alerts;               // on machines in scope
  std::shared_ptr<const std::vector<state::DeviceGroup>> groups;
  const state::Machine* FindMachine(std::string_view id) const;
  std::string GroupName(const state::Machine& m) const;
  std::string GroupNameOfMachine(std::string_view machine_id) const;
  AlertDerived DerivedFor(std::string_view machine_id) const;
};
// riskScore and exposureLevel from a machine's alerts (the open ones count).
AlertDerived DeriveFromAlerts(const std::vector<state::Alert>& alerts, std::string_view machine_id);
// riskScore and exposureLevel of one machine, from its alerts.
Result<AlertDerived> DeriveForMachine(Call& call, std::string_view machine_id);
// with_alerts = false skips loading alerts (machine lists that need only riskScore still need them).
Result<CallerView> LoadCallerView(Call& call, bool with_alerts = true);

// A machine by id or computer name for the caller; NotFound when absent or out of scope (same
// answer, so existence is not revealed), PermissionDenied without the permission.
Result<state::Machine> FindMachineForCaller(Call& call, std::string_view key, const rbac::Requirement& need);
// A record that belongs to a machine (alert, machine action) by id, for a caller who may see that
// machine: NotFound("<entity> <id> was not found") otherwise, as MDE hides what is out of scope, and
// PermissionDenied only when the caller lacks the permission itself. `key` is the stored id.
template <class R>
Result<R> FindOnMachineForCaller(Call& call, std::string_view entity, std::string_view id, std::string_view key,
                                 const rbac::Requirement& need) {
  std::string not_found = std::string(entity) + " " + std::string(id) + " was not found";
  auto r = state::Repo<R>(call.services.store).Get(call.tenant(), key);
  if (!r) {
    WARD_RETURN_IF_ERROR(call.Require(need));
    return Err(NotFound(not_found));
  }
  std::optional<int64_t> group;
  if (auto m = state::Repo<state::Machine>(call.services.store).Get(call.tenant(), r->machine_id)) group = m->rbac_group_id;
  WARD_RETURN_IF_ERROR(call.services.authz.CheckDevice(call.principal, need, group, not_found));
  return r;
}
// An alert by id for the caller, scoped by its machine's group, with the same rules.
Result<state::Alert> FindAlertForCaller(Call& call, std::string_view id, const rbac::Requirement& need);

// Writes an OData collection of alerts (with $expand=evidence support) for the given alerts.
void RespondAlerts(Call& call, const CallerView& view, std::vector<const state::Alert*> alerts);
// Writes an OData collection of machines.
void RespondMachines(Call& call, const CallerView& view, std::vector<const state::Machine*> machines);

// ---- Files, IPs, domains and users (entity_routes.cc) ----

namespace requirements {
// Two reads that MDE documents with ReadWrite permissions only (mde-api.md §3.5): apps and scopes
// need the ReadWrite permission, users the portal's View data like every other read.
const rbac::Requirement& ReadAlertsWithReadWrite();    // GET /api/domains/{domain}/alerts
const rbac::Requirement& ReadMachinesWithReadWrite();  // GET /api/users/{name}/machines
}  // namespace requirements

// Distinct devices and first/last sighting over some events; ticks are 0 when nothing was seen.
struct Prevalence {
  int64_t devices = 0;
  int64_t first_ticks = 0, last_ticks = 0;
};

// What Ward's telemetry knows of one file. "" / nullopt = unknown (rendered as null).
struct FileFacts {
  std::string sha1, sha256, md5;
  std::optional<int64_t> size;
  std::string file_name;  // the most frequent name; fileType and isPeFile follow its extension
  std::string publisher, product_name;
  std::string signer, issuer, signer_hash;
  bool certificate_trusted = false;
  // Over the whole tenant: Ward's "global" view. Only for callers who see every device, so that
  // nobody learns counts from outside their device groups.
  std::optional<Prevalence> global;
};

json::Value FileJson(const FileFacts& f);
json::Value InOrgFileStatsJson(std::string_view sha1, const Prevalence& org, const std::optional<Prevalence>& global,
                               const std::vector<std::string>& top_file_names);
json::Value InOrgIpStatsJson(std::string_view ip, const Prevalence& org);
json::Value InOrgDomainStatsJson(std::string_view host, const Prevalence& org);

// One account as the User entity describes it, from successful logons (DeviceLogonEvents).
struct LogonUser {
  std::string account_name, account_domain, account_sid;
  int64_t first_ticks = 0, last_ticks = 0;
  std::string most_prevalent_machine_id, least_prevalent_machine_id;
  std::vector<std::string> logon_types;  // distinct, sorted
  int64_t machines = 0;
};
// The MDE "Users" entity set (User entity, mde-api.md §4).
const odata::EntitySchema& LogonUserSchema();
json::Value LogonUserJson(const LogonUser& u);

}  // namespace ward::api
