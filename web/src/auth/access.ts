// What the signed-in user may see and do, from GET /api/rbac/me (Ward extension): the portal
// permissions their roles grant, the delegated permissions in their token, and their device groups.
// Screens hide what a user may not use; the server enforces the same rules on every call.
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export type PortalPermission =
  | "ViewData"
  | "AlertsInvestigation"
  | "ActiveRemediation"
  | "LiveResponseBasic"
  | "LiveResponseAdvanced"
  | "ManageSecuritySettings"
  | "ManagePortalSettings";

export interface Me {
  id: string;
  userPrincipalName: string;
  displayName: string;
  tenantId: string;
  isAdministrator: boolean;
  roles: string[];
  permissions: PortalPermission[];
  scopes: string[];
  allDeviceGroups: boolean;
  deviceGroups: { id: number; name: string }[];
}

// A capability: a portal permission, and (when the API needs one) a delegated scope, any of which
// suffices. Both are needed, as the server checks.
export interface Capability {
  portal: PortalPermission;
  scope?: string[];
}

export function allowed(me: Me | null, c: Capability): boolean {
  if (!me) return false;
  if (!me.permissions.includes(c.portal)) return false;
  if (!c.scope) return true;
  const have = new Set(me.scopes.map((s) => s.toLowerCase()));
  return c.scope.some((s) => have.has(s.toLowerCase()));
}

// The capabilities screens ask about, named once; each mirrors the rbac::Requirement of the API
// call it leads to (src/api/*_routes.cc).
export const can = {
  viewData: { portal: "ViewData", scope: ["Machine.Read", "Machine.ReadWrite"] },
  readAlerts: { portal: "ViewData", scope: ["Alert.Read", "Alert.ReadWrite"] },
  triageAlerts: { portal: "AlertsInvestigation", scope: ["Alert.ReadWrite"] },
  tagDevices: { portal: "AlertsInvestigation", scope: ["Machine.ReadWrite"] },
  isolate: { portal: "ActiveRemediation", scope: ["Machine.Isolate"] },
  restrict: { portal: "ActiveRemediation", scope: ["Machine.RestrictExecution"] },
  scan: { portal: "ActiveRemediation", scope: ["Machine.Scan"] },
  collect: { portal: "AlertsInvestigation", scope: ["Machine.CollectForensics"] },
  quarantine: { portal: "ActiveRemediation", scope: ["Machine.StopAndQuarantine"] },
  offboard: { portal: "ManageSecuritySettings", scope: ["Machine.Offboard"] },
  liveResponse: { portal: "LiveResponseBasic", scope: ["Machine.LiveResponse"] },
  cancelActions: {
    portal: "ActiveRemediation",
    scope: ["Machine.Isolate", "Machine.RestrictExecution", "Machine.Scan", "Machine.CollectForensics",
      "Machine.StopAndQuarantine", "Machine.Offboard", "Machine.LiveResponse"],
  },
  hunt: { portal: "ViewData", scope: ["AdvancedQuery.Read", "AdvancedHunting.Read", "ThreatHunting.Read"] },
  readIndicators: { portal: "ViewData", scope: ["Ti.Read", "Ti.ReadWrite"] },
  manageIndicators: { portal: "ManageSecuritySettings", scope: ["Ti.ReadWrite"] },
  onboarding: { portal: "ManageSecuritySettings", scope: ["Ward.Settings.ReadWrite"] },
  manageSettings: { portal: "ManagePortalSettings", scope: ["Ward.Management.ReadWrite"] },
  readAudit: { portal: "ManagePortalSettings", scope: ["Ward.AuditLog.Read"] },
} satisfies Record<string, Capability>;

export const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside a signed-in session");
  return me;
}

export function useCan(c: Capability): boolean {
  return allowed(useContext(MeContext), c);
}
