#include "api/metadata.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/entities.h"
#include "json/json.h"

namespace ward::api {
namespace {

using odata::PropertyType;

// Checks that every start tag has its end tag, in order; returns the first problem or "".
std::string XmlNestingProblem(std::string_view xml) {
  std::vector<std::string> open;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    const size_t end = xml.find('>', pos);
    if (end == std::string_view::npos) return "unterminated tag at " + std::to_string(pos);
    std::string_view tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.starts_with("?")) continue;
    if (tag.starts_with("/")) {
      if (open.empty() || open.back() != tag.substr(1)) return "unexpected </" + std::string(tag.substr(1)) + ">";
      open.pop_back();
      continue;
    }
    if (tag.ends_with("/")) continue;
    open.emplace_back(tag.substr(0, tag.find(' ')));
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

size_t Count(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string_view::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

const odata::EntitySchema& Widgets() {
  static const odata::EntitySchema s{"Widgets",
                                     {{"id", PropertyType::kString},
                                      {"size", PropertyType::kInt},
                                      {"score", PropertyType::kDouble},
                                      {"isRound", PropertyType::kBool},
                                      {"madeAt", PropertyType::kDateTime, false},
                                      {"labels", PropertyType::kStringCollection, true, false},
                                      {"a<b&\"c\"", PropertyType::kString}}};
  return s;
}

// A stats shape without an id.
const odata::EntitySchema& DomainStats() {
  static const odata::EntitySchema s{"DomainStatistics",
                                     {{"host", PropertyType::kString}, {"organizationPrevalence", PropertyType::kInt}}};
  return s;
}

TEST(Metadata, EntityTypeNames) {
  EXPECT_EQ(EntityTypeName("Machines"), "Machine");
  EXPECT_EQ(EntityTypeName("MachineActions"), "MachineAction");
  EXPECT_EQ(EntityTypeName("Ips"), "Ip");
  EXPECT_EQ(EntityTypeName("Vulnerabilities"), "Vulnerability");
  EXPECT_EQ(EntityTypeName("Software"), "Software");
  EXPECT_EQ(EntityTypeName("Access"), "Access");
}

TEST(Metadata, CsdlMapsTypesKeysAndSets) {
  const std::string xml = CsdlDocument({&Widgets(), &DomainStats()});
  EXPECT_EQ(XmlNestingProblem(xml), "") << xml;
  EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
  EXPECT_NE(xml.find("<Schema Namespace=\"microsoft.windowsDefenderATP.api\""), std::string::npos);
  EXPECT_NE(xml.find("<EntityType Name=\"Widget\" OpenType=\"true\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Key><PropertyRef Name=\"id\"/></Key>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"id\" Type=\"Edm.String\" Nullable=\"false\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"size\" Type=\"Edm.Int64\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"score\" Type=\"Edm.Double\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"isRound\" Type=\"Edm.Boolean\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"madeAt\" Type=\"Edm.DateTimeOffset\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"labels\" Type=\"Collection(Edm.String)\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"a&lt;b&amp;&quot;c&quot;\" Type=\"Edm.String\"/>"), std::string::npos);
  // Without an id the first property is the key.
  EXPECT_NE(xml.find("<EntityType Name=\"DomainStatistic\" OpenType=\"true\">\n        <Key><PropertyRef "
                     "Name=\"host\"/></Key>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<Property Name=\"host\" Type=\"Edm.String\" Nullable=\"false\"/>"), std::string::npos);
  EXPECT_EQ(Count(xml, "<EntityContainer "), 1u);
  EXPECT_NE(xml.find("<EntitySet Name=\"Widgets\" EntityType=\"microsoft.windowsDefenderATP.api.Widget\"/>"),
            std::string::npos);
  EXPECT_NE(xml.find("<EntitySet Name=\"DomainStatistics\" "
                     "EntityType=\"microsoft.windowsDefenderATP.api.DomainStatistic\"/>"),
            std::string::npos);
}

TEST(Metadata, CsdlOfTheRealEntitySets) {
  const std::string xml = CsdlDocument(AllEntitySchemas());
  EXPECT_EQ(XmlNestingProblem(xml), "");
  EXPECT_EQ(Count(xml, "<EntitySet "), AllEntitySchemas().size());
  EXPECT_EQ(Count(xml, "<EntityType "), AllEntitySchemas().size());
  size_t properties = 0;
  for (const odata::EntitySchema* s : AllEntitySchemas()) {
    properties += s->properties.size();
    EXPECT_NE(xml.find("<EntitySet Name=\"" + s->entity_set + "\""), std::string::npos) << s->entity_set;
  }
  EXPECT_EQ(Count(xml, "<Property "), properties);
  for (const char* set : {"Machines", "Alerts", "MachineActions", "Indicators"}) {
    EXPECT_NE(xml.find("<EntitySet Name=\"" + std::string(set) + "\""), std::string::npos) << set;
  }
  EXPECT_NE(xml.find("<Property Name=\"lastSeen\" Type=\"Edm.DateTimeOffset\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"machineTags\" Type=\"Collection(Edm.String)\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"rbacGroupId\" Type=\"Edm.Int64\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<Property Name=\"generateAlert\" Type=\"Edm.Boolean\"/>"), std::string::npos);
}

TEST(Metadata, ServiceDocumentListsEverySet) {
  auto doc = json::Value::Parse(ServiceDocument({&Widgets(), &DomainStats()}, "https://ward.test:8443"));
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->GetString("@odata.context"), "https://ward.test:8443/api/$metadata");
  const auto& sets = doc->Find("value")->items();
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].GetString("name"), "Widgets");
  EXPECT_EQ(sets[0].GetString("kind"), "EntitySet");
  EXPECT_EQ(sets[1].GetString("url"), "DomainStatistics");
}

std::vector<ApiRoute> SampleRoutes() {
  return {
      {"GET", "/api/widgets", {}, true},
      {"GET", "/api/widgets/{id}", {"id"}, true},
      {"PATCH", "/api/widgets/{id}", {"id"}, true},
      {"POST", "/api/widgets/{id}/polish", {"id"}, true},
      {"GET", "/api/Widgets/{id}/", {"id"}, true},  // the router answers it with the first GET
      {"GET", "/api/widgets/{id}/widgets/$count", {"id"}, true},
      {"GET", "/api/gadgets/findbyname({name})/widget", {"name"}, true},
      {"POST", "/{tenant}/oauth2/v2.0/token", {"tenant"}, false},
      {"GET", "/api/$metadata", {}, true},
      {"DELETE", "/api/a-b", {}, true},
      {"DELETE", "/api/a_b", {}, true},
  };
}

Result<json::Value> SampleOpenApi(std::string tenant = "t-1") {
  return json::Value::Parse(OpenApiDocument(SampleRoutes(), {&Widgets(), &DomainStats()},
                                            {"https://ward.test:8443", std::move(tenant)}));
}

const json::Value& At(const json::Value& v, std::initializer_list<std::string_view> path) {
  static const json::Value kNull;
  const json::Value* cur = &v;
  for (std::string_view key : path) {
    cur = cur->Find(key);
    if (cur == nullptr) return kNull;
  }
  return *cur;
}

std::vector<std::string> ParameterNames(const json::Value& op, std::string_view in) {
  std::vector<std::string> names;
  for (const json::Value& p : At(op, {"parameters"}).items()) {
    if (p.GetString("in") == in) names.push_back(*p.GetString("name"));
  }
  return names;
}

TEST(OpenApi, PathsOperationsAndParameters) {
  auto doc = SampleOpenApi();
  ASSERT_TRUE(doc.has_value()) << doc.error().message();
  EXPECT_EQ(doc->GetString("openapi"), "3.0.3");
  EXPECT_EQ(At(*doc, {"servers"}).items().at(0).GetString("url"), "https://ward.test:8443");
  const json::Value& paths = At(*doc, {"paths"});
  std::vector<std::string> keys;
  for (const json::Member& m : paths.members()) keys.push_back(m.key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "/api/widgets", "/api/widgets/{id}", "/api/widgets/{id}/polish",
                      "/api/widgets/{id}/widgets/$count", "/api/gadgets/findbyname({name})/widget",
                      "/{tenant}/oauth2/v2.0/token", "/api/$metadata", "/api/a-b", "/api/a_b"}));
  // One path item, two methods; the case-variant duplicate GET is not described twice.
  const json::Value& item = paths.members()[1].value;
  ASSERT_EQ(item.members().size(), 2u);
  EXPECT_EQ(item.members()[0].key, "get");
  EXPECT_EQ(item.members()[1].key, "patch");
  const json::Value& get = item.members()[0].value;
  EXPECT_EQ(ParameterNames(get, "path"), std::vector<std::string>{"id"});
  const json::Value& id = At(get, {"parameters"}).items()[0];
  EXPECT_EQ(id.GetBool("required"), true);
  EXPECT_EQ(At(id, {"schema", "type"}).as_string(), "string");
  EXPECT_EQ(ParameterNames(At(paths, {"/api/gadgets/findbyname({name})/widget", "get"}), "path"),
            std::vector<std::string>{"name"});
  EXPECT_EQ(ParameterNames(At(paths, {"/{tenant}/oauth2/v2.0/token", "post"}), "path"),
            std::vector<std::string>{"tenant"});
  // Operation ids are unique even when two patterns sanitise alike.
  const std::string a = *At(paths, {"/api/a-b", "delete"}).GetString("operationId");
  const std::string b = *At(paths, {"/api/a_b", "delete"}).GetString("operationId");
  EXPECT_EQ(a, "delete_api_a_b");
  EXPECT_NE(a, b);
  EXPECT_EQ(At(get, {"operationId"}).as_string(), "get_api_widgets_id");
}

TEST(OpenApi, EntitySetShapes) {
  auto doc = SampleOpenApi();
  ASSERT_TRUE(doc.has_value());
  const json::Value& paths = At(*doc, {"paths"});
  const json::Value& list = At(paths, {"/api/widgets", "get"});
  EXPECT_EQ(ParameterNames(list, "query"),
            (std::vector<std::string>{"$filter", "$top", "$skip", "$orderby", "$select", "$count"}));
  for (const json::Value& p : At(list, {"parameters"}).items()) {
    if (p.GetString("name") == "$top") {
      EXPECT_EQ(At(p, {"schema", "maximum"}).as_int(), 10000);
    }
    // Filterable and sortable properties come from the schema's marks.
    if (p.GetString("name") == "$filter") {
      EXPECT_NE(p.GetString("description")->find("labels"), std::string::npos);
      EXPECT_EQ(p.GetString("description")->find("madeAt"), std::string::npos);
    }
    if (p.GetString("name") == "$orderby") {
      EXPECT_EQ(p.GetString("description")->find("labels"), std::string::npos);
    }
  }
  const json::Value& page = At(list, {"responses", "200", "content", "application/json", "schema"});
  EXPECT_EQ(At(page, {"properties", "value", "items", "$ref"}).as_string(), "#/components/schemas/Widget");
  EXPECT_TRUE(At(page, {"properties", "@odata.nextLink"}).is_object());

  const json::Value& one = At(paths, {"/api/widgets/{id}", "get"});
  EXPECT_EQ(At(one, {"responses", "200", "content", "application/json", "schema", "$ref"}).as_string(),
            "#/components/schemas/Widget");
  EXPECT_EQ(ParameterNames(one, "query"), std::vector<std::string>{});
  EXPECT_EQ(At(paths, {"/api/widgets/{id}", "patch", "summary"}).as_string(), "Update a Widget");
  // ".../widget" (singular) is one entity.
  EXPECT_EQ(At(paths, {"/api/gadgets/findbyname({name})/widget", "get", "responses", "200", "content",
                       "application/json", "schema", "$ref"})
                .as_string(),
            "#/components/schemas/Widget");

  const json::Value& count = At(paths, {"/api/widgets/{id}/widgets/$count", "get"});
  EXPECT_EQ(At(count, {"responses", "200", "content", "text/plain", "schema", "type"}).as_string(), "integer");
  EXPECT_EQ(ParameterNames(count, "query"), std::vector<std::string>{"$filter"});

  const json::Value& action = At(paths, {"/api/widgets/{id}/polish", "post"});
  EXPECT_EQ(At(action, {"responses", "2XX", "description"}).as_string(), "Success");
  EXPECT_EQ(At(action, {"summary"}).as_string(), "POST /api/widgets/{id}/polish");
}

TEST(OpenApi, SecurityAndComponents) {
  auto doc = SampleOpenApi();
  ASSERT_TRUE(doc.has_value());
  const json::Value& paths = At(*doc, {"paths"});
  const json::Value& bearer = At(paths, {"/api/widgets", "get", "security"});
  ASSERT_EQ(bearer.items().size(), 1u);
  EXPECT_TRUE(bearer.items()[0].Find("oauth2") != nullptr);
  EXPECT_EQ(At(paths, {"/api/widgets", "get", "responses", "default", "$ref"}).as_string(),
            "#/components/responses/Error");
  EXPECT_TRUE(At(paths, {"/{tenant}/oauth2/v2.0/token", "post", "security"}).items().empty());
  EXPECT_TRUE(At(paths, {"/{tenant}/oauth2/v2.0/token", "post", "responses", "default"}).is_null());

  const json::Value& scheme = At(*doc, {"components", "securitySchemes", "oauth2"});
  EXPECT_EQ(scheme.GetString("type"), "oauth2");
  const json::Value& flow = At(scheme, {"flows", "clientCredentials"});
  EXPECT_EQ(flow.GetString("tokenUrl"), "https://ward.test:8443/t-1/oauth2/v2.0/token");
  EXPECT_TRUE(flow.Find("scopes")->Find("https://api.securitycenter.microsoft.com/.default") != nullptr);
  auto placeholder = SampleOpenApi("");
  ASSERT_TRUE(placeholder.has_value());
  EXPECT_EQ(At(*placeholder, {"components", "securitySchemes", "oauth2", "flows", "clientCredentials", "tokenUrl"})
                .as_string(),
            "https://ward.test:8443/{tenantId}/oauth2/v2.0/token");

  const json::Value& widget = At(*doc, {"components", "schemas", "Widget"});
  EXPECT_EQ(At(widget, {"required"}).items().at(0).as_string(), "id");
  EXPECT_EQ(At(widget, {"properties", "id", "nullable"}).is_null(), true);
  EXPECT_EQ(At(widget, {"properties", "size", "format"}).as_string(), "int64");
  EXPECT_EQ(At(widget, {"properties", "score", "type"}).as_string(), "number");
  EXPECT_EQ(At(widget, {"properties", "isRound", "type"}).as_string(), "boolean");
  EXPECT_EQ(At(widget, {"properties", "madeAt", "format"}).as_string(), "date-time");
  EXPECT_EQ(At(widget, {"properties", "madeAt", "nullable"}).as_bool(), true);
  EXPECT_EQ(At(widget, {"properties", "labels", "items", "type"}).as_string(), "string");
  EXPECT_EQ(At(widget, {"properties"}).members().size(), Widgets().properties.size());
  EXPECT_EQ(At(*doc, {"components", "schemas", "DomainStatistic", "required"}).items().at(0).as_string(), "host");
  EXPECT_TRUE(At(*doc, {"components", "schemas", "ErrorResponse", "properties", "error"}).is_object());
}

TEST(OpenApi, RealEntitySchemas) {
  const std::vector<ApiRoute> routes = {{"GET", "/api/machines", {}, true},
                                        {"GET", "/api/machines/{id}", {"id"}, true}};
  auto doc = json::Value::Parse(OpenApiDocument(routes, AllEntitySchemas(), {"http://127.0.0.1:1", "t"}));
  ASSERT_TRUE(doc.has_value());
  for (const odata::EntitySchema* s : AllEntitySchemas()) {
    const json::Value& schema = At(*doc, {"components", "schemas", EntityTypeName(s->entity_set), "properties"});
    EXPECT_EQ(schema.members().size(), s->properties.size()) << s->entity_set;
  }
  EXPECT_EQ(At(*doc, {"paths", "/api/machines/{id}", "get", "responses", "200", "content", "application/json",
                      "schema", "$ref"})
                .as_string(),
            "#/components/schemas/Machine");
}

}  // namespace
}  // namespace ward::api
