#include "state/records.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "state/state_store.h"

namespace ward::state {
namespace {

// Each record lists its fields once (VisitFields); the two visitors below turn that list into the
// JSON encoder and decoder, so the stored form cannot drift from the struct.
struct Encoder {
  json::Value out = json::Value::Object();
  void operator()(const char* k, const std::string& v) { out.AppendMember(k, v); }
  void operator()(const char* k, const int64_t& v) { out.AppendMember(k, v); }
  void operator()(const char* k, const bool& v) { out.AppendMember(k, v); }
  void operator()(const char* k, const std::vector<std::string>& v) { out.AppendMember(k, StringArray(v)); }
  void operator()(const char* k, const std::optional<int64_t>& v) {
    out.Set(k, v ? json::Value(*v) : json::Value());
  }
  void operator()(const char* k, const DeviceGroupRules& v);
  template <class R> void operator()(const char* k, const std::vector<R>& v);  // records with VisitFields
};

struct Decoder {
  const json::Value& in;
  Status status;
  void Fail(const char* k) {
    if (status.ok()) status = Internal(std::string("stored record has a bad field '") + k + "'");
  }
  void operator()(const char* k, std::string& v) {
    const json::Value* f = in.Find(k);
    if (!f || f->is_null()) return;
    if (!f->is_string()) return Fail(k);
    v = f->as_string();
  }
  void operator()(const char* k, int64_t& v) {
    const json::Value* f = in.Find(k);
    if (!f || f->is_null()) return;
    if (!f->is_number()) return Fail(k);
    v = f->as_int();
  }
  void operator()(const char* k, bool& v) {
    const json::Value* f = in.Find(k);
    if (!f || f->is_null()) return;
    if (!f->is_bool()) return Fail(k);
    v = f->as_bool();
  }
  void operator()(const char* k, std::vector<std::string>& v) {
    const json::Value* f = in.Find(k);
    if (!f || f->is_null()) return;
    auto arr = ReadStringArray(f);
    if (!arr) return Fail(k);
    v = std::move(*arr);
  }
  void operator()(const char* k, std::optional<int64_t>& v) {
    const json::Value* f = in.Find(k);
    if (!f || f->is_null()) { v.reset(); return; }
    if (!f->is_number()) return Fail(k);
    v = f->as_int();
  }
  void operator()(const char* k, DeviceGroupRules& v);
  template <class R> void operator()(const char* k, std::vector<R>& v);  // records with VisitFields
};

template <class V> void VisitFields(DeviceGroupRules& r, V& v) {
  v("name", r.name); v("domain", r.domain); v("tag", r.tag); v("osPlatform", r.os_platform);
}
template <class V> void VisitFields(AppSecret& r, V& v) {
  v("id", r.id); v("hash", r.hash); v("hint", r.hint); v("displayName", r.display_name);
  v("createdMs", r.created_ms); v("expiresMs", r.expires_ms);
}
template <class V> void VisitFields(AppCertificate& r, V& v) {
  v("id", r.id); v("thumbprint", r.thumbprint); v("publicKeyPem", r.public_key_pem); v("subject", r.subject);
  v("createdMs", r.created_ms); v("expiresMs", r.expires_ms);
}
template <class V> void VisitFields(UsedAssertion& r, V& v) {
  v("tenantId", r.tenant_id); v("jtiHash", r.jti_hash); v("expiresMs", r.expires_ms);
}
template <class V> void VisitFields(User& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("upn", r.upn); v("displayName", r.display_name);
  v("passwordHash", r.password_hash); v("enabled", r.enabled); v("createdMs", r.created_ms);
}
template <class V> void VisitFields(UserGroup& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("name", r.name); v("description", r.description);
  v("memberIds", r.member_ids);
}
template <class V> void VisitFields(Role& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("name", r.name); v("description", r.description);
  v("permissions", r.permissions); v("userGroupIds", r.user_group_ids); v("builtin", r.builtin);
}
template <class V> void VisitFields(DeviceGroup& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("name", r.name); v("description", r.description);
  v("rank", r.rank); v("remediationLevel", r.remediation_level); v("rules", r.rules);
  v("userGroupIds", r.user_group_ids); v("isDefault", r.is_default);
}
template <class V> void VisitFields(App& r, V& v) {
  v("tenantId", r.tenant_id); v("clientId", r.client_id); v("displayName", r.display_name);
  v("appPermissions", r.app_permissions); v("delegatedPermissions", r.delegated_permissions);
  v("redirectUris", r.redirect_uris); v("publicClient", r.public_client); v("enabled", r.enabled);
  v("portal", r.portal); v("secrets", r.secrets); v("certificates", r.certificates); v("createdMs", r.created_ms);
}
template <class V> void VisitFields(Machine& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("hostId", r.host_id); v("computerDnsName", r.computer_dns_name);
  v("domain", r.domain); v("osPlatform", r.os_platform); v("osVersion", r.os_version);
  v("osDistribution", r.os_distribution); v("osArchitecture", r.os_architecture); v("osBuild", r.os_build);
  v("tags", r.tags); v("apiTags", r.api_tags); v("rbacGroupId", r.rbac_group_id); v("healthStatus", r.health_status);
  v("onboardingStatus", r.onboarding_status); v("lastIpAddress", r.last_ip_address);
  v("lastExternalIpAddress", r.last_external_ip_address); v("ipAddresses", r.ip_addresses);
  v("loggedOnUsers", r.logged_on_users); v("deviceValue", r.device_value); v("agentVersion", r.agent_version);
  v("firstSeenMs", r.first_seen_ms); v("lastSeenMs", r.last_seen_ms); v("lastEventMs", r.last_event_ms);
  v("lastHeartbeatMs", r.last_heartbeat_ms); v("heartbeatSeconds", r.heartbeat_seconds);
  v("credentialHash", r.credential_hash); v("credentialCreatedMs", r.credential_created_ms);
  v("offboarded", r.offboarded);
}
template <class V> void VisitFields(EnrollmentKey& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("privatePem", r.private_pem); v("createdMs", r.created_ms);
  v("expiresMs", r.expires_ms); v("revoked", r.revoked);
}
template <class V> void VisitFields(AuthCode& r, V& v) {
  v("tenantId", r.tenant_id); v("codeHash", r.code_hash); v("clientId", r.client_id); v("userId", r.user_id);
  v("redirectUri", r.redirect_uri); v("codeChallenge", r.code_challenge);
  v("codeChallengeMethod", r.code_challenge_method); v("scope", r.scope); v("resource", r.resource);
  v("nonce", r.nonce); v("expiresMs", r.expires_ms);
}
template <class V> void VisitFields(RefreshToken& r, V& v) {
  v("tenantId", r.tenant_id); v("tokenHash", r.token_hash); v("clientId", r.client_id); v("userId", r.user_id);
  v("scope", r.scope); v("resource", r.resource); v("expiresMs", r.expires_ms); v("revoked", r.revoked);
}

template <class V> void VisitFields(AlertEvidence& r, V& v) {
  v("entityType", r.entity_type); v("evidenceCreationMs", r.evidence_creation_ms); v("sha1", r.sha1);
  v("sha256", r.sha256); v("fileName", r.file_name); v("filePath", r.file_path); v("processId", r.process_id);
  v("processCommandLine", r.process_command_line); v("processCreationMs", r.process_creation_ms);
  v("parentProcessId", r.parent_process_id); v("parentProcessCreationMs", r.parent_process_creation_ms);
  v("parentProcessFileName", r.parent_process_file_name); v("parentProcessFilePath", r.parent_process_file_path);
  v("ipAddress", r.ip_address); v("url", r.url); v("registryKey", r.registry_key); v("registryHive", r.registry_hive);
  v("registryValueType", r.registry_value_type); v("registryValue", r.registry_value);
  v("accountName", r.account_name); v("domainName", r.domain_name); v("userSid", r.user_sid);
  v("aadUserId", r.aad_user_id); v("userPrincipalName", r.user_principal_name);
  v("detectionStatus", r.detection_status);
}
template <class V> void VisitFields(AlertComment& r, V& v) {
  v("comment", r.comment); v("createdBy", r.created_by); v("createdMs", r.created_ms);
}
template <class V> void VisitFields(Alert& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("incidentId", r.incident_id); v("investigationId", r.investigation_id);
  v("assignedTo", r.assigned_to); v("severity", r.severity); v("status", r.status);
  v("classification", r.classification); v("determination", r.determination);
  v("investigationState", r.investigation_state); v("detectionSource", r.detection_source);
  v("detectorId", r.detector_id); v("category", r.category); v("threatFamilyName", r.threat_family_name);
  v("threatName", r.threat_name); v("title", r.title); v("description", r.description);
  v("recommendedAction", r.recommended_action); v("alertCreationMs", r.alert_creation_ms);
  v("firstEventMs", r.first_event_ms); v("lastEventMs", r.last_event_ms); v("lastUpdateMs", r.last_update_ms);
  v("resolvedMs", r.resolved_ms); v("machineId", r.machine_id); v("computerDnsName", r.computer_dns_name);
  v("mitreTechniques", r.mitre_techniques); v("relatedUserName", r.related_user_name);
  v("relatedUserDomain", r.related_user_domain); v("comments", r.comments); v("evidence", r.evidence);
  v("eventKeys", r.event_keys);
}
template <class V> void VisitFields(MachineAction& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("type", r.type); v("scope", r.scope); v("requestor", r.requestor);
  v("requestorComment", r.requestor_comment); v("requestSource", r.request_source); v("externalId", r.external_id);
  v("status", r.status); v("machineId", r.machine_id); v("computerDnsName", r.computer_dns_name);
  v("creationMs", r.creation_ms); v("lastUpdateMs", r.last_update_ms);
  v("cancellationRequestor", r.cancellation_requestor); v("cancellationComment", r.cancellation_comment);
  v("cancellationMs", r.cancellation_ms); v("title", r.title); v("relatedFileIdentifier", r.related_file_identifier);
  v("relatedFileIdentifierType", r.related_file_identifier_type); v("errorHResult", r.error_hresult);
  v("commandsJson", r.commands_json); v("paramsJson", r.params_json); v("resultJson", r.result_json);
  v("failureReason", r.failure_reason); v("sensorUpdateMs", r.sensor_update_ms);
}
template <class V> void VisitFields(StreamConfiguration& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("name", r.name); v("enabled", r.enabled);
  v("eventTypes", r.event_types); v("deviceGroups", r.device_groups); v("destinationsJson", r.destinations_json);
  v("createdBy", r.created_by); v("lastModifiedBy", r.last_modified_by); v("createdMs", r.created_ms);
  v("lastModifiedMs", r.last_modified_ms); v("replayFromTicks", r.replay_from_ticks);
  v("replayGeneration", r.replay_generation);
}
template <class V> void VisitFields(SavedQuery& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("name", r.name); v("query", r.query); v("description", r.description);
  v("shared", r.shared); v("createdById", r.created_by_id); v("createdBy", r.created_by); v("createdMs", r.created_ms);
  v("lastModifiedMs", r.last_modified_ms);
}
template <class V> void VisitFields(LibraryFile& r, V& v) {
  v("tenantId", r.tenant_id); v("fileName", r.file_name); v("id", r.id); v("sha256", r.sha256); v("size", r.size);
  v("description", r.description); v("parametersDescription", r.parameters_description);
  v("createdBy", r.created_by); v("hasParameters", r.has_parameters); v("creationMs", r.creation_ms);
  v("lastUpdatedMs", r.last_updated_ms);
}
template <class V> void VisitFields(Indicator& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("indicatorValue", r.indicator_value);
  v("indicatorType", r.indicator_type); v("application", r.application); v("action", r.action);
  v("externalId", r.external_id); v("sourceType", r.source_type); v("source", r.source);
  v("createdBy", r.created_by); v("createdByDisplayName", r.created_by_display_name);
  v("lastUpdatedBy", r.last_updated_by); v("creationMs", r.creation_ms); v("expirationMs", r.expiration_ms);
  v("lastUpdateMs", r.last_update_ms); v("severity", r.severity); v("title", r.title);
  v("description", r.description); v("recommendedActions", r.recommended_actions);
  v("rbacGroupNames", r.rbac_group_names); v("rbacGroupIds", r.rbac_group_ids);
  v("generateAlert", r.generate_alert); v("educateUrl", r.educate_url);
}
template <class V> void VisitFields(DetectionRule& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("title", r.title); v("yaml", r.yaml);
  v("createdBy", r.created_by); v("creationMs", r.creation_ms);
}
template <class V> void VisitFields(CustomDetectionRule& r, V& v) {
  v("tenantId", r.tenant_id); v("id", r.id); v("detectorId", r.detector_id); v("displayName", r.display_name);
  v("isEnabled", r.is_enabled); v("queryText", r.query_text); v("queryModifiedMs", r.query_modified_ms);
  v("period", r.period); v("lookback", r.lookback); v("alertTitle", r.alert_title);
  v("alertDescription", r.alert_description); v("alertSeverity", r.alert_severity);
  v("alertCategory", r.alert_category); v("recommendedActions", r.recommended_actions);
  v("mitreTechniques", r.mitre_techniques); v("impactedAssetsJson", r.impacted_assets_json);
  v("createdBy", r.created_by); v("lastModifiedBy", r.last_modified_by); v("createdMs", r.created_ms);
  v("lastModifiedMs", r.last_modified_ms); v("lastRunMs", r.last_run_ms); v("lastRunQueryMs", r.last_run_query_ms);
  v("lastSuccessMs", r.last_success_ms); v("lastRunStatus", r.last_run_status);
  v("lastRunErrorCode", r.last_run_error_code); v("lastRunFailureReason", r.last_run_failure_reason);
  v("alertsRaised", r.alerts_raised);
}

template <class R> json::Value Encode(const R& r) {
  Encoder e;
  VisitFields(const_cast<R&>(r), e);
  return std::move(e.out);
}

template <class R> Result<R> Decode(const json::Value& v) {
  if (!v.is_object()) return Err(Internal("stored record is not an object"));
  R r;
  Decoder d{v, {}};
  VisitFields(r, d);
  if (!d.status.ok()) return Err(d.status);
  return r;
}

void Encoder::operator()(const char* k, const DeviceGroupRules& v) { out.Set(k, Encode(v)); }
template <class R> json::Value EncodeList(const std::vector<R>& items) {
  json::Value arr = json::Value::Array();
  for (const R& item : items) arr.Append(Encode(item));
  return arr;
}
template <class R> void Encoder::operator()(const char* k, const std::vector<R>& v) { out.Set(k, EncodeList(v)); }
void Decoder::operator()(const char* k, DeviceGroupRules& v) {
  const json::Value* f = in.Find(k);
  if (!f || f->is_null()) return;
  auto r = Decode<DeviceGroupRules>(*f);
  if (!r) return Fail(k);
  v = std::move(*r);
}
template <class R> bool DecodeList(const json::Value* f, std::vector<R>* out) {
  if (!f->is_array()) return false;
  out->clear();
  for (const json::Value& item : f->items()) {
    auto r = Decode<R>(item);
    if (!r) return false;
    out->push_back(std::move(*r));
  }
  return true;
}
template <class R> void Decoder::operator()(const char* k, std::vector<R>& v) {
  const json::Value* f = in.Find(k);
  if (f && !f->is_null() && !DecodeList(f, &v)) Fail(k);
}

}  // namespace

json::Value StringArray(const std::vector<std::string>& values) {
  json::Value arr = json::Value::Array();
  for (const std::string& s : values) arr.Append(s);
  return arr;
}

std::optional<std::vector<std::string>> ReadStringArray(const json::Value* v) {
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(v->items().size());
  for (const json::Value& item : v->items()) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.as_string());
  }
  return out;
}

json::Value ToJson(const User& r) { return Encode(r); }
json::Value ToJson(const UserGroup& r) { return Encode(r); }
json::Value ToJson(const Role& r) { return Encode(r); }
json::Value ToJson(const DeviceGroup& r) { return Encode(r); }
json::Value ToJson(const App& r) { return Encode(r); }
json::Value ToJson(const Machine& r) { return Encode(r); }
json::Value ToJson(const AuthCode& r) { return Encode(r); }
json::Value ToJson(const RefreshToken& r) { return Encode(r); }
json::Value ToJson(const UsedAssertion& r) { return Encode(r); }
json::Value ToJson(const EnrollmentKey& r) { return Encode(r); }
Result<User> UserFromJson(const json::Value& v) { return Decode<User>(v); }
Result<UserGroup> UserGroupFromJson(const json::Value& v) { return Decode<UserGroup>(v); }
Result<Role> RoleFromJson(const json::Value& v) { return Decode<Role>(v); }
Result<DeviceGroup> DeviceGroupFromJson(const json::Value& v) { return Decode<DeviceGroup>(v); }
Result<App> AppFromJson(const json::Value& v) { return Decode<App>(v); }
Result<Machine> MachineFromJson(const json::Value& v) { return Decode<Machine>(v); }
Result<AuthCode> AuthCodeFromJson(const json::Value& v) { return Decode<AuthCode>(v); }
Result<RefreshToken> RefreshTokenFromJson(const json::Value& v) { return Decode<RefreshToken>(v); }
Result<UsedAssertion> UsedAssertionFromJson(const json::Value& v) { return Decode<UsedAssertion>(v); }
Result<EnrollmentKey> EnrollmentKeyFromJson(const json::Value& v) { return Decode<EnrollmentKey>(v); }
json::Value ToJson(const Alert& r) { return Encode(r); }
json::Value ToJson(const MachineAction& r) { return Encode(r); }
json::Value ToJson(const Indicator& r) { return Encode(r); }
Result<Alert> AlertFromJson(const json::Value& v) { return Decode<Alert>(v); }
Result<MachineAction> MachineActionFromJson(const json::Value& v) { return Decode<MachineAction>(v); }
json::Value ToJson(const LibraryFile& r) { return Encode(r); }
json::Value ToJson(const StreamConfiguration& r) { return Encode(r); }
Result<StreamConfiguration> StreamConfigurationFromJson(const json::Value& v) { return Decode<StreamConfiguration>(v); }
json::Value ToJson(const SavedQuery& r) { return Encode(r); }
Result<SavedQuery> SavedQueryFromJson(const json::Value& v) { return Decode<SavedQuery>(v); }
Result<LibraryFile> LibraryFileFromJson(const json::Value& v) { return Decode<LibraryFile>(v); }
Result<Indicator> IndicatorFromJson(const json::Value& v) { return Decode<Indicator>(v); }
json::Value ToJson(const DetectionRule& r) { return Encode(r); }
Result<DetectionRule> DetectionRuleFromJson(const json::Value& v) { return Decode<DetectionRule>(v); }
json::Value ToJson(const CustomDetectionRule& r) { return Encode(r); }
Result<CustomDetectionRule> CustomDetectionRuleFromJson(const json::Value& v) { return Decode<CustomDetectionRule>(v); }

std::string OpenActionKey(const MachineAction& a) {
  if (a.IsFinal()) return "";
  // Isolate/Unisolate and Restrict/Unrestrict exclude each other; other types only themselves.
  std::string family = a.type;
  if (family == "Unisolate") family = "Isolate";
  if (family == "UnrestrictCodeExecution") family = "RestrictCodeExecution";
  return "open:" + a.machine_id + ":" + family;
}

void BackOffBeforeRetry(int attempt) {
  // Up to 100 µs × 2^attempt, capped at 20 ms: small while contention is light, wide enough under
  // a burst that one writer gets through before the others re-read.
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int64_t cap_us = std::min<int64_t>(int64_t{100} << std::min(attempt, 8), 20'000);
  std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, cap_us)(rng)));
}

}  // namespace ward::state
