#pragma once
// Device-group membership, computed by the server from what it knows of a device (never taken from
// the device's own claim). A device belongs to the best-ranked (lowest rank number) group whose
// rules match, else to the tenant's default group.
#include <optional>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "state/records.h"
#include "state/state_store.h"

namespace ward::rbac {

// Case-insensitive match where '*' stands for any run of characters (including none).
bool WildcardMatch(std::string_view pattern, std::string_view text);
// All non-empty conditions must match; within a condition any value may match. Empty rules match nothing.
bool RulesMatch(const state::DeviceGroupRules& rules, const state::Machine& machine);
// The id of the group the machine belongs to; nullopt only when there are no groups at all.
std::optional<int64_t> AssignDeviceGroup(const std::vector<state::DeviceGroup>& groups, const state::Machine& machine);

// Recomputes rbac_group_id for every machine of the tenant (after a group or rule change) and
// saves those that changed. Returns how many changed.
Result<int> RecomputeDeviceGroups(state::StateStore& store, std::string_view tenant);

// Checks a device group sent by a client: non-empty name, valid remediation level, rule values
// non-empty and at most 10 per condition (MDE's limit), rank >= 1.
Status ValidateDeviceGroup(const state::DeviceGroup& group);

}  // namespace ward::rbac
