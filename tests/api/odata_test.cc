#include "api/odata.h"

#include <gtest/gtest.h>

#include "api/entities.h"
#include "state/records.h"

#include <string>
#include <vector>

namespace ward::odata {
namespace {

const EntitySchema& Machines() {
  static const EntitySchema kSchema{"Machines",
                                    {
                                        {"id", PropertyType::kString},
                                        {"computerDnsName", PropertyType::kString},
                                        {"healthStatus", PropertyType::kString},
                                        {"riskScore", PropertyType::kString},
                                        {"exposureLevel", PropertyType::kString},
                                        {"lastSeen", PropertyType::kDateTime},
                                        {"rbacGroupId", PropertyType::kInt},
                                        {"machineTags", PropertyType::kStringCollection, true, false},
                                        {"isAadJoined", PropertyType::kBool},
                                        {"osBuild", PropertyType::kInt, false, true},  // sortable, not filterable
                                        {"exposureScore", PropertyType::kDouble},
                                        {"lastIpAddress", PropertyType::kString, true, false},
                                    }};
  return kSchema;
}

const EntitySchema& Alerts() {
  static const EntitySchema kSchema{"Alerts",
                                    {
                                        {"id", PropertyType::kString},
                                        {"status", PropertyType::kString},
                                        {"severity", PropertyType::kString},
                                        {"assignedTo", PropertyType::kString},
                                        {"alertCreationTime", PropertyType::kDateTime},
                                        {"lastUpdateTime", PropertyType::kDateTime},
                                        {"incidentId", PropertyType::kInt},
                                    }};
  return kSchema;
}

json::Value Machine(std::string name, std::string health, std::string last_seen, std::vector<std::string> tags,
                    std::string risk = "High", int64_t group = 1) {
  json::Value m = json::Value::Object();
  m.Set("id", name + "-id");
  m.Set("computerDnsName", name);
  m.Set("healthStatus", health);
  m.Set("riskScore", risk);
  m.Set("lastSeen", last_seen);
  m.Set("rbacGroupId", group);
  json::Value t = json::Value::Array();
  for (auto& s : tags) t.Append(s);
  m.Set("machineTags", std::move(t));
  return m;
}

json::Value Alert(std::string id, std::string status, std::string severity, std::string created,
                  std::optional<std::string> assigned = std::nullopt) {
  json::Value a = json::Value::Object();
  a.Set("id", id);
  a.Set("status", status);
  a.Set("severity", severity);
  a.Set("alertCreationTime", created);
  a.Set("assignedTo", assigned ? json::Value(*assigned) : json::Value());
  return a;
}

std::vector<json::Value> SampleMachines() {
  return {
      Machine("mymachine1.contoso.com", "Active", "2018-08-02T10:00:00.1234567Z", {"Prod", "EU"}, "High", 3),
      Machine("mymachine2.contoso.com", "Inactive", "2018-07-30T00:00:00Z", {"Test"}, "Low", 1),
      Machine("other.contoso.com", "Active", "2018-08-01T00:00:00.001Z", {}, "Medium", 2),
      Machine("O'Brien-pc", "Active", "2018-07-01T00:00:00Z", {"prod"}, "None", 2),
  };
}

// Names of the machines that match `filter`, in order.
std::vector<std::string> Matching(std::string_view filter, const std::vector<json::Value>& entities,
                                  const EntitySchema& schema = Machines()) {
  auto f = ParseFilter(filter, schema);
  EXPECT_TRUE(f.has_value()) << filter << ": " << (f ? "" : f.error().message());
  std::vector<std::string> out;
  if (!f) return out;
  for (const auto& e : entities) {
    if (Matches(**f, e, schema)) {
      const json::Value* n = e.Find("computerDnsName");
      if (n == nullptr) n = e.Find("id");
      out.push_back(n->as_string());
    }
  }
  return out;
}

void ExpectFilterError(std::string_view filter, const EntitySchema& schema = Machines()) {
  auto f = ParseFilter(filter, schema);
  ASSERT_FALSE(f.has_value()) << "accepted: " << filter;
  EXPECT_EQ(f.error().code(), StatusCode::kInvalidArgument) << filter;
  EXPECT_FALSE(f.error().message().empty());
}

using Names = std::vector<std::string>;

TEST(ODataFilter, EqAndEq) {
  EXPECT_EQ(Matching("computerDnsName eq 'mymachine1.contoso.com' and healthStatus eq 'Active'", SampleMachines()),
            Names{"mymachine1.contoso.com"});
  EXPECT_EQ(Matching("computerDnsName eq 'mymachine2.contoso.com' and healthStatus eq 'Active'", SampleMachines()),
            Names{});
}

TEST(ODataFilter, StartsWithEndsWithContains) {
  EXPECT_EQ(Matching("startswith(computerDnsName,'mymachine')", SampleMachines()),
            (Names{"mymachine1.contoso.com", "mymachine2.contoso.com"}));
  EXPECT_EQ(Matching("endswith(computerDnsName, '2.contoso.com')", SampleMachines()), Names{"mymachine2.contoso.com"});
  EXPECT_EQ(Matching("contains(computerDnsName,'other')", SampleMachines()), Names{"other.contoso.com"});
  // Case-sensitive, with tolower() for case-insensitive matching.
  EXPECT_EQ(Matching("startswith(computerDnsName,'MyMachine')", SampleMachines()), Names{});
  EXPECT_EQ(Matching("startswith(tolower(computerDnsName),'mymachine2')", SampleMachines()),
            Names{"mymachine2.contoso.com"});
  EXPECT_EQ(Matching("toupper(healthStatus) eq 'INACTIVE'", SampleMachines()), Names{"mymachine2.contoso.com"});
}

TEST(ODataFilter, UnquotedDateOnly) {
  // 2018-08-01Z is midnight UTC; other.contoso.com was seen 1 ms later.
  EXPECT_EQ(Matching("lastSeen gt 2018-08-01Z", SampleMachines()),
            (Names{"mymachine1.contoso.com", "other.contoso.com"}));
  EXPECT_EQ(Matching("lastSeen ge 2018-08-01", SampleMachines()),
            (Names{"mymachine1.contoso.com", "other.contoso.com"}));
  EXPECT_EQ(Matching("lastSeen lt 2018-07-30T00:00:00.001Z", SampleMachines()),
            (Names{"mymachine2.contoso.com", "O'Brien-pc"}));
}

TEST(ODataFilter, DateTimeLiterals) {
  std::vector<json::Value> alerts = {
      Alert("a1", "New", "High", "2019-11-21T23:59:59.999Z"), Alert("a2", "InProgress", "Low", "2019-11-22T00:00:00Z"),
      Alert("a3", "Resolved", "Medium", "2019-11-22T01:00:00+02:00"),  // 2019-11-21T23:00Z
  };
  EXPECT_EQ(Matching("alertCreationTime ge 2019-11-22T00:00:00Z", alerts, Alerts()), Names{"a2"});
  // Quoted ISO strings are accepted for datetime properties too.
  EXPECT_EQ(Matching("alertCreationTime ge '2019-11-22T00:00:00Z'", alerts, Alerts()), Names{"a2"});
  EXPECT_EQ(Matching("alertCreationTime lt 2019-11-22T00:00:00.000Z", alerts, Alerts()), (Names{"a1", "a3"}));
  EXPECT_EQ(Matching("alertCreationTime eq 2019-11-22T01:00:00+02:00", alerts, Alerts()), Names{"a3"});
  ExpectFilterError("alertCreationTime eq 2019-11-22T02:00:00%2B02:00", Alerts());  // decoding is ParseQuery's job
  ExpectFilterError("alertCreationTime ge 'yesterday'", Alerts());
  ExpectFilterError("alertCreationTime ge 2019-13-01", Alerts());
  ExpectFilterError("alertCreationTime ge 2019-02-30T00:00:00Z", Alerts());
  ExpectFilterError("alertCreationTime ge 42", Alerts());
}

TEST(ODataFilter, QuotedEnum) {
  EXPECT_EQ(Matching("riskScore eq 'High'", SampleMachines()), Names{"mymachine1.contoso.com"});
  EXPECT_EQ(Matching("riskScore eq 'high'", SampleMachines()), Names{}) << "eq on strings is case-sensitive";
  EXPECT_EQ(Matching("riskScore ne 'High'", SampleMachines()).size(), 3u);
}

TEST(ODataFilter, CollectionAnyAndEq) {
  EXPECT_EQ(Matching("machineTags/any(tag: tag eq 'Prod')", SampleMachines()), Names{"mymachine1.contoso.com"});
  EXPECT_EQ(Matching("machineTags/any(t:startswith(t,'T'))", SampleMachines()), Names{"mymachine2.contoso.com"});
  EXPECT_EQ(Matching("machineTags eq 'Prod'", SampleMachines()), Names{"mymachine1.contoso.com"});
  EXPECT_EQ(Matching("machineTags ne 'Prod'", SampleMachines()).size(), 3u);
  EXPECT_EQ(Matching("machineTags/any()", SampleMachines()).size(), 3u);
  EXPECT_EQ(Matching("machineTags/all(t: t ne 'Test')", SampleMachines()).size(), 3u);
  EXPECT_EQ(Matching("machineTags in ('EU','Test')", SampleMachines()),
            (Names{"mymachine1.contoso.com", "mymachine2.contoso.com"}));
  ExpectFilterError("machineTags gt 'Prod'");
  ExpectFilterError("machineTags/any(tag: tag eq 5)");
  ExpectFilterError("computerDnsName/any(t: t eq 'x')");
  ExpectFilterError("machineTags/any(tag: tag eq 'x'");
}

TEST(ODataFilter, In) {
  std::vector<json::Value> alerts = {
      Alert("a1", "New", "High", "2019-11-21T00:00:00Z"),
      Alert("a2", "InProgress", "Low", "2019-11-22T00:00:00Z"),
      Alert("a3", "Resolved", "Medium", "2019-11-23T00:00:00Z"),
  };
  EXPECT_EQ(Matching("status in ('New','InProgress')", alerts, Alerts()), (Names{"a1", "a2"}));
  EXPECT_EQ(Matching("not (status in ('New', 'InProgress'))", alerts, Alerts()), Names{"a3"});
  ExpectFilterError("status in ()", Alerts());
  ExpectFilterError("status in ('New',)", Alerts());
  ExpectFilterError("incidentId in ('x')", Alerts());
}

TEST(ODataFilter, Not) {
  std::vector<json::Value> alerts = {
      Alert("a1", "New", "High", "2019-11-21T00:00:00Z"),
      Alert("a2", "New", "Low", "2019-11-22T00:00:00Z"),
  };
  EXPECT_EQ(Matching("not (severity eq 'Low')", alerts, Alerts()), Names{"a1"});
  EXPECT_EQ(Matching("not severity eq 'Low'", alerts, Alerts()), Names{"a1"}) << "not binds looser than eq";
  EXPECT_EQ(Matching("not not (severity eq 'Low')", alerts, Alerts()), Names{"a2"});
}

TEST(ODataFilter, OrAndPrecedence) {
  const auto machines = SampleMachines();
  // and binds tighter: A or (B and C).
  EXPECT_EQ(Matching("riskScore eq 'Low' or healthStatus eq 'Active' and rbacGroupId eq 3", machines),
            (Names{"mymachine1.contoso.com", "mymachine2.contoso.com"}));
  // Parentheses override: (A or B) and C.
  EXPECT_EQ(Matching("(riskScore eq 'Low' or healthStatus eq 'Active') and rbacGroupId eq 3", machines),
            Names{"mymachine1.contoso.com"});
  EXPECT_EQ(Matching("rbacGroupId eq 2 and (riskScore eq 'None' or riskScore eq 'Medium') and healthStatus eq 'Active'",
                     machines),
            (Names{"other.contoso.com", "O'Brien-pc"}));
}

TEST(ODataFilter, PropertyNamesAreCaseInsensitive) {
  auto f = ParseFilter("HealthStatus eq 'Active'", Machines());
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ((*f)->kind, Expr::Kind::kCompare);
  EXPECT_EQ((*f)->children[0]->kind, Expr::Kind::kProperty);
  EXPECT_EQ((*f)->children[0]->name, "healthStatus");
  EXPECT_EQ(Matching("COMPUTERDNSNAME eq 'other.contoso.com'", SampleMachines()), Names{"other.contoso.com"});
}

TEST(ODataFilter, QuoteEscaping) {
  EXPECT_EQ(Matching("computerDnsName eq 'O''Brien-pc'", SampleMachines()), Names{"O'Brien-pc"});
  EXPECT_EQ(Matching("startswith(computerDnsName,'O''')", SampleMachines()), Names{"O'Brien-pc"});
}

TEST(ODataFilter, NullComparisons) {
  std::vector<json::Value> alerts = {
      Alert("a1", "New", "High", "2019-11-21T00:00:00Z", "secop@contoso.com"),
      Alert("a2", "New", "Low", "2019-11-22T00:00:00Z"),
  };
  json::Value absent = json::Value::Object();
  absent.Set("id", "a3");
  alerts.push_back(std::move(absent));
  EXPECT_EQ(Matching("assignedTo eq null", alerts, Alerts()), (Names{"a2", "a3"}));
  EXPECT_EQ(Matching("assignedTo ne null", alerts, Alerts()), Names{"a1"});
  EXPECT_EQ(Matching("null eq assignedTo", alerts, Alerts()), (Names{"a2", "a3"}));
  EXPECT_EQ(Matching("assignedTo gt null", alerts, Alerts()), Names{}) << "ordering with null is false";
  EXPECT_EQ(Matching("assignedTo lt 'z'", alerts, Alerts()), Names{"a1"}) << "null never orders";
  EXPECT_EQ(Matching("not (assignedTo eq 'secop@contoso.com')", alerts, Alerts()), (Names{"a2", "a3"}));
}

TEST(ODataFilter, NumbersAndBools) {
  const auto machines = SampleMachines();
  EXPECT_EQ(Matching("rbacGroupId ge 2", machines).size(), 3u);
  EXPECT_EQ(Matching("rbacGroupId eq '3'", machines), Names{"mymachine1.contoso.com"}) << "numeric string coerces";
  EXPECT_EQ(Matching("rbacGroupId lt 2.5", machines).size(), 3u);
  ExpectFilterError("rbacGroupId eq 'three'");
  ExpectFilterError("computerDnsName eq 5");
  ExpectFilterError("isAadJoined gt true");
  ExpectFilterError("rbacGroupId eq 99999999999999999999999");
  auto m = machines[0];
  m.Set("isAadJoined", true);
  auto f = ParseFilter("isAadJoined eq true and isAadJoined", Machines());
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_TRUE(Matches(**f, m, Machines()));
  EXPECT_FALSE(Matches(**f, machines[1], Machines()));
}

TEST(ODataFilter, GuidLiteral) {
  std::vector<json::Value> alerts = {
      Alert("8b3a2d10-1c1f-4e5c-9d3e-0a1b2c3d4e5f", "New", "High", "2019-11-21T00:00:00Z")};
  EXPECT_EQ(Matching("id eq 8b3a2d10-1c1f-4e5c-9d3e-0a1b2c3d4e5f", alerts, Alerts()).size(), 1u);
  EXPECT_EQ(Matching("id eq '8b3a2d10-1c1f-4e5c-9d3e-0a1b2c3d4e5f'", alerts, Alerts()).size(), 1u);
}

TEST(ODataFilter, Errors) {
  ExpectFilterError("");
  ExpectFilterError("   ");
  ExpectFilterError("computerDnsNam eq 'x'");
  ExpectFilterError("osBuild eq 5");  // not filterable
  ExpectFilterError("(computerDnsName eq 'x'");
  ExpectFilterError("computerDnsName eq 'x')");
  ExpectFilterError("((computerDnsName eq 'x')");
  ExpectFilterError("computerDnsName eq 'x");
  ExpectFilterError("computerDnsName eq 'x''");
  ExpectFilterError("computerDnsName eq");
  ExpectFilterError("computerDnsName 'x'");
  ExpectFilterError("computerDnsName");  // not boolean
  ExpectFilterError("computerDnsName eq 'x' and");
  ExpectFilterError("computerDnsName eq 'x' or or healthStatus eq 'y'");
  ExpectFilterError("foo(computerDnsName,'x')");
  ExpectFilterError("startswith(computerDnsName)");
  ExpectFilterError("startswith(rbacGroupId,'1')");
  ExpectFilterError("computerDnsName eq \"x\"");
  ExpectFilterError("computerDnsName eq 'x' ; drop table");
  ExpectFilterError("riskScore eq 'High' and 1");
  ExpectFilterError("lastIpAddress/foo eq 'x'");

  auto f = ParseFilter("nosuchProp eq 'x'", Machines());
  ASSERT_FALSE(f.has_value());
  EXPECT_NE(f.error().message().find("Invalid property 'nosuchProp'"), std::string::npos) << f.error().message();
}

TEST(ODataFilter, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '(');
  deep += "riskScore eq 'High'";
  deep += std::string(100000, ')');
  ExpectFilterError(deep);
  std::string nots;
  for (int i = 0; i < 50000; ++i) nots += "not ";
  ExpectFilterError(nots + "riskScore eq 'High'");
  // Within the limit it works.
  std::string ok(20, '(');
  ok += "riskScore eq 'High'";
  ok += std::string(20, ')');
  EXPECT_EQ(Matching(ok, SampleMachines()), Names{"mymachine1.contoso.com"});
  // Long flat chains are fine (n-ary and/or, no deep recursion).
  std::string chain = "riskScore eq 'High'";
  for (int i = 0; i < 2000; ++i) chain += " and rbacGroupId ne 99";
  EXPECT_EQ(Matching(chain, SampleMachines()), Names{"mymachine1.contoso.com"});
}

TEST(ODataFilter, GarbageBytesAreErrors) {
  const std::string inputs[] = {
      std::string("\x00\x01\x02", 3),
      "\xff\xfe",
      "riskScore eq '\xc3\x28'",
      "@@@@",
      "riskScore eq 'a' \x7f",
      "))))",
      "'",
      "''",
      "/any(",
      "machineTags/any(:",
      "1e999 eq rbacGroupId",
      "riskScore eq -",
      "9999-99-99",
  };
  for (const auto& in : inputs) ExpectFilterError(in);
  // A cheap fuzz: every prefix of a valid filter either parses or fails cleanly.
  const std::string full =
      "(machineTags/any(t: startswith(t,'P')) or status in ('a','b')) and not (lastSeen gt 2018-08-01Z)";
  for (size_t n = 0; n <= full.size(); ++n) (void)ParseFilter(full.substr(0, n), Machines());
  uint32_t seed = 12345;
  for (int i = 0; i < 2000; ++i) {
    std::string s = full;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1103515245 + 12345;
      s[(seed >> 8) % s.size()] = static_cast<char>(seed >> 16);
    }
    auto f = ParseFilter(s, Machines());
    if (f) (void)Matches(**f, SampleMachines()[0], Machines());
  }
}

// ---------------------------------------------------------------------------------------------
// Query strings

TEST(ODataQuery, PlusIsSpaceAndPercentDecoding) {
  auto q = ParseQuery("$filter=riskScore+eq+%27High%27+and+HealthStatus+eq+'Active'&$top=10", Machines());
  ASSERT_TRUE(q.has_value()) << q.error().message();
  ASSERT_TRUE(q->filter);
  EXPECT_EQ(q->top, 10);
  auto machines = SampleMachines();
  Apply(*q, Machines(), machines);
  ASSERT_EQ(machines.size(), 1u);
  EXPECT_EQ(machines[0].GetString("computerDnsName"), "mymachine1.contoso.com");

  auto dt = ParseQuery("$filter=lastSeen%20gt%202018-08-01T00:00:00%2B00:00", Machines());
  ASSERT_TRUE(dt.has_value()) << dt.error().message();
}

TEST(ODataQuery, Options) {
  auto q = ParseQuery(
      "api-version=1&$top=5&$skip=2&$count=true&$select=ID,computerDnsName&$expand=evidence&"
      "$orderby=lastSeen desc,computerDnsName",
      Machines());
  ASSERT_TRUE(q.has_value()) << q.error().message();
  EXPECT_EQ(q->top, 5);
  EXPECT_EQ(q->skip, 2);
  EXPECT_TRUE(q->count);
  EXPECT_EQ(q->select, (std::vector<std::string>{"id", "computerDnsName"}));
  EXPECT_EQ(q->expand, std::vector<std::string>{"evidence"});
  ASSERT_EQ(q->orderby.size(), 2u);
  EXPECT_EQ(q->orderby[0].property, "lastSeen");
  EXPECT_TRUE(q->orderby[0].descending);
  EXPECT_EQ(q->orderby[1].property, "computerDnsName");
  EXPECT_FALSE(q->orderby[1].descending);
  EXPECT_FALSE(q->filter);

  auto empty = ParseQuery("", Machines());
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(empty->top.has_value());
  EXPECT_EQ(empty->skip, 0);
  EXPECT_FALSE(empty->count);
}

TEST(ODataQuery, Errors) {
  auto bad = [](std::string_view raw, QueryLimits limits = {}) {
    auto q = ParseQuery(raw, Machines(), limits);
    EXPECT_FALSE(q.has_value()) << "accepted: " << raw;
    if (!q) {
      EXPECT_EQ(q.error().code(), StatusCode::kInvalidArgument);
    }
  };
  bad("$top=10001");
  bad("$top=-1");
  bad("$top=abc");
  bad("$top=");
  bad("$top=99999999999999999999999");
  bad("$top=5", QueryLimits{.max_top = 4});
  bad("$skip=-3");
  bad("$skip=1.5");
  bad("$count=maybe");
  bad("$top=1&$top=2");
  bad("$filter=riskScore eq 'High'&$filter=riskScore eq 'Low'");
  bad("$filter=");
  bad("$filter=nosuch eq 1");
  bad("$orderby=nosuch");
  bad("$orderby=lastSeen sideways");
  bad("$orderby=machineTags");  // not sortable
  bad("$orderby=lastSeen,");
  bad("$select=nosuch");
  bad("$select=id,,computerDnsName");
  bad("$search=foo");
  bad("$filter=riskScore%zzeq");
  bad("$filter=riskScore%2");
  bad("$filter=riskScore eq '%FF'");  // invalid UTF-8
  bad("$filter=" + std::string(9000, ' ') + "riskScore eq 'x'");
  bad(std::string(100000, 'a'));

  EXPECT_TRUE(ParseQuery("$top=10000", Machines()).has_value());
  EXPECT_TRUE(ParseQuery("$top=0&$skip=0&$count=false", Machines()).has_value());
  EXPECT_TRUE(ParseQuery("&&top=5&$skip=1&", Machines()).has_value());
  EXPECT_TRUE(ParseQuery("%24top=3", Machines()).has_value());
}

TEST(ODataApply, FilterOrderSkipTop) {
  std::vector<json::Value> machines = SampleMachines();
  machines.push_back(Machine("never-seen", "Active", "", {}, "High", 9));
  machines.back().Set("lastSeen", json::Value());

  auto q = ParseQuery("$orderby=lastSeen", Machines());
  ASSERT_TRUE(q.has_value());
  auto v = machines;
  Apply(*q, Machines(), v);
  std::vector<std::string> names;
  for (const auto& m : v) names.push_back(*m.GetString("computerDnsName"));
  EXPECT_EQ(names, (Names{"never-seen", "O'Brien-pc", "mymachine2.contoso.com", "other.contoso.com",
                          "mymachine1.contoso.com"}));

  q = ParseQuery("$filter=healthStatus eq 'Active'&$orderby=rbacGroupId desc&$skip=1&$top=2", Machines());
  ASSERT_TRUE(q.has_value());
  v = machines;
  Apply(*q, Machines(), v);
  names.clear();
  for (const auto& m : v) names.push_back(*m.GetString("computerDnsName"));
  // rbacGroupId desc: 9, 3, 2, 2 (stable: other before O'Brien); skip 1, take 2.
  EXPECT_EQ(names, (Names{"mymachine1.contoso.com", "other.contoso.com"}));

  q = ParseQuery("$orderby=rbacGroupId,computerDnsName desc", Machines());
  ASSERT_TRUE(q.has_value());
  v = machines;
  Apply(*q, Machines(), v);
  names.clear();
  for (const auto& m : v) names.push_back(*m.GetString("computerDnsName"));
  EXPECT_EQ(names, (Names{"mymachine2.contoso.com", "other.contoso.com", "O'Brien-pc", "mymachine1.contoso.com",
                          "never-seen"}));

  q = ParseQuery("$skip=100", Machines());
  v = machines;
  Apply(*q, Machines(), v);
  EXPECT_TRUE(v.empty());

  q = ParseQuery("$top=0", Machines());
  v = machines;
  Apply(*q, Machines(), v);
  EXPECT_TRUE(v.empty());
}

// ---------------------------------------------------------------------------------------------
// $filter against the real Machines entity set (api/entities.h) and MDE-shaped machine JSON

// Four machines rendered by MachineJson, as GET /api/machines answers them. `now` puts web-02 and
// O'Brien-pc more than 7 days in the past, so their healthStatus is Inactive.
constexpr int64_t kNowMs = 1574424000000;  // 2019-11-22T12:00:00Z

json::Value MdeMachine(std::string name, std::string last_seen, std::vector<std::string> tags, std::string risk,
                       int64_t group, std::string ip = "", std::string device_value = "Normal") {
  state::Machine m;
  m.id = name + "-id";
  m.computer_dns_name = name;
  m.os_platform = "Linux";
  m.os_build = 6;
  m.tags = std::move(tags);
  m.rbac_group_id = group;
  m.last_ip_address = std::move(ip);
  m.device_value = std::move(device_value);
  m.first_seen_ms = m.last_seen_ms = m.last_event_ms = *ParseDateTimeMs(last_seen);
  return api::MachineJson(m, {}, kNowMs, api::AlertDerived{risk, "Low"});
}

std::vector<json::Value> MdeMachines() {
  return {
      MdeMachine("web-01.contoso.com", "2019-11-22T10:00:00Z", {"Prod", "EU"}, "High", 3, "10.0.0.1", "High"),
      MdeMachine("web-02.contoso.com", "2018-07-30T00:00:00Z", {"Test"}, "Low", 1),
      MdeMachine("db-01.fabrikam.com", "2019-11-21T23:59:59.999Z", {}, "Medium", 2),
      MdeMachine("O'Brien-pc", "2018-08-01T00:00:00.001Z", {"prod"}, "None", 2),
  };
}

// The filter as a client puts it in a URL: '+' for spaces, so a literal '+' must be %2B.
std::string AsQuery(std::string_view filter) {
  std::string q = "$filter=";
  for (char c : filter) {
    if (c == '+') q += "%2B";
    else if (c == ' ') q += '+';
    else q += c;
  }
  return q;
}

TEST(ODataMachineFilter, Table) {
  const std::string w1 = "web-01.contoso.com", w2 = "web-02.contoso.com", db = "db-01.fabrikam.com", ob = "O'Brien-pc";
  struct Case {
    std::string filter;
    Names want;
  };
  const Case cases[] = {
      {"healthStatus eq 'Active'", {w1, db}},
      {"healthStatus ne 'Active'", {w2, ob}},
      {"rbacGroupId gt 2", {w1}},
      {"rbacGroupId ge 2", {w1, db, ob}},
      {"rbacGroupId lt 2", {w2}},
      {"rbacGroupId le 2", {w2, db, ob}},
      {"riskScore eq 'High'", {w1}},  // quoted enum
      {"riskScore eq 'high'", {}},     // enum values are case-sensitive
      {"HealthStatus eq 'Active'", {w1, db}},  // property names are not
      {"RISKSCORE eq 'Low'", {w2}},
      {"healthStatus eq 'Active' and riskScore eq 'Medium'", {db}},
      {"riskScore eq 'High' or riskScore eq 'Low'", {w1, w2}},
      {"not (healthStatus eq 'Active')", {w2, ob}},
      {"not healthStatus eq 'Active'", {w2, ob}},
      {"riskScore eq 'Low' or healthStatus eq 'Active' and rbacGroupId eq 2", {w2, db}},  // and binds tighter
      {"(riskScore eq 'Low' or healthStatus eq 'Active') and rbacGroupId eq 2", {db}},
      {"((rbacGroupId eq 1) or (rbacGroupId eq 3)) and not (riskScore eq 'Low')", {w1}},
      {"riskScore in ('High','None')", {w1, ob}},
      {"computerDnsName in ('web-02.contoso.com', 'nope')", {w2}},
      {"not (rbacGroupId in (1, 3))", {db, ob}},
      {"startswith(computerDnsName,'web-')", {w1, w2}},
      {"endswith(computerDnsName, '.fabrikam.com')", {db}},
      {"contains(computerDnsName,'Brien')", {ob}},
      {"startswith(tolower(computerDnsName),'o''brien')", {ob}},
      {"machineTags/any(t: t eq 'Prod')", {w1}},
      {"machineTags/any(t: t eq 'x')", {}},
      {"machineTags/any(tag: startswith(tag, 'p'))", {ob}},
      {"machineTags/any()", {w1, w2, ob}},
      {"lastSeen gt 2018-08-01Z", {w1, db, ob}},  // ob was seen 1 ms after midnight
      {"lastSeen lt 2018-08-01Z", {w2}},
      {"lastSeen ge 2019-11-22T00:00:00Z", {w1}},
      {"lastSeen le 2019-11-21T23:59:59.999Z", {w2, db, ob}},
      {"lastSeen gt 2019-11-22T11:00:00+02:00", {w1}},  // 09:00Z
      {"lastSeen ge '2019-11-22T00:00:00Z'", {w1}},
      {"osPlatform eq 'Linux' and deviceValue eq 'High'", {w1}},
      {"lastIpAddress eq '10.0.0.1'", {w1}},
      {"lastIpAddress eq null", {w2, db, ob}},
      {"aadDeviceId eq null and onboardingStatus eq 'Onboarded'", {w1, w2, db, ob}},
  };
  const std::vector<json::Value> machines = MdeMachines();
  for (const Case& c : cases) {
    EXPECT_EQ(Matching(c.filter, machines, api::MachineSchema()), c.want) << c.filter;
    // The same filter through the query string, with '+' as space.
    auto q = ParseQuery(AsQuery(c.filter), api::MachineSchema());
    ASSERT_TRUE(q.has_value()) << AsQuery(c.filter) << ": " << q.error().message();
    std::vector<json::Value> kept = machines;
    Apply(*q, api::MachineSchema(), kept);
    Names got;
    for (const json::Value& m : kept) got.push_back(*m.GetString("computerDnsName"));
    EXPECT_EQ(got, c.want) << AsQuery(c.filter);
  }
}

TEST(ODataMachineFilter, ErrorsNameTheOffendingPart) {
  struct Case {
    std::string query;
    std::string named;  // must appear in the message
  };
  const Case cases[] = {
      // Unknown and non-filterable properties.
      {"$filter=nosuchProperty eq 'x'", "nosuchProperty"},
      {"$filter=osBuild eq 6", "osBuild"},
      {"$filter=firstSeen gt 2019-01-01Z", "firstSeen"},
      {"$filter=isAadJoined eq false", "isAadJoined"},
      {"$filter=startswith(agentVersion,'1')", "agentVersion"},
      {"$filter=machineTags/any(t: t eq 'x') and osVersion eq '12'", "osVersion"},
      {"$filter=riskScore eq High", "High"},  // an unquoted enum is read as a property name
      // Literals of the wrong type.
      {"$filter=computerDnsName eq 5", "computerDnsName eq 5"},
      {"$filter=rbacGroupId eq 'three'", "rbacGroupId eq 'three'"},
      {"$filter=rbacGroupId eq 2019-11-22T00:00:00Z", "rbacGroupId"},
      {"$filter=lastSeen gt 'yesterday'", "lastSeen gt 'yesterday'"},
      {"$filter=lastSeen gt 42", "lastSeen gt 42"},
      {"$filter=healthStatus eq 2019-11-22T00:00:00Z", "healthStatus"},
      {"$filter=healthStatus eq true", "healthStatus"},
      {"$filter=machineTags/any(t: t eq 5)", "t eq 5"},
      {"$filter=rbacGroupId in (1, 'x')", "'x'"},
      {"$filter=startswith(rbacGroupId,'1')", "rbacGroupId"},
      {"$filter=lastSeen gt 2019-13-01", "2019-13-01"},
      // Paging limits and other options.
      {"$top=10001", "10001"},
      {"$orderby=machineTags", "machineTags"},
      {"$select=id,nosuch", "nosuch"},
      // Malformed expressions.
      {"$filter=(healthStatus eq 'Active'", "end of $filter"},
      {"$filter=healthStatus eq 'Active')", "')'"},
      {"$filter=healthStatus eq", "end of $filter"},
      {"$filter=healthStatus 'Active'", "'Active'"},
      {"$filter=healthStatus eq 'Active' and", "end of $filter"},
      {"$filter=healthStatus eq 'Active' or or riskScore eq 'High'", "'or'"},
      {"$filter=healthStatus eq 'Active", "Unterminated string"},
      {"$filter=foo(computerDnsName,'x')", "foo"},
      {"$filter=startswith(computerDnsName)", "startswith"},
      {"$filter=riskScore in ()", "')'"},
      {"$filter=computerDnsName", "boolean"},
      {"$filter=machineTags/every(t: t eq 'x')", "every"},
      {"$filter=healthStatus eq \"Active\"", "position"},
  };
  for (const Case& c : cases) {
    auto q = ParseQuery(c.query, api::MachineSchema());
    ASSERT_FALSE(q.has_value()) << "accepted: " << c.query;
    EXPECT_EQ(q.error().code(), StatusCode::kInvalidArgument) << c.query;
    EXPECT_NE(q.error().message().find(c.named), std::string::npos)
        << c.query << " -> " << q.error().message() << " (should name " << c.named << ")";
  }
}

// ---------------------------------------------------------------------------------------------
// Date/time helpers

TEST(ODataDateTime, ParseAndFormat) {
  EXPECT_EQ(ParseDateTimeMs("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDateTimeMs("1970-01-01"), 0);
  EXPECT_EQ(ParseDateTimeMs("2018-08-01Z"), 1533081600000);
  EXPECT_EQ(ParseDateTimeMs("2019-11-22T00:00:00Z"), 1574380800000);
  EXPECT_EQ(ParseDateTimeMs("2019-11-22T00:00:00.123Z"), 1574380800123);
  EXPECT_EQ(ParseDateTimeMs("2019-11-22T00:00:00.1234567Z"), 1574380800123);
  EXPECT_EQ(ParseDateTimeMs("2019-11-22T00:00:00.5Z"), 1574380800500);
  EXPECT_EQ(ParseDateTimeMs("2019-11-22T02:00:00+02:00"), 1574380800000);
  EXPECT_EQ(ParseDateTimeMs("2019-11-21T19:00:00-05:00"), 1574380800000);
  EXPECT_EQ(ParseDateTimeMs("2019-11-22T00:00Z"), 1574380800000);
  EXPECT_EQ(ParseDateTimeMs("2024-02-29T12:00:00Z"), 1709208000000);
  EXPECT_EQ(ParseDateTimeMs("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_FALSE(ParseDateTimeMs("2023-02-29"));
  EXPECT_FALSE(ParseDateTimeMs("2019-11-22T24:00:00Z"));
  EXPECT_FALSE(ParseDateTimeMs("2019-11-22T00:00:00."));
  EXPECT_FALSE(ParseDateTimeMs("2019-11-22T00:00:00Zjunk"));
  EXPECT_FALSE(ParseDateTimeMs("19-11-22"));
  EXPECT_FALSE(ParseDateTimeMs(""));

  EXPECT_EQ(FormatDateTimeMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatDateTimeMs(1574380800123), "2019-11-22T00:00:00.123Z");
  EXPECT_EQ(FormatDateTimeMs(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatDateTimeMs(1709208000000), "2024-02-29T12:00:00.000Z");
  for (int64_t ms : {int64_t{0}, int64_t{951782400000}, int64_t{4102444799999}, int64_t{-86400001}, int64_t{1}}) {
    EXPECT_EQ(ParseDateTimeMs(FormatDateTimeMs(ms)), ms) << ms;
  }
  // Out-of-range values clamp instead of producing a malformed string.
  EXPECT_EQ(FormatDateTimeMs(INT64_MAX), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatDateTimeMs(INT64_MIN), "0000-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace ward::odata
