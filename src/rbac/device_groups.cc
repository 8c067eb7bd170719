#include "rbac/device_groups.h"

#include <algorithm>
#include <cctype>

#include "rbac/permissions.h"

namespace ward::rbac {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view value) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return WildcardMatch(p, value); });
}

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  // Iterative glob with single-star backtracking: linear-ish, no recursion on untrusted patterns.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && Lower(pattern[p]) == Lower(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool RulesMatch(const state::DeviceGroupRules& rules, const state::Machine& m) {
  if (rules.empty()) return false;
  if (!rules.name.empty() && !AnyMatches(rules.name, m.computer_dns_name)) return false;
  if (!rules.domain.empty() && !AnyMatches(rules.domain, m.domain)) return false;
  if (!rules.os_platform.empty() && !AnyMatches(rules.os_platform, m.os_platform)) return false;
  if (!rules.tag.empty()) {
    bool any = std::any_of(m.tags.begin(), m.tags.end(), [&](const std::string& t) { return AnyMatches(rules.tag, t); });
    if (!any) return false;
  }
  return true;
}

std::optional<int64_t> AssignDeviceGroup(const std::vector<state::DeviceGroup>& groups, const state::Machine& m) {
  const state::DeviceGroup* best = nullptr;
  const state::DeviceGroup* fallback = nullptr;
  for (const state::DeviceGroup& g : groups) {
    if (g.is_default) {
      fallback = &g;
      continue;
    }
    if (!RulesMatch(g.rules, m)) continue;
    if (best == nullptr || g.rank < best->rank || (g.rank == best->rank && g.id < best->id)) best = &g;
  }
  if (best) return best->id;
  if (fallback) return fallback->id;
  return std::nullopt;
}

Result<int> RecomputeDeviceGroups(state::StateStore& store, std::string_view tenant) {
  WARD_ASSIGN_OR_RETURN(std::vector<state::DeviceGroup> groups, state::Repo<state::DeviceGroup>(store).List(tenant));
  state::Repo<state::Machine> machines(store);
  WARD_ASSIGN_OR_RETURN(std::vector<state::Machine> all, machines.List(tenant));
  int changed = 0;
  for (state::Machine& m : all) {
    std::optional<int64_t> group = AssignDeviceGroup(groups, m);
    if (group == m.rbac_group_id) continue;
    m.rbac_group_id = group;
    WARD_RETURN_IF_ERROR(machines.Update(m));
    ++changed;
  }
  return changed;
}

Status ValidateDeviceGroup(const state::DeviceGroup& g) {
  if (g.name.empty() || g.name.size() > 256) return InvalidArgument("Device group name must be 1 to 256 characters");
  if (std::find(std::begin(kRemediationLevels), std::end(kRemediationLevels), g.remediation_level) ==
      std::end(kRemediationLevels)) {
    return InvalidArgument("Unknown remediation level '" + g.remediation_level + "'");
  }
  if (!g.is_default && g.rank < 1) return InvalidArgument("rank must be 1 or more");
  for (const auto* cond : {&g.rules.name, &g.rules.domain, &g.rules.tag, &g.rules.os_platform}) {
    if (cond->size() > 10) return InvalidArgument("At most 10 values are allowed per rule condition");
    for (const std::string& v : *cond) {
      if (v.empty() || v.size() > 256) return InvalidArgument("Rule values must be 1 to 256 characters");
    }
  }
  return Status::Ok();
}

}  // namespace ward::rbac
