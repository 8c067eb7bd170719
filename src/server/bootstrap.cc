#include "server/bootstrap.h"

#include <chrono>

#include "common/crypto.h"
#include "identity/password.h"
#include "rbac/permissions.h"

namespace ward::server {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::vector<std::string>> ExpandPermissions(const std::vector<std::string>& names, bool delegated) {
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (n == "*") {
      const auto& all = delegated ? rbac::DelegatedPermissions() : rbac::ApplicationPermissions();
      for (const auto& p : all) out.emplace_back(p.name);
      continue;
    }
    auto c = delegated ? rbac::CanonicalDelegatedPermission(n) : rbac::CanonicalApplicationPermission(n);
    if (!c) return Err(InvalidArgument("unknown " + std::string(delegated ? "delegated" : "application") +
                                       " permission '" + n + "'"));
    out.push_back(*c);
  }
  return out;
}

Result<TenantDefaults> CreateTenant(state::StateStore& store, const std::string& name) {
  TenantDefaults d;
  d.tenant_id = NewGuid();
  WARD_RETURN_IF_ERROR(store.CreateTenant(state::Tenant{d.tenant_id, name, NowMs()}));

  state::UserGroup admins;
  admins.tenant_id = d.tenant_id;
  admins.id = NewGuid();
  admins.name = "Ward administrators";
  admins.description = "Members hold the built-in Ward administrator role";
  WARD_RETURN_IF_ERROR(state::Repo<state::UserGroup>(store).Insert(admins));
  d.admin_group_id = admins.id;

  state::Role role;
  role.tenant_id = d.tenant_id;
  role.id = NewGuid();
  role.name = std::string(rbac::kBuiltinAdminRoleName);
  role.description = "Every permission on every device group";
  for (const auto& p : rbac::PortalPermissions()) role.permissions.emplace_back(p.name);
  role.user_group_ids = {admins.id};
  role.builtin = true;
  WARD_RETURN_IF_ERROR(state::Repo<state::Role>(store).Insert(role));
  d.admin_role_id = role.id;

  state::DeviceGroup ungrouped;
  ungrouped.tenant_id = d.tenant_id;
  WARD_ASSIGN_OR_RETURN(ungrouped.id, store.NextSequence(d.tenant_id, "device_group"));
  ungrouped.name = std::string(rbac::kDefaultDeviceGroupName);
  ungrouped.rank = 0;
  ungrouped.is_default = true;
  WARD_RETURN_IF_ERROR(state::Repo<state::DeviceGroup>(store).Insert(ungrouped));
  d.default_device_group_id = ungrouped.id;
  return d;
}

Result<NewUser> CreateUser(state::StateStore& store, const std::string& tenant, const std::string& upn,
                           const std::string& display_name, std::string password) {
  if (upn.find('@') == std::string::npos) return Err(InvalidArgument("the user name must look like name@domain"));
  if (password.empty()) password = RandomToken(18);
  if (password.size() < 12) return Err(InvalidArgument("the password must have at least 12 characters"));
  state::User u;
  u.tenant_id = tenant;
  u.id = NewGuid();
  u.upn = upn;
  u.display_name = display_name.empty() ? upn : display_name;
  WARD_ASSIGN_OR_RETURN(u.password_hash, identity::HashPassword(password));
  u.created_ms = NowMs();
  WARD_RETURN_IF_ERROR(state::Repo<state::User>(store).Insert(u));
  return NewUser{u.id, password};
}

Result<NewApp> CreateApp(state::StateStore& store, const std::string& tenant, const std::string& name,
                         const std::vector<std::string>& app_permissions,
                         const std::vector<std::string>& delegated_permissions, int secret_days) {
  state::App a;
  a.tenant_id = tenant;
  a.client_id = NewGuid();
  a.display_name = name;
  WARD_ASSIGN_OR_RETURN(a.app_permissions, ExpandPermissions(app_permissions, false));
  WARD_ASSIGN_OR_RETURN(a.delegated_permissions, ExpandPermissions(delegated_permissions, true));
  a.redirect_uris = {"http://localhost", "http://127.0.0.1"};
  a.public_client = true;
  a.created_ms = NowMs();
  WARD_RETURN_IF_ERROR(state::Repo<state::App>(store).Insert(a));
  WARD_ASSIGN_OR_RETURN(std::string secret, AddAppSecret(store, tenant, a.client_id, secret_days));
  return NewApp{a.client_id, secret};
}

Result<std::string> AddAppSecret(state::StateStore& store, const std::string& tenant, const std::string& client_id,
                                 int days) {
  state::Repo<state::App> repo(store);
  WARD_ASSIGN_OR_RETURN(state::App a, repo.Get(tenant, state::LowerAscii(client_id)));
  std::string secret = RandomToken(32);
  state::AppSecret s;
  s.id = NewGuid();
  s.hash = identity::HashSecret(secret);
  s.hint = secret.substr(0, 3);
  s.display_name = "created by ward admin";
  s.created_ms = NowMs();
  s.expires_ms = s.created_ms + int64_t{days} * 86400 * 1000;
  a.secrets.push_back(s);
  WARD_RETURN_IF_ERROR(repo.Update(a));
  return secret;
}

Result<std::string> ResolveTenant(state::StateStore& store, const std::string& tenant_or_empty) {
  WARD_ASSIGN_OR_RETURN(std::vector<state::Tenant> all, store.ListTenants());
  if (tenant_or_empty.empty()) {
    if (all.size() == 1) return all[0].id;
    return Err(InvalidArgument(all.empty() ? "no tenant exists; run `ward init` first"
                                           : "several tenants exist; pass --tenant"));
  }
  for (const state::Tenant& t : all) {
    if (t.id == state::LowerAscii(tenant_or_empty) || t.name == tenant_or_empty) return t.id;
  }
  return Err(NotFound("tenant " + tenant_or_empty + " not found"));
}

}  // namespace ward::server
