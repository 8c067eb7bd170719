// The legacy MDE SIEM detections API (mde-api.md §8): GET /siem/api/alerts on Ward's listener, and
// GET /api/alerts on the separate SIEM listener when one is configured. A bare JSON array of flat
// detections (siem_detections.h), scoped like every alert list to the caller's device groups.
// Tokens for the documented Azure AD Graph resource are accepted here, and only here.
#include <algorithm>
#include <map>

#include "api/api.h"
#include "api/entities.h"
#include "api/siem_detections.h"
#include "common/strings.h"
#include "common/time.h"

namespace ward::api {
namespace {

constexpr std::string_view kSiemPath = "/siem/api/alerts";

// The indicator behind each custom-TI alert of the selection (detectorId "indicator:<id>"), by
// detector id, so that CreatorIocName/Value name what raised it.
std::map<std::string, state::Indicator> CreatorIndicators(Call& call, const std::vector<const state::Alert*>& alerts) {
  std::map<std::string, state::Indicator> out;
  state::Repo<state::Indicator> repo(call.services.store);
  for (const state::Alert* a : alerts) {
    if (a->detector_id.rfind("indicator:", 0) != 0 || out.count(a->detector_id)) continue;
    // A deleted indicator leaves its alerts without a creator: the fields stay "".
    if (auto i = repo.Get(call.tenant(), a->detector_id.substr(10))) out.emplace(a->detector_id, std::move(*i));
  }
  return out;
}

void GetSiemAlerts(Call& call) {
  if (Status st = call.Require(requirements::ReadAlerts()); !st.ok()) return call.Fail(st);
  auto params = http::ParseForm(call.req.query);
  if (!params) return call.Fail(InvalidArgument("The query string is malformed"));
  auto query = ParseSiemQuery(*params, NowTicks());
  if (!query) return call.Fail(query.error());
  auto view = LoadCallerView(call);
  if (!view) return call.Fail(view.error());

  std::vector<const state::Alert*> selected;
  for (const state::Alert& a : view->alerts) {
    const state::Machine* m = view->FindMachine(a.machine_id);
    if (m && SiemSelects(*query, a, *m, view->GroupName(*m))) selected.push_back(&a);
  }
  // The most recent first for the limit, then oldest first, the order a SIEM pulls incrementally in.
  auto newest_first = [](const state::Alert* x, const state::Alert* y) {
    return x->last_update_ms != y->last_update_ms ? x->last_update_ms > y->last_update_ms : x->id > y->id;
  };
  std::sort(selected.begin(), selected.end(), newest_first);
  if (query->limit && selected.size() > static_cast<size_t>(*query->limit)) selected.resize(static_cast<size_t>(*query->limit));
  std::reverse(selected.begin(), selected.end());

  const std::map<std::string, state::Indicator> creators = CreatorIndicators(call, selected);
  SiemAlertContext ctx;
  ctx.portal_url = call.services.public_url.empty() ? call.BaseUrl() : call.services.public_url;
  json::Writer w;
  w.StartArray();
  for (const state::Alert* a : selected) {
    ctx.machine = view->FindMachine(a->machine_id);
    ctx.machine_group = view->GroupName(*ctx.machine);
    auto creator = creators.find(a->detector_id);
    ctx.creator_ioc_name = creator == creators.end() ? "" : creator->second.indicator_type;
    ctx.creator_ioc_value = creator == creators.end() ? "" : creator->second.indicator_value;
    for (const json::Value& d : SiemDetections(*a, ctx)) w.Val(d);
  }
  w.EndArray();
  // A bare array, not an OData payload: plain JSON without OData's headers.
  call.res.Set(200, "application/json; charset=utf-8", w.Take());
}

bool IsExporterAlertsPath(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return EqualsIgnoreCase(path, "/api/alerts");
}

}  // namespace

void RegisterSiemRoutes(Api& api) { api.Add("GET", std::string(kSiemPath), GetSiemAlerts, Audience::kApiOrSiem); }

void HandleSiemListener(Api& api, http::Request& req, http::Response& res) {
  if (!IsExporterAlertsPath(req.path)) {
    req.route = "unmatched";
    return api.RenderError(404, "ResourceNotFound", "Resource " + req.path + " wasn't found", req, res);
  }
  req.path = std::string(kSiemPath);
  api.Handle(req, res);
}

}  // namespace ward::api
