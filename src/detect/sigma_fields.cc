// Sigma → Ward translation tables: logsource categories, field names, levels and ATT&CK tactics.
//
// Checked against what Ward's sensor writes (src/sensor/process_collector.cc, event.cc,
// file_collector.cc, network_collector.cc):
// - FolderPath holds the FULL path, not the directory: the process's exe path (DeviceProcessEvents)
//   and the file's path (DeviceFileEvents); InitiatingProcessFolderPath likewise holds the parent's
//   full exe path. So Image / TargetFilename / ParentImage map to these columns as they are.
// - Network events: the sensor writes ConnectionSuccess for outbound and InboundConnectionAccepted
//   for accepted connections (plus ListeningConnectionCreated); Initiated translates to ActionType.
//   RemoteUrl is the name the live sensor saw the remote address looked up as (UDP DNS answers it
//   captures); simulated fleets and MDE-shaped imports fill it too. DNS over TCP/TLS/HTTPS is not
//   seen, so DestinationHostname rules fire only where a RemoteUrl exists.
// - The process's working directory is only inside AdditionalFields JSON, and no Linux sensor fills
//   OriginalFileName or integrity levels: rules on those fields are not applicable.
#include <algorithm>

#include "detect/sigma_fields.h"

namespace ward::detect {

const std::vector<SigmaFieldMapping>& SigmaFieldColumns() {
  using C = SigmaCategory;
  static const std::vector<SigmaFieldMapping> kTable = {
      {C::kProcessCreation, "Image", "FolderPath", "full path of the executable"},
      {C::kProcessCreation, "CommandLine", "ProcessCommandLine", ""},
      {C::kProcessCreation, "ParentImage", "InitiatingProcessFolderPath", "full path of the parent's executable"},
      {C::kProcessCreation, "ParentCommandLine", "InitiatingProcessCommandLine", ""},
      {C::kProcessCreation, "User", "AccountName", ""},
      {C::kProcessCreation, "ParentUser", "InitiatingProcessAccountName", ""},
      {C::kProcessCreation, "ProcessId", "ProcessId", ""},
      {C::kProcessCreation, "ParentProcessId", "InitiatingProcessId", ""},
      {C::kProcessCreation, "LogonId", "LogonId", ""},
      {C::kProcessCreation, "md5", "MD5", ""},
      {C::kProcessCreation, "sha1", "SHA1", ""},
      {C::kProcessCreation, "sha256", "SHA256", ""},
      {C::kProcessCreation, "Hashes", "", "ALGO=hex values select MD5 / SHA1 / SHA256"},
      {C::kProcessCreation, "CurrentDirectory", "",
       "the working directory is not a DeviceProcessEvents column (Ward keeps it only in AdditionalFields)"},
      {C::kProcessCreation, "OriginalFileName", "", "Linux executables carry no PE version information"},
      {C::kProcessCreation, "IntegrityLevel", "", "Linux processes have no integrity level"},
      {C::kFileEvent, "TargetFilename", "FolderPath", "full path of the file"},
      {C::kFileEvent, "SourceFilename", "PreviousFolderPath", "full path before a rename"},
      {C::kFileEvent, "Image", "InitiatingProcessFolderPath", "full path of the writing process"},
      {C::kFileEvent, "CommandLine", "InitiatingProcessCommandLine", ""},
      {C::kFileEvent, "User", "InitiatingProcessAccountName", ""},
      {C::kFileEvent, "ProcessId", "InitiatingProcessId", ""},
      {C::kFileEvent, "md5", "MD5", ""},
      {C::kFileEvent, "sha1", "SHA1", ""},
      {C::kFileEvent, "sha256", "SHA256", ""},
      {C::kFileEvent, "Hashes", "", "ALGO=hex values select MD5 / SHA1 / SHA256"},
      {C::kNetworkConnection, "DestinationIp", "RemoteIP", ""},
      {C::kNetworkConnection, "DestinationPort", "RemotePort", ""},
      {C::kNetworkConnection, "DestinationHostname", "RemoteUrl", ""},
      {C::kNetworkConnection, "SourceIp", "LocalIP", ""},
      {C::kNetworkConnection, "SourcePort", "LocalPort", ""},
      {C::kNetworkConnection, "Protocol", "Protocol", ""},
      {C::kNetworkConnection, "Image", "InitiatingProcessFolderPath", "full path of the connecting process"},
      {C::kNetworkConnection, "CommandLine", "InitiatingProcessCommandLine", ""},
      {C::kNetworkConnection, "User", "InitiatingProcessAccountName", ""},
      {C::kNetworkConnection, "ProcessId", "InitiatingProcessId", ""},
      {C::kNetworkConnection, "Initiated", "ActionType",
       "true: ConnectionSuccess/ConnectionAttempt/ConnectionFailed/ConnectionRequest; false: InboundConnectionAccepted"},
  };
  return kTable;
}

std::string_view SigmaTableName(SigmaCategory category) {
  switch (category) {
    case SigmaCategory::kProcessCreation: return "DeviceProcessEvents";
    case SigmaCategory::kFileEvent: return "DeviceFileEvents";
    case SigmaCategory::kNetworkConnection: return "DeviceNetworkEvents";
  }
  return "";
}

namespace sigma_internal {

const std::vector<CategorySpec>& SigmaCategories() {
  using C = SigmaCategory;
  // process_creation: DeviceProcessEvents also carries OpenProcess in MDE; only creations apply.
  static const std::vector<CategorySpec> kTable = {
      {"process_creation", C::kProcessCreation, {"ProcessCreated"}},
      {"file_event", C::kFileEvent, {}},
      {"file_create", C::kFileEvent, {"FileCreated"}},
      {"file_change", C::kFileEvent, {"FileModified"}},
      {"file_delete", C::kFileEvent, {"FileDeleted"}},
      {"file_rename", C::kFileEvent, {"FileRenamed"}},
      {"network_connection", C::kNetworkConnection, {}},
  };
  return kTable;
}

const std::vector<InitiatedValue>& InitiatedValues() {
  static const std::vector<InitiatedValue> kTable = {
      {"true", {"ConnectionSuccess", "ConnectionAttempt", "ConnectionFailed", "ConnectionRequest"}},
      {"false", {"InboundConnectionAccepted"}},
  };
  return kTable;
}

const std::vector<HashColumn>& HashColumns() {
  static const std::vector<HashColumn> kTable = {{"MD5", "MD5", 32}, {"SHA1", "SHA1", 40}, {"SHA256", "SHA256", 64}};
  return kTable;
}

const SigmaFieldMapping* FindFieldMapping(SigmaCategory category, std::string_view field) {
  for (const SigmaFieldMapping& m : SigmaFieldColumns())
    if (m.category == category && m.sigma_field == field) return &m;
  return nullptr;
}

}  // namespace sigma_internal

std::string_view SigmaRuleInfo::Severity() const {
  if (level == "informational") return "Informational";
  if (level == "low") return "Low";
  if (level == "high" || level == "critical") return "High";
  return "Medium";
}

std::string_view SigmaRuleInfo::AlertCategory() const {
  // ATT&CK tactic tag → MDE alert category (MDE's category names are the tactics in PascalCase).
  static constexpr std::pair<std::string_view, std::string_view> kTactics[] = {
      {"initial_access", "InitialAccess"},       {"execution", "Execution"},
      {"persistence", "Persistence"},            {"privilege_escalation", "PrivilegeEscalation"},
      {"defense_evasion", "DefenseEvasion"},     {"credential_access", "CredentialAccess"},
      {"discovery", "Discovery"},                {"lateral_movement", "LateralMovement"},
      {"collection", "Collection"},              {"command_and_control", "CommandAndControl"},
      {"exfiltration", "Exfiltration"},          {"impact", "Impact"},
      {"reconnaissance", "Reconnaissance"},      {"resource_development", "ResourceDevelopment"},
  };
  for (const std::string& tag : tags) {
    std::string t = tag;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return c == '-' ? '_' : std::tolower(c); });
    if (!t.starts_with("attack.")) continue;
    std::string_view name = std::string_view(t).substr(7);
    for (const auto& [tactic, category] : kTactics)
      if (name == tactic) return category;
  }
  return "SuspiciousActivity";
}

}  // namespace ward::detect
