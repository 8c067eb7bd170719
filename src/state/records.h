#pragma once
// Plain records kept by the state store. Every tenant-owned record carries tenant_id; the store
// never reads or writes a record outside the tenant it is asked about. Times are epoch milliseconds.
// Each record converts to and from a JSON document (the stored form; see docs/storage-format.md).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "json/json.h"

namespace ward::state {

struct Tenant {
  std::string id;  // GUID
  std::string name;
  int64_t created_ms = 0;
};

struct User {
  std::string tenant_id;
  std::string id;   // object id (GUID), the token's `oid`
  std::string upn;  // sign-in name, unique per tenant (case-insensitive)
  std::string display_name;
  std::string password_hash;  // argon2id PHC string
  bool enabled = true;
  int64_t created_ms = 0;
};

struct UserGroup {
  std::string tenant_id;
  std::string id;  // GUID
  std::string name;
  std::string description;
  std::vector<std::string> member_ids;  // user ids
};

struct Role {
  std::string tenant_id;
  std::string id;  // GUID
  std::string name;
  std::string description;
  std::vector<std::string> permissions;     // portal permission names (rbac/permissions.h)
  std::vector<std::string> user_group_ids;  // groups the role is assigned to
  bool builtin = false;
};

// Rule values are case-insensitive patterns where '*' matches any run of characters. Values within a
// condition are OR-ed; non-empty conditions are AND-ed. A group with no conditions matches nothing
// (except the default group, which catches everything unmatched).
struct DeviceGroupRules {
  std::vector<std::string> name;    // computer DNS name
  std::vector<std::string> domain;
  std::vector<std::string> tag;
  std::vector<std::string> os_platform;
  bool empty() const { return name.empty() && domain.empty() && tag.empty() && os_platform.empty(); }
};

struct DeviceGroup {
  std::string tenant_id;
  int64_t id = 0;  // MDE's rbacGroupId is numeric
  std::string name;
  std::string description;
  int64_t rank = 0;  // 1 = highest; the default group ranks last
  std::string remediation_level = "No automated response";
  DeviceGroupRules rules;
  std::vector<std::string> user_group_ids;  // empty = visible to every user with a role
  bool is_default = false;
};

struct AppSecret {
  std::string id;  // GUID
  std::string hash;  // HashSecret()
  std::string hint;  // first 3 characters, as Azure shows
  std::string display_name;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

struct AppCertificate {
  std::string id;  // GUID
  std::string thumbprint;  // SHA-1 of the DER certificate, upper-case hex
  std::string public_key_pem;
  std::string subject;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // the certificate's notAfter
};

struct App {
  std::string tenant_id;
  std::string client_id;  // GUID
  std::string display_name;
  std::vector<std::string> app_permissions;        // `roles` claim, e.g. "Alert.Read.All"
  std::vector<std::string> delegated_permissions;  // consented `scp` values, e.g. "Alert.Read"
  std::vector<std::string> redirect_uris;
  bool public_client = true;  // allows ROPC / auth-code without a secret
  bool enabled = true;
  bool portal = false;  // the tenant's "Ward portal" registration (a public client the server keeps)
  std::vector<AppSecret> secrets;
  std::vector<AppCertificate> certificates;
  int64_t created_ms = 0;
};

struct Machine {
  std::string tenant_id;
  std::string id;  // 40 hex characters
  std::string host_id;  // the sensor's stable host identity (re-enrolment keeps the id)
  std::string computer_dns_name;
  std::string domain;
  std::string os_platform;  // e.g. "Linux"
  std::string os_version;
  std::string os_distribution;
  std::string os_architecture;
  int64_t os_build = 0;
  std::vector<std::string> tags;           // reported by the device
  std::vector<std::string> api_tags;       // set through the API (machineTags = both)
  std::optional<int64_t> rbac_group_id;  // computed by the server (rbac::AssignDeviceGroup)
  std::string health_status = "Active";
  std::string onboarding_status = "Onboarded";
  std::string last_ip_address;
  std::string last_external_ip_address;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> logged_on_users;
  std::string device_value = "Normal";
  std::string agent_version;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;       // any signal (heartbeat or data)
  int64_t last_event_ms = 0;      // last telemetry
  int64_t last_heartbeat_ms = 0;
  int64_t heartbeat_seconds = 60;
  std::string credential_hash;    // HashSecret of the current device credential; empty = none
  int64_t credential_created_ms = 0;
  bool offboarded = false;
};

// A tenant's key for signing onboarding packages; sensors enrol with a package signed by a key that
// is neither expired nor revoked.
struct EnrollmentKey {
  std::string tenant_id;
  std::string id;
  std::string private_pem;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  bool revoked = false;
};

struct AuthCode {
  std::string tenant_id;
  std::string code_hash;
  std::string client_id;
  std::string user_id;
  std::string redirect_uri;
  std::string code_challenge;
  std::string code_challenge_method;  // "S256" or "plain"
  std::string scope;
  std::string resource;
  std::string nonce;
  int64_t expires_ms = 0;
};

// A client assertion's `jti`, kept until the assertion expires so it cannot be replayed.
struct UsedAssertion {
  std::string tenant_id;
  std::string jti_hash;
  int64_t expires_ms = 0;
};

struct RefreshToken {
  std::string tenant_id;
  std::string token_hash;
  std::string client_id;
  std::string user_id;
  std::string scope;
  std::string resource;
  int64_t expires_ms = 0;
  bool revoked = false;
};

// Server-wide token signing key (all tenants' tokens are signed by the active key).
struct SigningKey {
  std::string kid;
  std::string private_pem;
  int64_t created_ms = 0;
  std::string status;  // "active" | "previous" | "retired"
};

struct AuditEntry {
  int64_t id = 0;  // assigned on append, increasing
  std::string tenant_id;
  int64_t time_ms = 0;
  std::string actor_type;  // "User" | "Application" | "System"
  std::string actor_id;
  std::string actor_name;
  std::string action;  // e.g. "POST /api/rbac/roles"
  std::string target;  // e.g. the created or changed object's id
  std::string result;  // "Success" | "Failure"
  int64_t http_status = 0;
  std::string request_id;
  std::string details;  // free text or JSON
};

// One piece of evidence on an alert, in MDE's shape (reference/mde-api.md §4 Alert evidence).
// Empty strings and absent optionals are rendered as null.
struct AlertEvidence {
  std::string entity_type;  // "File" | "Process" | "User" | "Ip" | "Url" | ...
  int64_t evidence_creation_ms = 0;
  std::string sha1, sha256, file_name, file_path;
  std::optional<int64_t> process_id;
  std::string process_command_line;
  int64_t process_creation_ms = 0;
  std::optional<int64_t> parent_process_id;
  int64_t parent_process_creation_ms = 0;
  std::string parent_process_file_name, parent_process_file_path;
  std::string ip_address, url;
  std::string registry_key, registry_hive, registry_value_type, registry_value;
  std::string account_name, domain_name, user_sid, aad_user_id, user_principal_name;
  std::string detection_status = "Detected";
};

struct AlertComment {
  std::string comment;
  std::string created_by;
  int64_t created_ms = 0;
};

// An alert (MDE Alert entity). Written by detections and CreateAlertByReference; read by the
// investigation API. `machine_id` binds it to a device, and so to that device's group.
struct Alert {
  std::string tenant_id;
  std::string id;  // "da<ticks>_<number>", as MDE
  std::optional<int64_t> incident_id, investigation_id;
  std::string assigned_to;
  std::string severity = "Medium";   // UnSpecified | Informational | Low | Medium | High
  std::string status = "New";        // Unknown | New | InProgress | Resolved
  std::string classification;        // "" = null
  std::string determination;         // "" = null
  std::string investigation_state;   // "" = null
  std::string detection_source = "WardEdr";
  std::string detector_id;           // rule id (GUID)
  std::string category;
  std::string threat_family_name, threat_name;
  std::string title, description, recommended_action;
  int64_t alert_creation_ms = 0, first_event_ms = 0, last_event_ms = 0, last_update_ms = 0, resolved_ms = 0;
  std::string machine_id;
  std::string computer_dns_name;
  std::vector<std::string> mitre_techniques;
  std::string related_user_name, related_user_domain;  // relatedUser; empty name = null
  std::vector<AlertComment> comments;
  std::vector<AlertEvidence> evidence;
  // Events already folded into this alert ("<device>:<table>:<ReportId>"), so that replaying the log
  // after a crash never adds them twice. Not part of the MDE shape.
  std::vector<std::string> event_keys;
};

// A device action (MDE MachineAction entity). `commands_json` holds live response commands in MDE's
// shape (a JSON array), empty for other types.
struct MachineAction {
  std::string tenant_id;
  std::string id;  // GUID
  std::string type;  // Isolate | Unisolate | RunAntiVirusScan | ... (mde-api.md §4)
  std::string scope;  // Full | Selective | Quick | "" (null)
  std::string requestor, requestor_comment, request_source = "PublicApi", external_id;
  std::string status = "Pending";  // Pending | InProgress | Succeeded | Failed | TimeOut | Cancelled
  std::string machine_id, computer_dns_name;
  int64_t creation_ms = 0, last_update_ms = 0;
  std::string cancellation_requestor, cancellation_comment;
  int64_t cancellation_ms = 0;
  std::string title;
  std::string related_file_identifier, related_file_identifier_type;  // Sha1 | Sha256 | Md5
  std::optional<int64_t> error_hresult;
  std::string commands_json;
  // Not part of the MDE shape: what the sensor is sent ({"Sha1"}, {"Commands"}, ...), what it reported
  // back (details of what was done, or the failure), and when it last reported.
  std::string params_json;
  std::string result_json;
  std::string failure_reason;
  int64_t sensor_update_ms = 0;
  bool IsFinal() const { return status == "Succeeded" || status == "Failed" || status == "TimeOut" || status == "Cancelled"; }
};

// A live-response library file (MDE LibraryFile entity); the bytes live under <data-dir>/library/.
struct LibraryFile {
  std::string tenant_id;
  std::string file_name;  // the id; compared case-insensitively (stored lower-case in `id`)
  std::string id;
  std::string sha256;  // hex
  int64_t size = 0;
  std::string description, parameters_description, created_by;
  bool has_parameters = false;
  int64_t creation_ms = 0, last_updated_ms = 0;
};

// A threat indicator (MDE Indicator entity).
struct Indicator {
  std::string tenant_id;
  std::string id;  // decimal, from a per-tenant sequence
  std::string indicator_value;
  std::string indicator_type;  // FileSha1 | FileSha256 | FileMd5 | CertificateThumbprint | IpAddress | DomainName | Url
  std::string application;
  std::string action;  // Allowed | Audit | Block | BlockAndRemediate | Warn | Alert | AlertAndBlock
  std::string external_id;
  std::string source_type;  // User | AadApp
  std::string source, created_by, created_by_display_name, last_updated_by;
  int64_t creation_ms = 0, expiration_ms = 0, last_update_ms = 0;
  std::string severity = "Informational";
  std::string title, description, recommended_actions;
  std::vector<std::string> rbac_group_names;
  std::vector<std::string> rbac_group_ids;  // decimal strings; empty = all devices
  bool generate_alert = false;
  std::string educate_url;
};

// A Sigma rule added through POST /api/detectionrules (a Ward extension); the YAML is kept verbatim so
// that it is recompiled on start exactly as it was accepted.
struct DetectionRule {
  std::string tenant_id;
  std::string id;     // the rule's Sigma id, or a digest of its text when it has none
  std::string title;
  std::string yaml;
  std::string created_by;
  int64_t creation_ms = 0;
};

// A custom detection rule (Graph's security detectionRule): a KQL query run on a schedule; each
// result row (Timestamp, DeviceId, ReportId) raises an alert from the template. The definition is
// written by the API, the run state (last*) by the scheduler; both through Repo::Mutate.
struct CustomDetectionRule {
  std::string tenant_id;
  std::string id;           // decimal, from a per-tenant sequence (Graph's ids look like "35079")
  std::string detector_id;  // GUID; the detectorId of the alerts it raises (their de-duplication key)
  std::string display_name;
  bool is_enabled = true;
  std::string query_text;
  int64_t query_modified_ms = 0;  // a changed query runs at once
  std::string period;             // "0" | "1H" | "3H" | "12H" | "24H" | Ward: "<N>M"
  std::string lookback;           // Ward: "<N>M" | "<N>H" | "<N>D"; "" = the period's default
  std::string alert_title, alert_description, alert_severity = "Medium", alert_category, recommended_actions;
  std::vector<std::string> mitre_techniques;
  std::string impacted_assets_json;  // Graph's impactedAssets, kept as given (a JSON array)
  std::string created_by, last_modified_by;
  int64_t created_ms = 0, last_modified_ms = 0;
  // Run state.
  int64_t last_run_ms = 0;           // start of the last run (0 = never ran)
  int64_t last_run_query_ms = 0;     // query_modified_ms of the query that last ran
  int64_t last_success_ms = 0;       // start of the last run that completed (its window is covered)
  std::string last_run_status;       // "" (never) | running | completed | failed | partiallyFailed
  std::string last_run_error_code;   // Graph's huntingRuleErrorCode, "" = none
  std::string last_run_failure_reason;
  int64_t alerts_raised = 0;         // over the rule's life (Ward extension)
};

// A streaming configuration (Ward's API for what MDE sets up in its portal): which hunting tables of
// which device groups go to which destinations. `destinations_json` is the validated JSON array of
// destinations, secrets included (the API never returns them; see src/stream/destinations.h).
struct StreamConfiguration {
  std::string tenant_id;
  std::string id;  // GUID
  std::string name;
  bool enabled = true;
  std::vector<std::string> event_types;    // "AdvancedHunting-<Table>", as MDE names the categories
  std::vector<std::string> device_groups;  // device group names; empty = every device
  std::string destinations_json;
  std::string created_by, last_modified_by;
  int64_t created_ms = 0, last_modified_ms = 0;
  // A replay request: destinations rewind to the first log record received at or after this time.
  // The generation increases with every request so each destination replays once.
  int64_t replay_from_ticks = 0;
  int64_t replay_generation = 0;
};

// A saved advanced-hunting query (the portal's "Saved queries"): private to its creator unless shared
// with the tenant.
struct SavedQuery {
  std::string tenant_id;
  std::string id;  // GUID
  std::string name;
  std::string query;
  std::string description;
  bool shared = false;
  std::string created_by_id;  // user object id or app client id
  std::string created_by;     // upn or app name, for display
  int64_t created_ms = 0, last_modified_ms = 0;
};

json::Value ToJson(const User& r);
json::Value ToJson(const UserGroup& r);
json::Value ToJson(const Role& r);
json::Value ToJson(const DeviceGroup& r);
json::Value ToJson(const App& r);
json::Value ToJson(const Machine& r);
json::Value ToJson(const AuthCode& r);
json::Value ToJson(const RefreshToken& r);
json::Value ToJson(const UsedAssertion& r);
json::Value ToJson(const EnrollmentKey& r);
json::Value ToJson(const Alert& r);
json::Value ToJson(const MachineAction& r);
json::Value ToJson(const LibraryFile& r);
json::Value ToJson(const Indicator& r);
json::Value ToJson(const DetectionRule& r);
json::Value ToJson(const CustomDetectionRule& r);
json::Value ToJson(const StreamConfiguration& r);
json::Value ToJson(const SavedQuery& r);
Result<User> UserFromJson(const json::Value& v);
Result<UserGroup> UserGroupFromJson(const json::Value& v);
Result<Role> RoleFromJson(const json::Value& v);
Result<DeviceGroup> DeviceGroupFromJson(const json::Value& v);
Result<App> AppFromJson(const json::Value& v);
Result<Machine> MachineFromJson(const json::Value& v);
Result<AuthCode> AuthCodeFromJson(const json::Value& v);
Result<RefreshToken> RefreshTokenFromJson(const json::Value& v);
Result<UsedAssertion> UsedAssertionFromJson(const json::Value& v);
Result<EnrollmentKey> EnrollmentKeyFromJson(const json::Value& v);
Result<Alert> AlertFromJson(const json::Value& v);
Result<MachineAction> MachineActionFromJson(const json::Value& v);
Result<LibraryFile> LibraryFileFromJson(const json::Value& v);
Result<Indicator> IndicatorFromJson(const json::Value& v);
Result<DetectionRule> DetectionRuleFromJson(const json::Value& v);
Result<CustomDetectionRule> CustomDetectionRuleFromJson(const json::Value& v);
Result<StreamConfiguration> StreamConfigurationFromJson(const json::Value& v);
Result<SavedQuery> SavedQueryFromJson(const json::Value& v);

json::Value StringArray(const std::vector<std::string>& values);
// Reads an array of strings; nullopt when v is not an array of strings.
std::optional<std::vector<std::string>> ReadStringArray(const json::Value* v);

}  // namespace ward::state
