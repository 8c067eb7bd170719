// Ward's management API (an extension: MDE manages these in its portal): roles, device groups, user
// groups, users and applications. Needs "Manage portal system settings" (user) or
// Ward.Management.ReadWrite.All (app). Bodies are validated field by field; unknown fields are
// rejected so that typos do not silently do nothing.
#include <algorithm>
#include <set>

#include "api/api.h"
#include "common/crypto.h"
#include "identity/certificates.h"
#include "identity/password.h"
#include "rbac/device_groups.h"
#include "rbac/permissions.h"

namespace ward::api {
namespace {

using json::Value;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoTime(int64_t ms) { return odata::FormatDateTimeMs(ms); }

// Reads the fields of a request body with type checks; the first problem wins.
class BodyReader {
 public:
  BodyReader(const Value& body, std::set<std::string> allowed) : body_(body) {
    for (const json::Member& m : body.members()) {
      if (!allowed.count(m.key) && status_.ok()) status_ = InvalidArgument("Unknown property '" + m.key + "'");
    }
  }
  bool Has(const char* k) const { return body_.Find(k) != nullptr; }
  void Str(const char* k, std::string* out, bool required = false, size_t max = 256) {
    const Value* v = body_.Find(k);
    if (!v) {
      if (required) Fail(MissingParam(k));
      return;
    }
    if (!v->is_string()) return Fail(InvalidArgument(std::string("'") + k + "' must be a string"));
    if (v->as_string().size() > max) return Fail(InvalidArgument(std::string("'") + k + "' is too long"));
    if (required && v->as_string().empty()) return Fail(InvalidArgument(std::string("'") + k + "' must not be empty"));
    *out = v->as_string();
  }
  void Strs(const char* k, std::vector<std::string>* out, size_t max_items = 1000) {
    const Value* v = body_.Find(k);
    if (!v) return;
    auto arr = state::ReadStringArray(v);
    if (!arr) return Fail(InvalidArgument(std::string("'") + k + "' must be an array of strings"));
    if (arr->size() > max_items) return Fail(InvalidArgument(std::string("'") + k + "' has too many items"));
    *out = std::move(*arr);
  }
  void Int(const char* k, int64_t* out) {
    const Value* v = body_.Find(k);
    if (!v) return;
    if (!v->is_int()) return Fail(InvalidArgument(std::string("'") + k + "' must be an integer"));
    *out = v->as_int();
  }
  void Bool(const char* k, bool* out) {
    const Value* v = body_.Find(k);
    if (!v) return;
    if (!v->is_bool()) return Fail(InvalidArgument(std::string("'") + k + "' must be true or false"));
    *out = v->as_bool();
  }
  const Value* Raw(const char* k) const { return body_.Find(k); }
  void Fail(Status st) {
    if (status_.ok()) status_ = std::move(st);
  }
  const Status& status() const { return status_; }
  static Status MissingParam(const char* k) { return InvalidArgument(std::string("Parameter ") + k + " is missing"); }

 private:
  const Value& body_;
  Status status_;
};

// ---- JSON shapes ----

Value RoleJson(const state::Role& r) {
  Value v = Value::Object();
  v.Set("id", r.id);
  v.Set("name", r.name);
  v.Set("description", r.description);
  v.Set("permissions", state::StringArray(r.permissions));
  v.Set("assignedUserGroups", state::StringArray(r.user_group_ids));
  v.Set("isBuiltIn", r.builtin);
  return v;
}

Value DeviceGroupJson(const state::DeviceGroup& g) {
  Value v = Value::Object();
  v.Set("id", g.id);
  v.Set("name", g.name);
  v.Set("description", g.description);
  v.Set("rank", g.rank);
  v.Set("remediationLevel", g.remediation_level);
  Value rules = Value::Object();
  rules.Set("name", state::StringArray(g.rules.name));
  rules.Set("domain", state::StringArray(g.rules.domain));
  rules.Set("tag", state::StringArray(g.rules.tag));
  rules.Set("osPlatform", state::StringArray(g.rules.os_platform));
  v.Set("rules", std::move(rules));
  v.Set("userGroups", state::StringArray(g.user_group_ids));
  v.Set("isDefault", g.is_default);
  return v;
}

Value UserGroupJson(const state::UserGroup& g) {
  Value v = Value::Object();
  v.Set("id", g.id);
  v.Set("name", g.name);
  v.Set("description", g.description);
  v.Set("members", state::StringArray(g.member_ids));
  return v;
}

Value UserJson(const state::User& u) {
  Value v = Value::Object();
  v.Set("id", u.id);
  v.Set("userPrincipalName", u.upn);
  v.Set("displayName", u.display_name);
  v.Set("accountEnabled", u.enabled);
  v.Set("createdDateTime", IsoTime(u.created_ms));
  return v;
}

Value SecretJson(const state::AppSecret& s) {
  Value v = Value::Object();
  v.Set("keyId", s.id);
  v.Set("displayName", s.display_name);
  v.Set("hint", s.hint);
  v.Set("startDateTime", IsoTime(s.created_ms));
  v.Set("endDateTime", s.expires_ms ? Value(IsoTime(s.expires_ms)) : Value());
  return v;
}

Value CertificateJson(const state::AppCertificate& c) {
  Value v = Value::Object();
  v.Set("keyId", c.id);
  v.Set("customKeyIdentifier", c.thumbprint);
  v.Set("displayName", c.subject);
  v.Set("type", "AsymmetricX509Cert");
  v.Set("usage", "Verify");
  v.Set("startDateTime", IsoTime(c.created_ms));
  v.Set("endDateTime", IsoTime(c.expires_ms));
  return v;
}

Value AppJson(const state::App& a) {
  Value v = Value::Object();
  v.Set("appId", a.client_id);
  v.Set("displayName", a.display_name);
  v.Set("applicationPermissions", state::StringArray(a.app_permissions));
  v.Set("delegatedPermissions", state::StringArray(a.delegated_permissions));
  v.Set("redirectUris", state::StringArray(a.redirect_uris));
  v.Set("publicClient", a.public_client);
  v.Set("enabled", a.enabled);
  Value secrets = Value::Array();
  for (const state::AppSecret& s : a.secrets) secrets.Append(SecretJson(s));
  v.Set("passwordCredentials", std::move(secrets));
  Value certs = Value::Array();
  for (const state::AppCertificate& c : a.certificates) certs.Append(CertificateJson(c));
  v.Set("keyCredentials", std::move(certs));
  v.Set("createdDateTime", IsoTime(a.created_ms));
  return v;
}

const odata::EntitySchema& RoleSchema() {
  static const odata::EntitySchema s{"Roles", {{"id", odata::PropertyType::kString}, {"name", odata::PropertyType::kString},
      {"description", odata::PropertyType::kString}, {"permissions", odata::PropertyType::kStringCollection},
      {"assignedUserGroups", odata::PropertyType::kStringCollection}, {"isBuiltIn", odata::PropertyType::kBool}}};
  return s;
}
const odata::EntitySchema& DeviceGroupSchema() {
  static const odata::EntitySchema s{"DeviceGroups", {{"id", odata::PropertyType::kInt}, {"name", odata::PropertyType::kString},
      {"description", odata::PropertyType::kString}, {"rank", odata::PropertyType::kInt},
      {"remediationLevel", odata::PropertyType::kString}, {"userGroups", odata::PropertyType::kStringCollection},
      {"isDefault", odata::PropertyType::kBool}}};
  return s;
}
const odata::EntitySchema& UserGroupSchema() {
  static const odata::EntitySchema s{"UserGroups", {{"id", odata::PropertyType::kString}, {"name", odata::PropertyType::kString},
      {"description", odata::PropertyType::kString}, {"members", odata::PropertyType::kStringCollection}}};
  return s;
}
const odata::EntitySchema& UserSchema() {
  static const odata::EntitySchema s{"Users", {{"id", odata::PropertyType::kString},
      {"userPrincipalName", odata::PropertyType::kString}, {"displayName", odata::PropertyType::kString},
      {"accountEnabled", odata::PropertyType::kBool}, {"createdDateTime", odata::PropertyType::kDateTime}}};
  return s;
}
const odata::EntitySchema& AppSchema() {
  static const odata::EntitySchema s{"Applications", {{"appId", odata::PropertyType::kString},
      {"displayName", odata::PropertyType::kString}, {"applicationPermissions", odata::PropertyType::kStringCollection},
      {"delegatedPermissions", odata::PropertyType::kStringCollection}, {"publicClient", odata::PropertyType::kBool},
      {"enabled", odata::PropertyType::kBool}, {"createdDateTime", odata::PropertyType::kDateTime}}};
  return s;
}

// ---- validation helpers ----

Status CheckUserGroupsExist(Call& call, const std::vector<std::string>& ids) {
  state::Repo<state::UserGroup> groups(call.services.store);
  for (const std::string& id : ids) {
    if (!groups.Get(call.tenant(), id)) return InvalidArgument("User group " + id + " does not exist");
  }
  return Status::Ok();
}

Status CheckUsersExist(Call& call, const std::vector<std::string>& ids) {
  state::Repo<state::User> users(call.services.store);
  for (const std::string& id : ids) {
    if (!users.Get(call.tenant(), id)) return InvalidArgument("User " + id + " does not exist");
  }
  return Status::Ok();
}

Status CanonicalizePortalPermissions(std::vector<std::string>* perms) {
  std::set<std::string> out;
  for (const std::string& p : *perms) {
    auto parsed = rbac::ParsePortalPermission(p);
    if (!parsed) return InvalidArgument("Unknown permission '" + p + "'");
    out.insert(std::string(rbac::PortalPermissionName(*parsed)));
  }
  perms->assign(out.begin(), out.end());
  return Status::Ok();
}

Status CanonicalizeApiPermissions(std::vector<std::string>* perms, bool delegated) {
  std::set<std::string> out;
  for (const std::string& p : *perms) {
    auto c = delegated ? rbac::CanonicalDelegatedPermission(p) : rbac::CanonicalApplicationPermission(p);
    if (!c) return InvalidArgument(std::string("Unknown ") + (delegated ? "delegated" : "application") + " permission '" + p + "'");
    out.insert(*c);
  }
  perms->assign(out.begin(), out.end());
  return Status::Ok();
}

// Guards every handler: permission first, then the handler's own work.
template <class F>
CallHandler Managed(F f) {
  return [f](Call& call) {
    if (Status st = call.Require(requirements::ManagePortal()); !st.ok()) return call.Fail(st);
    f(call);
  };
}

// Everything that differs between the managed entity sets; RegisterCrud turns it into
// GET (list, OData) / GET one / POST / PATCH / DELETE with the same validation, audit and cache rules.
template <class R>
struct CrudSpec {
  std::string path;        // e.g. "/api/rbac/roles"; items at path + "/{id}"
  std::string noun;        // e.g. "Role", for messages
  std::string audit_kind;  // e.g. "role", for audit targets "role:<id>"
  const odata::EntitySchema* schema = nullptr;
  std::function<Value(const R&)> to_json;
  std::function<std::string(const R&)> id_of;
  std::function<std::string(const R&)> name_of;
  // A new record with tenant, id and defaults, before the body is applied.
  std::function<Result<R>(Call&)> make;
  // Applies the request body; create tells POST from PATCH.
  std::function<Status(Call&, const Value& body, R* record, bool create)> apply;
  std::function<std::string(std::string_view)> normalize_id = [](std::string_view id) { return std::string(id); };
  std::function<Status(Call&, const R&)> before_delete = [](Call&, const R&) { return Status::Ok(); };
  // After any change: e.g. recompute device-group membership.
  std::function<Status(Call&)> after_change = [](Call&) { return Status::Ok(); };
  std::function<void(std::vector<R>&)> sort = [](std::vector<R>&) {};
  bool rbac_relevant = true;  // changes invalidate the authorizer's snapshot
};

template <class R>
void RegisterCrud(Api& api, CrudSpec<R> spec_in) {
  auto spec = std::make_shared<const CrudSpec<R>>(std::move(spec_in));
  auto not_found = [spec](std::string_view id) { return NotFound(spec->noun + " " + std::string(id) + " was not found"); };
  auto finish = [spec](Call& call, const R& r) -> Status {
    call.audit_target = spec->audit_kind + ":" + spec->id_of(r);
    if (spec->rbac_relevant) call.services.authz.Invalidate();
    return spec->after_change(call);
  };
  auto load = [spec, not_found](Call& call) -> Result<R> {
    std::string id = spec->normalize_id(call.req.PathParam("id"));
    auto r = state::Repo<R>(call.services.store).Get(call.tenant(), id);
    if (!r) return Err(r.error().code() == StatusCode::kNotFound ? not_found(call.req.PathParam("id")) : r.error());
    return r;
  };

  api.Add("GET", spec->path, Managed([spec](Call& call) {
    auto q = call.ODataQuery(*spec->schema);
    if (!q) return call.Fail(q.error(), "ODataError");
    auto all = state::Repo<R>(call.services.store).List(call.tenant());
    if (!all) return call.Fail(all.error());
    spec->sort(*all);
    std::vector<Value> out;
    out.reserve(all->size());
    for (const R& r : *all) out.push_back(spec->to_json(r));
    call.ODataList(*spec->schema, *q, std::move(out));
  }));
  api.Add("GET", spec->path + "/{id}", Managed([spec, load](Call& call) {
    auto r = load(call);
    if (!r) return call.Fail(r.error());
    call.ODataEntity(spec->schema->entity_set, spec->to_json(*r));
  }));
  api.Add("POST", spec->path, Managed([spec, finish](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto r = spec->make(call);
    if (!r) return call.Fail(r.error());
    if (Status st = spec->apply(call, *body, &*r, true); !st.ok()) return call.Fail(st);
    if (Status st = state::Repo<R>(call.services.store).Insert(*r); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kAlreadyExists
                           ? AlreadyExists(spec->noun + " '" + spec->name_of(*r) + "' already exists")
                           : st);
    }
    if (Status st = finish(call, *r); !st.ok()) return call.Fail(st);
    call.ODataEntity(spec->schema->entity_set, spec->to_json(*r), 201);
  }));
  api.Add("PATCH", spec->path + "/{id}", Managed([spec, load, finish](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto r = load(call);
    if (!r) return call.Fail(r.error());
    if (Status st = spec->apply(call, *body, &*r, false); !st.ok()) return call.Fail(st);
    if (Status st = state::Repo<R>(call.services.store).Update(*r); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kAlreadyExists
                           ? AlreadyExists(spec->noun + " '" + spec->name_of(*r) + "' already exists")
                           : st);
    }
    if (Status st = finish(call, *r); !st.ok()) return call.Fail(st);
    call.ODataEntity(spec->schema->entity_set, spec->to_json(*r));
  }));
  api.Add("DELETE", spec->path + "/{id}", Managed([spec, load, finish](Call& call) {
    auto r = load(call);
    if (!r) return call.Fail(r.error());
    if (Status st = spec->before_delete(call, *r); !st.ok()) {
      return call.Fail(st, st.code() == StatusCode::kInvalidArgument ? "DisallowedOperation" : "");
    }
    if (Status st = state::Repo<R>(call.services.store).Delete(call.tenant(), spec->id_of(*r)); !st.ok()) {
      return call.Fail(st);
    }
    if (Status st = finish(call, *r); !st.ok()) return call.Fail(st);
    call.NoContent();
  }));
}

// Removes `id` from a list field of every record of a kind (references to a deleted object).
template <class R>
Status RemoveReferences(Call& call, std::vector<std::string> R::*field, const std::string& id) {
  state::Repo<R> repo(call.services.store);
  WARD_ASSIGN_OR_RETURN(std::vector<R> all, repo.List(call.tenant()));
  for (R& r : all) {
    auto& list = r.*field;
    auto it = std::remove(list.begin(), list.end(), id);
    if (it == list.end()) continue;
    list.erase(it, list.end());
    WARD_RETURN_IF_ERROR(repo.Update(r));
  }
  return Status::Ok();
}

Status RecomputeGroups(Call& call) {
  auto changed = rbac::RecomputeDeviceGroups(call.services.store, call.tenant());
  return changed ? Status::Ok() : changed.error();
}

Status CheckPassword(const std::string& password) {
  if (password.size() < 12) return InvalidArgument("The password must have at least 12 characters");
  return Status::Ok();
}

// ---- the entity sets ----

Status ApplyRole(Call& call, const Value& body, state::Role* r, bool create) {
  BodyReader in(body, {"name", "description", "permissions", "assignedUserGroups"});
  if (r->builtin && (in.Has("name") || in.Has("permissions"))) {
    return InvalidArgument("The built-in role's name and permissions cannot be changed");
  }
  in.Str("name", &r->name, create);
  in.Str("description", &r->description, false, 1024);
  in.Strs("permissions", &r->permissions, 32);
  in.Strs("assignedUserGroups", &r->user_group_ids);
  WARD_RETURN_IF_ERROR(in.status());
  if (r->name.empty()) return InvalidArgument("'name' must not be empty");
  WARD_RETURN_IF_ERROR(CanonicalizePortalPermissions(&r->permissions));
  return CheckUserGroupsExist(call, r->user_group_ids);
}

Status ApplyDeviceGroup(Call& call, const Value& body, state::DeviceGroup* g, bool create) {
  BodyReader in(body, {"name", "description", "rank", "remediationLevel", "rules", "userGroups"});
  in.Str("name", &g->name, create);
  in.Str("description", &g->description, false, 1024);
  in.Int("rank", &g->rank);
  in.Str("remediationLevel", &g->remediation_level);
  in.Strs("userGroups", &g->user_group_ids);
  if (const Value* rules = in.Raw("rules")) {
    if (g->is_default) return InvalidArgument("The default group has no rules");
    if (!rules->is_object()) return InvalidArgument("'rules' must be an object");
    BodyReader rr(*rules, {"name", "domain", "tag", "osPlatform"});
    g->rules = {};
    rr.Strs("name", &g->rules.name, 10);
    rr.Strs("domain", &g->rules.domain, 10);
    rr.Strs("tag", &g->rules.tag, 10);
    rr.Strs("osPlatform", &g->rules.os_platform, 10);
    WARD_RETURN_IF_ERROR(rr.status());
  }
  WARD_RETURN_IF_ERROR(in.status());
  if (g->is_default && in.Has("rank")) return InvalidArgument("The default group cannot be ranked");
  if (g->is_default && in.Has("name")) return InvalidArgument("The default group cannot be renamed");
  WARD_RETURN_IF_ERROR(rbac::ValidateDeviceGroup(*g));
  return CheckUserGroupsExist(call, g->user_group_ids);
}

Status ApplyUserGroup(Call& call, const Value& body, state::UserGroup* g, bool create) {
  BodyReader in(body, {"name", "description", "members"});
  in.Str("name", &g->name, create);
  in.Str("description", &g->description, false, 1024);
  in.Strs("members", &g->member_ids, 10000);
  WARD_RETURN_IF_ERROR(in.status());
  std::sort(g->member_ids.begin(), g->member_ids.end());
  g->member_ids.erase(std::unique(g->member_ids.begin(), g->member_ids.end()), g->member_ids.end());
  return CheckUsersExist(call, g->member_ids);
}

Status ApplyUser(Call&, const Value& body, state::User* u, bool create) {
  // The sign-in name is fixed once created: tokens and audit entries refer to it.
  BodyReader in(body, create ? std::set<std::string>{"userPrincipalName", "displayName", "password", "accountEnabled"}
                             : std::set<std::string>{"displayName", "password", "accountEnabled"});
  std::string password;
  in.Str("userPrincipalName", &u->upn, create);
  in.Str("displayName", &u->display_name);
  in.Str("password", &password, create, 1024);
  in.Bool("accountEnabled", &u->enabled);
  WARD_RETURN_IF_ERROR(in.status());
  if (u->upn.find('@') == std::string::npos) return InvalidArgument("userPrincipalName must look like name@domain");
  if (u->display_name.empty()) u->display_name = u->upn;
  if (in.Has("password")) {
    WARD_RETURN_IF_ERROR(CheckPassword(password));
    WARD_ASSIGN_OR_RETURN(u->password_hash, identity::HashPassword(password));
  }
  return Status::Ok();
}

Status ApplyApp(Call&, const Value& body, state::App* a, bool create) {
  BodyReader in(body, {"displayName", "applicationPermissions", "delegatedPermissions", "redirectUris", "publicClient",
                       "enabled"});
  in.Str("displayName", &a->display_name, create);
  in.Strs("applicationPermissions", &a->app_permissions, 64);
  in.Strs("delegatedPermissions", &a->delegated_permissions, 64);
  in.Strs("redirectUris", &a->redirect_uris, 32);
  in.Bool("publicClient", &a->public_client);
  in.Bool("enabled", &a->enabled);
  WARD_RETURN_IF_ERROR(in.status());
  WARD_RETURN_IF_ERROR(CanonicalizeApiPermissions(&a->app_permissions, false));
  WARD_RETURN_IF_ERROR(CanonicalizeApiPermissions(&a->delegated_permissions, true));
  for (const std::string& uri : a->redirect_uris) {
    if (uri.rfind("https://", 0) != 0 && uri.rfind("http://localhost", 0) != 0 && uri.rfind("http://127.0.0.1", 0) != 0) {
      return InvalidArgument("Redirect URI '" + uri + "' must use https or be a loopback address");
    }
  }
  return Status::Ok();
}

void RegisterEntitySets(Api& api) {
  RegisterCrud<state::Role>(api, {
      .path = "/api/rbac/roles", .noun = "Role", .audit_kind = "role", .schema = &RoleSchema(),
      .to_json = RoleJson, .id_of = [](const state::Role& r) { return r.id; },
      .name_of = [](const state::Role& r) { return r.name; },
      .make = [](Call& call) -> Result<state::Role> {
        state::Role r;
        r.tenant_id = call.tenant();
        r.id = NewGuid();
        return r;
      },
      .apply = ApplyRole,
      .before_delete = [](Call&, const state::Role& r) -> Status {
        return r.builtin ? InvalidArgument("The built-in role cannot be deleted") : Status::Ok();
      },
  });
  RegisterCrud<state::DeviceGroup>(api, {
      .path = "/api/rbac/devicegroups", .noun = "Device group", .audit_kind = "devicegroup",
      .schema = &DeviceGroupSchema(), .to_json = DeviceGroupJson,
      .id_of = [](const state::DeviceGroup& g) { return std::to_string(g.id); },
      .name_of = [](const state::DeviceGroup& g) { return g.name; },
      .make = [](Call& call) -> Result<state::DeviceGroup> {
        state::DeviceGroup g;
        g.tenant_id = call.tenant();
        g.rank = 1;
        WARD_ASSIGN_OR_RETURN(g.id, call.services.store.NextSequence(call.tenant(), "device_group"));
        return g;
      },
      .apply = ApplyDeviceGroup,
      .before_delete = [](Call&, const state::DeviceGroup& g) -> Status {
        return g.is_default ? InvalidArgument("The default device group cannot be deleted") : Status::Ok();
      },
      .after_change = RecomputeGroups,
      .sort = [](std::vector<state::DeviceGroup>& groups) {
        std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
          return std::make_tuple(a.is_default, a.rank, a.id) < std::make_tuple(b.is_default, b.rank, b.id);
        });
      },
  });
  RegisterCrud<state::UserGroup>(api, {
      .path = "/api/rbac/usergroups", .noun = "User group", .audit_kind = "usergroup", .schema = &UserGroupSchema(),
      .to_json = UserGroupJson, .id_of = [](const state::UserGroup& g) { return g.id; },
      .name_of = [](const state::UserGroup& g) { return g.name; },
      .make = [](Call& call) -> Result<state::UserGroup> {
        state::UserGroup g;
        g.tenant_id = call.tenant();
        g.id = NewGuid();
        return g;
      },
      .apply = ApplyUserGroup,
      // Drop references from roles and device groups in the same request so nothing dangles.
      .before_delete = [](Call& call, const state::UserGroup& g) -> Status {
        WARD_RETURN_IF_ERROR(RemoveReferences(call, &state::Role::user_group_ids, g.id));
        return RemoveReferences(call, &state::DeviceGroup::user_group_ids, g.id);
      },
  });
  RegisterCrud<state::User>(api, {
      .path = "/api/users", .noun = "User", .audit_kind = "user", .schema = &UserSchema(), .to_json = UserJson,
      .id_of = [](const state::User& u) { return u.id; },
      .name_of = [](const state::User& u) { return u.upn; },
      .make = [](Call& call) -> Result<state::User> {
        state::User u;
        u.tenant_id = call.tenant();
        u.id = NewGuid();
        u.created_ms = NowMs();
        return u;
      },
      .apply = ApplyUser,
      .before_delete = [](Call& call, const state::User& u) -> Status {
        if (u.id == call.principal.object_id) return InvalidArgument("You cannot delete your own account");
        return RemoveReferences(call, &state::UserGroup::member_ids, u.id);
      },
  });
  RegisterCrud<state::App>(api, {
      .path = "/api/apps", .noun = "Application", .audit_kind = "app", .schema = &AppSchema(), .to_json = AppJson,
      .id_of = [](const state::App& a) { return a.client_id; },
      .name_of = [](const state::App& a) { return a.display_name; },
      .make = [](Call& call) -> Result<state::App> {
        state::App a;
        a.tenant_id = call.tenant();
        a.client_id = NewGuid();
        a.public_client = false;
        a.created_ms = NowMs();
        return a;
      },
      .apply = ApplyApp,
      .normalize_id = [](std::string_view id) { return state::LowerAscii(id); },
      .before_delete = [](Call& call, const state::App& a) -> Status {
        if (!call.principal.is_user() && a.client_id == call.principal.client_id) {
          return InvalidArgument("An application cannot delete itself");
        }
        return Status::Ok();
      },
      .rbac_relevant = false,
  });
}

// Client secrets: created here (the value is shown once), listed with the app, deleted by key id.
void RegisterAppSecrets(Api& api) {
  api.Add("POST", "/api/apps/{id}/secrets", Managed([](Call& call) {
    Value body = Value::Object();
    if (!call.req.body.empty()) {
      auto parsed = call.JsonBody();
      if (!parsed) return call.Fail(parsed.error());
      body = std::move(*parsed);
    }
    BodyReader in(body, {"displayName", "expiresInDays"});
    state::AppSecret s;
    int64_t days = 180;
    in.Str("displayName", &s.display_name);
    in.Int("expiresInDays", &days);
    if (!in.status().ok()) return call.Fail(in.status());
    if (days < 1 || days > 730) return call.Fail(InvalidArgument("expiresInDays must be between 1 and 730"));
    state::Repo<state::App> repo(call.services.store);
    auto a = repo.Get(call.tenant(), state::LowerAscii(call.req.PathParam("id")));
    if (!a) return call.Fail(NotFound("Application " + std::string(call.req.PathParam("id")) + " was not found"));
    if (a->secrets.size() >= 10) return call.Fail(InvalidArgument("An application can have at most 10 secrets"));
    std::string secret = RandomToken(32);
    s.id = NewGuid();
    s.hash = identity::HashSecret(secret);
    s.hint = secret.substr(0, 3);
    s.created_ms = NowMs();
    s.expires_ms = s.created_ms + days * 86400 * 1000;
    a->secrets.push_back(s);
    if (Status st = repo.Update(*a); !st.ok()) return call.Fail(st);
    call.audit_target = "app:" + a->client_id + "/secret:" + s.id;
    Value out = SecretJson(s);
    out.Set("secretText", secret);  // shown only this once
    call.Json(201, out.Serialize());
  }));
  api.Add("POST", "/api/apps/{id}/certificates", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    BodyReader in(*body, {"certificate"});
    std::string pem;
    in.Str("certificate", &pem, true, 64 * 1024);
    if (!in.status().ok()) return call.Fail(in.status());
    auto info = identity::ParseCertificatePem(pem);
    if (!info) return call.Fail(info.error());
    state::Repo<state::App> repo(call.services.store);
    auto a = repo.Get(call.tenant(), state::LowerAscii(call.req.PathParam("id")));
    if (!a) return call.Fail(NotFound("Application " + std::string(call.req.PathParam("id")) + " was not found"));
    auto c = AddCertificate(&*a, *info);
    if (!c) return call.Fail(c.error());
    if (Status st = repo.Update(*a); !st.ok()) return call.Fail(st);
    call.audit_target = "app:" + a->client_id + "/certificate:" + c->thumbprint;
    call.Json(201, CertificateJson(*c).Serialize());
  }));
  api.Add("DELETE", "/api/apps/{id}/certificates/{keyId}", Managed([](Call& call) {
    state::Repo<state::App> repo(call.services.store);
    auto a = repo.Get(call.tenant(), state::LowerAscii(call.req.PathParam("id")));
    if (!a) return call.Fail(NotFound("Application " + std::string(call.req.PathParam("id")) + " was not found"));
    std::string key(call.req.PathParam("keyId"));
    auto it = std::remove_if(a->certificates.begin(), a->certificates.end(), [&](const auto& c) { return c.id == key; });
    if (it == a->certificates.end()) return call.Fail(NotFound("Certificate " + key + " was not found"));
    a->certificates.erase(it, a->certificates.end());
    if (Status st = repo.Update(*a); !st.ok()) return call.Fail(st);
    call.audit_target = "app:" + a->client_id + "/certificate:" + key;
    call.NoContent();
  }));
  api.Add("DELETE", "/api/apps/{id}/secrets/{keyId}", Managed([](Call& call) {
    state::Repo<state::App> repo(call.services.store);
    auto a = repo.Get(call.tenant(), state::LowerAscii(call.req.PathParam("id")));
    if (!a) return call.Fail(NotFound("Application " + std::string(call.req.PathParam("id")) + " was not found"));
    std::string key(call.req.PathParam("keyId"));
    auto it = std::remove_if(a->secrets.begin(), a->secrets.end(), [&](const auto& s) { return s.id == key; });
    if (it == a->secrets.end()) return call.Fail(NotFound("Secret " + key + " was not found"));
    a->secrets.erase(it, a->secrets.end());
    if (Status st = repo.Update(*a); !st.ok()) return call.Fail(st);
    call.audit_target = "app:" + a->client_id + "/secret:" + key;
    call.NoContent();
  }));
}

}  // namespace

// POST /api/rbac/devicegroups/preview: the devices a group with this body would hold at its rank
// (the portal's preview while rules are edited). "id" names the group being edited, if any; nothing
// is saved. Answers the first 100 devices and the total.
void PreviewDeviceGroup(Call& call) {
  auto body = call.JsonBody();
  if (!body) return call.Fail(body.error());
  auto groups = state::Repo<state::DeviceGroup>(call.services.store).List(call.tenant());
  if (!groups) return call.Fail(groups.error());
  Value rest = Value::Object();
  std::optional<int64_t> id;
  for (const json::Member& m : body->members()) {
    if (m.key != "id") {
      rest.Set(m.key, m.value);
    } else if (m.value.is_number()) {
      id = m.value.as_int();
    } else if (!m.value.is_null()) {
      return call.Fail(InvalidArgument("'id' must be a device group id"));
    }
  }
  auto edited = std::find_if(groups->begin(), groups->end(), [&](const state::DeviceGroup& g) { return id && g.id == *id; });
  if (id && edited == groups->end()) return call.Fail(NotFound("Device group " + std::to_string(*id) + " was not found"));
  state::DeviceGroup candidate;
  if (edited != groups->end()) {
    candidate = *edited;
  } else {
    candidate.tenant_id = call.tenant();
    candidate.id = -1;  // never a stored id
    candidate.rank = 1;
    candidate.name = "(preview)";
  }
  if (Status st = ApplyDeviceGroup(call, rest, &candidate, false); !st.ok()) return call.Fail(st);
  if (edited != groups->end()) *edited = candidate;
  else groups->push_back(candidate);
  auto machines = state::Repo<state::Machine>(call.services.store).List(call.tenant());
  if (!machines) return call.Fail(machines.error());
  json::Writer w;
  w.StartObject().Key("value").StartArray();
  size_t count = 0;
  for (const state::Machine& m : *machines) {
    if (m.offboarded || rbac::AssignDeviceGroup(*groups, m) != candidate.id) continue;
    if (++count > 100) continue;
    std::string current;
    for (const state::DeviceGroup& g : *groups) {
      if (m.rbac_group_id && g.id == *m.rbac_group_id) current = g.name;
    }
    w.StartObject().KV("id", m.id).KV("computerDnsName", m.computer_dns_name).KV("osPlatform", m.os_platform);
    w.Key("machineTags").StartArray();
    for (const auto* tags : {&m.tags, &m.api_tags}) {
      for (const std::string& t : *tags) w.Val(t);
    }
    w.EndArray().KV("rbacGroupName", current).EndObject();
  }
  w.EndArray().KV("count", static_cast<int64_t>(count)).EndObject();
  call.Json(200, w.Take());
}

void RegisterManagementRoutes(Api& api) {
  api.Add("POST", "/api/rbac/devicegroups/preview", Managed(PreviewDeviceGroup));
  RegisterEntitySets(api);
  RegisterAppSecrets(api);
  // The permission registries, so clients and the portal can offer valid names.
  api.Add("GET", "/api/rbac/permissions", Managed([](Call& call) {
    json::Writer w;
    w.StartObject().Key("portalPermissions").StartArray();
    for (const auto& p : rbac::PortalPermissions()) {
      w.StartObject().KV("name", p.name).KV("displayName", p.display_name).EndObject();
    }
    w.EndArray().Key("applicationPermissions").StartArray();
    for (const auto& p : rbac::ApplicationPermissions()) {
      w.StartObject().KV("name", p.name).KV("description", p.description).KV("wardExtension", p.ward_extension).EndObject();
    }
    w.EndArray().Key("delegatedPermissions").StartArray();
    for (const auto& p : rbac::DelegatedPermissions()) {
      w.StartObject().KV("name", p.name).KV("description", p.description).KV("wardExtension", p.ward_extension).EndObject();
    }
    w.EndArray().EndObject();
    call.Json(200, w.Take());
  }));
}

}  // namespace ward::api
