// Advanced hunting over HTTP (reference/hunting-schema.md §3): MDE's POST /api/advancedqueries/run
// ({"Schema","Results"}), the XDR-style POST /api/advancedhunting/run (adds "Stats") and Microsoft
// Graph's POST /v1.0/security/runHuntingQuery ({"schema","results"}, optional "Timespan"). User tokens
// see only rows of devices in their device groups. Queries wait for a slot of the QueryAdmission, which
// shares the engine fairly between tenants instead of MDE's per-tenant quotas.
//
// Cancellation (Ward extension; MDE has no cancel API): a run body may carry "QueryId" (a GUID the
// caller chooses; otherwise the server picks one). While it runs the query is listed by
// GET /api/advancedhunting/queries[/{id}] and cancelled by DELETE /api/advancedhunting/queries/{id};
// the run then answers 400 QueryCancelled "Query was cancelled.". A client that disconnects
// cancels its query too. Callers see and cancel their own queries (same user, or same application);
// tenant administrators (Ward.Management.ReadWrite(.All) with Manage portal settings) see all of the
// tenant's. Someone else's query is 404, as an unknown one.
#include "api/api.h"
#include "api/entities.h"
#include "api/errors.h"
#include "api/hunting.h"
#include "common/crypto.h"
#include "common/time.h"
#include "events/schema.h"
#include "kql/engine.h"

namespace ward::api {
namespace {

using requirements::Hunting;

// The three answers to the same query: MDE's {"Schema","Results"}, XDR's with "Stats", and Microsoft
// Graph's runHuntingQuery ({"schema","results"}, body {"Query","Timespan"}).
enum class HuntApi { kMde, kXdr, kGraph };

// Who owns a running query: users by object id, applications by client id.
std::string CallerId(const rbac::Principal& p) { return p.is_user() ? p.object_id : p.client_id; }

bool SeesAllQueries(Call& call) { return call.Require(requirements::ManagePortal()).ok(); }

bool Visible(Call& call, const RunningQueries::Info& q, bool sees_all) {
  return sees_all || (q.by_user == call.principal.is_user() && q.caller_id == CallerId(call.principal));
}

void WriteQuery(json::Writer& w, const RunningQueries::Info& q) {
  w.StartObject();
  w.KV("QueryId", q.id).KV("Query", q.query).KV("StartTime", FormatIsoMs(q.start_ms));
  w.KV("CallerType", q.by_user ? "User" : "Application").KV("CallerId", q.caller_id).KV("CallerName", q.caller_name);
  w.KV("ClientId", q.client_id).KV("Status", q.cancelled ? "Cancelling" : "Running");
  w.EndObject();
}

// The {id} of /api/advancedhunting/queries/{id}: a GUID (lower-cased), or it has answered 400.
std::optional<std::string> QueryIdParam(Call& call) {
  std::string id(call.req.PathParam("id"));
  if (!IsGuid(id)) {
    call.Fail(InvalidArgument("QueryId '" + id + "' is not a valid GUID"), "InvalidInput");
    return std::nullopt;
  }
  return state::LowerAscii(id);
}

void RunHunt(Call& call, HuntApi shape) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  const json::Value* query = body->Find("Query");
  if (!query || query->is_null()) return call.Fail(InvalidArgument("Parameter Query is missing"));
  if (!query->is_string()) return call.Fail(InvalidArgument("Request body is incorrect: Query must be a string"));
  if (query->as_string().size() > 100'000) return call.Fail(InvalidArgument("Query is longer than 100,000 characters"));
  std::string query_id;
  if (const json::Value* qid = body->Find("QueryId"); qid && !qid->is_null()) {
    if (!qid->is_string() || !IsGuid(qid->as_string())) {
      return call.Fail(InvalidArgument("Request body is incorrect: QueryId must be a GUID"), "InvalidRequestBody");
    }
    query_id = state::LowerAscii(qid->as_string());
  } else {
    query_id = NewGuid();
  }
  if (!call.services.event_store) return call.Fail(Unavailable("the event store is not running"));
  kql::QueryOptions options = call.services.hunting;
  options.tenant_id = call.tenant();
  if (options.now_ticks == 0) options.now_ticks = NowTicks();
  if (shape == HuntApi::kGraph) {
    if (const json::Value* span = body->Find("Timespan"); span && !span->is_null()) {
      if (!span->is_string()) return call.Fail(InvalidArgument("Request body is incorrect: Timespan must be a string"), "InvalidRequestBody");
      auto window = ParseGraphTimespan(span->as_string(), options.now_ticks);
      if (!window) return call.Fail(window.error(), "BadRequest");
      options.window_start_ticks = window->start_ticks;
      options.window_end_ticks = window->end_ticks;
    }
  }
  if (!call.services.authz.ScopeFor(call.principal).all) {
    auto view = LoadCallerView(call, false);
    if (!view) return call.Fail(view.error());
    options.device_ids.emplace();
    for (const state::Machine& m : view->machines) options.device_ids->insert(m.id);
  }
  RunningQueries::Info info;
  info.tenant_id = call.tenant();
  info.id = query_id;
  info.query = query->as_string();
  info.start_ms = NowMs();
  info.by_user = call.principal.is_user();
  info.caller_id = CallerId(call.principal);
  info.caller_name = call.principal.name;
  info.client_id = call.principal.client_id;
  auto ticket = call.services.running_queries->Start(std::move(info), call.req.peer_closed);
  // MDE answers its one "already running" case (live response) with 400 ActiveRequestAlreadyExists.
  if (!ticket) return call.Json(400, ErrorBody("ActiveRequestAlreadyExists", ticket.error().message(), call.req.request_id));
  options.cancel = (*ticket)->flag();
  // A slot, shared fairly with the other tenants; waiting counts against the request's timeout.
  auto slot = call.services.hunting_admission->Admit(call.tenant(), kql::QueryAdmission::Clock::now() + options.timeout, options.cancel);
  if (!slot) {
    if ((*ticket)->cancelled()) return call.Json(400, ErrorBody("QueryCancelled", slot.error().message(), call.req.request_id));
    call.res.headers.Set("Retry-After", "60");
    return call.Json(429, ErrorBody("TooManyRequests", slot.error().message(), call.req.request_id));
  }
  auto result = kql::RunQuery(query->as_string(), options, *call.services.event_store, events::SchemaRegistry::Hunting());
  if (!result) {
    // Kusto's errors are 400 BadRequest with the message (and its position) as the portal shows it.
    const Status& st = result.error();
    if (st.code() == StatusCode::kUnavailable && (*ticket)->cancelled()) {
      return call.Json(400, ErrorBody("QueryCancelled", st.message(), call.req.request_id));
    }
    // Limits (result size, time) are 400 too, with MDE's wording from the engine.
    if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kResourceExhausted) {
      return call.Json(400, ErrorBody("BadRequest", st.message(), call.req.request_id));
    }
    return call.Fail(st);
  }
  slot->Release();
  call.Json(200, shape == HuntApi::kGraph ? GraphHuntingResultJson(*result) : HuntingResultJson(*result, shape == HuntApi::kXdr));
}

}  // namespace

void RegisterHuntingRoutes(Api& api) {
  api.Add("POST", "/api/advancedqueries/run", [](Call& call) { RunHunt(call, HuntApi::kMde); });
  api.Add("POST", "/api/advancedhunting/run", [](Call& call) { RunHunt(call, HuntApi::kXdr); });
  // Microsoft Graph (v1.0 and beta), with Ward's tokens as the other Graph-shaped routes.
  api.Add("POST", "/v1.0/security/runHuntingQuery", [](Call& call) { RunHunt(call, HuntApi::kGraph); });
  api.Add("POST", "/beta/security/runHuntingQuery", [](Call& call) { RunHunt(call, HuntApi::kGraph); });
  // Ward extension: the tables and columns queries can use (the portal's schema browser and completion).
  api.Add("GET", "/api/advancedhunting/schema", [](Call& call) {
    if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
    json::Writer w;
    w.StartObject().Key("Tables").StartArray();
    for (const events::TableDef& t : events::SchemaRegistry::Hunting().tables()) {
      w.StartObject().KV("Name", t.name).Key("Columns").StartArray();
      for (const events::ColumnDef& c : t.columns) {
        w.StartObject().KV("Name", c.name).KV("Type", std::string(events::ColumnTypeName(c.type))).EndObject();
      }
      w.EndArray().EndObject();
    }
    w.EndArray().EndObject();
    call.Json(200, w.Take());
  });
  api.Add("GET", "/api/advancedhunting/queries", [](Call& call) {
    if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
    const bool all = SeesAllQueries(call);
    json::Writer w;
    w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#HuntingQueries");
    w.Key("value").StartArray();
    for (const RunningQueries::Info& q : call.services.running_queries->List(call.tenant())) {
      if (Visible(call, q, all)) WriteQuery(w, q);
    }
    w.EndArray().EndObject();
    call.Json(200, w.Take());
  });
  api.Add("GET", "/api/advancedhunting/queries/{id}", [](Call& call) {
    if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
    auto id = QueryIdParam(call);
    if (!id) return;
    auto q = call.services.running_queries->Get(call.tenant(), *id);
    if (!q || !Visible(call, *q, SeesAllQueries(call))) return call.Fail(NotFound("Query " + *id + " is not running"));
    json::Writer w;
    WriteQuery(w, *q);
    call.Json(200, w.Take());
  });
  api.Add("DELETE", "/api/advancedhunting/queries/{id}", [](Call& call) {
    if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
    auto id = QueryIdParam(call);
    if (!id) return;
    RunningQueries& running = *call.services.running_queries;
    auto q = running.Get(call.tenant(), *id);
    if (!q || !Visible(call, *q, SeesAllQueries(call))) return call.Fail(NotFound("Query " + *id + " is not running"));
    // It may have finished in between: then there is nothing left to cancel.
    if (Status st = running.Cancel(call.tenant(), *id); !st.ok()) return call.Fail(st);
    call.audit_target = "huntingquery:" + *id;
    call.NoContent();
  });
}

}  // namespace ward::api
