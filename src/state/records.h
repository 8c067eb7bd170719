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

json::Value StringArray(const std::vector<std::string>& values);
// Reads an array of strings; nullopt when v is not an array of strings.
std::optional<std::vector<std::string>> ReadStringArray(const json::Value* v);

}  // namespace ward::state
