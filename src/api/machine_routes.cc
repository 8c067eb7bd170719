// Machines, read side: GET /api/machines and /api/machines/{id} (id or computer name), scoped by
// the caller's device groups. Enrollment and the rest of the Machine entity come with onboarding and
// the investigation API.
#include <algorithm>

#include "api/api.h"

namespace ward::api {
namespace {

json::Value MachineJson(const state::Machine& m, const std::vector<state::DeviceGroup>& groups) {
  json::Value v = json::Value::Object();
  v.AppendMember("id", m.id);
  v.AppendMember("computerDnsName", m.computer_dns_name);
  v.AppendMember("firstSeen", m.first_seen_ms ? json::Value(odata::FormatDateTimeMs(m.first_seen_ms)) : json::Value());
  v.AppendMember("lastSeen", m.last_seen_ms ? json::Value(odata::FormatDateTimeMs(m.last_seen_ms)) : json::Value());
  v.AppendMember("osPlatform", m.os_platform);
  v.AppendMember("osVersion", m.os_version.empty() ? json::Value() : json::Value(m.os_version));
  v.AppendMember("lastIpAddress", m.last_ip_address.empty() ? json::Value() : json::Value(m.last_ip_address));
  v.AppendMember("healthStatus", m.health_status);
  v.AppendMember("onboardingStatus", m.onboarding_status);
  v.AppendMember("deviceValue", m.device_value);
  v.AppendMember("rbacGroupId", m.rbac_group_id ? json::Value(*m.rbac_group_id) : json::Value());
  json::Value group_name;
  for (const state::DeviceGroup& g : groups) {
    if (m.rbac_group_id && g.id == *m.rbac_group_id) group_name = g.name;
  }
  v.AppendMember("rbacGroupName", group_name);
  v.AppendMember("machineTags", state::StringArray(m.tags));
  return v;
}

const odata::EntitySchema& MachineSchema() {
  static const odata::EntitySchema s{"Machines", {
      {"id", odata::PropertyType::kString}, {"computerDnsName", odata::PropertyType::kString},
      {"firstSeen", odata::PropertyType::kDateTime}, {"lastSeen", odata::PropertyType::kDateTime},
      {"osPlatform", odata::PropertyType::kString}, {"osVersion", odata::PropertyType::kString},
      {"lastIpAddress", odata::PropertyType::kString}, {"healthStatus", odata::PropertyType::kString},
      {"onboardingStatus", odata::PropertyType::kString}, {"deviceValue", odata::PropertyType::kString},
      {"rbacGroupId", odata::PropertyType::kInt}, {"rbacGroupName", odata::PropertyType::kString},
      {"machineTags", odata::PropertyType::kStringCollection}}};
  return s;
}

}  // namespace

void RegisterMachineRoutes(Api& api) {
  api.Add("GET", "/api/machines", [](Call& call) {
    if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(MachineSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto machines = state::Repo<state::Machine>(call.services.store).List(call.tenant());
    auto groups = call.services.authz.DeviceGroups(call.tenant());
    if (!machines) return call.Fail(machines.error());
    if (!groups) return call.Fail(groups.error());
    rbac::DeviceScope scope = call.services.authz.ScopeFor(call.principal);
    std::vector<json::Value> out;
    for (const state::Machine& m : *machines) {
      if (scope.Contains(m.rbac_group_id)) out.push_back(MachineJson(m, **groups));
    }
    call.ODataList(MachineSchema(), *q, std::move(out));
  });
  api.Add("GET", "/api/machines/{id}", [](Call& call) {
    std::string key(call.req.PathParam("id"));
    std::string not_found = "Machine " + key + " was not found";
    state::Repo<state::Machine> repo(call.services.store);
    auto m = repo.Get(call.tenant(), state::LowerAscii(key));
    if (!m) {
      // MDE accepts the computer name in place of the id.
      auto all = repo.List(call.tenant());
      if (all) {
        auto it = std::find_if(all->begin(), all->end(), [&](const state::Machine& x) {
          return state::LowerAscii(x.computer_dns_name) == state::LowerAscii(key);
        });
        if (it != all->end()) m = *it;
      }
    }
    if (!m) {
      // A caller without the permission gets 403 either way; only permitted callers learn of absence.
      if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
      return call.Fail(NotFound(not_found));
    }
    if (Status st = call.services.authz.CheckDevice(call.principal, requirements::ReadMachines(), m->rbac_group_id,
                                                    not_found);
        !st.ok()) {
      return call.Fail(st);
    }
    auto groups = call.services.authz.DeviceGroups(call.tenant());
    if (!groups) return call.Fail(groups.error());
    call.ODataEntity("Machines", MachineJson(*m, **groups));
  });
}

}  // namespace ward::api
