// Machines, read side: GET /api/machines and /api/machines/{id} (id or computer name), scoped by
// the caller's device groups. Enrollment and the rest of the Machine entity come with onboarding and
// the investigation API.
#include <algorithm>

#include "api/api.h"
#include "events/schema.h"
#include "common/time.h"
#include "ingest/devices.h"

namespace ward::api {
namespace {

json::Value MachineJson(const state::Machine& m, const std::vector<state::DeviceGroup>& groups, int64_t now_ms) {
  auto opt_time = [](int64_t ms) { return ms ? json::Value(odata::FormatDateTimeMs(ms)) : json::Value(); };
  auto opt_str = [](const std::string& s) { return s.empty() ? json::Value() : json::Value(s); };
  json::Value v = json::Value::Object();
  v.AppendMember("id", m.id);
  v.AppendMember("computerDnsName", m.computer_dns_name);
  v.AppendMember("firstSeen", opt_time(m.first_seen_ms));
  v.AppendMember("lastSeen", opt_time(m.last_seen_ms));
  v.AppendMember("osPlatform", m.os_platform);
  v.AppendMember("osVersion", opt_str(m.os_version));
  v.AppendMember("osProcessor", opt_str(m.os_architecture));
  v.AppendMember("version", opt_str(m.os_version));
  v.AppendMember("lastIpAddress", opt_str(m.last_ip_address));
  v.AppendMember("lastExternalIpAddress", opt_str(m.last_external_ip_address));
  v.AppendMember("agentVersion", opt_str(m.agent_version));
  v.AppendMember("osBuild", m.os_build ? json::Value(m.os_build) : json::Value());
  v.AppendMember("healthStatus", ingest::HealthStatus(m, now_ms));
  v.AppendMember("onboardingStatus", m.onboarding_status);
  v.AppendMember("deviceValue", m.device_value);
  v.AppendMember("rbacGroupId", m.rbac_group_id ? json::Value(*m.rbac_group_id) : json::Value());
  json::Value group_name;
  for (const state::DeviceGroup& g : groups) {
    if (m.rbac_group_id && g.id == *m.rbac_group_id) group_name = g.name;
  }
  v.AppendMember("rbacGroupName", group_name);
  std::vector<std::string> tags = m.tags;
  for (const std::string& t : m.api_tags) {
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
  }
  v.AppendMember("machineTags", state::StringArray(tags));
  json::Value ips = json::Value::Array();
  for (const std::string& ip : m.ip_addresses) {
    json::Value a = json::Value::Object();
    a.AppendMember("ipAddress", ip);
    a.AppendMember("macAddress", json::Value());
    a.AppendMember("type", json::Value());
    a.AppendMember("operationalStatus", "Up");
    ips.Append(std::move(a));
  }
  v.AppendMember("ipAddresses", std::move(ips));
  v.AppendMember("aadDeviceId", json::Value());
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
      {"machineTags", odata::PropertyType::kStringCollection}, {"agentVersion", odata::PropertyType::kString},
      {"lastExternalIpAddress", odata::PropertyType::kString}, {"osBuild", odata::PropertyType::kInt}}};
  return s;
}

// A machine by id or computer name, or NotFound when it is absent or outside the caller's device
// groups (the same answer, so existence is not revealed); PermissionDenied without the permission.
Result<state::Machine> FindMachineForCaller(Call& call, std::string_view key, const rbac::Requirement& need) {
  std::string not_found = "Machine " + std::string(key) + " was not found";
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
    WARD_RETURN_IF_ERROR(call.Require(need));
    return Err(NotFound(not_found));
  }
  WARD_RETURN_IF_ERROR(call.services.authz.CheckDevice(call.principal, need, m->rbac_group_id, not_found));
  return *m;
}

struct TimelineQuery {
  std::vector<std::string> tables;
  std::optional<int64_t> from_ticks, to_ticks;
  std::string search;  // KQL-style term search over the term-indexed columns
  size_t top = 100;
  static Result<TimelineQuery> Parse(std::string_view query) {
    TimelineQuery q;
    auto form = http::ParseForm(query);
    if (!form) return Err(InvalidArgument("malformed query string"));
    for (const auto& [k, v] : *form) {
      if (k == "table") {
        if (!events::SchemaRegistry::Hunting().Find(v)) return Err(InvalidArgument("unknown table '" + v + "'"));
        q.tables.push_back(v);
      } else if (k == "from" || k == "to") {
        auto t = ParseIsoTicks(v);
        if (!t) return Err(InvalidArgument(k + " must be an ISO-8601 datetime"));
        (k == "from" ? q.from_ticks : q.to_ticks) = *t;
      } else if (k == "search") {
        if (v.size() > 256) return Err(InvalidArgument("search is too long"));
        q.search = v;
      } else if (k == "$top" || k == "top") {
        char* end = nullptr;
        long n = std::strtol(v.c_str(), &end, 10);
        if (!end || *end || n < 1 || n > 10000) return Err(InvalidArgument("$top must be 1 to 10000"));
        q.top = static_cast<size_t>(n);
      } else {
        return Err(InvalidArgument("unknown parameter '" + k + "'"));
      }
    }
    if (q.tables.empty()) {
      q.tables = {"DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents", "DeviceLogonEvents",
                  "DeviceRegistryEvents", "DeviceImageLoadEvents", "DeviceEvents"};
    }
    return q;
  }
};

json::Value CellJson(const events::ColumnVector& col, size_t i) {
  if (col.nulls[i]) return json::Value();
  switch (col.type) {
    case events::ColumnType::kDatetime: return json::Value(FormatIsoTicks(col.ints[i]));
    case events::ColumnType::kBool: return json::Value(col.ints[i] != 0);
    case events::ColumnType::kLong:
    case events::ColumnType::kInt: return json::Value(col.ints[i]);
    case events::ColumnType::kReal: return json::Value(col.reals[i]);
    default: return json::Value(col.strings[i]);
  }
}

Status CollectTimeline(events::EventStore& store, const state::Machine& m, const TimelineQuery& q,
                       std::vector<json::Value>* out) {
  std::vector<std::pair<int64_t, json::Value>> rows;
  for (const std::string& table : q.tables) {
    events::ScanRequest req;
    req.tenant_id = m.tenant_id;
    req.table = table;
    req.from_ticks = q.from_ticks;
    req.to_ticks = q.to_ticks;
    req.predicates.push_back({"DeviceId", events::Predicate::Op::kEquals, {m.id}});
    auto scanned = store.Scan(req, [&](events::ColumnBatch&& batch) {
      int ts_col = -1;
      for (size_t c = 0; c < batch.names.size(); ++c) {
        if (batch.names[c] == "Timestamp") ts_col = static_cast<int>(c);
      }
      for (size_t i = 0; i < batch.rows; ++i) {
        if (!q.search.empty()) {
          // Every term of the search must occur in some string column of the row.
          bool all = true;
          for (const std::string& term : events::TermsOf(q.search)) {
            bool found = false;
            for (size_t c = 0; c < batch.columns.size() && !found; ++c) {
              const auto& col = batch.columns[c];
              if (col.type != events::ColumnType::kString || col.nulls[i]) continue;
              for (const std::string& t : events::TermsOf(col.strings[i])) {
                if (t == term) {
                  found = true;
                  break;
                }
              }
            }
            if (!found) {
              all = false;
              break;
            }
          }
          if (!all) continue;
        }
        json::Value row = json::Value::Object();
        row.AppendMember("Table", table);
        for (size_t c = 0; c < batch.columns.size(); ++c) {
          if (batch.columns[c].nulls[i]) continue;  // compact: absent = null
          row.AppendMember(batch.names[c], CellJson(batch.columns[c], i));
        }
        int64_t ts = ts_col >= 0 ? batch.columns[ts_col].ints[i] : 0;
        rows.emplace_back(ts, std::move(row));
      }
      return true;
    });
    if (!scanned) return scanned.error();
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (rows.size() > q.top) rows.resize(q.top);
  for (auto& r : rows) out->push_back(std::move(r.second));
  return Status::Ok();
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
    int64_t now = NowMs();
    std::vector<json::Value> out;
    for (const state::Machine& m : *machines) {
      if (scope.Contains(m.rbac_group_id)) out.push_back(MachineJson(m, **groups, now));
    }
    call.ODataList(MachineSchema(), *q, std::move(out));
  });
  api.Add("GET", "/api/machines/{id}", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadMachines());
    if (!m) return call.Fail(m.error());
    auto groups = call.services.authz.DeviceGroups(call.tenant());
    if (!groups) return call.Fail(groups.error());
    call.ODataEntity("Machines", MachineJson(*m, **groups, NowMs()));
  });
  // Ward extension: the device timeline (the portal's device page), newest first.
  api.Add("GET", "/api/machines/{id}/timeline", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadMachines());
    if (!m) return call.Fail(m.error());
    if (!call.services.event_store) return call.Fail(Unavailable("the event store is not running"));
    auto q = TimelineQuery::Parse(call.req.query);
    if (!q) return call.Fail(q.error());
    std::vector<json::Value> rows;
    Status st = CollectTimeline(*call.services.event_store, *m, *q, &rows);
    if (!st.ok()) return call.Fail(st);
    json::Writer w;
    w.StartObject().KV("@odata.context", call.BaseUrl() + "/api/$metadata#Timeline").Key("value").StartArray();
    for (const json::Value& r : rows) w.Val(r);
    w.EndArray().EndObject();
    call.Json(200, w.Take());
  });
}

}  // namespace ward::api
