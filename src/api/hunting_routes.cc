// Advanced hunting over HTTP (reference/hunting-schema.md §3): MDE's POST /api/advancedqueries/run
// ({"Schema","Results"}) and the XDR-style POST /api/advancedhunting/run (adds "Stats"). User tokens
// see only rows of devices in their device groups.
#include "api/api.h"
#include "api/entities.h"
#include "api/errors.h"
#include "api/hunting.h"
#include "common/time.h"
#include "kql/engine.h"

namespace ward::api {
namespace {

const rbac::Requirement& Hunting() {
  static const rbac::Requirement r{{"AdvancedQuery.Read.All", "AdvancedHunting.Read.All"},
                                   {"AdvancedQuery.Read", "AdvancedHunting.Read"}, rbac::PortalPermission::kViewData};
  return r;
}

void RunHunt(Call& call, bool with_stats) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  const json::Value* query = body->Find("Query");
  if (!query || query->is_null()) return call.Fail(InvalidArgument("Parameter Query is missing"));
  if (!query->is_string()) return call.Fail(InvalidArgument("Request body is incorrect: Query must be a string"));
  if (query->as_string().size() > 100'000) return call.Fail(InvalidArgument("Query is longer than 100,000 characters"));
  if (!call.services.event_store) return call.Fail(Unavailable("the event store is not running"));
  kql::QueryOptions options = call.services.hunting;
  options.tenant_id = call.tenant();
  if (!call.services.authz.ScopeFor(call.principal).all) {
    auto view = LoadCallerView(call, false);
    if (!view) return call.Fail(view.error());
    options.device_ids.emplace();
    for (const state::Machine& m : view->machines) options.device_ids->insert(m.id);
  }
  auto result = kql::RunQuery(query->as_string(), options, *call.services.event_store, events::SchemaRegistry::Hunting());
  if (!result) {
    // Kusto's errors are 400 BadRequest with the message (and its position) as the portal shows it.
    const Status& st = result.error();
    // Limits (result size, time) are 400 too, with MDE's wording from the engine.
    if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kResourceExhausted) {
      return call.Json(400, ErrorBody("BadRequest", st.message(), call.req.request_id));
    }
    return call.Fail(st);
  }
  call.Json(200, HuntingResultJson(*result, with_stats));
}

}  // namespace

void RegisterHuntingRoutes(Api& api) {
  api.Add("POST", "/api/advancedqueries/run", [](Call& call) { RunHunt(call, false); });
  api.Add("POST", "/api/advancedhunting/run", [](Call& call) { RunHunt(call, true); });
}

}  // namespace ward::api
