#pragma once
// Creating tenants and their first principals: what `ward init` and `ward admin` do before any
// token exists. Everything here writes through the StateStore, like the API does.
#include <string>
#include <vector>

#include "common/status.h"
#include "state/state_store.h"

namespace ward::server {

struct TenantDefaults {
  std::string tenant_id;
  std::string admin_role_id;
  std::string admin_group_id;
  int64_t default_device_group_id = 0;
};

// A tenant with the built-in "Ward administrator" role, a "Ward administrators" user group holding
// it, and the default "Ungrouped devices" device group.
Result<TenantDefaults> CreateTenant(state::StateStore& store, const std::string& name);

struct NewUser {
  std::string id;
  std::string password;  // generated when not given
};
Result<NewUser> CreateUser(state::StateStore& store, const std::string& tenant, const std::string& upn,
                           const std::string& display_name, std::string password);

struct NewApp {
  std::string client_id;
  std::string secret;
};
// An app with the given application and delegated permissions ("*" = all), a client secret, public
// client flows enabled and loopback redirect URIs registered.
Result<NewApp> CreateApp(state::StateStore& store, const std::string& tenant, const std::string& name,
                         const std::vector<std::string>& app_permissions,
                         const std::vector<std::string>& delegated_permissions, int secret_days = 365);
// Adds a secret to an existing app and returns it.
Result<std::string> AddAppSecret(state::StateStore& store, const std::string& tenant, const std::string& client_id,
                                 int days = 365);

// Canonical permission names; "*" expands to every application (or delegated) permission.
Result<std::vector<std::string>> ExpandPermissions(const std::vector<std::string>& names, bool delegated);

// The only tenant, when the data dir has exactly one; otherwise the given id/name must match.
Result<std::string> ResolveTenant(state::StateStore& store, const std::string& tenant_or_empty);

}  // namespace ward::server
