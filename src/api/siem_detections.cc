#include "api/siem_detections.h"

#include <algorithm>
#include <cctype>

#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"

namespace ward::api {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (s.empty()) continue;
    if (!out.empty()) out += "; ";
    out += s;
  }
  return out;
}

bool ContainsIgnoreCase(const std::vector<std::string>& items, std::string_view wanted) {
  return std::any_of(items.begin(), items.end(), [&](const std::string& s) { return EqualsIgnoreCase(s, wanted); });
}

// An absent filter passes; otherwise any of its values must be among the machine's.
bool AnyOf(const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  return wanted.empty() ||
         std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) { return ContainsIgnoreCase(have, w); });
}

// A SIEM's DateTime: ISO-8601, with or without a zone (none = UTC, as MDE's examples send
// "2016-09-12T00:00:00.000"). An unencoded "+01:00" arrives as " 01:00" once '+' is read as a
// space, so a space is taken back for the plus it was.
std::optional<int64_t> ParseSiemTime(std::string value) {
  if (auto t = ParseIsoTicks(value)) return t;
  std::replace(value.begin(), value.end(), ' ', '+');
  return ParseIsoTicks(value);
}

// The "Ioc" pair of one evidence item: what kind of indicator it is (MDE's indicatorType names
// where one fits) and its value.
std::pair<std::string, std::string> IocOf(const state::AlertEvidence& e) {
  if (e.entity_type == "File" || e.entity_type == "Process") {
    if (!e.sha1.empty()) return {"FileSha1", e.sha1};
    if (!e.sha256.empty()) return {"FileSha256", e.sha256};
    if (!e.file_name.empty()) return {"FileName", e.file_name};
  } else if (e.entity_type == "Ip") {
    return {"IpAddress", e.ip_address};
  } else if (e.entity_type == "Url") {
    return {"Url", e.url};
  } else if (e.entity_type == "User" && !e.account_name.empty()) {
    return {"User", e.domain_name.empty() ? e.account_name : e.domain_name + "\\" + e.account_name};
  } else if (e.entity_type == "Registry") {
    return {"RegistryKey", e.registry_key};
  }
  return {"", ""};
}

// What identifies an evidence item within its alert. Unit separators keep fields from running
// into each other.
std::string EvidenceIdentity(const state::AlertEvidence& e) {
  std::string s;
  for (const std::string* f : {&e.entity_type, &e.sha1, &e.sha256, &e.file_name, &e.file_path, &e.process_command_line,
                               &e.ip_address, &e.url, &e.registry_key, &e.registry_value, &e.account_name,
                               &e.domain_name, &e.user_sid}) {
    s += *f;
    s += '\x1f';
  }
  s += std::to_string(e.process_id.value_or(-1)) + '\x1f' + std::to_string(e.process_creation_ms) + '\x1f' +
       std::to_string(e.evidence_creation_ms);
  return s;
}

std::string IocUniqueId(std::string_view alert_id, std::string_view identity) {
  return Base64Encode(Sha256("ward-siem-ioc\x1f" + std::string(alert_id) + '\x1f' + std::string(identity)));
}

// The ReportId of the event that raised the alert: event keys are "<device>:<table>:<ReportId>".
int64_t FirstReportId(const state::Alert& a) {
  if (a.event_keys.empty()) return 0;
  const std::string& key = a.event_keys.front();
  std::string_view digits = std::string_view(key).substr(key.rfind(':') + 1);
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return 0;
  }
  return std::stoll(std::string(digits));
}

std::string Ticks(int64_t ms) { return ms > 0 ? FormatIsoTicks(ms * kTicksPerMillisecond) : ""; }

}  // namespace

Result<SiemQuery> ParseSiemQuery(const std::vector<std::pair<std::string, std::string>>& params, int64_t now_ticks) {
  std::optional<int64_t> since, until, ago;
  SiemQuery q;
  auto once = [](const std::optional<int64_t>& slot, std::string_view name) -> Status {
    if (slot) return InvalidArgument("Parameter " + std::string(name) + " is given more than once");
    return Status::Ok();
  };
  for (const auto& [name, value] : params) {
    auto bad = [&](std::string_view expected) {
      return Err(InvalidArgument("Parameter " + name + " is invalid: '" + value + "' is not " + std::string(expected)));
    };
    if (EqualsIgnoreCase(name, "sinceTimeUtc") || EqualsIgnoreCase(name, "untilTimeUtc")) {
      std::optional<int64_t>& slot = EqualsIgnoreCase(name, "sinceTimeUtc") ? since : until;
      WARD_RETURN_IF_ERROR(once(slot, name));
      slot = ParseSiemTime(value);
      if (!slot) return bad("an ISO-8601 date and time");
    } else if (EqualsIgnoreCase(name, "ago")) {
      WARD_RETURN_IF_ERROR(once(ago, name));
      ago = ParseIsoDurationTicks(value);
      if (!ago) return bad("an ISO-8601 duration such as PT10M or P1D");
    } else if (EqualsIgnoreCase(name, "limit")) {
      WARD_RETURN_IF_ERROR(once(q.limit, name));
      if (value.empty() || value.size() > 10 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
          std::stoll(value) < 1 || std::stoll(value) > INT32_MAX) {
        return bad("a positive integer");
      }
      q.limit = std::stoll(value);
    } else if (EqualsIgnoreCase(name, "machinegroups") || EqualsIgnoreCase(name, "DeviceCreatedMachineTags") ||
               EqualsIgnoreCase(name, "CloudCreatedMachineTags")) {
      if (value.empty()) return bad("a name");
      std::vector<std::string>& list = EqualsIgnoreCase(name, "machinegroups") ? q.machine_groups
                                       : EqualsIgnoreCase(name, "DeviceCreatedMachineTags") ? q.device_tags
                                                                                              : q.cloud_tags;
      list.push_back(value);
    }
  }
  if (ago && since) return Err(InvalidArgument("Parameters ago and sinceTimeUtc cannot be combined"));
  q.until_ticks = until.value_or(now_ticks);
  q.since_ticks = ago ? now_ticks - *ago : since.value_or(now_ticks - kSiemDefaultWindowTicks);
  // A start after now (a SIEM's clock ahead of ours) is an empty window, not an error.
  if (until && q.until_ticks < q.since_ticks) {
    return Err(InvalidArgument("Parameter untilTimeUtc is invalid: the window ends before it starts"));
  }
  return q;
}

bool SiemSelects(const SiemQuery& q, const state::Alert& alert, const state::Machine& machine,
                 std::string_view machine_group) {
  const int64_t processed = alert.last_update_ms * kTicksPerMillisecond;
  if (processed < q.since_ticks || processed > q.until_ticks) return false;
  if (!q.machine_groups.empty() && (machine_group.empty() || !ContainsIgnoreCase(q.machine_groups, machine_group))) {
    return false;
  }
  return AnyOf(q.device_tags, machine.tags) && AnyOf(q.cloud_tags, machine.api_tags);
}

std::string SiemSource(std::string_view detection_source) {
  if (detection_source == "WardEdr") return "EDR";
  if (detection_source == "CustomTi") return "CustomerTI";
  return std::string(detection_source);
}

std::vector<json::Value> SiemDetections(const state::Alert& a, const SiemAlertContext& ctx) {
  static const state::AlertEvidence kNoEvidence{};
  const state::Machine* m = ctx.machine;
  std::vector<std::string> ipv4, ipv6;
  if (m) {
    for (const std::string& ip : m->ip_addresses) (ip.find(':') == std::string::npos ? ipv4 : ipv6).push_back(ip);
  }
  const std::string dns_name = m && !m->computer_dns_name.empty() ? m->computer_dns_name : a.computer_dns_name;
  const std::string machine_name = dns_name.substr(0, dns_name.find('.'));
  const std::string alert_link = ctx.portal_url + "/alert/" + a.id;
  const std::string incident_link = ctx.portal_url + "/incidents/byalert?alertId=" + a.id + "&source=SIEM";
  const int64_t report_id = FirstReportId(a);
  // Indicators have no IOA definition; rules and custom detections do.
  const std::string ioa_definition = a.detector_id.rfind("indicator:", 0) == 0 ? "" : a.detector_id;

  std::vector<json::Value> out;
  std::vector<std::string> identities;  // of the parts so far, to tell identical evidence items apart
  const size_t parts = std::max<size_t>(1, a.evidence.size());
  for (size_t part = 0; part < parts; ++part) {
    const state::AlertEvidence& e = a.evidence.empty() ? kNoEvidence : a.evidence[part];
    std::string identity = a.evidence.empty() ? std::string() : EvidenceIdentity(e);
    const auto repeats = std::count(identities.begin(), identities.end(), identity);
    identities.push_back(identity);
    if (repeats > 0) identity += '\x1f' + std::to_string(repeats);
    const std::string ioc_unique_id = IocUniqueId(a.id, identity);
    const auto [ioc_name, ioc_value] = IocOf(e);
    const bool has_user = !e.account_name.empty();

    json::Value d = json::Value::Object();
    d.AppendMember("AlertTime", Ticks(a.first_event_ms > 0 ? a.first_event_ms : a.alert_creation_ms));
    d.AppendMember("ComputerDnsName", dns_name);
    d.AppendMember("AlertTitle", a.title);
    d.AppendMember("Category", a.category);
    d.AppendMember("Severity", a.severity);
    d.AppendMember("AlertId", a.id);
    d.AppendMember("Actor", "");
    d.AppendMember("LinkToWDATP", alert_link);
    d.AppendMember("IocName", ioc_name);
    d.AppendMember("IocValue", ioc_value);
    d.AppendMember("CreatorIocName", ctx.creator_ioc_name);
    d.AppendMember("CreatorIocValue", ctx.creator_ioc_value);
    d.AppendMember("Sha1", e.sha1);
    d.AppendMember("FileName", e.file_name);
    d.AppendMember("FilePath", e.file_path);
    d.AppendMember("IpAddress", e.ip_address);
    d.AppendMember("Url", e.url);
    d.AppendMember("IoaDefinitionId", ioa_definition);
    d.AppendMember("UserName", has_user ? e.account_name : a.related_user_name);
    d.AppendMember("AlertPart", static_cast<int64_t>(part));
    d.AppendMember("FullId", a.id + ":" + ioc_unique_id);
    d.AppendMember("LastProcessedTimeUtc", Ticks(a.last_update_ms));
    d.AppendMember("ThreatCategory", "");
    d.AppendMember("ThreatFamily", a.threat_family_name);
    d.AppendMember("ThreatName", a.threat_name);
    d.AppendMember("RemediationAction", "");
    d.AppendMember("RemediationIsSuccess", json::Value());  // antivirus remediation: Ward reports none
    d.AppendMember("Source", SiemSource(a.detection_source));
    d.AppendMember("Md5", "");  // evidence carries SHA-1 and SHA-256 only
    d.AppendMember("Sha256", e.sha256);
    d.AppendMember("WasExecutingWhileDetected", json::Value());
    d.AppendMember("UserDomain", has_user ? e.domain_name : a.related_user_domain);
    d.AppendMember("LogOnUsers", m ? Join(m->logged_on_users) : "");
    d.AppendMember("MachineDomain", m ? m->domain : "");
    d.AppendMember("MachineName", machine_name);
    d.AppendMember("InternalIPv4List", Join(ipv4));
    d.AppendMember("InternalIPv6List", Join(ipv6));
    d.AppendMember("FileHash", !e.sha1.empty() ? e.sha1 : e.sha256);
    d.AppendMember("DeviceID", a.machine_id);
    d.AppendMember("MachineGroup", ctx.machine_group);
    d.AppendMember("Description", a.description);
    d.AppendMember("DeviceCreatedMachineTags", m ? Join(m->tags) : "");
    d.AppendMember("CloudCreatedMachineTags", m ? Join(m->api_tags) : "");
    d.AppendMember("CommandLine", e.process_command_line);
    d.AppendMember("IncidentLinkToWDATP", incident_link);
    d.AppendMember("ReportID", report_id);
    d.AppendMember("LinkToMTP", alert_link);  // one portal: MDE's two (WDATP, Microsoft 365) are Ward's one
    d.AppendMember("IncidentLinkToMTP", incident_link);
    d.AppendMember("ExternalId", "");
    d.AppendMember("IocUniqueId", ioc_unique_id);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace ward::api
