// Ward's management API (an extension: MDE manages these in its portal): roles, device groups, user
// groups, users and applications. Needs "Manage portal system settings" (user) or
// Ward.Management.ReadWrite.All (app). Bodies are validated field by field; unknown fields are
// rejected so that typos do not silently do nothing.
#include <algorithm>
#include <set>

#include "api/api.h"
#include "common/crypto.h"
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

void Changed(Call& call) { call.services.authz.Invalidate(); }

// ---- roles ----

Status ApplyRole(Call& call, const Value& body, state::Role* r, bool create) {
  BodyReader in(body, {"name", "description", "permissions", "assignedUserGroups"});
  in.Str("name", &r->name, create);
  in.Str("description", &r->description, false, 1024);
  in.Strs("permissions", &r->permissions, 32);
  in.Strs("assignedUserGroups", &r->user_group_ids);
  WARD_RETURN_IF_ERROR(in.status());
  if (r->name.empty()) return InvalidArgument("'name' must not be empty");
  if (r->builtin && (in.Has("name") || in.Has("permissions"))) {
    return InvalidArgument("The built-in role's name and permissions cannot be changed");
  }
  WARD_RETURN_IF_ERROR(CanonicalizePortalPermissions(&r->permissions));
  return CheckUserGroupsExist(call, r->user_group_ids);
}

void RegisterRoles(Api& api) {
  api.Add("GET", "/api/rbac/roles", Managed([](Call& call) {
    auto q = call.ODataQuery(RoleSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto roles = state::Repo<state::Role>(call.services.store).List(call.tenant());
    if (!roles) return call.Fail(roles.error());
    std::vector<Value> out;
    for (const auto& r : *roles) out.push_back(RoleJson(r));
    call.ODataList(RoleSchema(), *q, std::move(out));
  }));
  api.Add("GET", "/api/rbac/roles/{id}", Managed([](Call& call) {
    auto r = state::Repo<state::Role>(call.services.store).Get(call.tenant(), call.req.PathParam("id"));
    if (!r) return call.Fail(NotFound("Role " + std::string(call.req.PathParam("id")) + " was not found"));
    call.ODataEntity("Roles", RoleJson(*r));
  }));
  api.Add("POST", "/api/rbac/roles", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::Role r;
    r.tenant_id = call.tenant();
    r.id = NewGuid();
    if (Status st = ApplyRole(call, *body, &r, true); !st.ok()) return call.Fail(st);
    if (Status st = state::Repo<state::Role>(call.services.store).Insert(r); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kAlreadyExists ? AlreadyExists("A role named '" + r.name + "' exists") : st);
    }
    call.audit_target = "role:" + r.id;
    Changed(call);
    call.ODataEntity("Roles", RoleJson(r), 201);
  }));
  api.Add("PATCH", "/api/rbac/roles/{id}", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::Repo<state::Role> repo(call.services.store);
    auto r = repo.Get(call.tenant(), call.req.PathParam("id"));
    if (!r) return call.Fail(NotFound("Role " + std::string(call.req.PathParam("id")) + " was not found"));
    if (Status st = ApplyRole(call, *body, &*r, false); !st.ok()) return call.Fail(st);
    if (Status st = repo.Update(*r); !st.ok()) return call.Fail(st);
    call.audit_target = "role:" + r->id;
    Changed(call);
    call.ODataEntity("Roles", RoleJson(*r));
  }));
  api.Add("DELETE", "/api/rbac/roles/{id}", Managed([](Call& call) {
    state::Repo<state::Role> repo(call.services.store);
    auto r = repo.Get(call.tenant(), call.req.PathParam("id"));
    if (!r) return call.Fail(NotFound("Role " + std::string(call.req.PathParam("id")) + " was not found"));
    if (r->builtin) return call.Fail(InvalidArgument("The built-in role cannot be deleted"), "DisallowedOperation");
    if (Status st = repo.Delete(call.tenant(), r->id); !st.ok()) return call.Fail(st);
    call.audit_target = "role:" + r->id;
    Changed(call);
    call.NoContent();
  }));
}

// ---- device groups ----

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

void RegisterDeviceGroups(Api& api) {
  api.Add("GET", "/api/rbac/devicegroups", Managed([](Call& call) {
    auto q = call.ODataQuery(DeviceGroupSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto groups = state::Repo<state::DeviceGroup>(call.services.store).List(call.tenant());
    if (!groups) return call.Fail(groups.error());
    std::sort(groups->begin(), groups->end(), [](const auto& a, const auto& b) {
      return std::make_tuple(a.is_default, a.rank, a.id) < std::make_tuple(b.is_default, b.rank, b.id);
    });
    std::vector<Value> out;
    for (const auto& g : *groups) out.push_back(DeviceGroupJson(g));
    call.ODataList(DeviceGroupSchema(), *q, std::move(out));
  }));
  api.Add("GET", "/api/rbac/devicegroups/{id}", Managed([](Call& call) {
    auto g = state::Repo<state::DeviceGroup>(call.services.store).Get(call.tenant(), call.req.PathParam("id"));
    if (!g) return call.Fail(NotFound("Device group " + std::string(call.req.PathParam("id")) + " was not found"));
    call.ODataEntity("DeviceGroups", DeviceGroupJson(*g));
  }));
  api.Add("POST", "/api/rbac/devicegroups", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::DeviceGroup g;
    g.tenant_id = call.tenant();
    g.rank = 1;
    if (Status st = ApplyDeviceGroup(call, *body, &g, true); !st.ok()) return call.Fail(st);
    auto id = call.services.store.NextSequence(call.tenant(), "device_group");
    if (!id) return call.Fail(id.error());
    g.id = *id;
    if (Status st = state::Repo<state::DeviceGroup>(call.services.store).Insert(g); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kAlreadyExists ? AlreadyExists("A device group named '" + g.name + "' exists") : st);
    }
    if (auto re = rbac::RecomputeDeviceGroups(call.services.store, call.tenant()); !re) return call.Fail(re.error());
    call.audit_target = "devicegroup:" + std::to_string(g.id);
    Changed(call);
    call.ODataEntity("DeviceGroups", DeviceGroupJson(g), 201);
  }));
  api.Add("PATCH", "/api/rbac/devicegroups/{id}", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::Repo<state::DeviceGroup> repo(call.services.store);
    auto g = repo.Get(call.tenant(), call.req.PathParam("id"));
    if (!g) return call.Fail(NotFound("Device group " + std::string(call.req.PathParam("id")) + " was not found"));
    if (Status st = ApplyDeviceGroup(call, *body, &*g, false); !st.ok()) return call.Fail(st);
    if (Status st = repo.Update(*g); !st.ok()) return call.Fail(st);
    if (auto re = rbac::RecomputeDeviceGroups(call.services.store, call.tenant()); !re) return call.Fail(re.error());
    call.audit_target = "devicegroup:" + std::to_string(g->id);
    Changed(call);
    call.ODataEntity("DeviceGroups", DeviceGroupJson(*g));
  }));
  api.Add("DELETE", "/api/rbac/devicegroups/{id}", Managed([](Call& call) {
    state::Repo<state::DeviceGroup> repo(call.services.store);
    auto g = repo.Get(call.tenant(), call.req.PathParam("id"));
    if (!g) return call.Fail(NotFound("Device group " + std::string(call.req.PathParam("id")) + " was not found"));
    if (g->is_default) return call.Fail(InvalidArgument("The default device group cannot be deleted"), "DisallowedOperation");
    if (Status st = repo.Delete(call.tenant(), std::to_string(g->id)); !st.ok()) return call.Fail(st);
    if (auto re = rbac::RecomputeDeviceGroups(call.services.store, call.tenant()); !re) return call.Fail(re.error());
    call.audit_target = "devicegroup:" + std::to_string(g->id);
    Changed(call);
    call.NoContent();
  }));
}

// ---- user groups ----

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

void RegisterUserGroups(Api& api) {
  api.Add("GET", "/api/rbac/usergroups", Managed([](Call& call) {
    auto q = call.ODataQuery(UserGroupSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto groups = state::Repo<state::UserGroup>(call.services.store).List(call.tenant());
    if (!groups) return call.Fail(groups.error());
    std::vector<Value> out;
    for (const auto& g : *groups) out.push_back(UserGroupJson(g));
    call.ODataList(UserGroupSchema(), *q, std::move(out));
  }));
  api.Add("GET", "/api/rbac/usergroups/{id}", Managed([](Call& call) {
    auto g = state::Repo<state::UserGroup>(call.services.store).Get(call.tenant(), call.req.PathParam("id"));
    if (!g) return call.Fail(NotFound("User group " + std::string(call.req.PathParam("id")) + " was not found"));
    call.ODataEntity("UserGroups", UserGroupJson(*g));
  }));
  api.Add("POST", "/api/rbac/usergroups", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::UserGroup g;
    g.tenant_id = call.tenant();
    g.id = NewGuid();
    if (Status st = ApplyUserGroup(call, *body, &g, true); !st.ok()) return call.Fail(st);
    if (Status st = state::Repo<state::UserGroup>(call.services.store).Insert(g); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kAlreadyExists ? AlreadyExists("A user group named '" + g.name + "' exists") : st);
    }
    call.audit_target = "usergroup:" + g.id;
    Changed(call);
    call.ODataEntity("UserGroups", UserGroupJson(g), 201);
  }));
  api.Add("PATCH", "/api/rbac/usergroups/{id}", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::Repo<state::UserGroup> repo(call.services.store);
    auto g = repo.Get(call.tenant(), call.req.PathParam("id"));
    if (!g) return call.Fail(NotFound("User group " + std::string(call.req.PathParam("id")) + " was not found"));
    if (Status st = ApplyUserGroup(call, *body, &*g, false); !st.ok()) return call.Fail(st);
    if (Status st = repo.Update(*g); !st.ok()) return call.Fail(st);
    call.audit_target = "usergroup:" + g->id;
    Changed(call);
    call.ODataEntity("UserGroups", UserGroupJson(*g));
  }));
  api.Add("DELETE", "/api/rbac/usergroups/{id}", Managed([](Call& call) {
    state::Repo<state::UserGroup> repo(call.services.store);
    std::string id(call.req.PathParam("id"));
    if (!repo.Get(call.tenant(), id)) return call.Fail(NotFound("User group " + id + " was not found"));
    // Drop references from roles and device groups in the same request so nothing dangles.
    state::Repo<state::Role> roles(call.services.store);
    for (state::Role r : roles.List(call.tenant()).value_or(std::vector<state::Role>{})) {
      auto it = std::remove(r.user_group_ids.begin(), r.user_group_ids.end(), id);
      if (it == r.user_group_ids.end()) continue;
      r.user_group_ids.erase(it, r.user_group_ids.end());
      if (Status st = roles.Update(r); !st.ok()) return call.Fail(st);
    }
    state::Repo<state::DeviceGroup> dgs(call.services.store);
    for (state::DeviceGroup g : dgs.List(call.tenant()).value_or(std::vector<state::DeviceGroup>{})) {
      auto it = std::remove(g.user_group_ids.begin(), g.user_group_ids.end(), id);
      if (it == g.user_group_ids.end()) continue;
      g.user_group_ids.erase(it, g.user_group_ids.end());
      if (Status st = dgs.Update(g); !st.ok()) return call.Fail(st);
    }
    if (Status st = repo.Delete(call.tenant(), id); !st.ok()) return call.Fail(st);
    call.audit_target = "usergroup:" + id;
    Changed(call);
    call.NoContent();
  }));
}

// ---- users ----

void RegisterUsers(Api& api) {
  api.Add("GET", "/api/users", Managed([](Call& call) {
    auto q = call.ODataQuery(UserSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto users = state::Repo<state::User>(call.services.store).List(call.tenant());
    if (!users) return call.Fail(users.error());
    std::vector<Value> out;
    for (const auto& u : *users) out.push_back(UserJson(u));
    call.ODataList(UserSchema(), *q, std::move(out));
  }));
  api.Add("POST", "/api/users", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    BodyReader in(*body, {"userPrincipalName", "displayName", "password", "accountEnabled"});
    state::User u;
    std::string password;
    in.Str("userPrincipalName", &u.upn, true);
    in.Str("displayName", &u.display_name);
    in.Str("password", &password, true, 1024);
    in.Bool("accountEnabled", &u.enabled);
    if (!in.status().ok()) return call.Fail(in.status());
    if (password.size() < 12) return call.Fail(InvalidArgument("The password must have at least 12 characters"));
    if (u.upn.find('@') == std::string::npos) return call.Fail(InvalidArgument("userPrincipalName must look like name@domain"));
    auto hash = identity::HashPassword(password);
    if (!hash) return call.Fail(hash.error());
    u.tenant_id = call.tenant();
    u.id = NewGuid();
    u.password_hash = *hash;
    u.created_ms = NowMs();
    if (u.display_name.empty()) u.display_name = u.upn;
    if (Status st = state::Repo<state::User>(call.services.store).Insert(u); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kAlreadyExists ? AlreadyExists("User " + u.upn + " exists") : st);
    }
    call.audit_target = "user:" + u.id;
    call.ODataEntity("Users", UserJson(u), 201);
  }));
  api.Add("PATCH", "/api/users/{id}", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::Repo<state::User> repo(call.services.store);
    auto u = repo.Get(call.tenant(), call.req.PathParam("id"));
    if (!u) return call.Fail(NotFound("User " + std::string(call.req.PathParam("id")) + " was not found"));
    BodyReader in(*body, {"displayName", "password", "accountEnabled"});
    std::string password;
    in.Str("displayName", &u->display_name);
    in.Str("password", &password, false, 1024);
    in.Bool("accountEnabled", &u->enabled);
    if (!in.status().ok()) return call.Fail(in.status());
    if (in.Has("password")) {
      if (password.size() < 12) return call.Fail(InvalidArgument("The password must have at least 12 characters"));
      auto hash = identity::HashPassword(password);
      if (!hash) return call.Fail(hash.error());
      u->password_hash = *hash;
    }
    if (Status st = repo.Update(*u); !st.ok()) return call.Fail(st);
    call.audit_target = "user:" + u->id;
    Changed(call);
    call.ODataEntity("Users", UserJson(*u));
  }));
  api.Add("DELETE", "/api/users/{id}", Managed([](Call& call) {
    std::string id(call.req.PathParam("id"));
    if (id == call.principal.object_id) return call.Fail(InvalidArgument("You cannot delete your own account"), "DisallowedOperation");
    state::Repo<state::UserGroup> groups(call.services.store);
    for (state::UserGroup g : groups.List(call.tenant()).value_or(std::vector<state::UserGroup>{})) {
      auto it = std::remove(g.member_ids.begin(), g.member_ids.end(), id);
      if (it == g.member_ids.end()) continue;
      g.member_ids.erase(it, g.member_ids.end());
      if (Status st = groups.Update(g); !st.ok()) return call.Fail(st);
    }
    if (Status st = state::Repo<state::User>(call.services.store).Delete(call.tenant(), id); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kNotFound ? NotFound("User " + id + " was not found") : st);
    }
    call.audit_target = "user:" + id;
    Changed(call);
    call.NoContent();
  }));
}

// ---- applications ----

Status ApplyApp(const Value& body, state::App* a, bool create) {
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

void RegisterApps(Api& api) {
  api.Add("GET", "/api/apps", Managed([](Call& call) {
    auto q = call.ODataQuery(AppSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto apps = state::Repo<state::App>(call.services.store).List(call.tenant());
    if (!apps) return call.Fail(apps.error());
    std::vector<Value> out;
    for (const auto& a : *apps) out.push_back(AppJson(a));
    call.ODataList(AppSchema(), *q, std::move(out));
  }));
  api.Add("GET", "/api/apps/{id}", Managed([](Call& call) {
    auto a = state::Repo<state::App>(call.services.store).Get(call.tenant(), state::LowerAscii(call.req.PathParam("id")));
    if (!a) return call.Fail(NotFound("Application " + std::string(call.req.PathParam("id")) + " was not found"));
    call.ODataEntity("Applications", AppJson(*a));
  }));
  api.Add("POST", "/api/apps", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::App a;
    a.tenant_id = call.tenant();
    a.client_id = NewGuid();
    a.public_client = false;
    a.created_ms = NowMs();
    if (Status st = ApplyApp(*body, &a, true); !st.ok()) return call.Fail(st);
    if (Status st = state::Repo<state::App>(call.services.store).Insert(a); !st.ok()) return call.Fail(st);
    call.audit_target = "app:" + a.client_id;
    call.ODataEntity("Applications", AppJson(a), 201);
  }));
  api.Add("PATCH", "/api/apps/{id}", Managed([](Call& call) {
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    state::Repo<state::App> repo(call.services.store);
    auto a = repo.Get(call.tenant(), state::LowerAscii(call.req.PathParam("id")));
    if (!a) return call.Fail(NotFound("Application " + std::string(call.req.PathParam("id")) + " was not found"));
    if (Status st = ApplyApp(*body, &*a, false); !st.ok()) return call.Fail(st);
    if (Status st = repo.Update(*a); !st.ok()) return call.Fail(st);
    call.audit_target = "app:" + a->client_id;
    call.ODataEntity("Applications", AppJson(*a));
  }));
  api.Add("DELETE", "/api/apps/{id}", Managed([](Call& call) {
    std::string id = state::LowerAscii(call.req.PathParam("id"));
    if (id == call.principal.client_id && !call.principal.is_user()) {
      return call.Fail(InvalidArgument("An application cannot delete itself"), "DisallowedOperation");
    }
    if (Status st = state::Repo<state::App>(call.services.store).Delete(call.tenant(), id); !st.ok()) {
      return call.Fail(st.code() == StatusCode::kNotFound ? NotFound("Application " + id + " was not found") : st);
    }
    call.audit_target = "app:" + id;
    call.NoContent();
  }));
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

void RegisterManagementRoutes(Api& api) {
  RegisterRoles(api);
  RegisterDeviceGroups(api);
  RegisterUserGroups(api);
  RegisterUsers(api);
  RegisterApps(api);
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
