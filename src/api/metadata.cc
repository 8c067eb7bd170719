#include "api/metadata.h"

#include <optional>
#include <set>
#include <unordered_map>

#include "common/markup.h"
#include "common/version.h"
#include "identity/token_service.h"
#include "json/json.h"

namespace ward::api {
namespace {

using odata::PropertyType;
using state::LowerAscii;

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

const char* EdmType(PropertyType t) {
  switch (t) {
    case PropertyType::kString: return "Edm.String";
    case PropertyType::kInt: return "Edm.Int64";
    case PropertyType::kDouble: return "Edm.Double";
    case PropertyType::kBool: return "Edm.Boolean";
    case PropertyType::kDateTime: return "Edm.DateTimeOffset";
    case PropertyType::kStringCollection: return "Collection(Edm.String)";
  }
  return "Edm.String";
}

// CSDL requires a key on every entity type; stats shapes without an id are keyed by their first
// property (sha1, ipAddress, host), which is what identifies them in MDE.
const odata::Property* KeyOf(const odata::EntitySchema& s) {
  if (const odata::Property* id = s.Find("id")) return id;
  return s.properties.empty() ? nullptr : &s.properties.front();
}

std::string ComponentRef(std::string_view entity_set) { return "#/components/schemas/" + EntityTypeName(entity_set); }

void WritePropertySchema(json::Writer& w, const odata::Property& p, bool nullable) {
  w.StartObject();
  switch (p.type) {
    case PropertyType::kString: w.KV("type", "string"); break;
    case PropertyType::kInt: w.KV("type", "integer").KV("format", "int64"); break;
    case PropertyType::kDouble: w.KV("type", "number").KV("format", "double"); break;
    case PropertyType::kBool: w.KV("type", "boolean"); break;
    case PropertyType::kDateTime: w.KV("type", "string").KV("format", "date-time"); break;
    case PropertyType::kStringCollection:
      w.KV("type", "array").Key("items").StartObject().KV("type", "string").EndObject();
      nullable = false;  // MDE answers [] rather than null
      break;
  }
  if (nullable) w.KV("nullable", true);
  w.EndObject();
}

// Splits a pattern into its segments, ignoring leading and trailing slashes like the router does.
std::vector<std::string_view> Segments(std::string_view pattern) {
  std::vector<std::string_view> out;
  while (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
  while (!pattern.empty() && pattern.back() == '/') pattern.remove_suffix(1);
  while (!pattern.empty()) {
    size_t slash = pattern.find('/');
    out.push_back(pattern.substr(0, slash));
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
  }
  return out;
}

bool IsLiteral(std::string_view segment) { return segment.find('{') == std::string_view::npos; }

// What a route answers, read from its pattern: ".../machines" lists the Machines set,
// ".../machines/{id}" (or ".../machine") is one Machine, ".../alerts/$count" counts Alerts.
struct Shape {
  enum class Kind { kOther, kCollection, kEntity, kCount } kind = Kind::kOther;
  const odata::EntitySchema* schema = nullptr;
};

// The schema whose entity-set name (by_type: entity-type name) is `segment`, ignoring case.
const odata::EntitySchema* SchemaNamed(std::string_view segment, const std::vector<const odata::EntitySchema*>& schemas,
                                       bool by_type) {
  const std::string want = LowerAscii(segment);
  for (const odata::EntitySchema* s : schemas) {
    if (LowerAscii(by_type ? EntityTypeName(s->entity_set) : s->entity_set) == want) return s;
  }
  return nullptr;
}

Shape ShapeOf(const ApiRoute& route, const std::vector<const odata::EntitySchema*>& schemas) {
  Shape shape;
  const std::vector<std::string_view> segs = Segments(route.pattern);
  // OData shapes are the MDE API's (/api/...): /siem/api/alerts, say, answers a bare array.
  if (segs.empty() || LowerAscii(segs[0]) != "api") return shape;
  const std::string_view last = segs.back();
  const std::string_view before = segs.size() >= 2 ? segs[segs.size() - 2] : std::string_view();
  const bool get = route.method == "GET";
  if (get && LowerAscii(last) == "$count" && IsLiteral(before)) {
    shape.schema = SchemaNamed(before, schemas, false);
    if (shape.schema) shape.kind = Shape::Kind::kCount;
    return shape;
  }
  const bool entity_method = get || route.method == "PATCH";
  if (IsLiteral(last)) {
    if (get && (shape.schema = SchemaNamed(last, schemas, false))) {
      shape.kind = Shape::Kind::kCollection;
    } else if (entity_method && (shape.schema = SchemaNamed(last, schemas, true))) {
      shape.kind = Shape::Kind::kEntity;
    }
    return shape;
  }
  // A bare "{id}" after the set's name.
  if (entity_method && last.front() == '{' && last.back() == '}' && IsLiteral(before) &&
      (shape.schema = SchemaNamed(before, schemas, false))) {
    shape.kind = Shape::Kind::kEntity;
  }
  return shape;
}

std::string OperationId(const ApiRoute& route, std::set<std::string>& taken) {
  std::string id = LowerAscii(route.method);
  bool sep = true;
  for (char c : route.pattern) {
    if (IsAlnum(c)) {
      if (sep) id.push_back('_');
      id.push_back(c);
      sep = false;
    } else {
      sep = true;
    }
  }
  std::string unique = id;
  for (int n = 2; !taken.insert(unique).second; ++n) unique = id + "_" + std::to_string(n);
  return unique;
}

std::string TagOf(std::string_view pattern) {
  for (std::string_view seg : Segments(pattern)) {
    if (IsLiteral(seg) && LowerAscii(seg) != "api") return LowerAscii(seg);
  }
  return "api";
}

std::string PropertyList(const odata::EntitySchema& s, bool (*keep)(const odata::Property&)) {
  std::string out;
  for (const odata::Property& p : s.properties) {
    if (!keep(p)) continue;
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

void WriteQueryParameter(json::Writer& w, std::string_view name, std::string_view description,
                         std::string_view type, std::optional<int64_t> maximum = std::nullopt) {
  w.StartObject().KV("name", name).KV("in", "query").KV("required", false).KV("description", description);
  w.Key("schema").StartObject().KV("type", type);
  if (type == "integer") w.KV("minimum", int64_t{0});
  if (maximum) w.KV("maximum", *maximum);
  w.EndObject().EndObject();
}

void WriteODataParameters(json::Writer& w, const odata::EntitySchema& s, bool count_segment) {
  const std::string filterable = PropertyList(s, [](const odata::Property& p) { return p.filterable; });
  WriteQueryParameter(w, "$filter", "OData filter over: " + filterable, "string");
  if (count_segment) return;
  const std::string sortable = PropertyList(s, [](const odata::Property& p) {
    return p.sortable && p.type != PropertyType::kStringCollection;
  });
  WriteQueryParameter(w, "$top", "Page size", "integer", odata::QueryLimits{}.max_top);
  WriteQueryParameter(w, "$skip", "Entities to skip", "integer");
  WriteQueryParameter(w, "$orderby", "Comma-separated, each optionally 'desc', over: " + sortable, "string");
  WriteQueryParameter(w, "$select", "Comma-separated properties to return", "string");
  WriteQueryParameter(w, "$count", "Adds @odata.count, the number of matching entities", "boolean");
}

void WriteJsonContent(json::Writer& w, const std::string& ref) {
  w.Key("content").StartObject().Key("application/json").StartObject();
  w.Key("schema").StartObject().KV("$ref", ref).EndObject();
  w.EndObject().EndObject();
}

void WriteSuccess(json::Writer& w, const ApiRoute& route, const Shape& shape) {
  const std::string set = shape.schema ? shape.schema->entity_set : std::string();
  switch (shape.kind) {
    case Shape::Kind::kCollection:
      w.Key("200").StartObject().KV("description", "A page of " + set);
      w.Key("content").StartObject().Key("application/json").StartObject().Key("schema").StartObject();
      w.KV("type", "object").Key("properties").StartObject();
      w.Key("@odata.context").StartObject().KV("type", "string").EndObject();
      w.Key("@odata.count").StartObject().KV("type", "integer").KV("format", "int64").EndObject();
      w.Key("@odata.nextLink").StartObject().KV("type", "string").EndObject();
      w.Key("value").StartObject().KV("type", "array");
      w.Key("items").StartObject().KV("$ref", ComponentRef(set)).EndObject().EndObject();
      w.EndObject().EndObject().EndObject().EndObject().EndObject();
      return;
    case Shape::Kind::kEntity:
      w.Key("200").StartObject().KV("description", "The " + EntityTypeName(set));
      WriteJsonContent(w, ComponentRef(set));
      w.EndObject();
      return;
    case Shape::Kind::kCount:
      w.Key("200").StartObject().KV("description", "The number of matching " + set);
      w.Key("content").StartObject().Key("text/plain").StartObject();
      w.Key("schema").StartObject().KV("type", "integer").KV("format", "int64").EndObject();
      w.EndObject().EndObject().EndObject();
      return;
    case Shape::Kind::kOther: break;
  }
  w.Key(route.method == "GET" ? "200" : "2XX").StartObject().KV("description", "Success").EndObject();
}

std::string Summary(const ApiRoute& route, const Shape& shape) {
  const std::string set = shape.schema ? shape.schema->entity_set : std::string();
  switch (shape.kind) {
    case Shape::Kind::kCollection: return "List " + set;
    case Shape::Kind::kEntity: return (route.method == "GET" ? "Get a " : "Update a ") + EntityTypeName(set);
    case Shape::Kind::kCount: return "Count " + set;
    case Shape::Kind::kOther: break;
  }
  return route.method + " " + route.pattern;
}

void WriteOperation(json::Writer& w, const ApiRoute& route, const std::vector<const odata::EntitySchema*>& schemas,
                    std::set<std::string>& operation_ids) {
  const Shape shape = ShapeOf(route, schemas);
  w.Key(LowerAscii(route.method)).StartObject();
  w.KV("operationId", OperationId(route, operation_ids));
  w.KV("summary", Summary(route, shape));
  w.Key("tags").StartArray().String(TagOf(route.pattern)).EndArray();
  w.Key("parameters").StartArray();
  for (const std::string& capture : route.captures) {
    w.StartObject().KV("name", capture).KV("in", "path").KV("required", true);
    w.Key("schema").StartObject().KV("type", "string").EndObject().EndObject();
  }
  if (shape.kind == Shape::Kind::kCollection || shape.kind == Shape::Kind::kCount) {
    WriteODataParameters(w, *shape.schema, shape.kind == Shape::Kind::kCount);
  }
  w.EndArray();
  w.Key("responses").StartObject();
  WriteSuccess(w, route, shape);
  if (route.bearer) w.Key("default").StartObject().KV("$ref", "#/components/responses/Error").EndObject();
  w.EndObject();
  // An empty list overrides nothing at the top level but states that no token is needed.
  w.Key("security").StartArray();
  if (route.bearer) w.StartObject().Key("oauth2").StartArray().EndArray().EndObject();
  w.EndArray();
  w.EndObject();
}

void WriteComponents(json::Writer& w, const std::vector<const odata::EntitySchema*>& schemas,
                     const OpenApiOptions& options) {
  w.Key("components").StartObject();
  w.Key("securitySchemes").StartObject().Key("oauth2").StartObject();
  w.KV("type", "oauth2");
  w.KV("description", "Azure AD-shaped client credentials: application permissions arrive in the token's roles");
  w.Key("flows").StartObject().Key("clientCredentials").StartObject();
  const std::string tenant = options.tenant_id.empty() ? "{tenantId}" : options.tenant_id;
  w.KV("tokenUrl", options.server_url + "/" + tenant + "/oauth2/v2.0/token");
  w.Key("scopes").StartObject();
  for (std::string_view resource : identity::kMdeResources) {
    w.KV(std::string(resource) + "/.default", "The application permissions granted to the client");
  }
  w.EndObject().EndObject().EndObject().EndObject().EndObject();

  w.Key("responses").StartObject().Key("Error").StartObject();
  w.KV("description", "An error in MDE's envelope; target is the request id");
  WriteJsonContent(w, "#/components/schemas/ErrorResponse");
  w.EndObject().EndObject();

  w.Key("schemas").StartObject();
  for (const odata::EntitySchema* s : schemas) {
    const odata::Property* key = KeyOf(*s);
    w.Key(EntityTypeName(s->entity_set)).StartObject().KV("type", "object");
    if (key) w.Key("required").StartArray().String(key->name).EndArray();
    w.Key("properties").StartObject();
    for (const odata::Property& p : s->properties) {
      w.Key(p.name);
      WritePropertySchema(w, p, &p != key);
    }
    w.EndObject().EndObject();
  }
  w.Key("ErrorResponse").StartObject().KV("type", "object");
  w.Key("required").StartArray().String("error").EndArray();
  w.Key("properties").StartObject().Key("error").StartObject().KV("type", "object");
  w.Key("required").StartArray().String("code").String("message").String("target").EndArray();
  w.Key("properties").StartObject();
  for (const char* field : {"code", "message", "target"}) w.Key(field).StartObject().KV("type", "string").EndObject();
  w.EndObject().EndObject().EndObject().EndObject();
  w.EndObject();  // schemas
  w.EndObject();  // components
}

}  // namespace

std::string EntityTypeName(std::string_view entity_set) {
  std::string name(entity_set);
  if (name.size() > 3 && name.ends_with("ies")) return name.substr(0, name.size() - 3) + "y";
  if (name.size() > 1 && name.ends_with("s") && !name.ends_with("ss")) name.pop_back();
  return name;
}

std::string CsdlDocument(const std::vector<const odata::EntitySchema*>& schemas) {
  const std::string ns = EscapeMarkup(kODataNamespace);
  std::string x;
  x += "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
  x += "<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n";
  x += "  <edmx:DataServices>\n";
  x += "    <Schema Namespace=\"" + ns + "\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n";
  for (const odata::EntitySchema* s : schemas) {
    // Open types: entities carry nested members the schemas do not list (ipAddresses, evidence,
    // vmMetadata), and strict OData clients reject undeclared properties on closed types.
    x += "      <EntityType Name=\"" + EscapeMarkup(EntityTypeName(s->entity_set)) + "\" OpenType=\"true\">\n";
    const odata::Property* key = KeyOf(*s);
    if (key) x += "        <Key><PropertyRef Name=\"" + EscapeMarkup(key->name) + "\"/></Key>\n";
    for (const odata::Property& p : s->properties) {
      x += "        <Property Name=\"" + EscapeMarkup(p.name) + "\" Type=\"" + EdmType(p.type) + "\"";
      if (&p == key) x += " Nullable=\"false\"";
      x += "/>\n";
    }
    x += "      </EntityType>\n";
  }
  x += "      <EntityContainer Name=\"WindowsDefenderATP\">\n";
  for (const odata::EntitySchema* s : schemas) {
    x += "        <EntitySet Name=\"" + EscapeMarkup(s->entity_set) + "\" EntityType=\"" + ns + "." +
         EscapeMarkup(EntityTypeName(s->entity_set)) + "\"/>\n";
  }
  x += "      </EntityContainer>\n";
  x += "    </Schema>\n";
  x += "  </edmx:DataServices>\n";
  x += "</edmx:Edmx>\n";
  return x;
}

std::string ServiceDocument(const std::vector<const odata::EntitySchema*>& schemas, std::string_view base_url) {
  json::Writer w;
  w.StartObject().KV("@odata.context", std::string(base_url) + "/api/$metadata");
  w.Key("value").StartArray();
  for (const odata::EntitySchema* s : schemas) {
    w.StartObject().KV("name", s->entity_set).KV("kind", "EntitySet").KV("url", s->entity_set).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

std::string OpenApiDocument(const std::vector<ApiRoute>& routes, const std::vector<const odata::EntitySchema*>& schemas,
                            const OpenApiOptions& options) {
  // Group operations by path. Literal segments route case-insensitively, so "/api/Machines" and
  // "/api/machines" are one path, spelled as first registered; a method registered twice on a path
  // is answered by the first registration only, so only that one is described.
  struct PathItem {
    std::string path;
    std::vector<const ApiRoute*> operations;
    std::set<std::string> methods;
  };
  std::vector<PathItem> paths;
  std::unordered_map<std::string, size_t> by_key;
  for (const ApiRoute& r : routes) {
    std::string path;
    for (std::string_view seg : Segments(r.pattern)) path += "/" + std::string(seg);
    if (path.empty()) path = "/";
    auto [it, inserted] = by_key.emplace(LowerAscii(path), paths.size());
    if (inserted) paths.push_back({path, {}, {}});
    PathItem& item = paths[it->second];
    if (item.methods.insert(r.method).second) item.operations.push_back(&r);
  }

  json::Writer w;
  w.StartObject().KV("openapi", "3.0.3");
  w.Key("info").StartObject().KV("title", "Ward API");
  w.KV("description", "Microsoft Defender for Endpoint compatible REST API, identity endpoints and Ward's "
                      "management API. Generated from the server's routes and entity schemas.");
  w.KV("version", kVersion).EndObject();
  if (!options.server_url.empty()) {
    w.Key("servers").StartArray().StartObject().KV("url", options.server_url).EndObject().EndArray();
  }
  w.Key("paths").StartObject();
  std::set<std::string> operation_ids;
  for (const PathItem& item : paths) {
    w.Key(item.path).StartObject();
    for (const ApiRoute* r : item.operations) WriteOperation(w, *r, schemas, operation_ids);
    w.EndObject();
  }
  w.EndObject();
  WriteComponents(w, schemas, options);
  w.EndObject();
  return w.Take();
}

}  // namespace ward::api
