// What the web portal needs beyond MDE's API (Ward extensions), and the portal app registration:
//   GET /portal/config.json  (no token) each tenant's id, name and portal client id, for sign-in;
//   GET /api/rbac/me         the caller's standing: roles, portal permissions, token scopes, device groups.
// The portal's files themselves are served by http::StaticFiles for paths no route claims (api.cc).
#include <algorithm>

#include "api/api.h"
#include "api/portal.h"
#include "common/crypto.h"
#include "common/time.h"
#include "identity/token_service.h"

namespace ward::api {
namespace {

std::string TrimSlash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

Result<std::optional<state::App>> FindPortalApp(state::StateStore& store, std::string_view tenant) {
  WARD_ASSIGN_OR_RETURN(auto apps, state::Repo<state::App>(store).List(tenant));
  for (state::App& a : apps) {
    if (a.portal) return std::optional<state::App>(std::move(a));
  }
  return std::optional<state::App>();
}

void PortalConfig(Api& api, http::Request& req, http::Response& res) {
  auto tenants = api.services().store.ListTenants();
  if (!tenants) return api.RenderError(500, "InternalServerError", tenants.error().message(), req, res);
  json::Writer w;
  w.StartObject().Key("tenants").StartArray();
  for (const state::Tenant& t : *tenants) {
    auto app = FindPortalApp(api.services().store, t.id);
    if (!app || !*app || !(*app)->enabled) continue;  // a tenant without a portal app cannot sign in here
    w.StartObject().KV("id", t.id).KV("name", t.name).KV("clientId", (*app)->client_id).EndObject();
  }
  w.EndArray().KV("resource", std::string(identity::kMdeResources[0])).EndObject();
  res.Set(200, "application/json; charset=utf-8", w.Take());
  res.headers.Set("Cache-Control", "no-cache");
}

void Me(Call& call) {
  const rbac::Principal& p = call.principal;
  json::Writer w;
  w.StartObject().KV("id", p.object_id).KV("tenantId", p.tenant_id).KV("type", p.is_user() ? "User" : "Application");
  std::vector<std::string> scopes(p.is_user() ? p.scopes.begin() : p.roles.begin(), p.is_user() ? p.scopes.end() : p.roles.end());
  std::sort(scopes.begin(), scopes.end());
  if (!p.is_user()) {
    // Applications are tenant-wide and have no portal roles.
    w.KV("userPrincipalName", "").KV("displayName", p.name).KV("isAdministrator", false);
    w.Key("roles").StartArray().EndArray().Key("permissions").StartArray().EndArray();
    w.Key("scopes").StartArray();
    for (const std::string& s : scopes) w.Val(s);
    w.EndArray().KV("allDeviceGroups", true).Key("deviceGroups").StartArray().EndArray().EndObject();
    return call.Json(200, w.Take());
  }
  auto user = state::Repo<state::User>(call.services.store).Get(p.tenant_id, p.object_id);
  auto access = call.services.authz.AccessFor(p.tenant_id, p.object_id);
  auto groups = call.services.authz.DeviceGroups(p.tenant_id);
  if (!access) return call.Fail(access.error());
  if (!groups) return call.Fail(groups.error());
  w.KV("userPrincipalName", p.name).KV("displayName", user ? user->display_name : p.name);
  w.KV("isAdministrator", access->is_admin);
  w.Key("roles").StartArray();
  for (const std::string& r : access->role_names) w.Val(r);
  w.EndArray().Key("permissions").StartArray();
  for (rbac::PortalPermission perm : access->permissions) w.Val(rbac::PortalPermissionName(perm));
  w.EndArray().Key("scopes").StartArray();
  for (const std::string& s : scopes) w.Val(s);
  w.EndArray().KV("allDeviceGroups", access->scope.all).Key("deviceGroups").StartArray();
  for (const state::DeviceGroup& g : **groups) {
    if (access->scope.Contains(g.id)) w.StartObject().KV("id", g.id).KV("name", g.name).EndObject();
  }
  w.EndArray().EndObject();
  call.Json(200, w.Take());
}

}  // namespace

Result<state::App> EnsurePortalApp(state::StateStore& store, std::string_view tenant, std::string_view public_url) {
  state::Repo<state::App> repo(store);
  const std::string own = TrimSlash(public_url) + "/";
  WARD_ASSIGN_OR_RETURN(auto existing, FindPortalApp(store, tenant));
  if (existing) {
    if (public_url.empty() || std::find(existing->redirect_uris.begin(), existing->redirect_uris.end(), own) !=
                                  existing->redirect_uris.end()) {
      return *existing;
    }
    existing->redirect_uris.push_back(own);
    WARD_RETURN_IF_ERROR(repo.Update(*existing));
    return *existing;
  }
  state::App a;
  a.tenant_id = std::string(tenant);
  a.client_id = NewGuid();
  a.display_name = std::string(kPortalAppName);
  for (const auto& perm : rbac::DelegatedPermissions()) a.delegated_permissions.emplace_back(perm.name);
  a.redirect_uris = {"http://localhost/", "http://127.0.0.1/", "http://[::1]/"};
  if (!public_url.empty()) a.redirect_uris.push_back(own);
  a.public_client = true;
  a.portal = true;
  a.created_ms = NowMs();
  WARD_RETURN_IF_ERROR(repo.Insert(a));
  return a;
}

void RegisterPortalRoutes(Api& api) {
  api.router().Add("GET", "/portal/config.json", [&api](http::Request& req, http::Response& res) { PortalConfig(api, req, res); });
  api.Add("GET", "/api/rbac/me", Me);
}

}  // namespace ward::api
