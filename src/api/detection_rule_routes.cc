// Sigma detection rules through the API (a Ward extension; MDE manages custom detections in its
// portal): list every loaded rule with its state, add a rule as Sigma YAML, delete API-added rules.
// Added rules are stored per tenant (state::DetectionRule) so they load again on start, and are
// swapped into the running detector at once (SigmaDetector::PutApiRule) — no restart.
#include "api/api.h"
#include "common/time.h"
#include "detect/sigma_detector.h"

namespace ward::api {
namespace {

constexpr size_t kMaxRuleBytes = 256 * 1024;

const rbac::Requirement& ReadRules() {
  static const rbac::Requirement r{{"Ward.DetectionRules.ReadWrite.All", "Ti.ReadWrite.All", "Ti.Read.All"},
                                   {"Ward.DetectionRules.ReadWrite", "Ti.ReadWrite"},
                                   rbac::PortalPermission::kViewData};
  return r;
}
const rbac::Requirement& WriteRules() {
  static const rbac::Requirement r{{"Ward.DetectionRules.ReadWrite.All", "Ti.ReadWrite.All"},
                                   {"Ward.DetectionRules.ReadWrite", "Ti.ReadWrite"},
                                   rbac::PortalPermission::kManageSecuritySettings};
  return r;
}

void WriteRule(json::Writer& w, const detect::SigmaRuleStatus& s) {
  w.StartObject();
  w.KV("id", s.id);
  w.KVOrNull("title", s.title);
  w.KVOrNull("level", s.level);
  w.KV("source", s.source);
  w.KV("origin", s.origin);
  w.KV("state", s.state);
  w.KVOrNull("reason", s.reason);
  w.EndObject();
}

std::string MediaType(const Call& call) {
  std::string t = state::LowerAscii(std::string(call.req.headers.Get("Content-Type")));
  t = t.substr(0, t.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

}  // namespace

void RegisterDetectionRuleRoutes(Api& api) {
  api.Add("GET", "/api/detectionrules", [](Call& call) {
    if (Status st = call.Require(ReadRules()); !st.ok()) return call.Fail(st);
    if (!call.services.sigma) return call.Fail(Unavailable("Sigma detection is not running"));
    json::Writer w;
    w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#DetectionRules");
    w.Key("value").StartArray();
    for (const detect::SigmaRuleStatus& s : call.services.sigma->Rules(call.tenant())) WriteRule(w, s);
    w.EndArray().EndObject();
    call.Json(200, w.Take());
  });
  api.Add("POST", "/api/detectionrules", [](Call& call) {
    if (Status st = call.Require(WriteRules()); !st.ok()) return call.Fail(st);
    detect::SigmaDetector* sigma = call.services.sigma;
    if (!sigma) return call.Fail(Unavailable("Sigma detection is not running"));
    const std::string media = MediaType(call);
    if (media != "application/x-yaml" && media != "text/yaml" && media != "application/yaml") {
      return call.Fail(InvalidArgument("Content-Type must be application/x-yaml or text/yaml (a Sigma rule)"),
                       "InvalidRequestBody");
    }
    if (call.req.body.empty()) return call.Fail(InvalidArgument("Request body is incorrect: the body is empty"), "InvalidRequestBody");
    if (call.req.body.size() > kMaxRuleBytes) {
      return call.Fail(InvalidArgument("A rule is limited to " + std::to_string(kMaxRuleBytes) + " bytes"), "InvalidRequestBody");
    }
    auto info = sigma->CheckRule(call.req.body);
    if (!info) return call.Fail(info.error(), "InvalidInput");
    const std::string id = detect::SigmaDetector::RuleId(*info);
    // Two rules with one id would share a detector id (and de-duplicate each other's alerts).
    for (const detect::SigmaRuleStatus& s : sigma->Rules(call.tenant())) {
      if (s.id == id && s.source != "api") {
        return call.Fail(AlreadyExists("Rule " + id + " is already loaded from " + s.origin));
      }
    }
    state::Repo<state::DetectionRule> repo(call.services.store);
    auto existing = repo.Get(call.tenant(), id);
    if (!existing && existing.error().code() != StatusCode::kNotFound) return call.Fail(existing.error());
    state::DetectionRule rule;
    rule.tenant_id = call.tenant();
    rule.id = id;
    rule.title = info->title;
    rule.yaml = call.req.body;
    rule.created_by = call.principal.is_user() ? call.principal.name : call.principal.client_id;
    rule.creation_ms = existing ? existing->creation_ms : NowMs();
    // Compile into the live set first: a rule the engine refuses is never stored.
    if (Status st = sigma->PutApiRule({rule.tenant_id, rule.id, rule.yaml}); !st.ok()) return call.Fail(st);
    Status saved = existing ? repo.Update(rule) : repo.Insert(rule);
    if (!saved.ok()) {
      // Keep memory and store in agreement: undo (or restore) the live rule.
      if (existing) (void)sigma->PutApiRule({existing->tenant_id, existing->id, existing->yaml});
      else (void)sigma->RemoveApiRule(rule.tenant_id, rule.id);
      return call.Fail(saved);
    }
    call.audit_target = "detectionrule:" + id;
    detect::SigmaRuleStatus shown{id, info->title, info->level, "api", "api:" + id, "loaded", "", call.tenant()};
    json::Writer w;
    WriteRule(w, shown);
    call.Json(existing ? 200 : 201, w.Take());
  });
  api.Add("DELETE", "/api/detectionrules/{id}", [](Call& call) {
    if (Status st = call.Require(WriteRules()); !st.ok()) return call.Fail(st);
    detect::SigmaDetector* sigma = call.services.sigma;
    if (!sigma) return call.Fail(Unavailable("Sigma detection is not running"));
    std::string id(call.req.PathParam("id"));
    state::Repo<state::DetectionRule> repo(call.services.store);
    auto rule = repo.Get(call.tenant(), id);
    if (!rule) {
      if (rule.error().code() != StatusCode::kNotFound) return call.Fail(rule.error());
      for (const detect::SigmaRuleStatus& s : sigma->Rules(call.tenant())) {
        if (s.id == id) return call.Fail(FailedPrecondition("Rule " + id + " comes from " + s.origin + "; only rules added through the API can be deleted"), "InvalidInput");
      }
      return call.Fail(NotFound("Detection rule " + id + " was not found"));
    }
    if (Status st = repo.Delete(call.tenant(), id); !st.ok()) return call.Fail(st);
    if (Status st = sigma->RemoveApiRule(call.tenant(), id); !st.ok() && st.code() != StatusCode::kNotFound) {
      return call.Fail(st);
    }
    call.audit_target = "detectionrule:" + id;
    call.NoContent();
  });
}

}  // namespace ward::api
