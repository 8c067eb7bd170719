// Saved advanced-hunting queries (Ward extension; MDE keeps them in its portal only):
//   GET  /api/advancedhunting/savedqueries        the caller's own queries and every shared one
//   POST /api/advancedhunting/savedqueries        {"name", "query", "description"?, "shared"?} → 201
//   GET/PATCH/DELETE /api/advancedhunting/savedqueries/{id}
// Anyone who may hunt may save. A query is private to its creator until shared; only the creator,
// or a portal administrator, may change or delete it. Someone else's private query is 404.
#include <algorithm>
#include <set>

#include "api/api.h"
#include "api/errors.h"
#include "common/crypto.h"
#include "common/time.h"
#include "common/strings.h"

namespace ward::api {
namespace {

constexpr size_t kMaxName = 256;
constexpr size_t kMaxQuery = 64 * 1024;  // MDE's query text limit is far lower; room for long hunts
constexpr size_t kMaxDescription = 4096;

using requirements::Hunting;

// Users by object id, applications by client id.
std::string CallerId(const rbac::Principal& p) { return p.is_user() ? p.object_id : p.client_id; }

bool Owns(Call& call, const state::SavedQuery& q) { return q.created_by_id == CallerId(call.principal); }
bool CanEdit(Call& call, const state::SavedQuery& q) {
  return Owns(call, q) || call.Require(requirements::ManagePortal()).ok();
}

json::Value ToJson(Call& call, const state::SavedQuery& q) {
  json::Value v = json::Value::Object();
  v.Set("id", q.id);
  v.Set("name", q.name);
  v.Set("query", q.query);
  v.Set("description", q.description);
  v.Set("shared", q.shared);
  v.Set("createdBy", q.created_by);
  v.Set("createdDateTime", odata::FormatDateTimeMs(q.created_ms));
  v.Set("lastUpdatedDateTime", odata::FormatDateTimeMs(q.last_modified_ms));
  v.Set("canEdit", CanEdit(call, q));
  return v;
}

Status ApplyBody(const json::Value& body, bool create, state::SavedQuery& q) {
  static const std::set<std::string> kKnown = {"name", "query", "description", "shared"};
  for (const json::Member& m : body.members()) {
    if (!kKnown.count(AsciiLower(m.key)) && m.key != "id") return InvalidArgument("Request body is incorrect: unknown field " + m.key);
  }
  auto text = [&](const char* field, size_t max, bool required, std::string* out) -> Status {
    const json::Value* v = body.FindCaseInsensitive(field);
    if (!v) return create && required ? InvalidArgument(std::string("Parameter ") + field + " is missing") : Status::Ok();
    if (!v->is_string() || v->as_string().size() > max || (required && v->as_string().empty())) {
      return InvalidArgument(std::string(field) + " must be a string of " + (required ? "1" : "0") + " to " +
                             std::to_string(max) + " characters");
    }
    *out = v->as_string();
    return Status::Ok();
  };
  WARD_RETURN_IF_ERROR(text("name", kMaxName, true, &q.name));
  WARD_RETURN_IF_ERROR(text("query", kMaxQuery, true, &q.query));
  WARD_RETURN_IF_ERROR(text("description", kMaxDescription, false, &q.description));
  if (const json::Value* v = body.FindCaseInsensitive("shared")) {
    if (!v->is_bool()) return InvalidArgument("shared must be true or false");
    q.shared = v->as_bool();
  }
  return Status::Ok();
}

// The query {id} names, if the caller may see it (own or shared); else 404 as if it did not exist.
Result<state::SavedQuery> Find(Call& call) {
  std::string id = state::LowerAscii(call.req.PathParam("id"));
  auto q = state::Repo<state::SavedQuery>(call.services.store).Get(call.tenant(), id);
  if ((!q && q.error().code() == StatusCode::kNotFound) || (q && !q->shared && !CanEdit(call, *q))) {
    return Err(NotFound("Saved query " + id + " was not found"));
  }
  return q;
}

void List(Call& call) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto all = state::Repo<state::SavedQuery>(call.services.store).List(call.tenant());
  if (!all) return call.Fail(all.error());
  std::vector<const state::SavedQuery*> visible;
  for (const state::SavedQuery& q : *all) {
    if (q.shared || Owns(call, q)) visible.push_back(&q);
  }
  std::sort(visible.begin(), visible.end(), [](const auto* a, const auto* b) {
    return AsciiLower(a->name) < AsciiLower(b->name);
  });
  json::Writer w;
  w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#SavedQueries").Key("value").StartArray();
  for (const state::SavedQuery* q : visible) w.Val(ToJson(call, *q));
  w.EndArray().EndObject();
  call.Json(200, w.Take());
}

void Get(Call& call) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto q = Find(call);
  if (!q) return call.Fail(q.error());
  call.Json(200, ToJson(call, *q).Serialize());
}

void Create(Call& call) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  state::SavedQuery q;
  q.tenant_id = call.tenant();
  if (Status st = ApplyBody(*body, true, q); !st.ok()) return call.Fail(st);
  q.id = NewGuid();
  q.created_by_id = CallerId(call.principal);
  q.created_by = call.principal.name;
  q.created_ms = q.last_modified_ms = NowMs();
  if (Status st = state::Repo<state::SavedQuery>(call.services.store).Insert(q); !st.ok()) return call.Fail(st);
  call.audit_target = "savedquery:" + q.id;
  call.Json(201, ToJson(call, q).Serialize());
}

void Update(Call& call) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  if (!CanEdit(call, *found)) return call.Fail(PermissionDenied("Only the creator of a saved query or an administrator may change it"));
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  Status applied;
  auto written = state::Repo<state::SavedQuery>(call.services.store).Mutate(call.tenant(), found->id, [&](state::SavedQuery& q) {
    applied = ApplyBody(*body, false, q);
    q.last_modified_ms = NowMs();
    return applied;
  });
  if (!written) return call.Fail(applied.ok() ? written.error() : applied);
  call.audit_target = "savedquery:" + written->id;
  call.Json(200, ToJson(call, *written).Serialize());
}

void Delete(Call& call) {
  if (Status st = call.Require(Hunting()); !st.ok()) return call.Fail(st);
  auto found = Find(call);
  if (!found) return call.Fail(found.error());
  if (!CanEdit(call, *found)) return call.Fail(PermissionDenied("Only the creator of a saved query or an administrator may delete it"));
  if (Status st = state::Repo<state::SavedQuery>(call.services.store).Delete(call.tenant(), found->id); !st.ok()) return call.Fail(st);
  call.audit_target = "savedquery:" + found->id;
  call.NoContent();
}

}  // namespace

void RegisterSavedQueryRoutes(Api& api) {
  api.Add("GET", "/api/advancedhunting/savedqueries", List);
  api.Add("POST", "/api/advancedhunting/savedqueries", Create);
  api.Add("GET", "/api/advancedhunting/savedqueries/{id}", Get);
  api.Add("PATCH", "/api/advancedhunting/savedqueries/{id}", Update);
  api.Add("DELETE", "/api/advancedhunting/savedqueries/{id}", Delete);
}

}  // namespace ward::api
