#include "rbac/authorizer.h"

#include <algorithm>

namespace ward::rbac {
namespace {

constexpr std::chrono::milliseconds kRecheckInterval{200};

bool HasAny(const std::unordered_set<std::string>& have, const std::vector<std::string_view>& any) {
  return std::any_of(any.begin(), any.end(), [&](std::string_view n) { return have.count(std::string(n)) > 0; });
}

}  // namespace

UserAccess Authorizer::TenantSnapshot::Compute(std::string_view user_id) const {
  UserAccess access;
  std::unordered_set<std::string> my_groups;
  for (const state::UserGroup& g : user_groups) {
    if (std::find(g.member_ids.begin(), g.member_ids.end(), user_id) != g.member_ids.end()) my_groups.insert(g.id);
  }
  for (const state::Role& role : roles) {
    bool assigned = std::any_of(role.user_group_ids.begin(), role.user_group_ids.end(),
                                [&](const std::string& gid) { return my_groups.count(gid) > 0; });
    if (!assigned) continue;
    access.role_names.push_back(role.name);
    if (role.builtin && role.name == kBuiltinAdminRoleName) {
      access.is_admin = true;
      for (const PortalPermissionInfo& info : PortalPermissions()) access.permissions.insert(info.permission);
    }
    for (const std::string& name : role.permissions) {
      if (auto p = ParsePortalPermission(name)) access.permissions.insert(*p);
    }
  }
  // Administrators see every device group; others see groups open to all and groups granted to one
  // of their user groups. A user without any role sees nothing.
  access.scope.all = access.is_admin;
  if (!access.is_admin && !access.role_names.empty()) {
    for (const state::DeviceGroup& dg : device_groups) {
      bool open = dg.user_group_ids.empty();
      bool granted = std::any_of(dg.user_group_ids.begin(), dg.user_group_ids.end(),
                                 [&](const std::string& gid) { return my_groups.count(gid) > 0; });
      if (open || granted) access.scope.group_ids.insert(dg.id);
    }
  }
  return access;
}

void Authorizer::Invalidate() {
  std::lock_guard lock(mu_);
  invalidated_ = true;
}

Result<std::shared_ptr<const Authorizer::TenantSnapshot>> Authorizer::Snapshot(std::string_view tenant) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (invalidated_ || now - last_check_ >= kRecheckInterval) {
    int64_t counter = store_.ChangeCounter();
    if (invalidated_ || counter != last_counter_) {
      snapshots_.clear();
      user_cache_.clear();
      last_counter_ = counter;
    }
    invalidated_ = false;
    last_check_ = now;
  }
  auto it = snapshots_.find(std::string(tenant));
  if (it != snapshots_.end()) return it->second;
  auto snap = std::make_shared<TenantSnapshot>();
  snap->change_counter = last_counter_;
  WARD_ASSIGN_OR_RETURN(snap->roles, state::Repo<state::Role>(store_).List(tenant));
  WARD_ASSIGN_OR_RETURN(snap->user_groups, state::Repo<state::UserGroup>(store_).List(tenant));
  WARD_ASSIGN_OR_RETURN(snap->device_groups, state::Repo<state::DeviceGroup>(store_).List(tenant));
  std::shared_ptr<const TenantSnapshot> out = snap;
  snapshots_[std::string(tenant)] = out;
  return out;
}

Result<UserAccess> Authorizer::AccessFor(std::string_view tenant, std::string_view user_id) {
  WARD_ASSIGN_OR_RETURN(auto snap, Snapshot(tenant));
  std::string key = std::string(tenant) + "/" + std::string(user_id);
  {
    std::lock_guard lock(mu_);
    auto it = user_cache_.find(key);
    if (it != user_cache_.end() && it->second.first == snap) return it->second.second;
  }
  UserAccess access = snap->Compute(user_id);
  std::lock_guard lock(mu_);
  user_cache_[key] = {snap, access};
  return access;
}

Result<std::shared_ptr<const std::vector<state::DeviceGroup>>> Authorizer::DeviceGroups(std::string_view tenant) {
  WARD_ASSIGN_OR_RETURN(auto snap, Snapshot(tenant));
  // Aliasing constructor: shares ownership of the snapshot, points at its device groups.
  return std::shared_ptr<const std::vector<state::DeviceGroup>>(snap, &snap->device_groups);
}

UserAccess Authorizer::UserAccessCached(const Principal& p) {
  auto access = AccessFor(p.tenant_id, p.object_id);
  return access ? *access : UserAccess{};  // fail closed: no permissions, no scope
}

Status Authorizer::Check(const Principal& p, const Requirement& r) {
  if (!p.is_user()) {
    if (HasAny(p.roles, r.app_any)) return Status::Ok();
    return PermissionDenied("The application does not have any of the required permissions");
  }
  if (!HasAny(p.scopes, r.scope_any)) {
    return PermissionDenied("The token does not have any of the required delegated permissions");
  }
  UserAccess access = UserAccessCached(p);
  if (access.permissions.count(r.portal) == 0) {
    return PermissionDenied("The user's role does not grant '" + std::string(PortalPermissionName(r.portal)) + "'");
  }
  return Status::Ok();
}

Status Authorizer::CheckDevice(const Principal& p, const Requirement& r, std::optional<int64_t> device_group_id,
                               std::string_view not_found_message) {
  if (!p.is_user()) return Check(p, r);
  // Scope first: a caller who cannot see the device learns nothing, not even that it lacks a permission.
  if (!ScopeFor(p).Contains(device_group_id)) return NotFound(std::string(not_found_message));
  return Check(p, r);
}

DeviceScope Authorizer::ScopeFor(const Principal& p) {
  if (!p.is_user()) return DeviceScope{true, {}};
  return UserAccessCached(p).scope;
}

}  // namespace ward::rbac
