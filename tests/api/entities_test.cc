// MDE entity renderers against the golden property lists (tests/e2e/golden/mde_shapes.json, shared
// with the end-to-end tests): every documented property present, with its JSON type, and nothing else.
#include "api/entities.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace ward::api {
namespace {

json::Value Golden(const std::string& entity) {
  std::ifstream f(std::string(WARD_SOURCE_DIR) + "/tests/e2e/golden/mde_shapes.json");
  std::stringstream text;
  text << f.rdbuf();
  auto v = json::Value::Parse(text.str());
  EXPECT_TRUE(v) << "golden file unreadable";
  const json::Value* e = v ? v->Find(entity) : nullptr;
  EXPECT_NE(e, nullptr) << entity;
  return e ? *e : json::Value::Object();
}

bool IsDateTime(const std::string& s) {
  return s.size() >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s.back() == 'Z';
}

void ExpectShape(const std::string& entity, const json::Value& obj) {
  json::Value spec = Golden(entity);
  std::set<std::string> documented;
  for (const auto& [prop, kind_value] : spec.members()) {
    documented.insert(prop);
    std::string kind = kind_value.as_string();
    const json::Value* v = obj.Find(prop);
    ASSERT_NE(v, nullptr) << entity << " lacks " << prop;
    bool nullable = kind.back() == '?';
    if (nullable) kind.pop_back();
    if (v->is_null()) {
      EXPECT_TRUE(nullable) << entity << "." << prop << " may not be null";
      continue;
    }
    if (kind == "string") EXPECT_TRUE(v->is_string()) << entity << "." << prop;
    else if (kind == "integer") EXPECT_TRUE(v->is_number()) << entity << "." << prop;
    else if (kind == "boolean") EXPECT_TRUE(v->is_bool()) << entity << "." << prop;
    else if (kind == "array") EXPECT_TRUE(v->is_array()) << entity << "." << prop;
    else if (kind == "object") EXPECT_TRUE(v->is_object()) << entity << "." << prop;
    else if (kind == "datetime") EXPECT_TRUE(v->is_string() && IsDateTime(v->as_string())) << entity << "." << prop;
    else if (kind.starts_with("enum:")) {
      ASSERT_TRUE(v->is_string()) << entity << "." << prop;
      EXPECT_NE((kind.substr(5) + ",").find(v->as_string() + ","), std::string::npos) << entity << "." << prop << "=" << v->as_string();
    } else {
      ADD_FAILURE() << "unknown kind " << kind;
    }
  }
  for (const auto& [prop, value] : obj.members()) EXPECT_TRUE(documented.count(prop)) << entity << " has undocumented " << prop;
}

TEST(EntitiesTest, MachineActionShape) {
  state::MachineAction a;
  a.tenant_id = "t";
  a.id = "1f0c1c2e-4a6b-4c8d-9e0f-112233445566";
  a.type = "Isolate";
  a.scope = "Full";
  a.requestor = "analyst@corp.example";
  a.requestor_comment = "contain";
  a.machine_id = std::string(40, 'a');
  a.computer_dns_name = "web01";
  a.creation_ms = a.last_update_ms = 1'700'000'000'000;
  ExpectShape("MachineAction", MachineActionJson(a));
  a.type = "StopAndQuarantineFile";
  a.related_file_identifier = std::string(40, 'b');
  a.related_file_identifier_type = "Sha1";
  a.status = "Cancelled";
  a.cancellation_ms = 1'700'000'100'000;
  a.commands_json = R"([{"index":0,"commandStatus":"Completed"}])";
  json::Value v = MachineActionJson(a);
  ExpectShape("MachineAction", v);
  EXPECT_EQ(v.Find("relatedFileInfo")->Find("fileIdentifierType")->as_string(), "Sha1");
  EXPECT_EQ(v.Find("commands")->items().size(), 1u);
}

TEST(EntitiesTest, IndicatorShape) {
  state::Indicator i;
  i.id = "42";
  i.indicator_value = std::string(40, 'c');
  i.indicator_type = "FileSha1";
  i.action = "Block";
  i.title = "bad";
  i.description = "known bad";
  i.severity = "High";
  i.rbac_group_names = {"Linux prod"};
  i.rbac_group_ids = {"3"};
  i.creation_ms = 1'700'000'000'000;
  ExpectShape("Indicator", IndicatorJson(i));
}

TEST(EntitiesTest, AlertAndEvidenceShape) {
  state::Alert a;
  a.tenant_id = "t";
  a.id = "da638000000000000000_1234567890";
  a.title = "x";
  a.description = "y";
  a.category = "Execution";
  a.alert_creation_ms = 1'700'000'000'000;
  state::AlertEvidence e;
  e.entity_type = "Process";
  e.process_id = 7;
  a.evidence.push_back(e);
  json::Value v = AlertJson(a, "", true);
  ExpectShape("Alert", v);
  ASSERT_EQ(v.Find("evidence")->items().size(), 1u);
  ExpectShape("AlertEvidence", v.Find("evidence")->items()[0]);
  EXPECT_TRUE(AlertJson(a, "", false).Find("evidence")->items().empty());
}

TEST(EntitiesTest, RiskFollowsOpenAlerts) {
  CallerView view;
  state::Alert low, high;
  low.machine_id = high.machine_id = "m";
  low.severity = "Low";
  high.severity = "High";
  high.status = "Resolved";
  view.alerts = {low, high};
  EXPECT_EQ(view.DerivedFor("m").risk_score, "Low");
  EXPECT_EQ(view.DerivedFor("m").exposure_level, "Low");
  view.alerts[1].status = "InProgress";
  EXPECT_EQ(view.DerivedFor("m").risk_score, "High");
  EXPECT_EQ(view.DerivedFor("other").risk_score, "None");
}

}  // namespace
}  // namespace ward::api
