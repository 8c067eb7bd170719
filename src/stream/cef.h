#pragma once
// ArcSight Common Event Format (CEF) for alerts, as a pure formatter: no I/O, no state, thread-safe.
//
//   CEF:0|Ward|Ward EDR|<version>|<signature id>|<name>|<severity 0-10>|<extensions>
//
// An AlertInfo record (stream_record.h) becomes one CEF line. The extension keys follow MDE's SIEM
// ArcSight mapping (api-portal-mapping.md) where it has one, and use the free custom fields where it
// has none (MDE already takes cs1 ThreatName, cs4 Actor, cs5 Md5, cs6 Sha256, flexString1 the link):
//
//   AlertInfo column     CEF                                    MDE's ArcSight mapping
//   Title                header name and signature id            AlertTitle → name
//   Severity             header severity (0-10, see below)       Severity → deviceSeverity
//   Timestamp            rt (ms since the epoch)                 AlertTime → deviceReceiptTime
//   AlertId              externalId                              AlertId → externalId
//   Category             cat                                     Category → deviceEventCategory
//   DetectionSource      sourceServiceName                       Detection source → sourceServiceName
//   ServiceSource        flexString2 (label "ServiceSource")     —
//   MachineGroup         cs2 (label "MachineGroup")              —
//   AttackTechniques     cs3 (label "AttackTechniques"), the JSON array as "T1059, T1003"
//
// The signature id (Device Event Class ID) is the title because AlertInfo carries no rule id and a
// detection's title is what stays the same across its alerts. Empty or null columns are left out.
// Escaping per the CEF spec: in the header '\' and '|' get a backslash; in extension values '\' and
// '=' get one and CR/LF become "\r"/"\n"; header fields cannot hold line breaks, so they become spaces.
#include <string>
#include <string_view>

#include "common/status.h"
#include "stream/sink.h"

namespace ward::stream::cef {

std::string EscapeHeader(std::string_view text);
std::string EscapeExtension(std::string_view text);

// MDE's alert severities, read case-insensitively; kUnknown for anything else ("UnSpecified", "").
enum class AlertSeverity { kUnknown, kInformational, kLow, kMedium, kHigh };
AlertSeverity ParseAlertSeverity(std::string_view mde_severity);

// CEF's 0-10 scale: Informational 1, Low 3, Medium 5, High 8 (CEF's bands: 0-3 low, 4-6 medium,
// 7-8 high, 9-10 very high); unknown 5.
int SeverityOf(std::string_view mde_severity);

// One CEF line (no line break) for an AlertInfo record. InvalidArgument when record.json is not a
// record with a "properties" object.
Result<std::string> FormatAlert(const StreamRecord& record);

}  // namespace ward::stream::cef
