// The portal's screens as data: path pattern, the page, and the capability it needs. The navigation
// lists only what the signed-in user may open; opening any other path directly shows "no access".
import type { FunctionComponent } from "preact";
import { can, type Capability } from "./auth/access";
import type { Match } from "./router";
import { HomePage } from "./pages/home";
import { DevicesPage } from "./pages/devices";
import { DevicePage } from "./pages/device";
import { AlertsPage } from "./pages/alerts";
import { AlertPage } from "./pages/alert";
import { HuntingPage } from "./pages/hunting";
import { IndicatorsPage } from "./pages/indicators";
import { ActionCenterPage } from "./pages/actions";
import { StreamingPage } from "./pages/streaming";
import { OnboardingPage } from "./pages/onboarding";
import { RolesPage } from "./pages/settings/roles";
import { UserGroupsPage } from "./pages/settings/usergroups";
import { DeviceGroupsPage } from "./pages/settings/devicegroups";
import { AppsPage } from "./pages/settings/apps";
import { AuditPage } from "./pages/settings/audit";

export type PageProps = { match: Match };

export interface RouteDef {
  pattern: string;
  page: FunctionComponent<PageProps>;
  need?: Capability;
  nav?: { label: string; section: "Investigate" | "Respond" | "Configure"; icon: string };
}

export const routes: RouteDef[] = [
  { pattern: "/", page: HomePage, nav: { label: "Home", section: "Investigate", icon: "⌂" } },
  { pattern: "/devices", page: DevicesPage, need: can.viewData, nav: { label: "Devices", section: "Investigate", icon: "▣" } },
  { pattern: "/devices/:id", page: DevicePage, need: can.viewData },
  { pattern: "/machines/:id", page: DevicePage, need: can.viewData },
  { pattern: "/alerts", page: AlertsPage, need: can.readAlerts, nav: { label: "Alerts", section: "Investigate", icon: "△" } },
  { pattern: "/alerts/:id", page: AlertPage, need: can.readAlerts },
  { pattern: "/alert/:id", page: AlertPage, need: can.readAlerts },
  { pattern: "/hunting", page: HuntingPage, need: can.hunt, nav: { label: "Advanced hunting", section: "Investigate", icon: "⌕" } },
  { pattern: "/actions", page: ActionCenterPage, need: can.viewData, nav: { label: "Action center", section: "Respond", icon: "↻" } },
  { pattern: "/indicators", page: IndicatorsPage, need: can.readIndicators, nav: { label: "Indicators", section: "Respond", icon: "⚑" } },
  { pattern: "/streaming", page: StreamingPage, need: can.manageSettings, nav: { label: "Streaming", section: "Configure", icon: "⇉" } },
  { pattern: "/onboarding", page: OnboardingPage, need: can.onboarding, nav: { label: "Onboarding", section: "Configure", icon: "⊕" } },
  { pattern: "/settings/roles", page: RolesPage, need: can.manageSettings, nav: { label: "Roles", section: "Configure", icon: "◆" } },
  { pattern: "/settings/usergroups", page: UserGroupsPage, need: can.manageSettings, nav: { label: "User groups", section: "Configure", icon: "☺" } },
  { pattern: "/settings/devicegroups", page: DeviceGroupsPage, need: can.manageSettings, nav: { label: "Device groups", section: "Configure", icon: "▤" } },
  { pattern: "/settings/apps", page: AppsPage, need: can.manageSettings, nav: { label: "Apps and secrets", section: "Configure", icon: "⚙" } },
  { pattern: "/settings/audit", page: AuditPage, need: can.readAudit, nav: { label: "Audit log", section: "Configure", icon: "☰" } },
];
