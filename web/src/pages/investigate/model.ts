// Shapes of the API entities the investigation screens read (mde-api.md §3, src/api/entities.cc),
// and the small helpers they share: enumerations the server validates, OData paging, and how a
// device's isolation and restriction state follow from its response actions.
import { apiGet, apiGetAll, type ODataList } from "../../api/client";

export interface Machine {
  id: string;
  computerDnsName: string;
  firstSeen?: string | null;
  lastSeen?: string | null;
  osPlatform: string;
  osVersion?: string | null;
  osProcessor?: string | null;
  osArchitecture?: string | null;
  lastIpAddress?: string | null;
  lastExternalIpAddress?: string | null;
  agentVersion?: string | null;
  healthStatus: string;
  deviceValue?: string;
  rbacGroupId?: number;
  rbacGroupName?: string | null;
  riskScore?: string;
  exposureLevel?: string;
  machineTags: string[];
  onboardingStatus?: string;
  ipAddresses?: { ipAddress: string }[];
}

export interface Evidence {
  entityType: string;
  evidenceCreationTime?: string | null;
  sha1?: string | null;
  sha256?: string | null;
  fileName?: string | null;
  filePath?: string | null;
  processId?: number | null;
  processCommandLine?: string | null;
  processCreationTime?: string | null;
  parentProcessId?: number | null;
  parentProcessCreationTime?: string | null;
  parentProcessFileName?: string | null;
  parentProcessFilePath?: string | null;
  ipAddress?: string | null;
  url?: string | null;
  registryKey?: string | null;
  registryValue?: string | null;
  accountName?: string | null;
  domainName?: string | null;
  userPrincipalName?: string | null;
  detectionStatus?: string | null;
}

export interface AlertComment {
  comment: string;
  createdBy: string;
  createdTime?: string | null;
}

export interface Alert {
  id: string;
  incidentId?: number | null;
  assignedTo?: string | null;
  severity: string;
  status: string;
  classification?: string | null;
  determination?: string | null;
  investigationState?: string;
  detectionSource?: string;
  detectorId?: string | null;
  category: string;
  threatFamilyName?: string | null;
  threatName?: string | null;
  title: string;
  description?: string;
  alertCreationTime?: string | null;
  firstEventTime?: string | null;
  lastEventTime?: string | null;
  lastUpdateTime?: string | null;
  resolvedTime?: string | null;
  machineId?: string | null;
  computerDnsName?: string | null;
  rbacGroupName?: string | null;
  mitreTechniques?: string[];
  relatedUser?: { userName: string; domainName?: string | null } | null;
  comments?: AlertComment[];
  evidence?: Evidence[];
}

export interface LiveResponseCommand {
  index: number;
  startTime?: string | null;
  endTime?: string | null;
  commandStatus?: string;
  errors?: string[];
  command: { type: string; params: { key: string; value: string }[] };
}

export interface MachineAction {
  id: string;
  type: string;
  title?: string | null;
  scope?: string | null;
  requestor: string;
  requestorComment?: string | null;
  status: string;
  machineId: string;
  computerDnsName?: string | null;
  creationDateTimeUtc?: string | null;
  lastUpdateDateTimeUtc?: string | null;
  cancellationRequestor?: string | null;
  cancellationComment?: string | null;
  relatedFileInfo?: { fileIdentifier: string; fileIdentifierType: string } | null;
  commands?: LiveResponseCommand[];
}

// Values the server computes or validates (ingest/devices.cc HealthStatus, entities.cc, validators.cc).
export const healthStatuses = ["Active", "Inactive", "ImpairedCommunication", "NoSensorData"];
export const riskScores = ["None", "Informational", "Low", "Medium", "High"];
export const severities = ["High", "Medium", "Low", "Informational"];
export const alertStatuses = ["New", "InProgress", "Resolved"];
export const alertCategories = [
  "General", "CommandAndControl", "Collection", "CredentialAccess", "DefenseEvasion", "Discovery", "Exfiltration",
  "Exploit", "Execution", "InitialAccess", "LateralMovement", "Malware", "Persistence", "PrivilegeEscalation",
  "Ransomware", "SuspiciousActivity",
];
export const classifications: { value: string; label: string }[] = [
  { value: "TruePositive", label: "True positive" },
  { value: "InformationalExpectedActivity", label: "Informational, expected activity" },
  { value: "FalsePositive", label: "False positive" },
];
// MDE's determinations per classification (alert_routes.cc DeterminationsFor).
export const determinations: Record<string, string[]> = {
  TruePositive: ["MultiStagedAttack", "MaliciousUserActivity", "CompromisedUser", "Malware", "Phishing", "UnwantedSoftware", "Apt", "Other"],
  InformationalExpectedActivity: ["SecurityTesting", "LineOfBusinessApplication", "ConfirmedUserActivity", "ConfirmedActivity", "SecurityPersonnel", "Other"],
  FalsePositive: ["Clean", "NotMalicious", "InsufficientData", "Other"],
};
export const openActionStatuses = new Set(["Pending", "InProgress"]);

// "ImpairedCommunication" → "Impaired communication".
export function words(s: string | null | undefined): string {
  if (!s) return "";
  return s.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/ ([A-Z])(?=[a-z])/g, (_, c: string) => ` ${c.toLowerCase()}`);
}

// One page of an OData list: the rows, the total when the server counted, whether more follow.
export interface PageResult<T> {
  rows: T[];
  total?: number;
  more: boolean;
}

export async function fetchPage<T>(path: string): Promise<PageResult<T>> {
  const r = await apiGet<ODataList<T>>(path);
  return { rows: r.value, total: r["@odata.count"], more: Boolean(r["@odata.nextLink"]) };
}

export { apiGetAll };

// Isolation and code-execution restriction are states the device's response actions set: the most
// recent such action that did not fail decides (MDE's device page reads them the same way).
export interface ResponseState {
  isolated: boolean;
  isolationPending: boolean;
  restricted: boolean;
  restrictionPending: boolean;
}

export function responseState(actions: MachineAction[]): ResponseState {
  const live = (a: MachineAction) => a.status === "Succeeded" || openActionStatuses.has(a.status);
  const newestFirst = [...actions].sort((a, b) => (b.creationDateTimeUtc ?? "").localeCompare(a.creationDateTimeUtc ?? ""));
  const iso = newestFirst.find((a) => (a.type === "Isolate" || a.type === "Unisolate") && live(a));
  const res = newestFirst.find((a) => (a.type === "RestrictCodeExecution" || a.type === "UnrestrictCodeExecution") && live(a));
  return {
    isolated: iso?.type === "Isolate",
    isolationPending: Boolean(iso && openActionStatuses.has(iso.status)),
    restricted: res?.type === "RestrictCodeExecution",
    restrictionPending: Boolean(res && openActionStatuses.has(res.status)),
  };
}

// Severity → badge tone (styles.css badge-high/medium/low).
export function severityTone(s: string | null | undefined): string {
  return (s ?? "").toLowerCase();
}
