// Response actions (mde-api.md §3.3): the POST /api/machines/{id}/<action> routes, cancel, the package
// and live-response download links, the live-response library, and the sensor's side of the channel
// (/sensor/v1/actions*, /sensor/v1/library/*). Lifecycle and delivery: actions/action_service.h.
#include <filesystem>
#include <fstream>

#include "actions/action_service.h"
#include "api/api.h"
#include "api/entities.h"
#include "api/errors.h"
#include "api/validators.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "events/schema.h"
#include "http/multipart.h"
#include "kql/engine.h"
#include "ingest/devices.h"
#include "ingest/sensor_policy.h"
#include "rbac/permissions.h"

namespace ward::api {
namespace {

namespace fs = std::filesystem;
using rbac::PortalPermission;

// Download links live this long (MDE: "short-lived"; live-response results 30 minutes).
constexpr int64_t kLinkLifetimeMs = 30 * 60 * 1000;
constexpr size_t kMaxLibraryFileBytes = 20u * 1024 * 1024;  // MDE's 20 MB

struct ActionRoute {
  const char* path;  // after /api/machines/{id}/
  const char* type;
  rbac::Requirement need;
};

const std::vector<ActionRoute>& ActionRoutes() {
  static const std::vector<ActionRoute> routes = {
      {"isolate", "Isolate", {{"Machine.Isolate"}, {"Machine.Isolate"}, PortalPermission::kActiveRemediation}},
      {"unisolate", "Unisolate", {{"Machine.Isolate"}, {"Machine.Isolate"}, PortalPermission::kActiveRemediation}},
      {"restrictCodeExecution", "RestrictCodeExecution",
       {{"Machine.RestrictExecution"}, {"Machine.RestrictExecution"}, PortalPermission::kActiveRemediation}},
      {"unrestrictCodeExecution", "UnrestrictCodeExecution",
       {{"Machine.RestrictExecution"}, {"Machine.RestrictExecution"}, PortalPermission::kActiveRemediation}},
      {"runAntiVirusScan", "RunAntiVirusScan", {{"Machine.Scan"}, {"Machine.Scan"}, PortalPermission::kActiveRemediation}},
      {"collectInvestigationPackage", "CollectInvestigationPackage",
       {{"Machine.CollectForensics"}, {"Machine.CollectForensics"}, PortalPermission::kAlertsInvestigation}},
      {"StopAndQuarantineFile", "StopAndQuarantineFile",
       {{"Machine.StopAndQuarantine"}, {"Machine.StopAndQuarantine"}, PortalPermission::kActiveRemediation}},
      {"offboard", "Offboard", {{"Machine.Offboard"}, {"Machine.Offboard"}, PortalPermission::kManageSecuritySettings}},
      {"runliveresponse", "LiveResponse",
       {{"Machine.LiveResponse"}, {"Machine.LiveResponse"}, PortalPermission::kLiveResponseBasic}},
  };
  return routes;
}

const rbac::Requirement& LiveResponseAdvanced() {
  static const rbac::Requirement r{{"Machine.LiveResponse"}, {"Machine.LiveResponse"}, PortalPermission::kLiveResponseAdvanced};
  return r;
}

// Cancelling needs the permission of some action (MDE: "any Machine.* action permission").
const rbac::Requirement& AnyActionPermission() {
  static const rbac::Requirement r{
      {"Machine.Isolate", "Machine.RestrictExecution", "Machine.Scan", "Machine.CollectForensics",
       "Machine.StopAndQuarantine", "Machine.Offboard", "Machine.LiveResponse"},
      {"Machine.Isolate", "Machine.RestrictExecution", "Machine.Scan", "Machine.CollectForensics",
       "Machine.StopAndQuarantine", "Machine.Offboard", "Machine.LiveResponse"},
      PortalPermission::kActiveRemediation};
  return r;
}

const rbac::Requirement& PackageDownload() {
  static const rbac::Requirement r{{"Machine.Read.All", "Machine.ReadWrite.All"}, {"Machine.CollectForensics"},
                                   PortalPermission::kAlertsInvestigation};
  return r;
}

const rbac::Requirement& LiveResponseDownload() {
  static const rbac::Requirement r{{"Machine.Read.All", "Machine.ReadWrite.All"}, {"Machine.LiveResponse"},
                                   PortalPermission::kLiveResponseBasic};
  return r;
}

const rbac::Requirement& ManageLibrary() {
  static const rbac::Requirement r{{"Library.Manage"}, {"Library.Manage"}, PortalPermission::kLiveResponseAdvanced};
  return r;
}

std::optional<std::string> OptionalEnum(const json::Value& body, const char* name, std::initializer_list<const char*> allowed,
                                        const char* fallback, Status* error) {
  const json::Value* v = body.FindCaseInsensitive(name);
  if (!v || v->is_null()) return std::string(fallback);
  if (v->is_string()) {
    for (const char* a : allowed) {
      if (EqualsIgnoreCase(v->as_string(), a)) return std::string(a);
    }
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  *error = InvalidArgument(std::string(name) + " must be one of " + list);
  return std::nullopt;
}

std::string LibraryPath(const Services& s, const std::string& tenant, const std::string& file_name_lower) {
  return s.library_dir + "/" + tenant + "/" + HexEncode(Sha256(file_name_lower));
}

// Live-response commands in MDE's request shape → the MachineAction's `commands` array. `advanced`
// tells whether any command needs "Live response advanced".
Result<std::string> LiveResponseCommands(const Services& s, const std::string& tenant, const json::Value& body, bool* advanced) {
  const json::Value* commands = body.FindCaseInsensitive("Commands");
  if (!commands || commands->is_null()) return Err(InvalidArgument("Parameter Commands is missing"));
  if (!commands->is_array() || commands->items().empty()) return Err(InvalidArgument("Request body is incorrect: Commands must be a non-empty array"));
  if (commands->items().size() > 20) return Err(InvalidArgument("Received: " + std::to_string(commands->items().size()) + ", allowed: 20"));
  json::Writer w;
  w.StartArray();
  int index = 0;
  for (const json::Value& c : commands->items()) {
    auto type = c.is_object() ? c.FindCaseInsensitive("type") : nullptr;
    if (!type || !type->is_string()) return Err(InvalidArgument("Request body is incorrect: each command needs a type"));
    std::string t;
    for (const char* known : {"PutFile", "RunScript", "GetFile"}) {
      if (EqualsIgnoreCase(type->as_string(), known)) t = known;
    }
    if (t.empty()) return Err(InvalidArgument("Command type '" + type->as_string() + "' is not supported (PutFile, RunScript, GetFile)"));
    std::map<std::string, std::string> params;
    if (const json::Value* p = c.FindCaseInsensitive("params"); p && p->is_array()) {
      for (const json::Value& kv : p->items()) {
        auto k = kv.is_object() ? kv.GetString("key") : std::nullopt;
        auto v = kv.is_object() ? kv.GetString("value") : std::nullopt;
        if (!k || !v) return Err(InvalidArgument("Request body is incorrect: params are {key, value} strings"));
        params[*k] = *v;
      }
    }
    const char* required = t == "GetFile" ? "Path" : t == "PutFile" ? "FileName" : "ScriptName";
    if (params[required].empty()) return Err(InvalidArgument(std::string("Parameter ") + required + " is missing"));
    if (t != "GetFile") {
      *advanced = true;
      std::string name = state::LowerAscii(params[required]);
      auto f = state::Repo<state::LibraryFile>(s.store).Get(tenant, name);
      if (!f) return Err(NotFound("File " + params[required] + " was not found in the live response library"));
    }
    w.StartObject().KV("index", static_cast<int64_t>(index++)).Key("startTime").Null().Key("endTime").Null();
    w.KV("commandStatus", "Created").Key("errors").StartArray().EndArray();
    w.Key("command").StartObject().KV("type", t).Key("params").StartArray();
    for (const auto& [k, v] : params) w.StartObject().KV("key", k).KV("value", v).EndObject();
    w.EndArray().EndObject().EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string Requestor(const Call& call) {
  // MDE shows the user's UPN, or the app's id for application tokens.
  return call.principal.is_user() && !call.principal.name.empty() ? call.principal.name : call.principal.client_id;
}

json::Value LibraryFileJson(const state::LibraryFile& f) {
  json::Value v = json::Value::Object();
  v.AppendMember("fileName", f.file_name);
  v.AppendMember("sha256", f.sha256);
  v.AppendMember("description", f.description.empty() ? json::Value() : json::Value(f.description));
  v.AppendMember("creationTime", odata::FormatDateTimeMs(f.creation_ms));
  v.AppendMember("lastUpdatedTime", odata::FormatDateTimeMs(f.last_updated_ms));
  v.AppendMember("createdBy", f.created_by);
  v.AppendMember("hasParameters", f.has_parameters);
  v.AppendMember("parametersDescription", f.parameters_description.empty() ? json::Value() : json::Value(f.parameters_description));
  return v;
}

const odata::EntitySchema& LibraryFileSchema() {
  static const odata::EntitySchema s{"LibraryFiles", {{"fileName", odata::PropertyType::kString},
      {"sha256", odata::PropertyType::kString}, {"description", odata::PropertyType::kString},
      {"creationTime", odata::PropertyType::kDateTime}, {"lastUpdatedTime", odata::PropertyType::kDateTime},
      {"createdBy", odata::PropertyType::kString}, {"hasParameters", odata::PropertyType::kBool},
      {"parametersDescription", odata::PropertyType::kString}}};
  return s;
}

// A file index in a path: at most three digits (commands are capped at 20, packages are index 0).
std::optional<int> ParseIndex(std::string_view text) {
  if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), ::isdigit)) return std::nullopt;
  return std::stoi(std::string(text));
}

// What the sensor gets for one action.
void WriteSensorAction(json::Writer& w, const state::MachineAction& a) {
  w.StartObject().KV("id", a.id).KV("type", a.type).KV("scope", a.scope).KV("status", a.status);
  w.KV("requestor", a.requestor).KV("creationDateTimeUtc", FormatIsoMs(a.creation_ms));
  auto params = json::Value::Parse(a.params_json.empty() ? "{}" : a.params_json);
  w.Key("params").Val(params ? *params : json::Value::Object());
  if (!a.commands_json.empty()) {
    if (auto c = json::Value::Parse(a.commands_json)) w.Key("commands").Val(*c);
  }
  w.EndObject();
}

// The action for a caller who may see its machine; NotFound otherwise (as MDE hides what is out of scope).
Result<state::MachineAction> FindActionForCaller(Call& call, const std::string& id, const rbac::Requirement& need) {
  return FindOnMachineForCaller<state::MachineAction>(call, "MachineAction", id, state::LowerAscii(id), need);
}

void RespondLink(Call& call, const state::MachineAction& a, int index) {
  const int64_t expires = NowMs() + kLinkLifetimeMs;
  std::string url = call.BaseUrl() + "/api/machineactions/" + a.id + "/files/" + std::to_string(index) + "?" +
                    call.services.download_links->Sign(call.tenant(), a.id, index, expires);
  json::Writer w;
  w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#Edm.String").KV("value", url).EndObject();
  call.Json(200, w.Take());
}

// A request body for one action type, checked once (also for bulk requests).
struct ActionBody {
  const rbac::Requirement* need = nullptr;  // what the caller needs on each device
  std::string comment, external_id, scope, related_file, related_file_type, commands;
  json::Value params = json::Value::Object();
};

// `code` receives the MDE error code for a refusal ("" = the status's own).
Result<ActionBody> ParseActionBody(Call& call, const ActionRoute& route, const json::Value& body, std::string* code) {
  ActionBody a;
  const std::string type = route.type;
  a.need = &route.need;
  if (type == "LiveResponse") {
    bool advanced = false;
    WARD_ASSIGN_OR_RETURN(a.commands, LiveResponseCommands(call.services, call.tenant(), body, &advanced));
    // Advanced commands need "Live response advanced"; basic ones either level.
    if (advanced || !call.Require(route.need).ok()) a.need = &LiveResponseAdvanced();
    // The sensor enforces the level again (defence in depth): PutFile and RunScript need Advanced.
    a.params.Set("LiveResponseLevel", advanced ? "Advanced" : "Basic");
  }
  WARD_ASSIGN_OR_RETURN(a.comment, RequiredString(body, "Comment"));
  if (auto ext = body.GetString("ExternalID")) a.external_id = *ext;
  Status bad;
  if (type == "Isolate") {
    auto scope = OptionalEnum(body, "IsolationType", {"Full", "Selective", "UnManagedDevice"}, "Full", &bad);
    if (!scope) return Err(bad);
    if (*scope == "UnManagedDevice") {
      *code = "OsPlatformNotSupported";
      return Err(InvalidArgument("IsolationType UnManagedDevice contains devices without a sensor; this device has one"));
    }
    a.scope = *scope;
    a.params.Set("IsolationType", *scope);
  } else if (type == "RunAntiVirusScan") {
    auto scope = OptionalEnum(body, "ScanType", {"Quick", "Full"}, "Quick", &bad);
    if (!scope) return Err(bad);
    a.scope = *scope;
    a.params.Set("ScanType", *scope);
  } else if (type == "StopAndQuarantineFile") {
    WARD_ASSIGN_OR_RETURN(std::string sha1, RequiredString(body, "Sha1"));
    auto hash = ParseFileHash(sha1);
    if (!hash || hash->kind != FileHash::Kind::kSha1) {
      *code = "InvalidHashValue";
      return Err(InvalidArgument(sha1 + " is invalid"));
    }
    a.related_file = hash->hex;
    a.related_file_type = "Sha1";
    a.params.Set("Sha1", hash->hex);
  }
  return a;
}

// Where the device was seen holding the file (its process and file events): StopAndQuarantineFile
// then finds copies that are not running too. Best effort: no event store, no paths.
json::Value KnownPaths(Call& call, const std::string& machine_id, const std::string& sha1) {
  json::Value paths = json::Value::Array();
  if (!call.services.event_store) return paths;
  kql::QueryOptions o;
  o.tenant_id = call.tenant();
  o.device_ids = std::unordered_set<std::string>{machine_id};
  o.timeout = std::chrono::seconds(10);
  o.max_rows = 50;
  // Both values are validated hex (machine ids and SHA1s), so they are safe inside the query text.
  const std::string q = "union DeviceProcessEvents, DeviceFileEvents | where SHA1 == '" + sha1 +
                        "' | summarize by FolderPath | take 50";
  auto result = kql::RunQuery(q, o, *call.services.event_store, events::SchemaRegistry::Hunting());
  if (!result || result->columns.empty()) return paths;
  const kql::Column& c = result->columns[0];
  for (size_t i = 0; i < c.strings.size(); ++i) {
    if (!c.nulls[i] && !c.strings[i].empty() && c.strings[i][0] == '/') paths.Append(json::Value(c.strings[i]));
  }
  return paths;
}

Result<state::MachineAction> CreateAction(Call& call, const ActionRoute& route, const ActionBody& body,
                                          const state::Machine& machine, std::string* code) {
  actions::NewAction n;
  n.tenant_id = call.tenant();
  n.machine = &machine;
  n.type = route.type;
  n.scope = body.scope;
  n.requestor = Requestor(call);
  n.comment = body.comment;
  n.external_id = body.external_id;
  n.related_file = body.related_file;
  n.related_file_type = body.related_file_type;
  n.commands_json = body.commands;
  n.title = n.type + " by " + n.requestor;
  // The device group's automation level decides whether scan detections are remediated on the spot.
  json::Value params = body.params;
  std::string remediation = "No automated response";
  if (machine.rbac_group_id) {
    if (auto g = state::Repo<state::DeviceGroup>(call.services.store).Get(call.tenant(), std::to_string(*machine.rbac_group_id))) {
      remediation = g->remediation_level;
    }
  }
  params.Set("RemediationLevel", remediation);
  if (n.type == "StopAndQuarantineFile") params.Set("Paths", KnownPaths(call, machine.id, body.related_file));
  n.params_json = params.Serialize();
  auto created = call.services.actions->Create(n, NowMs());
  if (!created && created.error().code() == StatusCode::kFailedPrecondition) {
    *code = n.type == "LiveResponse" ? "ActiveRequestAlreadyExists" : "BadRequest";
  }
  return created;
}

// The machines a bulk request names: "MachineIds" (up to 10,000), or all machines with "MachineTag",
// or all machines of the device group "RbacGroupName".
Result<std::vector<state::Machine>> BulkTargets(Call& call, const json::Value& body) {
  constexpr size_t kMaxBulk = 10000;
  std::vector<state::Machine> out;
  state::Repo<state::Machine> repo(call.services.store);
  if (const json::Value* ids = body.FindCaseInsensitive("MachineIds"); ids && !ids->is_null()) {
    auto list = state::ReadStringArray(ids);
    if (!list || list->empty()) return Err(InvalidArgument("Request body is incorrect: MachineIds must be a non-empty array of strings"));
    if (list->size() > kMaxBulk) return Err(ResourceExhausted("Received: " + std::to_string(list->size()) + ", allowed: " + std::to_string(kMaxBulk)));
    for (const std::string& id : *list) {
      auto m = repo.Get(call.tenant(), state::LowerAscii(id));
      if (!m) {
        state::Machine missing;
        missing.id = id;
        out.push_back(std::move(missing));  // no tenant: reported as not found
        continue;
      }
      out.push_back(std::move(*m));
    }
    return out;
  }
  auto tag = body.GetString("MachineTag");
  auto group = body.GetString("RbacGroupName");
  if (!tag && !group) return Err(InvalidArgument("Parameter MachineIds is missing"));
  std::optional<int64_t> group_id;
  if (group) {
    auto groups = state::Repo<state::DeviceGroup>(call.services.store).List(call.tenant());
    if (!groups) return Err(groups.error());
    for (const auto& g : *groups) {
      if (EqualsIgnoreCase(g.name, *group)) group_id = g.id;
    }
    if (!group_id) return Err(NotFound("Device group " + *group + " was not found"));
  }
  auto all = repo.List(call.tenant());
  if (!all) return Err(all.error());
  for (state::Machine& m : *all) {
    if (m.offboarded) continue;
    auto has_tag = [&](const std::vector<std::string>& tags) {
      return std::any_of(tags.begin(), tags.end(), [&](const std::string& t) { return EqualsIgnoreCase(t, *tag); });
    };
    if (tag && !has_tag(m.tags) && !has_tag(m.api_tags)) continue;
    if (group_id && m.rbac_group_id != group_id) continue;
    out.push_back(std::move(m));
    if (out.size() > kMaxBulk) return Err(ResourceExhausted("Received: more than " + std::to_string(kMaxBulk) + " machines, allowed: " + std::to_string(kMaxBulk)));
  }
  return out;
}

}  // namespace

void RegisterActionRoutes(Api& api) {
  Services& s = api.services();
  http::Router& r = api.router();

  for (const ActionRoute& route : ActionRoutes()) {
    api.Add("POST", std::string("/api/machines/{id}/") + route.path, [&route](Call& call) {
      if (!call.services.actions) return call.Fail(Unavailable("machine actions are not running"));
      auto body = call.JsonBody();
      if (!body) return call.Fail(body.error());
      std::string code;
      auto parsed = ParseActionBody(call, route, *body, &code);
      if (!parsed) return call.Fail(parsed.error(), code);
      auto machine = FindMachineForCaller(call, call.req.PathParam("id"), *parsed->need);
      if (!machine) return call.Fail(machine.error());
      auto created = CreateAction(call, route, *parsed, *machine, &code);
      if (!created) return call.Fail(created.error(), code);
      call.audit_target = "machineAction:" + created->id + " machine:" + machine->id;
      call.ODataEntity("MachineActions", MachineActionJson(*created), 201);
    });
  }

  // Ward extension: one request, one MachineAction per device, for a list of machine ids, a tag or a
  // device group. Devices the caller may not see or act on are reported per device, like MDE's
  // batch APIs report per item.
  api.Add("POST", "/api/machineactions/bulk", [](Call& call) {
    if (!call.services.actions) return call.Fail(Unavailable("machine actions are not running"));
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto type = RequiredString(*body, "Type");
    if (!type) return call.Fail(type.error());
    const ActionRoute* route = nullptr;
    for (const ActionRoute& r : ActionRoutes()) {
      if (EqualsIgnoreCase(r.type, *type) || EqualsIgnoreCase(r.path, *type)) route = &r;
    }
    if (!route || std::string_view(route->type) == "Offboard") {
      return call.Fail(InvalidArgument("Type must be a machine action type (Isolate, RunAntiVirusScan, ...)"));
    }
    std::string code;
    auto parsed = ParseActionBody(call, *route, *body, &code);
    if (!parsed) return call.Fail(parsed.error(), code);
    if (Status st = call.Require(*parsed->need); !st.ok()) return call.Fail(st);
    auto targets = BulkTargets(call, *body);
    if (!targets) return call.Fail(targets.error(), targets.error().code() == StatusCode::kResourceExhausted ? "MaximumBatchSizeExceeded" : "");
    json::Writer w;
    w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#MachineActions").Key("value").StartArray();
    std::vector<std::pair<std::string, Status>> errors;
    int created_count = 0;
    for (const state::Machine& m : *targets) {
      std::string not_found = "Machine " + m.id + " was not found";
      if (m.tenant_id.empty()) {  // named but not in the store
        errors.emplace_back(m.id, NotFound(not_found));
        continue;
      }
      if (Status st = call.services.authz.CheckDevice(call.principal, *parsed->need, m.rbac_group_id, not_found); !st.ok()) {
        errors.emplace_back(m.id, st);
        continue;
      }
      std::string item_code;
      auto created = CreateAction(call, *route, *parsed, m, &item_code);
      if (!created) {
        errors.emplace_back(m.id, created.error());
        continue;
      }
      w.Val(MachineActionJson(*created));
      ++created_count;
    }
    w.EndArray().Key("errors").StartArray();
    for (const auto& [id, st] : errors) {
      w.StartObject().KV("machineId", id).KV("code", MapStatus(st).code).KV("message", st.message()).EndObject();
    }
    w.EndArray().EndObject();
    call.audit_target = std::string(route->type) + " x" + std::to_string(created_count);
    call.Json(200, w.Take());
  });

  api.Add("POST", "/api/machineactions/{id}/cancel", [](Call& call) {
    if (!call.services.actions) return call.Fail(Unavailable("machine actions are not running"));
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto a = FindActionForCaller(call, std::string(call.req.PathParam("id")), AnyActionPermission());
    if (!a) return call.Fail(a.error());
    auto comment = RequiredString(*body, "Comment");
    if (!comment) return call.Fail(comment.error());
    auto cancelled = call.services.actions->Cancel(call.tenant(), a->id, Requestor(call), *comment, NowMs());
    if (!cancelled) return call.Fail(cancelled.error());
    call.audit_target = "machineAction:" + a->id;
    call.ODataEntity("MachineActions", MachineActionJson(*cancelled));
  });

  api.Add("GET", "/api/machineactions/{id}/getPackageUri", [](Call& call) {
    auto a = FindActionForCaller(call, std::string(call.req.PathParam("id")), PackageDownload());
    if (!a) return call.Fail(a.error());
    if (a->type != "CollectInvestigationPackage") return call.Fail(InvalidArgument("MachineAction " + a->id + " is not a package collection"));
    if (a->status != "Succeeded" || !call.services.actions || !call.services.actions->FilePath(call.tenant(), a->id, 0)) {
      return call.Fail(NotFound("The investigation package of MachineAction " + a->id + " is not available"));
    }
    RespondLink(call, *a, 0);
  });

  api.Add("GET", "/api/machineactions/{id}/GetLiveResponseResultDownloadLink(index={index})", [](Call& call) {
    auto a = FindActionForCaller(call, std::string(call.req.PathParam("id")), LiveResponseDownload());
    if (!a) return call.Fail(a.error());
    auto parsed_index = ParseIndex(call.req.PathParam("index"));
    if (!parsed_index) return call.Fail(InvalidArgument("index must be a command index"));
    const int index = *parsed_index;
    if (a->type != "LiveResponse") return call.Fail(InvalidArgument("MachineAction " + a->id + " is not a live response"));
    if (!call.services.actions || !call.services.actions->FilePath(call.tenant(), a->id, index)) {
      return call.Fail(NotFound("Command " + std::to_string(index) + " of MachineAction " + a->id + " has no result"));
    }
    RespondLink(call, *a, index);
  });

  // The signed download itself: no bearer token, the signature is the authorization.
  r.Add("GET", "/api/machineactions/{id}/files/{index}", [&s](http::Request& req, http::Response& res) {
    std::map<std::string, std::string> q;
    for (std::string_view rest = req.query; !rest.empty();) {
      size_t amp = rest.find('&');
      std::string_view kv = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      size_t eq = kv.find('=');
      if (eq != std::string_view::npos) q[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
    std::string id = state::LowerAscii(req.PathParam("id"));
    std::string_view index_text = req.PathParam("index");
    auto parsed_index = ParseIndex(index_text);
    if (!parsed_index || !s.download_links || !s.actions) return SensorError(req, res, NotFound("no such file"));
    const int index = *parsed_index;
    if (Status st = s.download_links->Verify(q["t"], id, index, q["e"], q["s"], NowMs()); !st.ok()) {
      return SensorError(req, res, st, "Forbidden");
    }
    auto path = s.actions->FilePath(q["t"], id, index);
    if (!path) return SensorError(req, res, path.error());
    std::ifstream in(*path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto a = state::Repo<state::MachineAction>(s.store).Get(q["t"], id);
    const bool package = a && a->type == "CollectInvestigationPackage";
    res.Set(200, package ? "application/gzip" : "application/octet-stream", std::move(bytes));
    res.headers.Set("Content-Disposition", std::string("attachment; filename=\"") + (package ? "InvestigationPackage-" + id + ".tar.gz" : id + "-" + std::string(index_text)) + "\"");
  });

  // ---- live-response library ----
  api.Add("GET", "/api/libraryfiles", [](Call& call) {
    if (Status st = call.Require(ManageLibrary()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(LibraryFileSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto files = state::Repo<state::LibraryFile>(call.services.store).List(call.tenant());
    if (!files) return call.Fail(files.error());
    std::vector<json::Value> out;
    for (const auto& f : *files) out.push_back(LibraryFileJson(f));
    call.ODataList(LibraryFileSchema(), *q, std::move(out));
  });
  api.Add("POST", "/api/libraryfiles", [](Call& call) {
    if (Status st = call.Require(ManageLibrary()); !st.ok()) return call.Fail(st);
    auto parts = http::ParseMultipart(call.req.headers.Get("content-type"), call.req.body);
    if (!parts) return call.Fail(InvalidArgument("Request body is incorrect: " + parts.error().message()));
    const http::FormPart* file = http::FindPart(*parts, "File");
    if (!file || file->file_name.empty()) return call.Fail(InvalidArgument("Parameter File is missing"));
    if (file->data.size() > kMaxLibraryFileBytes) {
      return call.Fail(InvalidArgument("Received: " + std::to_string(file->data.size()) + " bytes, allowed: 20 MB"), "MaximumBatchSizeExceeded");
    }
    std::string name = fs::path(file->file_name).filename().string();
    if (name.empty() || name == "." || name == ".." || name.size() > 255) return call.Fail(InvalidArgument(file->file_name + " is invalid"));
    auto field = [&](const char* n) {
      const http::FormPart* p = http::FindPart(*parts, n);
      return p ? std::string(p->data) : std::string();
    };
    const bool override_existing = EqualsIgnoreCase(field("OverrideIfExists"), "true");
    const std::string id = state::LowerAscii(name);
    state::Repo<state::LibraryFile> repo(call.services.store);
    auto existing = repo.Get(call.tenant(), id);
    if (existing && !override_existing) {
      return call.Fail(InvalidArgument("File " + name + " already exists in the library; set OverrideIfExists to replace it"), "BadRequest");
    }
    state::LibraryFile f = existing ? *existing : state::LibraryFile{};
    f.tenant_id = call.tenant();
    f.id = id;
    f.file_name = name;
    f.sha256 = HexEncode(Sha256(file->data));
    f.size = static_cast<int64_t>(file->data.size());
    f.description = field("Description");
    f.parameters_description = field("ParametersDescription");
    f.has_parameters = EqualsIgnoreCase(field("HasParameters"), "true");
    f.created_by = existing ? existing->created_by : Requestor(call);
    f.last_updated_ms = NowMs();
    if (!existing) f.creation_ms = f.last_updated_ms;
    const std::string path = LibraryPath(call.services, call.tenant(), id);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    {
      std::ofstream out(path + ".tmp", std::ios::binary | std::ios::trunc);
      out.write(file->data.data(), static_cast<std::streamsize>(file->data.size()));
      if (!out) return call.Fail(Internal("cannot store the library file"));
    }
    fs::rename(path + ".tmp", path, ec);
    if (ec) return call.Fail(Internal("cannot store the library file"));
    Status st = existing ? repo.Update(f) : repo.Insert(f);
    if (!st.ok()) return call.Fail(st);
    call.audit_target = "libraryFile:" + name;
    call.ODataEntity("LibraryFiles", LibraryFileJson(f));
  });
  api.Add("DELETE", "/api/libraryfiles/{fileName}", [](Call& call) {
    if (Status st = call.Require(ManageLibrary()); !st.ok()) return call.Fail(st);
    std::string name(call.req.PathParam("fileName"));
    const std::string id = state::LowerAscii(name);
    Status st = state::Repo<state::LibraryFile>(call.services.store).Delete(call.tenant(), id);
    if (!st.ok()) return call.Fail(st.code() == StatusCode::kNotFound ? NotFound("File " + name + " was not found") : st);
    std::error_code ec;
    fs::remove(LibraryPath(call.services, call.tenant(), id), ec);
    call.audit_target = "libraryFile:" + name;
    call.NoContent();
  });

  // ---- the sensor's side ----
  r.Add("GET", "/sensor/v1/actions", [&s](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    if (!s.actions) return SensorError(req, res, Unavailable("machine actions are not running"));
    int wait_s = 0;
    std::string_view q = req.query;
    if (size_t p = q.find("wait="); p != std::string_view::npos) {
      for (size_t i = p + 5; i < q.size() && std::isdigit(static_cast<unsigned char>(q[i])) && wait_s < 1000; ++i) {
        wait_s = wait_s * 10 + (q[i] - '0');
      }
    }
    wait_s = std::min(wait_s, 30);
    auto open = s.actions->Poll(device->tenant_id, device->id, std::chrono::seconds(wait_s), req.peer_closed);
    json::Writer w;
    w.StartObject().Key("actions").StartArray();
    for (const auto& a : open) WriteSensorAction(w, a);
    w.EndArray();
    // So that new blocking indicators reach the sensor within one poll, not one heartbeat.
    if (s.sensor_policies) {
      if (auto policy = s.sensor_policies->For(device->tenant_id, device->rbac_group_id, NowMs())) {
        w.KV("policyVersion", policy->version);
      }
    }
    w.EndObject();
    JsonReply(res, 200, w.Take());
  });
  r.Add("POST", "/sensor/v1/actions/{id}/status", [&s](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    if (!s.actions) return SensorError(req, res, Unavailable("machine actions are not running"));
    auto body = json::Value::Parse(req.body);
    if (!body || !body->is_object()) return SensorError(req, res, InvalidArgument("Request body is incorrect"), "InvalidRequestBody");
    actions::SensorReport report;
    report.status = body->GetString("status").value_or("");
    if (const json::Value* d = body->Find("details"); d && !d->is_null()) report.details_json = d->Serialize();
    if (const json::Value* c = body->Find("commands"); c && c->is_array()) report.commands_json = c->Serialize();
    report.failure_reason = body->GetString("failureReason").value_or("");
    auto a = s.actions->Report(device->tenant_id, device->id, state::LowerAscii(req.PathParam("id")), report, NowMs());
    if (!a) return SensorError(req, res, a.error());
    // Offboarding ends the device's access once it has stopped collecting.
    if (a->type == "Offboard" && a->status == "Succeeded") {
      if (Status st = ingest::RevokeCredential(s.store, device->tenant_id, device->id, true); !st.ok()) {
        return SensorError(req, res, st);
      }
      s.authz.Invalidate();
    }
    JsonReply(res, 200, "{\"status\":" + json::Quote(a->status) + "}");
  });
  r.Add("PUT", "/sensor/v1/actions/{id}/files/{index}", [&s](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    if (!s.actions) return SensorError(req, res, Unavailable("machine actions are not running"));
    auto index = ParseIndex(req.PathParam("index"));
    if (!index) return SensorError(req, res, InvalidArgument("index must be a number"));
    Status st = s.actions->PutFile(device->tenant_id, device->id, state::LowerAscii(req.PathParam("id")), *index, req.body);
    if (!st.ok()) return SensorError(req, res, st);
    res.status = 204;
  });
  r.Add("GET", "/sensor/v1/library/{fileName}", [&s](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    const std::string id = state::LowerAscii(req.PathParam("fileName"));
    auto f = state::Repo<state::LibraryFile>(s.store).Get(device->tenant_id, id);
    if (!f) return SensorError(req, res, NotFound("File " + std::string(req.PathParam("fileName")) + " was not found"));
    std::ifstream in(LibraryPath(s, device->tenant_id, id), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    res.Set(200, "application/octet-stream", std::move(bytes));
    res.headers.Set("X-Ward-Sha256", f->sha256);
  });
}

}  // namespace ward::api
