#pragma once
// The permission registries, declared once as data:
//  - portal (RBAC role) permissions, as in MDE's Settings → Roles;
//  - application permissions (`roles` claim) with MDE's exact names, plus Ward's extensions;
//  - delegated permissions (`scp` claim).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ward::rbac {

enum class PortalPermission {
  kViewData,                  // View data - Security operations
  kViewVulnerabilityData,     // View data - Defender Vulnerability Management
  kAlertsInvestigation,
  kActiveRemediation,
  kLiveResponseBasic,
  kLiveResponseAdvanced,
  kManageSecuritySettings,
  kManagePortalSettings,
  kSecurityBaselines,
};

struct PortalPermissionInfo {
  PortalPermission permission;
  std::string_view name;          // API spelling, e.g. "AlertsInvestigation"
  std::string_view display_name;  // portal spelling
};
const std::vector<PortalPermissionInfo>& PortalPermissions();
std::optional<PortalPermission> ParsePortalPermission(std::string_view name);  // case-insensitive
std::string_view PortalPermissionName(PortalPermission p);

struct ApiPermissionInfo {
  std::string_view name;
  std::string_view description;
  bool ward_extension;  // not an MDE permission
};
const std::vector<ApiPermissionInfo>& ApplicationPermissions();
const std::vector<ApiPermissionInfo>& DelegatedPermissions();
// Returns the canonical spelling (MDE docs vary in case, e.g. URL.Read.All) or nullopt.
std::optional<std::string> CanonicalApplicationPermission(std::string_view name);
std::optional<std::string> CanonicalDelegatedPermission(std::string_view name);

inline constexpr std::string_view kBuiltinAdminRoleName = "Ward administrator";
inline constexpr std::string_view kDefaultDeviceGroupName = "Ungrouped devices (default)";

inline constexpr std::string_view kRemediationLevels[] = {
    "No automated response",
    "Semi - Approval required for all folders",
    "Semi - Approval required for non-temporary folders",
    "Semi - Approval required for system folders",
    "Full remediation",
};

}  // namespace ward::rbac
