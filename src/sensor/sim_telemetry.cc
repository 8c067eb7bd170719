#include "sensor/sim_telemetry.h"

#include <cstdio>
#include <optional>

#include "common/time.h"

namespace ward::sensor {

namespace {

using events::CellValue;
using events::ColumnType;

// A JSON member as the store's cell for a column type.
CellValue ToCell(const json::Value& v, ColumnType type) {
  if (v.is_null()) return std::monostate{};
  switch (type) {
    case ColumnType::kDatetime: {
      auto t = v.is_string() ? ParseIsoTicks(v.as_string()) : std::nullopt;
      return t ? CellValue{*t} : CellValue{};
    }
    case ColumnType::kLong:
    case ColumnType::kInt:
      return v.is_number() ? CellValue{v.as_int()} : CellValue{};
    case ColumnType::kBool:
      return v.is_bool() ? CellValue{int64_t{v.as_bool() ? 1 : 0}} : CellValue{};
    case ColumnType::kReal:
      return v.is_number() ? CellValue{v.as_double()} : CellValue{};
    case ColumnType::kString:
    case ColumnType::kDynamic:
      return v.is_string() ? CellValue{v.as_string()} : CellValue{v.Serialize()};
  }
  return std::monostate{};
}

template <size_t N>
const char* Pick(std::mt19937_64& rng, const char* const (&xs)[N]) {
  return xs[rng() % N];
}

}  // namespace

std::string SimTelemetry::DeviceIdFor(int index) {
  char id[41];
  std::snprintf(id, sizeof id, "%040x", 0xabc000 + index);
  return id;
}

std::vector<events::RowBatch> SimTelemetry::Generate(int devices, int activities_per_device, int hours, int64_t now) {
  std::vector<events::RowBatch> batches;
  std::mt19937_64 rng(42);
  for (int i = 0; i < devices; ++i) {
    SimDevice dev(i, 1000 + static_cast<uint64_t>(i));
    events::RowBatch b;
    b.tenant_id = "tenant-a";
    b.device_id = DeviceIdFor(i);
    b.batch_id = "corpus-" + std::to_string(i);
    b.received_ticks = now;
    Inventory(dev, b.device_id, now - int64_t{3600} * kTicksPerSecond, b.rows);
    for (int a = 0; a < activities_per_device; ++a) {
      // Spread over the window, oldest first, so ago(1h) … ago(7d) filters all select something.
      int64_t t = now - int64_t{hours} * 3600 * kTicksPerSecond * (activities_per_device - a) / activities_per_device;
      Activity(dev, b.device_id, rng, t, rng() % 20 == 0, b.rows);
    }
    batches.push_back(std::move(b));
  }
  return batches;
}

void SimTelemetry::Activity(SimDevice& dev, const std::string& device_id, std::mt19937_64& rng, int64_t t, bool suspicious,
                            std::vector<events::Row>& out) {
  scratch_.clear();
  derived_.clear();
  dev.Activity(rng, t, suspicious, scratch_);
  // Derived rows go after the activity's own, in order (a separate vector: `ev` must stay valid).
  for (const json::Value& ev : scratch_) Derive(rng, ev, derived_);
  for (json::Value& ev : derived_) scratch_.push_back(std::move(ev));
  AppendRows(dev, device_id, scratch_, out);
}

void SimTelemetry::Inventory(SimDevice& dev, const std::string& device_id, int64_t t, std::vector<events::Row>& out) {
  scratch_.clear();
  dev.Inventory(t, scratch_);
  AppendRows(dev, device_id, scratch_, out);
}

void SimTelemetry::AppendRows(const SimDevice& dev, const std::string& device_id, std::vector<json::Value>& evs,
                              std::vector<events::Row>& out) const {
  for (auto& ev : evs) {
    if (!ev.Find("DeviceName") && Has(ev, "DeviceName")) ev.Set("DeviceName", json::Value(dev.name()));
    if (Has(ev, "DeviceId")) ev.Set("DeviceId", json::Value(device_id));
    events::Row row;
    if (ToRow(ev, row)) out.push_back(std::move(row));
  }
}

bool SimTelemetry::Has(const json::Value& ev, std::string_view column) const {
  auto t = ev.GetString("$table");
  const events::TableDef* def = t ? reg_.Find(*t) : nullptr;
  return def && def->Find(column) >= 0;
}

bool SimTelemetry::ToRow(const json::Value& ev, events::Row& row) const {
  auto t = ev.GetString("$table");
  const events::TableDef* def = t ? reg_.Find(*t) : nullptr;
  if (!def) return false;
  row.table = def->id;
  row.values.assign(def->columns.size(), std::monostate{});
  for (const auto& m : ev.members()) {
    int c = def->Find(m.key);
    if (c >= 0) row.values[static_cast<size_t>(c)] = ToCell(m.value, def->columns[static_cast<size_t>(c)].type);
  }
  return true;
}

// A row of `table` sharing every same-named column with `src` (device, time, Initiating*, hashes,
// names), then `extra` on top.
json::Value SimTelemetry::Copy(const json::Value& src, const char* table,
                               std::initializer_list<std::pair<const char*, json::Value>> extra) const {
  json::Value out = json::Value::Object();
  out.Set("$table", json::Value(table));
  const events::TableDef* def = reg_.Find(table);
  for (const auto& m : src.members()) {
    if (m.key != "$table" && def->Find(m.key) >= 0) out.Set(m.key, m.value);
  }
  for (const auto& [k, v] : extra) out.Set(k, v);
  return out;
}

// DeviceEvents, registry, image-load, certificate and alert rows for one simulated process event.
void SimTelemetry::Derive(std::mt19937_64& rng, const json::Value& ev, std::vector<json::Value>& out) const {
  auto t = ev.GetString("$table");
  if (!t || *t != "DeviceProcessEvents") return;
  static const char* const kDeviceActions[] = {"PowerShellCommand", "PnpDeviceConnected", "AntivirusDetection",
                                               "BrowserLaunchedToOpenUrl", "UserAccountCreated", "DnsQueryResponse",
                                               "ProcessCreatedUsingWmiQuery", "ScheduledTaskCreated", "AsrOfficeChildProcessAudited",
                                               "OpenProcessApiCall", "ServiceInstalled", "ExploitGuardNetworkProtectionBlocked"};
  static const char* const kRegActions[] = {"RegistryValueSet", "RegistryKeyCreated", "RegistryKeyDeleted", "RegistryValueDeleted"};
  static const char* const kKeys[] = {R"(HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run)",
                                      R"(HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Word\Security)",
                                      R"(HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\WinDefend)"};
  static const char* const kDlls[] = {"libssl.so.3", "libcrypto.so.3", "clr.dll", "vaultcli.dll", "samlib.dll", "libc.so.6"};
  static const char* const kSeverity[] = {"High", "Medium", "Low", "Informational"};
  static const char* const kEntity[] = {"User", "Machine", "File", "Url", "Ip", "Process"};
  const json::Value* cmd = ev.Find("ProcessCommandLine");
  const json::Value* ts = ev.Find("Timestamp");
  std::string report = std::to_string(rng() % 100000);
  const char* action = Pick(rng, kDeviceActions);
  json::Value fields = json::Value::Object();
  fields.Set("Command", cmd ? *cmd : json::Value(""));
  fields.Set("DeviceName", json::Value("USB Mass Storage"));
  fields.Set("ClassName", json::Value("DiskDrive"));
  fields.Set("DeviceId", json::Value(R"(USBSTOR\DISK&VEN_SANDISK)"));
  fields.Set("VendorIds", json::Value("USB\\VID_0781"));
  fields.Set("ScriptName", json::Value("/tmp/run.ps1"));
  fields.Set("ThreatName", json::Value("Trojan:Linux/Mirai"));
  out.push_back(Copy(ev, "DeviceEvents",
                     {{"ActionType", json::Value(action)},
                      {"RemoteUrl", json::Value("http://update.example.org/a.sh")},
                      {"RemoteIP", json::Value("203.0.113.7")}, {"RemotePort", json::Value(443)},
                      {"AdditionalFields", json::Value(fields.Serialize())}}));
  if (rng() % 2 == 0) {
    out.push_back(Copy(ev, "DeviceRegistryEvents",
                       {{"ActionType", json::Value(Pick(rng, kRegActions))}, {"RegistryKey", json::Value(Pick(rng, kKeys))},
                        {"RegistryValueName", json::Value("Updater")}, {"RegistryValueType", json::Value("String")},
                        {"RegistryValueData", cmd ? *cmd : json::Value("")}}));
  }
  const char* dll = Pick(rng, kDlls);
  out.push_back(Copy(ev, "DeviceImageLoadEvents",
                     {{"ActionType", json::Value("ImageLoaded")}, {"FileName", json::Value(dll)},
                      {"FolderPath", json::Value(std::string("/usr/lib/x86_64-linux-gnu/") + dll)}}));
  if (rng() % 4 == 0) {
    out.push_back(Copy(ev, "DeviceFileCertificateInfo",
                       {{"IsSigned", json::Value(rng() % 2 == 0)}, {"SignatureType", json::Value("Embedded")},
                        {"Signer", json::Value("Microsoft Windows")}, {"Issuer", json::Value("Microsoft Windows Production PCA 2011")},
                        {"IsTrusted", json::Value(true)}, {"IsRootSignerMicrosoft", json::Value(true)},
                        {"CertificateSerialNumber", json::Value("330000023241fb59996dcc4dff000000000232")},
                        {"CertificateExpirationTime", ts ? *ts : json::Value()}}));
  }
  if (rng() % 10 == 0) {
    std::string alert = "da" + report;
    const char* sev = Pick(rng, kSeverity);
    out.push_back(Copy(ev, "AlertInfo",
                       {{"AlertId", json::Value(alert)}, {"Title", json::Value("Suspicious process executed")},
                        {"Category", json::Value("Execution")}, {"Severity", json::Value(sev)},
                        {"ServiceSource", json::Value("Microsoft Defender for Endpoint")},
                        {"DetectionSource", json::Value("EDR")}, {"AttackTechniques", json::Value(R"(["T1059"])")}}));
    out.push_back(Copy(ev, "AlertEvidence",
                       {{"AlertId", json::Value(alert)}, {"Title", json::Value("Suspicious process executed")},
                        {"Categories", json::Value(R"(["Execution"])")}, {"EntityType", json::Value(Pick(rng, kEntity))},
                        {"EvidenceRole", json::Value(rng() % 2 ? "Impacted" : "Related")}, {"Severity", json::Value(sev)},
                        {"ServiceSource", json::Value("Microsoft Defender for Endpoint")}, {"DetectionSource", json::Value("EDR")},
                        {"AccountName", ev.Find("AccountName") ? *ev.Find("AccountName") : json::Value("root")},
                        {"RemoteIP", json::Value("203.0.113.7")}, {"RemoteUrl", json::Value("update.example.org")}}));
  }
  // The XDR tables other products fill in MDE (Defender for Office 365 and for Identity, TVM):
  // Ward has no collector for them, but a tenant can ingest them, and corpus queries join them.
  if (rng() % 10 == 1) {
    static const char* const kSenders[] = {"billing@example.net", "MaliciousSender@example.com", "hr@contoso.example"};
    static const char* const kVerdicts[] = {"Phish", "Malware", "Spam", ""};
    const json::Value* account = ev.Find("AccountName");
    std::string user = account && account->is_string() && !account->as_string().empty() ? account->as_string() : "root";
    std::string msg = "nm-" + report;
    out.push_back(Copy(ev, "EmailEvents",
                       {{"NetworkMessageId", json::Value(msg)}, {"SenderFromAddress", json::Value(Pick(rng, kSenders))},
                        {"RecipientEmailAddress", json::Value(user + "@contoso.example")}, {"RecipientObjectId", json::Value("oid-" + user)},
                        {"Subject", json::Value("Invoice " + report)}, {"ThreatTypes", json::Value(Pick(rng, kVerdicts))},
                        {"EmailDirection", json::Value("Inbound")}, {"DeliveryAction", json::Value("Delivered")},
                        {"AttachmentCount", json::Value(1)}, {"UrlCount", json::Value(1)}, {"ReportId", json::Value(report)}}));
    out.push_back(Copy(ev, "EmailAttachmentInfo",
                       {{"NetworkMessageId", json::Value(msg)}, {"RecipientEmailAddress", json::Value(user + "@contoso.example")},
                        {"FileName", ev.Find("FileName") ? *ev.Find("FileName") : json::Value("invoice.zip")},
                        {"FileType", json::Value("zip")}, {"ReportId", json::Value(report)}}));
    out.push_back(Copy(ev, "EmailUrlInfo",
                       {{"NetworkMessageId", json::Value(msg)}, {"Url", json::Value("http://update.example.org/a.sh")},
                        {"UrlDomain", json::Value("update.example.org")}, {"UrlLocation", json::Value("Body")}, {"ReportId", json::Value(report)}}));
    out.push_back(Copy(ev, "IdentityInfo",
                       {{"AccountObjectId", json::Value("oid-" + user)}, {"AccountUpn", json::Value(user + "@contoso.example")},
                        {"OnPremSid", json::Value("S-1-5-21-1004336348-1177238915-682003330-" + report)},
                        {"AccountDomain", json::Value("CONTOSO")}, {"GivenName", json::Value(user)}, {"Surname", json::Value("Example")},
                        {"IsAccountEnabled", json::Value(true)}, {"ReportId", json::Value(report)}}));
    out.push_back(Copy(ev, "IdentityLogonEvents",
                       {{"ActionType", json::Value(rng() % 3 ? "LogonSuccess" : "LogonFailed")}, {"Application", json::Value("Active Directory")},
                        {"LogonType", json::Value("Resource access")}, {"Protocol", json::Value("Kerberos")},
                        {"AccountUpn", json::Value(user + "@contoso.example")}, {"AccountObjectId", json::Value("oid-" + user)},
                        {"IPAddress", json::Value("10.0.0.5")}, {"Port", json::Value(49152)},
                        {"DestinationIPAddress", json::Value("10.0.0.2")}, {"DestinationPort", json::Value(88)}, {"ReportId", json::Value(report)}}));
    out.push_back(Copy(ev, "IdentityQueryEvents",
                       {{"ActionType", json::Value("DNS query")}, {"Protocol", json::Value("Dns")}, {"QueryType", json::Value("A")},
                        {"QueryTarget", json::Value("api-east-1.update.example.org")}, {"IPAddress", json::Value("10.0.0.5")},
                        {"ReportId", json::Value(report)}}));
    out.push_back(Copy(ev, "IdentityDirectoryEvents",
                       {{"ActionType", json::Value(rng() % 2 ? "Directory Services replication" : "Account Password changed")},
                        {"Application", json::Value("Active Directory")}, {"Protocol", json::Value("Drsr")},
                        {"IPAddress", json::Value("10.0.0.5")}, {"Port", json::Value(49666)},
                        {"DestinationIPAddress", json::Value("10.0.0.2")}, {"DestinationPort", json::Value(135)}, {"ReportId", json::Value(report)}}));
    static const char* const kConfigs[] = {"scid-91", "scid-2000", "scid-2001", "scid-2010", "scid-2016"};
    out.push_back(Copy(ev, "DeviceTvmSecureConfigurationAssessment",
                       {{"ConfigurationId", json::Value(Pick(rng, kConfigs))}, {"ConfigurationCategory", json::Value("Security controls")},
                        {"ConfigurationSubcategory", json::Value("Antivirus")}, {"ConfigurationImpact", json::Value(5.0)},
                        {"IsCompliant", json::Value(rng() % 2 == 0)}, {"IsApplicable", json::Value(true)}}));
  }
}

}  // namespace ward::sensor
