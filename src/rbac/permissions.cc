#include "rbac/permissions.h"
#include "common/strings.h"

#include <algorithm>
#include <cctype>

namespace ward::rbac {
namespace {

std::optional<std::string> Canonical(const std::vector<ApiPermissionInfo>& registry, std::string_view name) {
  for (const ApiPermissionInfo& p : registry) {
    if (EqualsIgnoreCase(p.name, name)) return std::string(p.name);
  }
  return std::nullopt;
}

}  // namespace

const std::vector<PortalPermissionInfo>& PortalPermissions() {
  static const std::vector<PortalPermissionInfo> kAll = {
      {PortalPermission::kViewData, "ViewData", "View data - Security operations"},
      {PortalPermission::kViewVulnerabilityData, "ViewVulnerabilityData", "View data - Defender Vulnerability Management"},
      {PortalPermission::kAlertsInvestigation, "AlertsInvestigation", "Alerts investigation"},
      {PortalPermission::kActiveRemediation, "ActiveRemediation", "Active remediation actions - Security operations"},
      {PortalPermission::kLiveResponseBasic, "LiveResponseBasic", "Live response capabilities - Basic"},
      {PortalPermission::kLiveResponseAdvanced, "LiveResponseAdvanced", "Live response capabilities - Advanced"},
      {PortalPermission::kManageSecuritySettings, "ManageSecuritySettings", "Manage security settings in Security Center"},
      {PortalPermission::kManagePortalSettings, "ManagePortalSettings", "Manage portal system settings"},
      {PortalPermission::kSecurityBaselines, "SecurityBaselines", "Security baselines"},
  };
  return kAll;
}

std::optional<PortalPermission> ParsePortalPermission(std::string_view name) {
  for (const PortalPermissionInfo& p : PortalPermissions()) {
    if (EqualsIgnoreCase(p.name, name) || EqualsIgnoreCase(p.display_name, name)) return p.permission;
  }
  return std::nullopt;
}

std::string_view PortalPermissionName(PortalPermission p) {
  for (const PortalPermissionInfo& info : PortalPermissions()) {
    if (info.permission == p) return info.name;
  }
  return "Unknown";
}

const std::vector<ApiPermissionInfo>& ApplicationPermissions() {
  static const std::vector<ApiPermissionInfo> kAll = {
      {"Alert.Read.All", "Read all alerts", false},
      {"Alert.ReadWrite.All", "Read and write all alerts", false},
      {"Machine.Read.All", "Read all machine profiles", false},
      {"Machine.ReadWrite.All", "Read and write all machine information", false},
      {"Machine.Isolate", "Isolate machine", false},
      {"Machine.RestrictExecution", "Restrict code execution", false},
      {"Machine.Scan", "Scan machine", false},
      {"Machine.CollectForensics", "Collect forensics", false},
      {"Machine.StopAndQuarantine", "Stop and quarantine file", false},
      {"Machine.Offboard", "Offboard machine", false},
      {"Machine.LiveResponse", "Run live response on a specific machine", false},
      {"Library.Manage", "Manage live response library files", false},
      {"Ti.ReadWrite", "Read and write IOCs belonging to the app", false},
      {"Ti.ReadWrite.All", "Read and write all IOCs", false},
      {"Ti.Read.All", "Read all IOCs", false},
      {"AdvancedQuery.Read.All", "Run advanced queries", false},
      {"AdvancedHunting.Read.All", "Run advanced hunting queries (Microsoft 365 Defender API)", false},
      {"ThreatHunting.Read.All", "Run hunting queries (Microsoft Graph)", false},
      {"File.Read.All", "Read file profiles", false},
      {"Ip.Read.All", "Read IP address profiles", false},
      {"Url.Read.All", "Read URL profiles", false},
      {"User.Read.All", "Read user profiles", false},
      {"Event.Write", "Write timeline events", false},
      {"Score.Read.All", "Read threat and vulnerability management score", false},
      {"Vulnerability.Read.All", "Read threat and vulnerability management vulnerability information", false},
      {"Software.Read.All", "Read threat and vulnerability management software information", false},
      {"SecurityRecommendation.Read.All", "Read threat and vulnerability management security recommendation information", false},
      {"SecurityConfiguration.Read.All", "Read threat and vulnerability management security configurations", false},
      {"SecurityConfiguration.ReadWrite.All", "Read and write threat and vulnerability management security configurations", false},
      {"IntegrationConfiguration.ReadWrite", "Read and write integration settings", false},
      // Microsoft Graph's, for custom detection rules (/beta/security/rules/detectionRules).
      {"CustomDetection.Read.All", "Read all custom detection rules", false},
      {"CustomDetection.ReadWrite.All", "Read and write all custom detection rules", false},
      // Ward extensions: MDE configures these in its portal only.
      {"Ward.Management.ReadWrite.All", "Manage roles, device groups, user groups, users and apps", true},
      {"Ward.AuditLog.Read.All", "Read the audit log", true},
      {"Ward.Settings.ReadWrite.All", "Manage onboarding, streaming and other system settings", true},
      {"Ward.DetectionRules.ReadWrite.All", "Read and write Sigma and custom detection rules", true},
  };
  return kAll;
}

const std::vector<ApiPermissionInfo>& DelegatedPermissions() {
  static const std::vector<ApiPermissionInfo> kAll = {
      {"Alert.Read", "Read alerts", false},
      {"Alert.ReadWrite", "Read and write alerts", false},
      {"Machine.Read", "Read machine information", false},
      {"Machine.ReadWrite", "Read and write machine information", false},
      {"Machine.Isolate", "Isolate machine", false},
      {"Machine.RestrictExecution", "Restrict code execution", false},
      {"Machine.Scan", "Scan machine", false},
      {"Machine.CollectForensics", "Collect forensics", false},
      {"Machine.StopAndQuarantine", "Stop and quarantine file", false},
      {"Machine.Offboard", "Offboard machine", false},
      {"Machine.LiveResponse", "Run live response on a specific machine", false},
      {"Library.Manage", "Manage live response library files", false},
      {"Ti.ReadWrite", "Read and write indicators", false},
      {"AdvancedQuery.Read", "Run advanced queries", false},
      {"AdvancedHunting.Read", "Run advanced hunting queries (Microsoft 365 Defender API)", false},
      {"ThreatHunting.Read", "Run hunting queries (Microsoft Graph)", false},
      {"File.Read.All", "Read file profiles", false},
      {"Ip.Read.All", "Read IP address profiles", false},
      {"URL.Read.All", "Read URL profiles", false},
      {"User.Read.All", "Read user profiles", false},
      {"Software.Read", "Read software information", false},
      {"Vulnerability.Read", "Read vulnerability information", false},
      {"SecurityRecommendation.Read", "Read security recommendations", false},
      {"Score.Read", "Read score", false},
      {"RemediationTask.Read", "Read remediation tasks", false},
      {"CustomDetection.Read.All", "Read all custom detection rules", false},
      {"CustomDetection.ReadWrite.All", "Read and write all custom detection rules", false},
      {"Ward.Management.ReadWrite", "Manage roles, device groups, user groups, users and apps", true},
      {"Ward.AuditLog.Read", "Read the audit log", true},
      {"Ward.Settings.ReadWrite", "Manage onboarding, streaming and other system settings", true},
      {"Ward.DetectionRules.ReadWrite", "Read and write Sigma and custom detection rules", true},
  };
  return kAll;
}

std::optional<std::string> CanonicalApplicationPermission(std::string_view name) {
  return Canonical(ApplicationPermissions(), name);
}
std::optional<std::string> CanonicalDelegatedPermission(std::string_view name) {
  return Canonical(DelegatedPermissions(), name);
}

}  // namespace ward::rbac
