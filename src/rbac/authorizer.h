#pragma once
// The one authorization function every handler uses.
//
// Application tokens are tenant-wide: the `roles` claim must hold one of the requirement's app
// permissions. User tokens need all three of: a delegated permission in `scp`, the portal
// permission in one of the user's roles, and — for device-bound objects — access to the device's
// group. A missing permission is PermissionDenied (403); an object outside the caller's device
// groups is NotFound (404) so that its existence is not revealed.
//
// The tenant's RBAC state (roles, user groups, device groups) is read through a cached snapshot
// that is rebuilt when the store's change counter moves (checked at most every 200 ms, and at once
// after Invalidate()). Thread-safe.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "rbac/permissions.h"
#include "state/state_store.h"

namespace ward::rbac {

struct Principal {
  enum class Type { kApplication, kUser };
  Type type = Type::kApplication;
  std::string tenant_id;
  std::string client_id;  // `appid`
  std::string object_id;  // `oid`: the user's id, or the app's service principal id
  std::string name;       // upn or app display name
  std::string audience;   // `aud`: the resource the token was issued for
  std::unordered_set<std::string> roles;   // app permissions
  std::unordered_set<std::string> scopes;  // delegated permissions
  bool is_user() const { return type == Type::kUser; }
};

// What an operation needs. For app tokens any of app_any suffices; for user tokens any of
// scope_any plus the portal permission. An empty app_any means apps may not call it.
struct Requirement {
  std::vector<std::string_view> app_any;
  std::vector<std::string_view> scope_any;
  PortalPermission portal = PortalPermission::kViewData;
};

// Which device groups a caller sees. all = true for apps and administrators.
struct DeviceScope {
  bool all = false;
  std::unordered_set<int64_t> group_ids;
  bool Contains(std::optional<int64_t> group_id) const {
    return all || (group_id && group_ids.count(*group_id) > 0);
  }
};

// A user's RBAC standing, derived from the snapshot.
struct UserAccess {
  bool is_admin = false;
  std::set<PortalPermission> permissions;
  DeviceScope scope;
  std::vector<std::string> role_names;
};

class Authorizer {
 public:
  explicit Authorizer(state::StateStore& store) : store_(store) {}

  // Permission check without a device: OK or PermissionDenied.
  Status Check(const Principal& p, const Requirement& r);
  // Permission check plus device-group scope: OK, PermissionDenied, or NotFound(not_found_message).
  Status CheckDevice(const Principal& p, const Requirement& r, std::optional<int64_t> device_group_id,
                     std::string_view not_found_message);
  // The device groups whose objects a list may include.
  DeviceScope ScopeFor(const Principal& p);
  Result<UserAccess> AccessFor(std::string_view tenant, std::string_view user_id);
  // The tenant's device groups from the cached snapshot (for names in responses).
  Result<std::shared_ptr<const std::vector<state::DeviceGroup>>> DeviceGroups(std::string_view tenant);
  // Forces a reload on the next call (after this process changed RBAC state).
  void Invalidate();

 private:
  struct TenantSnapshot {
    int64_t change_counter = 0;
    std::vector<state::Role> roles;
    std::vector<state::UserGroup> user_groups;
    std::vector<state::DeviceGroup> device_groups;
    UserAccess Compute(std::string_view user_id) const;
  };
  Result<std::shared_ptr<const TenantSnapshot>> Snapshot(std::string_view tenant);
  UserAccess UserAccessCached(const Principal& p);

  state::StateStore& store_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const TenantSnapshot>> snapshots_;
  std::unordered_map<std::string, std::pair<std::shared_ptr<const TenantSnapshot>, UserAccess>> user_cache_;
  std::chrono::steady_clock::time_point last_check_{};
  int64_t last_counter_ = -1;
  bool invalidated_ = true;
};

}  // namespace ward::rbac
