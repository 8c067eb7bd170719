// Custom detection rules in Microsoft Graph's shape (security detectionRule, Graph beta and v1.0):
// GET/POST /beta/security/rules/detectionRules, GET/PATCH/DELETE …/detectionRules/{id}, the same
// under /v1.0. A rule is a KQL query (checked at save time: it binds and returns Timestamp,
// DeviceId and ReportId), a schedule and an alert template; detect::CustomDetections runs it.
// Permissions: Graph's CustomDetection.Read(Write).All, or Ward's Ward.DetectionRules.ReadWrite(.All);
// users need "View data" to read and "Manage security settings" to write (as MDE's custom detections),
// and, to write, a view of every device: a rule runs over the whole tenant.
#include <regex>

#include "api/api.h"
#include "api/errors.h"
#include "api/validators.h"
#include "common/crypto.h"
#include "common/time.h"
#include "detect/custom_detection.h"

namespace ward::api {
namespace {

constexpr size_t kMaxQueryChars = 100'000;  // as advanced hunting
constexpr size_t kMaxText = 16384;

const rbac::Requirement& ReadRules() {
  static const rbac::Requirement r{
      {"CustomDetection.Read.All", "CustomDetection.ReadWrite.All", "Ward.DetectionRules.ReadWrite.All"},
      {"CustomDetection.Read.All", "CustomDetection.ReadWrite.All", "Ward.DetectionRules.ReadWrite"},
      rbac::PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& WriteRules() {
  static const rbac::Requirement r{{"CustomDetection.ReadWrite.All", "Ward.DetectionRules.ReadWrite.All"},
                                   {"CustomDetection.ReadWrite.All", "Ward.DetectionRules.ReadWrite"},
                                   rbac::PortalPermission::kManageSecuritySettings};
  return r;
}

const odata::EntitySchema& RuleSchema() {
  using odata::PropertyType;
  static const odata::EntitySchema s{"detectionRules", {
      {"id", PropertyType::kString}, {"displayName", PropertyType::kString}, {"isEnabled", PropertyType::kBool},
      {"createdBy", PropertyType::kString}, {"createdDateTime", PropertyType::kDateTime},
      {"lastModifiedBy", PropertyType::kString}, {"lastModifiedDateTime", PropertyType::kDateTime},
      {"detectorId", PropertyType::kString}}};
  return s;
}

// "/beta" or "/v1.0": the Graph version the request came in on.
std::string Version(const Call& call) {
  std::string_view p = call.req.path;
  size_t slash = p.find('/', 1);
  return std::string(p.substr(0, slash));
}
std::string Context(const Call& call, std::string_view suffix = "") {
  return call.BaseUrl() + Version(call) + "/$metadata#security/rules/detectionRules" + std::string(suffix);
}

json::Value OrNull(const std::string& s) { return s.empty() ? json::Value() : json::Value(s); }
json::Value TimeOrNull(int64_t ms) { return ms ? json::Value(odata::FormatDateTimeMs(ms)) : json::Value(); }
std::string Lower(std::string s) { return state::LowerAscii(s); }

// "4H" for 4 hours: the effective look-back in the schedule's own notation.
std::string Duration(std::chrono::milliseconds d) {
  const int64_t m = d.count() / 60'000;
  if (m % (60 * 24) == 0) return std::to_string(m / (60 * 24)) + "D";
  if (m % 60 == 0) return std::to_string(m / 60) + "H";
  return std::to_string(m) + "M";
}

json::Value RuleJson(const state::CustomDetectionRule& r, std::chrono::milliseconds nrt_every) {
  json::Value v = json::Value::Object();
  v.AppendMember("@odata.type", "#microsoft.graph.security.detectionRule");
  v.AppendMember("id", r.id);
  v.AppendMember("displayName", r.display_name);
  v.AppendMember("isEnabled", r.is_enabled);
  v.AppendMember("createdBy", OrNull(r.created_by));
  v.AppendMember("createdDateTime", TimeOrNull(r.created_ms));
  v.AppendMember("lastModifiedDateTime", TimeOrNull(r.last_modified_ms));
  v.AppendMember("lastModifiedBy", OrNull(r.last_modified_by));
  v.AppendMember("detectorId", r.detector_id);
  json::Value query = json::Value::Object();
  query.AppendMember("queryText", r.query_text);
  query.AppendMember("lastModifiedDateTime", TimeOrNull(r.query_modified_ms));
  v.AppendMember("queryCondition", std::move(query));
  json::Value schedule = json::Value::Object();
  schedule.AppendMember("period", r.period);
  auto parsed = detect::ParseSchedule(r.period, r.lookback, nrt_every);
  std::optional<int64_t> next = parsed ? detect::NextRunMs(r, *parsed) : std::nullopt;
  schedule.AppendMember("nextRunDateTime", next ? json::Value(odata::FormatDateTimeMs(*next)) : json::Value());
  schedule.AppendMember("lookbackPeriod", parsed ? json::Value(Duration(parsed->window)) : json::Value());  // Ward
  v.AppendMember("schedule", std::move(schedule));
  json::Value run = json::Value::Object();
  run.AppendMember("lastRunDateTime", TimeOrNull(r.last_run_ms));
  run.AppendMember("status", OrNull(r.last_run_status));
  run.AppendMember("failureReason", OrNull(r.last_run_failure_reason));
  run.AppendMember("errorCode", OrNull(r.last_run_error_code));
  v.AppendMember("lastRunDetails", std::move(run));
  json::Value tmpl = json::Value::Object();
  tmpl.AppendMember("title", r.alert_title);
  tmpl.AppendMember("description", r.alert_description);
  tmpl.AppendMember("severity", Lower(r.alert_severity));  // Graph's alertSeverity is lower-case
  tmpl.AppendMember("category", r.alert_category);
  tmpl.AppendMember("recommendedActions", OrNull(r.recommended_actions));
  tmpl.AppendMember("mitreTechniques", state::StringArray(r.mitre_techniques));
  auto assets = json::Value::Parse(r.impacted_assets_json.empty() ? "[]" : r.impacted_assets_json);
  tmpl.AppendMember("impactedAssets", assets ? std::move(*assets) : json::Value::Array());
  json::Value action = json::Value::Object();
  action.AppendMember("alertTemplate", std::move(tmpl));
  action.AppendMember("organizationalScope", json::Value());
  action.AppendMember("responseActions", json::Value::Array());
  v.AppendMember("detectionAction", std::move(action));
  v.AppendMember("alertsRaised", r.alerts_raised);  // Ward extension
  return v;
}

// A string member: absent → nullopt, null → "" when `nullable`, else InvalidArgument.
Result<std::optional<std::string>> StringMember(const json::Value& o, std::string_view key, std::string_view path,
                                                bool nullable = false) {
  const json::Value* v = o.Find(key);
  if (!v) return std::optional<std::string>();
  if (v->is_null() && nullable) return std::optional<std::string>(std::string());
  if (!v->is_string()) {
    return Err(InvalidArgument("Request body is incorrect: " + std::string(path) + " must be a string"));
  }
  return std::optional<std::string>(v->as_string());
}

// Members of `o` other than `known` and read-only ones are refused, so a typo does not pass unnoticed.
Status OnlyKnown(const json::Value& o, std::string_view path, std::initializer_list<std::string_view> known) {
  for (const auto& [k, value] : o.members()) {
    if (k.starts_with("@odata.")) continue;
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return InvalidArgument("Request body is incorrect: unknown property '" + std::string(path) + k + "'");
    }
  }
  return Status::Ok();
}

Result<const json::Value*> ObjectMember(const json::Value& o, std::string_view key) {
  const json::Value* v = o.Find(key);
  if (!v || v->is_null()) return static_cast<const json::Value*>(nullptr);
  if (!v->is_object()) return Err(InvalidArgument("Request body is incorrect: " + std::string(key) + " must be an object"));
  return v;
}

// The outcome of applying a body: a query error carries Kusto's message and position (400 BadRequest).
struct Applied {
  Status status;
  bool query_error = false;
};

// Applies a POST (create) or PATCH body to `r`. Read-only members (id, createdBy, lastRunDetails, ...)
// are ignored, as Graph does; unknown ones are refused.
Applied ApplyBody(const json::Value& body, bool create, int64_t now, const std::string& by,
                  std::chrono::milliseconds nrt_every, state::CustomDetectionRule& r) {
  auto bad = [](std::string msg) { return Applied{InvalidArgument(std::move(msg))}; };
  if (Status st = OnlyKnown(body, "", {"id", "displayName", "isEnabled", "createdBy", "createdDateTime",
                                       "lastModifiedBy", "lastModifiedDateTime", "detectorId", "queryCondition",
                                       "schedule", "lastRunDetails", "detectionAction", "alertsRaised"});
      !st.ok()) {
    return {st};
  }
  auto name = StringMember(body, "displayName", "displayName");
  if (!name) return {name.error()};
  if (*name) {
    if (name->value().empty() || name->value().size() > 256) return bad("displayName must have 1 to 256 characters");
    r.display_name = **name;
  } else if (create) {
    return bad("Parameter displayName is missing");
  }
  if (const json::Value* e = body.Find("isEnabled"); e && !e->is_null()) {
    if (!e->is_bool()) return bad("Request body is incorrect: isEnabled must be a boolean");
    r.is_enabled = e->as_bool();
  }

  auto query = ObjectMember(body, "queryCondition");
  if (!query) return {query.error()};
  if (*query) {
    if (Status st = OnlyKnown(**query, "queryCondition.", {"queryText", "lastModifiedDateTime"}); !st.ok()) return {st};
    auto text = StringMember(**query, "queryText", "queryCondition.queryText");
    if (!text) return {text.error()};
    if (*text) {
      if (text->value().empty()) return bad("queryCondition.queryText is empty");
      if (text->value().size() > kMaxQueryChars) return bad("queryCondition.queryText is longer than 100,000 characters");
      auto shape = detect::CheckRuleQuery(**text, events::SchemaRegistry::Hunting());
      if (!shape) return {shape.error(), true};
      if (**text != r.query_text) r.query_modified_ms = now;
      r.query_text = **text;
    }
  }
  if (create && r.query_text.empty()) return bad("Parameter queryCondition.queryText is missing");

  auto schedule = ObjectMember(body, "schedule");
  if (!schedule) return {schedule.error()};
  if (*schedule) {
    if (Status st = OnlyKnown(**schedule, "schedule.", {"period", "nextRunDateTime", "lookbackPeriod"}); !st.ok()) {
      return {st};
    }
    auto period = StringMember(**schedule, "period", "schedule.period");
    if (!period) return {period.error()};
    if (*period) r.period = **period;
    auto lookback = StringMember(**schedule, "lookbackPeriod", "schedule.lookbackPeriod", true);
    if (!lookback) return {lookback.error()};
    if (*lookback) r.lookback = **lookback;
  }
  if (create && r.period.empty()) return bad("Parameter schedule.period is missing");
  auto parsed = detect::ParseSchedule(r.period, r.lookback, nrt_every);
  if (!parsed) return {parsed.error()};
  r.period = parsed->period;
  r.lookback = parsed->lookback;

  auto action = ObjectMember(body, "detectionAction");
  if (!action) return {action.error()};
  const json::Value* tmpl = nullptr;
  if (*action) {
    if (Status st = OnlyKnown(**action, "detectionAction.", {"alertTemplate", "organizationalScope", "responseActions"});
        !st.ok()) {
      return {st};
    }
    if (const json::Value* scope = (*action)->Find("organizationalScope"); scope && !scope->is_null()) {
      return bad("detectionAction.organizationalScope is not supported: a rule runs on every device of the tenant");
    }
    if (const json::Value* ra = (*action)->Find("responseActions");
        ra && !ra->is_null() && !(ra->is_array() && ra->items().empty())) {
      return bad("detectionAction.responseActions are not supported yet");
    }
    auto t = ObjectMember(**action, "alertTemplate");
    if (!t) return {t.error()};
    tmpl = *t;
  }
  if (create && !tmpl) return bad("Parameter detectionAction.alertTemplate is missing");
  if (tmpl) {
    if (Status st = OnlyKnown(*tmpl, "detectionAction.alertTemplate.", {"title", "description", "severity", "category",
                                                                        "recommendedActions", "mitreTechniques",
                                                                        "impactedAssets"});
        !st.ok()) {
      return {st};
    }
    const std::string p = "detectionAction.alertTemplate.";
    auto title = StringMember(*tmpl, "title", p + "title");
    auto description = StringMember(*tmpl, "description", p + "description", true);
    auto severity = StringMember(*tmpl, "severity", p + "severity");
    auto category = StringMember(*tmpl, "category", p + "category");
    auto recommended = StringMember(*tmpl, "recommendedActions", p + "recommendedActions", true);
    for (const auto* m : {&title, &description, &severity, &category, &recommended}) {
      if (!*m) return {m->error()};
    }
    if (*title) {
      if ((*title)->empty() || (*title)->size() > 512) return bad(p + "title must have 1 to 512 characters");
      r.alert_title = **title;
    }
    if (*description) {
      if ((*description)->size() > kMaxText) return bad(p + "description is longer than 16384 characters");
      r.alert_description = **description;
    }
    if (*recommended) {
      if ((*recommended)->size() > kMaxText) return bad(p + "recommendedActions is longer than 16384 characters");
      r.recommended_actions = **recommended;
    }
    if (*severity) {
      auto canonical = CanonicalAlertSeverity(**severity);
      if (!canonical) return bad(p + "severity must be informational, low, medium or high, not '" + **severity + "'");
      r.alert_severity = *canonical;
    }
    if (*category) {
      if (!IsAlertCategory(**category)) {
        return bad(p + "category '" + **category + "' is not valid: use one of General, CommandAndControl, Collection, "
                   "CredentialAccess, DefenseEvasion, Discovery, Exfiltration, Exploit, Execution, InitialAccess, "
                   "LateralMovement, Malware, Persistence, PrivilegeEscalation, Ransomware, SuspiciousActivity");
      }
      r.alert_category = **category;
    }
    if (const json::Value* mitre = tmpl->Find("mitreTechniques")) {
      auto list = mitre->is_null() ? std::optional<std::vector<std::string>>(std::vector<std::string>())
                                   : state::ReadStringArray(mitre);
      if (!list) return bad("Request body is incorrect: " + p + "mitreTechniques must be an array of strings");
      static const std::regex kTechnique("T[0-9]{4}(\\.[0-9]{3})?");
      if (list->size() > 64) return bad(p + "mitreTechniques has more than 64 entries");
      for (const std::string& t : *list) {
        if (!std::regex_match(t, kTechnique)) return bad(p + "mitreTechniques: '" + t + "' is not a MITRE ATT&CK technique id (T1234 or T1234.001)");
      }
      r.mitre_techniques = std::move(*list);
    }
    if (const json::Value* assets = tmpl->Find("impactedAssets")) {
      if (!assets->is_null() && !assets->is_array()) return bad("Request body is incorrect: " + p + "impactedAssets must be an array");
      if (assets->is_array() && assets->Serialize().size() > kMaxText) return bad(p + "impactedAssets is too large");
      r.impacted_assets_json = assets->is_null() ? "" : assets->Serialize();
    }
    if (create && r.alert_title.empty()) return bad("Parameter " + p + "title is missing");
    if (create && !*severity) return bad("Parameter " + p + "severity is missing");
    if (create && r.alert_category.empty()) return bad("Parameter " + p + "category is missing");
  }
  r.last_modified_ms = now;
  r.last_modified_by = by;
  return {Status::Ok()};
}

void FailApplied(Call& call, const Applied& a) {
  // Kusto's errors are 400 BadRequest with the message and its position, as advanced hunting answers.
  if (a.query_error) return call.Json(400, ErrorBody("BadRequest", a.status.message(), call.req.request_id));
  call.Fail(a.status);
}

std::chrono::milliseconds NrtEvery(const Call& call) {
  return call.services.custom_detections ? call.services.custom_detections->options().nrt_every
                                         : detect::CustomDetectionOptions{}.nrt_every;
}

std::string Caller(const Call& call) { return call.principal.is_user() ? call.principal.name : call.principal.client_id; }

// Writers see every device: a rule's query runs over the whole tenant.
Status RequireWriter(Call& call) {
  if (Status st = call.Require(WriteRules()); !st.ok()) return st;
  if (!call.services.authz.ScopeFor(call.principal).all) {
    return PermissionDenied("Custom detection rules run on every device of the tenant; a user limited to some device "
                            "groups cannot manage them");
  }
  return Status::Ok();
}

void Entity(Call& call, const state::CustomDetectionRule& r, int status) {
  json::Writer w;
  w.StartObject().KV("@odata.context", Context(call, "/$entity"));
  const json::Value entity = RuleJson(r, NrtEvery(call));
  for (const json::Member& m : entity.members()) w.Key(m.key).Val(m.value);
  w.EndObject();
  call.Json(status, w.Take());
}

void ListRules(Call& call) {
  if (Status st = call.Require(ReadRules()); !st.ok()) return call.Fail(st);
  auto q = call.ODataQuery(RuleSchema());
  if (!q) return call.Fail(q.error(), "ODataError");
  auto rules = state::Repo<state::CustomDetectionRule>(call.services.store).List(call.tenant());
  if (!rules) return call.Fail(rules.error());
  std::vector<json::Value> entities;
  for (const state::CustomDetectionRule& r : *rules) entities.push_back(RuleJson(r, NrtEvery(call)));
  odata::Apply(*q, RuleSchema(), entities);
  json::Writer w;
  w.StartObject().KV("@odata.context", Context(call)).Key("value").StartArray();
  for (const json::Value& e : entities) {
    if (q->select.empty()) {
      w.Val(e);
      continue;
    }
    w.StartObject();
    for (const std::string& prop : q->select) {
      const json::Value* v = e.Find(prop);
      w.Key(prop).Val(v ? *v : json::Value());
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  call.Json(200, w.Take());
}

Result<state::CustomDetectionRule> Find(Call& call) {
  std::string id(call.req.PathParam("id"));
  auto r = state::Repo<state::CustomDetectionRule>(call.services.store).Get(call.tenant(), id);
  if (!r && r.error().code() == StatusCode::kNotFound) return Err(NotFound("Detection rule " + id + " was not found"));
  return r;
}

void CreateRule(Call& call) {
  if (Status st = RequireWriter(call); !st.ok()) return call.Fail(st);
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  const int64_t now = NowMs();
  state::CustomDetectionRule r;
  r.tenant_id = call.tenant();
  Applied a = ApplyBody(*body, true, now, Caller(call), NrtEvery(call), r);
  if (!a.status.ok()) return FailApplied(call, a);
  auto seq = call.services.store.NextSequence(call.tenant(), "custom_detection_rule");
  if (!seq) return call.Fail(seq.error());
  r.id = std::to_string(*seq);
  r.detector_id = NewGuid();
  r.created_by = Caller(call);
  r.created_ms = now;
  r.query_modified_ms = now;
  if (Status st = state::Repo<state::CustomDetectionRule>(call.services.store).Insert(r); !st.ok()) {
    if (st.code() == StatusCode::kAlreadyExists) {
      return call.Fail(AlreadyExists("A detection rule named '" + r.display_name + "' already exists"));
    }
    return call.Fail(st);
  }
  call.audit_target = "customdetectionrule:" + r.id;
  if (call.services.custom_detections) call.services.custom_detections->Wake();  // a new rule runs at once
  Entity(call, r, 201);
}

void UpdateRule(Call& call) {
  if (Status st = RequireWriter(call); !st.ok()) return call.Fail(st);
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  const int64_t now = NowMs();
  Applied a;
  auto written = state::Repo<state::CustomDetectionRule>(call.services.store).Mutate(
      call.tenant(), found->id, [&](state::CustomDetectionRule& r) -> Status {
        a = ApplyBody(*body, false, now, Caller(call), NrtEvery(call), r);
        return a.status;
      });
  if (!written) {
    if (!a.status.ok()) return FailApplied(call, a);
    if (written.error().code() == StatusCode::kAlreadyExists) {
      return call.Fail(AlreadyExists("Another detection rule has that displayName"));
    }
    return call.Fail(written.error());
  }
  call.audit_target = "customdetectionrule:" + written->id;
  if (call.services.custom_detections) call.services.custom_detections->Wake();
  Entity(call, *written, 200);
}

void DeleteRule(Call& call) {
  if (Status st = RequireWriter(call); !st.ok()) return call.Fail(st);
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  if (Status st = state::Repo<state::CustomDetectionRule>(call.services.store).Delete(call.tenant(), found->id); !st.ok()) {
    return call.Fail(st);
  }
  call.audit_target = "customdetectionrule:" + found->id;
  call.NoContent();
}

}  // namespace

void RegisterCustomDetectionRoutes(Api& api) {
  for (const char* version : {"/beta", "/v1.0"}) {
    const std::string base = std::string(version) + "/security/rules/detectionRules";
    api.Add("GET", base, ListRules);
    api.Add("POST", base, CreateRule);
    api.Add("GET", base + "/{id}", [](Call& call) {
      if (Status st = call.Require(ReadRules()); !st.ok()) return call.Fail(st);
      auto found = Find(call);
      if (!found) return call.Fail(found.error());
      Entity(call, *found, 200);
    });
    api.Add("PATCH", base + "/{id}", UpdateRule);
    api.Add("DELETE", base + "/{id}", DeleteRule);
  }
}

}  // namespace ward::api
