// Indicators of compromise (mde-api.md §3.4, §4 Indicator): list, submit or update (upsert on type +
// value), import (≤ 500, a result per item), delete and batch delete. Apps with Ti.ReadWrite see and
// change only their own indicators; Ti.ReadWrite.All (and users with "Manage security settings")
// all of the tenant's. CIDR ranges for IpAddress, and CSV and STIX 2.1 imports (indicator_feeds.h), are
// Ward extensions.
#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "api/api.h"
#include "api/entities.h"
#include "api/indicator_feeds.h"
#include "api/validators.h"
#include "common/time.h"

namespace ward::api {
namespace {

const rbac::Requirement& WriteIndicators() {
  static const rbac::Requirement r{{"Ti.ReadWrite", "Ti.ReadWrite.All"}, {"Ti.ReadWrite"},
                                   rbac::PortalPermission::kManageSecuritySettings};
  return r;
}

// An app holding only Ti.ReadWrite works on the indicators it created.
bool OwnIndicatorsOnly(const Call& call) {
  const rbac::Principal& p = call.principal;
  return !p.is_user() && !p.roles.count("Ti.ReadWrite.All") && !p.roles.count("Ti.Read.All");
}
bool MayTouch(const Call& call, const state::Indicator& i) {
  return !OwnIndicatorsOnly(call) || i.created_by == call.principal.client_id;
}

const std::set<std::string, std::less<>>& Actions() {
  static const std::set<std::string, std::less<>> a = {"Warn", "Block", "Audit", "Alert", "AlertAndBlock",
                                                       "BlockAndRemediate", "Allowed"};
  return a;
}

// "10.0.0.0/8" → canonical "10.0.0.0/8" (host bits must be zero).
Result<std::string> CanonicalCidr(std::string_view text) {
  size_t slash = text.find('/');
  WARD_ASSIGN_OR_RETURN(std::string ip, CanonicalIpAddress(text.substr(0, slash)));
  std::string_view bits_text = text.substr(slash + 1);
  const bool v6 = ip.find(':') != std::string::npos;
  const int max_bits = v6 ? 128 : 32;
  if (bits_text.empty() || bits_text.size() > 3 || !std::all_of(bits_text.begin(), bits_text.end(), ::isdigit)) {
    return Err(InvalidArgument(std::string(text) + " is invalid"));
  }
  int bits = std::stoi(std::string(bits_text));
  if (bits < 0 || bits > max_bits) return Err(InvalidArgument(std::string(text) + " is invalid"));
  unsigned char addr[16] = {};
  inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), addr);
  for (int b = bits; b < max_bits; ++b) {
    if (addr[b / 8] & (0x80 >> (b % 8))) return Err(InvalidArgument(std::string(text) + " has host bits set"));
  }
  return ip + "/" + std::to_string(bits);
}

// Validates and canonicalises an indicator value for its type; the MDE error code comes with it.
Result<std::string> CanonicalValue(const std::string& type, const std::string& value, std::string* code) {
  auto hex_of = [&](size_t digits) -> Result<std::string> {
    *code = "InvalidHashValue";
    if (value.size() != digits || !std::all_of(value.begin(), value.end(), ::isxdigit)) {
      return Err(InvalidArgument(value + " is invalid"));
    }
    return state::LowerAscii(value);
  };
  if (type == "FileSha1" || type == "CertificateThumbprint") return hex_of(40);
  if (type == "FileSha256") return hex_of(64);
  if (type == "FileMd5") return hex_of(32);
  if (type == "IpAddress") {
    *code = "InvalidIpAddress";
    return value.find('/') != std::string::npos ? CanonicalCidr(value) : CanonicalIpAddress(value);
  }
  if (type == "DomainName") {
    *code = "InvalidDomainName";
    return CanonicalDomainName(value);
  }
  if (type == "Url") {
    *code = "InvalidUrl";
    if (value.size() > 2048 || UrlHost(value).empty() || value.find_first_of(" \t\r\n") != std::string::npos) {
      return Err(InvalidArgument(value + " is invalid"));
    }
    return value;
  }
  *code = "InvalidInput";
  return Err(InvalidArgument("indicatorType must be FileSha1, FileSha256, FileMd5, CertificateThumbprint, IpAddress, "
                             "DomainName or Url, not '" + type + "'"));
}

struct Submitted {
  state::Indicator indicator;
  bool existed = false;
};

// Builds the indicator a POST body describes (merged into the existing one of the same type and
// value). Errors carry the MDE code in `code`.
Result<Submitted> FromBody(Call& call, const json::Value& body, std::string* code) {
  *code = "InvalidInput";
  std::map<std::string, std::string> s;
  for (const char* name : {"indicatorValue", "indicatorType", "action", "title", "description"}) {
    const json::Value* v = body.Find(name);
    if (!v || v->is_null()) return Err(InvalidArgument(std::string("Parameter ") + name + " is missing"));
    if (!v->is_string()) return Err(InvalidArgument(std::string("Request body is incorrect: ") + name + " must be a string"));
    s[name] = v->as_string();
  }
  if (!Actions().count(s["action"])) return Err(InvalidArgument("action '" + s["action"] + "' is not valid"));
  if (s["title"].empty() || s["title"].size() > 512) return Err(InvalidArgument("title must have 1 to 512 characters"));
  if (s["description"].size() > 4096) return Err(InvalidArgument("description is longer than 4096 characters"));
  std::string value_code;
  auto value = CanonicalValue(s["indicatorType"], s["indicatorValue"], &value_code);
  if (!value) {
    *code = value_code;
    return Err(value.error());
  }
  Submitted out;
  state::Repo<state::Indicator> repo(call.services.store);
  auto existing = repo.GetByUniqueKey(call.tenant(), s["indicatorType"] + ":" + *value);
  const int64_t now = NowMs();
  state::Indicator& i = out.indicator;
  if (existing) {
    if (!MayTouch(call, *existing)) return Err(PermissionDenied("The indicator belongs to another application"));
    i = *existing;
    out.existed = true;
  } else {
    i.tenant_id = call.tenant();
    auto seq = call.services.store.NextSequence(call.tenant(), "indicator");
    if (!seq) return Err(seq.error());
    i.id = std::to_string(*seq);
    i.creation_ms = now;
    i.source_type = call.principal.is_user() ? "User" : "AadApp";
    i.created_by = call.principal.is_user() ? call.principal.name : call.principal.client_id;
    i.created_by_display_name = call.principal.name;
    i.source = call.principal.name;
    if (const json::Value* app = body.Find("application"); app && app->is_string()) i.application = app->as_string();
  }
  i.indicator_type = s["indicatorType"];
  i.indicator_value = *value;
  i.action = s["action"];
  i.title = s["title"];
  i.description = s["description"];
  i.last_update_ms = now;
  i.last_updated_by = call.principal.is_user() ? call.principal.name : call.principal.client_id;
  for (const auto& [k, v] : body.members()) {
    if (k == "severity") {
      if (!v.is_string() || (v.as_string() != "Informational" && v.as_string() != "Low" && v.as_string() != "Medium" &&
                             v.as_string() != "High")) {
        return Err(InvalidArgument("severity must be Informational, Low, Medium or High"));
      }
      i.severity = v.as_string();
    } else if (k == "expirationTime") {
      if (v.is_null()) {
        i.expiration_ms = 0;
        continue;
      }
      auto t = v.is_string() ? ParseIsoMs(v.as_string()) : std::nullopt;
      if (!t) return Err(InvalidArgument("expirationTime must be an ISO-8601 datetime"));
      i.expiration_ms = *t;
    } else if (k == "recommendedActions" || k == "educateUrl" || k == "externalID" || k == "externalId") {
      if (!v.is_null() && !v.is_string()) return Err(InvalidArgument("Request body is incorrect: " + k + " must be a string"));
      std::string text = v.is_string() ? v.as_string() : "";
      if (k == "recommendedActions") i.recommended_actions = text;
      else if (k == "educateUrl") i.educate_url = text;
      else i.external_id = text;
    } else if (k == "generateAlert") {
      if (!v.is_bool()) return Err(InvalidArgument("Request body is incorrect: generateAlert must be true or false"));
      i.generate_alert = v.as_bool();
    } else if (k == "rbacGroupNames") {
      auto names = state::ReadStringArray(&v);
      if (!names) return Err(InvalidArgument("Request body is incorrect: rbacGroupNames must be an array of strings"));
      auto groups = call.services.authz.DeviceGroups(call.tenant());
      if (!groups) return Err(groups.error());
      i.rbac_group_names.clear();
      i.rbac_group_ids.clear();
      for (const std::string& name : *names) {
        auto g = std::find_if((*groups)->begin(), (*groups)->end(),
                              [&](const state::DeviceGroup& dg) { return state::LowerAscii(dg.name) == state::LowerAscii(name); });
        if (g == (*groups)->end()) return Err(InvalidArgument("device group '" + name + "' does not exist"));
        i.rbac_group_names.push_back(g->name);
        i.rbac_group_ids.push_back(std::to_string(g->id));
      }
    } else if (k != "indicatorValue" && k != "indicatorType" && k != "action" && k != "title" && k != "description" &&
               k != "application") {
      return Err(InvalidArgument("Request body is incorrect: unknown property '" + k + "'"));
    }
  }
  if (i.action == "Audit" && !i.generate_alert) return Err(InvalidArgument("generateAlert must be true for the Audit action"));
  if (i.expiration_ms && i.expiration_ms < now) return Err(InvalidArgument("expirationTime is in the past"));
  return out;
}

Status Save(Call& call, const Submitted& s) {
  state::Repo<state::Indicator> repo(call.services.store);
  return s.existed ? repo.Update(s.indicator) : repo.Insert(s.indicator);
}

bool VisibleTo(Call& call, const rbac::DeviceScope& scope, const state::Indicator& i) {
  if (!MayTouch(call, i)) return false;
  // An indicator without groups applies to every device; otherwise the caller must see one of them.
  if (i.rbac_group_ids.empty() || scope.all) return true;
  for (const std::string& g : i.rbac_group_ids) {
    char* end = nullptr;
    long long id = std::strtoll(g.c_str(), &end, 10);
    if (end && *end == '\0' && scope.Contains(id)) return true;
  }
  return false;
}

// The import body as indicator bodies: MDE's {"Indicators":[...]}, the portal CSV (text/csv) or a
// STIX 2.1 bundle (application/stix+json, or any JSON body whose "type" is "bundle"). On a
// whole-request error the response is already written and nullopt returned.
std::optional<std::vector<FeedItem>> ImportItems(Call& call) {
  std::string content_type = state::LowerAscii(std::string(call.req.headers.Get("Content-Type")));
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.pop_back();
  size_t too_many = 0;
  auto fail = [&](const Status& st) {
    call.Fail(st, too_many ? "MaximumBatchSizeExceeded" : "");
    return std::nullopt;
  };
  if (content_type == "text/csv") {
    auto items = IndicatorsFromCsv(call.req.body, &too_many);
    if (!items) return fail(items.error());
    return std::move(*items);
  }
  auto body = call.JsonBody();
  if (!body) return fail(body.error());
  if (content_type == "application/stix+json" || body->GetString("type").value_or("") == "bundle") {
    auto items = IndicatorsFromStix(*body, &too_many);
    if (!items) return fail(items.error());
    return std::move(*items);
  }
  const json::Value* list = body->Find("Indicators");
  if (!list || list->is_null()) return fail(InvalidArgument("Parameter Indicators is missing"));
  if (!list->is_array()) return fail(InvalidArgument("Request body is incorrect: Indicators must be an array"));
  if (list->items().empty()) return fail(InvalidArgument("Indicators is empty"));
  if (list->items().size() > kMaxImportItems) {
    too_many = list->items().size();
    return fail(InvalidArgument("Received: " + std::to_string(too_many) + ", allowed: " + std::to_string(kMaxImportItems)));
  }
  std::vector<FeedItem> out;
  for (const json::Value& item : list->items()) {
    FeedItem f;
    if (!item.is_object()) {
      f.failure = "an indicator must be a JSON object";
    } else {
      f.shown = item.GetString("indicatorValue").value_or("");
      f.body = item;
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

void RegisterIndicatorRoutes(Api& api) {
  api.Add("GET", "/api/indicators", [](Call& call) {
    if (Status st = call.Require(requirements::ReadIndicators()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(IndicatorSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto indicators = state::Repo<state::Indicator>(call.services.store).List(call.tenant());
    if (!indicators) return call.Fail(indicators.error());
    rbac::DeviceScope scope = call.services.authz.ScopeFor(call.principal);
    std::vector<json::Value> out;
    for (const state::Indicator& i : *indicators) {
      if (VisibleTo(call, scope, i)) out.push_back(IndicatorJson(i));
    }
    call.ODataList(IndicatorSchema(), *q, std::move(out));
  });
  api.Add("POST", "/api/indicators", [](Call& call) {
    if (Status st = call.Require(WriteIndicators()); !st.ok()) return call.Fail(st);
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    std::string code;
    auto s = FromBody(call, *body, &code);
    if (!s) return call.Fail(s.error(), s.error().code() == StatusCode::kInvalidArgument ? code : "");
    if (Status st = Save(call, *s); !st.ok()) return call.Fail(st);
    call.audit_target = "indicator:" + s->indicator.id;
    call.ODataEntity("Indicators", IndicatorJson(s->indicator));
  });
  api.Add("POST", "/api/indicators/import", [](Call& call) {
    if (Status st = call.Require(WriteIndicators()); !st.ok()) return call.Fail(st);
    auto items = ImportItems(call);
    if (!items) return;
    // Every source goes through FromBody, so a CSV row or STIX object is judged exactly as a POST.
    json::Writer w;
    w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)");
    w.Key("value").StartArray();
    int imported = 0;
    for (const FeedItem& item : *items) {
      std::string code, failure = item.failure, id;
      if (!failure.empty()) {
      } else if (auto s = FromBody(call, item.body, &code); !s) {
        failure = s.error().message();
      } else if (Status st = Save(call, *s); !st.ok()) {
        failure = st.message();
      } else {
        id = s->indicator.id;
        ++imported;
      }
      w.StartObject();
      w.Key("id").Val(id.empty() ? json::Value() : json::Value(id));
      w.KV("indicator", item.shown);
      w.KV("isFailed", !failure.empty());
      w.Key("failureReason").Val(failure.empty() ? json::Value() : json::Value(failure));
      w.EndObject();
    }
    w.EndArray().EndObject();
    call.audit_target = "indicators:" + std::to_string(imported);
    call.Json(200, w.Take());
  });
  api.Add("DELETE", "/api/indicators/{id}", [](Call& call) {
    if (Status st = call.Require(WriteIndicators()); !st.ok()) return call.Fail(st);
    std::string id(call.req.PathParam("id"));
    state::Repo<state::Indicator> repo(call.services.store);
    auto i = repo.Get(call.tenant(), id);
    if (!i || !MayTouch(call, *i)) return call.Fail(NotFound("Indicator " + id + " was not found"));
    if (Status st = repo.Delete(call.tenant(), id); !st.ok()) return call.Fail(st);
    call.audit_target = "indicator:" + id;
    call.NoContent();
  });
  api.Add("POST", "/api/indicators/BatchDelete", [](Call& call) {
    if (Status st = call.Require(WriteIndicators()); !st.ok()) return call.Fail(st);
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto ids = call.IdBatch(*body, "IndicatorIds");
    if (!ids) return;
    state::Repo<state::Indicator> repo(call.services.store);
    rbac::DeviceScope scope = call.services.authz.ScopeFor(call.principal);
    // All or none, as MDE: any missing id is 404, any not exposed to the caller's groups 403.
    for (const std::string& id : *ids) {
      auto i = repo.Get(call.tenant(), id);
      if (!i || !MayTouch(call, *i)) return call.Fail(NotFound("Indicator " + id + " was not found"));
      if (!VisibleTo(call, scope, *i)) return call.Fail(PermissionDenied("Indicator " + id + " is not exposed to your device groups"));
    }
    for (const std::string& id : *ids) {
      if (Status st = repo.Delete(call.tenant(), id); !st.ok() && st.code() != StatusCode::kNotFound) return call.Fail(st);
    }
    call.audit_target = "indicators:" + std::to_string(ids->size());
    call.NoContent();
  });
}

}  // namespace ward::api
