// Machines (mde-api.md §3.2): lists and lookups scoped by the caller's device groups, tags and
// device value, the find* lookups by IP and tag, the device's alerts, and Ward's device timeline.
#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "api/api.h"
#include "api/entities.h"
#include "api/machine_catalog.h"
#include "api/validators.h"
#include "events/schema.h"
#include "common/time.h"
#include "ingest/devices.h"
#include "rbac/device_groups.h"

namespace ward::api {
namespace {

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


// ---- bodies and arguments ---------------------------------------------------------------------

// MDE body parameter names are case-sensitive (mde-api.md §3).
Status CheckTag(const std::string& tag) {
  if (tag.empty() || tag.size() > 200) return InvalidArgument("A tag must have 1 to 200 characters");
  for (unsigned char c : tag) {
    if (c < 0x20) return InvalidArgument("A tag may not contain control characters");
  }
  return Status::Ok();
}

Status CheckDeviceValue(const std::string& v) {
  if (v == "Normal" || v == "Low" || v == "High") return Status::Ok();
  return InvalidArgument("DeviceValue must be Normal, Low or High, not '" + v + "'");
}

// Tag changes can move a device to another group (rules match tags), so the group is recomputed.
void Regroup(Call& call, state::Machine& m) {
  if (auto groups = call.services.authz.DeviceGroups(call.tenant())) m.rbac_group_id = rbac::AssignDeviceGroup(**groups, m);
}

Status ApplyTag(state::Machine& m, const std::string& value, const std::string& action) {
  if (action == "Add") {
    if (std::find(m.api_tags.begin(), m.api_tags.end(), value) == m.api_tags.end()) m.api_tags.push_back(value);
    return Status::Ok();
  }
  if (action == "Remove") {
    std::erase(m.api_tags, value);
    return Status::Ok();
  }
  return InvalidArgument("Action must be Add or Remove, not '" + action + "'");
}

// Writes a machine change (optimistically, so a concurrent profile update is not lost), audits it
// and answers the machine.
void SaveMachineAndRespond(Call& call, const state::Machine& found, const std::function<Status(state::Machine&)>& change) {
  auto written = state::Repo<state::Machine>(call.services.store).Mutate(call.tenant(), found.id, [&](state::Machine& m) -> Status {
    WARD_RETURN_IF_ERROR(change(m));
    Regroup(call, m);
    return Status::Ok();
  });
  if (!written) return call.Fail(written.error());
  call.services.authz.Invalidate();
  call.audit_target = "machine:" + found.id;
  auto groups = call.services.authz.DeviceGroups(call.tenant());
  if (!groups) return call.Fail(groups.error());
  auto derived = DeriveForMachine(call, found.id);
  if (!derived) return call.Fail(derived.error());
  call.ODataEntity("Machines", MachineJson(*written, **groups, NowMs(), *derived));
}

// "ip='10.1.2.3',timestamp=2024-01-02T03:04:05Z" → {ip: 10.1.2.3, timestamp: ...}; values may be
// quoted ('' escapes a quote) or bare.
Result<std::map<std::string, std::string>> ParseFunctionArgs(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t eq = text.find('=', i);
    if (eq == std::string_view::npos) return Err(InvalidArgument("expected name=value in '" + std::string(text) + "'"));
    std::string name = state::LowerAscii(text.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      while (true) {
        if (i >= text.size()) return Err(InvalidArgument("unterminated quoted value for " + name));
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            value += '\'';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        value += text[i++];
      }
    } else {
      size_t end = text.find(',', i);
      if (end == std::string_view::npos) end = text.size();
      value = std::string(text.substr(i, end - i));
      i = end;
    }
    out[name] = value;
    if (i < text.size()) {
      if (text[i] != ',') return Err(InvalidArgument("expected ',' after " + name));
      ++i;
    }
  }
  return out;
}

bool IsIpAddress(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

// Devices (ids) seen with `ip` as an internal address within [from, to] ticks: network inventory
// reports, connections from that local address, and the current profile when it was seen then.
Result<std::set<std::string>> DevicesSeenWithIp(Call& call, const CallerView& view, const std::string& ip, int64_t from,
                                               int64_t to) {
  std::set<std::string> ids;
  if (events::EventStore* store = call.services.event_store) {
    auto scan = [&](const char* table, std::vector<std::string> columns, std::vector<events::Predicate> preds,
                    auto&& row_matches) -> Status {
      events::ScanRequest req;
      req.tenant_id = call.tenant();
      req.table = table;
      req.columns = std::move(columns);
      req.from_ticks = from;
      req.to_ticks = to + 1;
      req.predicates = std::move(preds);
      auto r = store->Scan(req, [&](events::ColumnBatch&& b) {
        for (size_t i = 0; i < b.rows; ++i) {
          if (!b.columns[0].nulls[i] && row_matches(b, i)) ids.insert(b.columns[0].strings[i]);
        }
        return true;
      });
      return r ? Status::Ok() : r.error();
    };
    // IPAddresses is a dynamic array of {"IPAddress": ...}; `has` narrows by the index, the exact
    // check parses nothing: the quoted address must appear as a value.
    std::string quoted = "\"" + ip + "\"";
    WARD_RETURN_IF_ERROR(scan("DeviceNetworkInfo", {"DeviceId", "IPAddresses"},
                              {{"IPAddresses", events::Predicate::Op::kContains, {ip}}},
                              [&](const events::ColumnBatch& b, size_t i) {
                                return !b.columns[1].nulls[i] && b.columns[1].strings[i].find(quoted) != std::string::npos;
                              }));
    WARD_RETURN_IF_ERROR(scan("DeviceNetworkEvents", {"DeviceId"}, {{"LocalIP", events::Predicate::Op::kEquals, {ip}}},
                              [](const events::ColumnBatch&, size_t) { return true; }));
  }
  const int64_t from_ms = from / kTicksPerMillisecond, to_ms = to / kTicksPerMillisecond;
  for (const state::Machine& m : view.machines) {
    bool has_ip = std::find(m.ip_addresses.begin(), m.ip_addresses.end(), ip) != m.ip_addresses.end();
    if (has_ip && m.last_seen_ms >= from_ms && m.first_seen_ms <= to_ms) ids.insert(m.id);
  }
  // Only devices the caller may see.
  std::erase_if(ids, [&](const std::string& id) { return view.FindMachine(id) == nullptr; });
  return ids;
}

// findbyip / find: the devices seen with an internal IP around a time (±window).
void FindByIp(Call& call, const std::string& ip, const std::string& timestamp, std::chrono::minutes window,
              bool not_found_when_empty) {
  if (!IsIpAddress(ip)) return call.Fail(InvalidArgument(ip + " is invalid"), "InvalidIpAddress");
  auto t = ParseIsoTicks(timestamp);
  if (!t) return call.Fail(InvalidArgument("timestamp must be an ISO-8601 datetime, not '" + timestamp + "'"));
  int64_t now = NowTicks();
  if (*t < now - int64_t{30} * 24 * 3600 * kTicksPerSecond) {
    return call.Fail(InvalidArgument("timestamp must be within the last 30 days"));
  }
  auto view = LoadCallerView(call);
  if (!view) return call.Fail(view.error());
  const int64_t w = static_cast<int64_t>(window.count()) * 60 * kTicksPerSecond;
  auto ids = DevicesSeenWithIp(call, *view, ip, *t - w, *t + w);
  if (!ids) return call.Fail(ids.error());
  if (ids->empty() && not_found_when_empty) return call.Fail(NotFound("No machine was seen with IP " + ip + " at " + timestamp));
  std::vector<const state::Machine*> machines;
  for (const std::string& id : *ids) machines.push_back(view->FindMachine(id));
  RespondMachines(call, *view, std::move(machines));
}

}  // namespace

void RegisterMachineRoutes(Api& api) {
  auto catalog = std::make_shared<MachineCatalog>(api.services().store, api.services().authz);
  api.services().machine_catalog = catalog;
  // Lookups whose literal paths would otherwise be taken for a machine id come first.
  // findbyip(ip=…,timestamp=…) ±15 min and the older find(timestamp=…,key=…) ±16 min, 404 when empty.
  auto find_route = [&api](const char* pattern, std::string key_arg, std::chrono::minutes window, bool not_found_when_empty) {
    api.Add("GET", pattern, [key_arg, window, not_found_when_empty](Call& call) {
      if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
      auto args = ParseFunctionArgs(call.req.PathParam("args"));
      if (!args) return call.Fail(args.error());
      for (const std::string& name : {key_arg, std::string("timestamp")}) {
        if (!args->count(name)) return call.Fail(InvalidArgument("Parameter " + name + " is missing"));
      }
      FindByIp(call, (*args)[key_arg], (*args)["timestamp"], window, not_found_when_empty);
    });
  };
  find_route("/api/machines/findbyip({args})", "ip", std::chrono::minutes(15), false);
  find_route("/api/machines/find({args})", "key", std::chrono::minutes(16), true);
  api.Add("GET", "/api/machines/findbytag", [](Call& call) {
    if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
    auto form = http::ParseForm(call.req.query);
    if (!form) return call.Fail(InvalidArgument("malformed query string"));
    std::string tag;
    bool starts_with = false;
    for (const auto& [k, v] : *form) {
      if (k == "tag") tag = v;
      if (k == "useStartsWithFilter") {
        std::string b = state::LowerAscii(v);
        if (b != "true" && b != "false") return call.Fail(InvalidArgument("useStartsWithFilter must be true or false"));
        starts_with = b == "true";
      }
    }
    if (tag.empty()) return call.Fail(InvalidArgument("Parameter tag is missing"));
    auto view = LoadCallerView(call);
    if (!view) return call.Fail(view.error());
    std::vector<const state::Machine*> machines;
    for (const state::Machine& m : view->machines) {
      auto matches = [&](const std::string& t) { return starts_with ? t.starts_with(tag) : t == tag; };
      if (std::any_of(m.tags.begin(), m.tags.end(), matches) || std::any_of(m.api_tags.begin(), m.api_tags.end(), matches)) {
        machines.push_back(&m);
      }
    }
    // findbytag takes no OData options of its own; RespondMachines ignores the route's parameters.
    RespondMachines(call, *view, std::move(machines));
  });
  api.Add("POST", "/api/machines/AddOrRemoveTagForMultipleMachines", [](Call& call) {
    if (Status st = call.Require(requirements::ReadWriteMachines()); !st.ok()) return call.Fail(st);
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto value = RequiredString(*body, "Value");
    if (!value) return call.Fail(value.error());
    auto action = RequiredString(*body, "Action");
    if (!action) return call.Fail(action.error());
    if (Status st = CheckTag(*value); !st.ok()) return call.Fail(st);
    if (*action != "Add" && *action != "Remove") return call.Fail(InvalidArgument("Action must be Add or Remove"));
    auto ids = call.IdBatch(*body, "MachineIds");
    if (!ids) return;
    // Check every id first, so that the batch applies to all or none.
    std::vector<state::Machine> found;
    for (const std::string& id : *ids) {
      auto m = FindMachineForCaller(call, id, requirements::ReadWriteMachines());
      if (!m) return call.Fail(m.error());
      found.push_back(std::move(*m));
    }
    auto groups = call.services.authz.DeviceGroups(call.tenant());
    if (!groups) return call.Fail(groups.error());
    std::vector<json::Value> out;
    int64_t now = NowMs();
    for (const state::Machine& f : found) {
      auto written = state::Repo<state::Machine>(call.services.store).Mutate(call.tenant(), f.id, [&](state::Machine& m) -> Status {
        WARD_RETURN_IF_ERROR(ApplyTag(m, *value, *action));
        m.rbac_group_id = rbac::AssignDeviceGroup(**groups, m);
        return Status::Ok();
      });
      if (!written) return call.Fail(written.error());
      auto derived = DeriveForMachine(call, f.id);
      if (!derived) return call.Fail(derived.error());
      out.push_back(MachineJson(*written, **groups, now, *derived));
    }
    call.services.authz.Invalidate();
    call.audit_target = "machines:" + std::to_string(found.size());
    odata::Query all;
    call.ODataList(MachineSchema(), all, std::move(out));
  });
  // Lists and lookups read the in-memory catalog: no database access or rendering per request.
  api.Add("GET", "/api/machines", [catalog](Call& call) {
    if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(MachineSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto snap = catalog->Get(call.tenant());
    if (!snap) return call.Fail(snap.error());
    rbac::DeviceScope scope = call.services.authz.ScopeFor(call.principal);
    auto visible = [&](const MachineCatalog::Entry& e) {
      return scope.Contains(e.machine.rbac_group_id) && (!q->filter || odata::Matches(*q->filter, e.json, MachineSchema()));
    };
    if (!q->orderby.empty()) {
      // Ordering needs every match; the generic path sorts copies.
      std::vector<json::Value> all;
      for (const auto& e : (*snap)->entries) {
        if (visible(*e)) all.push_back(e->json);
      }
      odata::Query unfiltered = std::move(*q);
      unfiltered.filter.reset();
      return call.ODataList(MachineSchema(), unfiltered, std::move(all));
    }
    // Store order: stop one past the page unless $count needs them all.
    const size_t skip = static_cast<size_t>(q->skip), top = static_cast<size_t>(q->top.value_or(10000));
    std::vector<const json::Value*> page;
    size_t matched = 0;
    bool more = false;
    for (const auto& e : (*snap)->entries) {
      if (!visible(*e)) continue;
      if (matched >= skip && page.size() < top) {
        page.push_back(&e->json);
      } else if (matched >= skip + top) {
        more = true;
        if (!q->count) break;
      }
      ++matched;
    }
    call.ODataPage(MachineSchema(), *q, page, q->count ? std::optional<size_t>(matched) : std::nullopt, more);
  });
  api.Add("GET", "/api/machines/{id}", [catalog](Call& call) {
    std::string_view key = call.req.PathParam("id");
    std::string not_found = "Machine " + std::string(key) + " was not found";
    auto snap = catalog->Get(call.tenant());
    if (!snap) return call.Fail(snap.error());
    const MachineCatalog::Entry* e = (*snap)->Find(key);
    if (!e) {
      if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
      return call.Fail(NotFound(not_found));
    }
    Status st = call.services.authz.CheckDevice(call.principal, requirements::ReadMachines(), e->machine.rbac_group_id, not_found);
    if (!st.ok()) return call.Fail(st);
    call.ODataEntity("Machines", e->json);
  });
  api.Add("PATCH", "/api/machines/{id}", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadWriteMachines());
    if (!m) return call.Fail(m.error());
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    std::optional<std::vector<std::string>> tags;
    std::optional<std::string> value;
    for (const auto& [k, v] : body->members()) {
      if (k == "machineTags") {
        tags = state::ReadStringArray(&v);
        if (!tags) return call.Fail(InvalidArgument("Request body is incorrect: machineTags must be an array of strings"));
        for (const std::string& t : *tags) {
          if (Status st = CheckTag(t); !st.ok()) return call.Fail(st);
        }
      } else if (k == "deviceValue") {
        if (!v.is_string()) return call.Fail(InvalidArgument("Request body is incorrect: deviceValue must be a string"));
        if (Status st = CheckDeviceValue(v.as_string()); !st.ok()) return call.Fail(st);
        value = v.as_string();
      } else {
        return call.Fail(InvalidArgument("Request body is incorrect: unknown property '" + k + "'"));
      }
    }
    SaveMachineAndRespond(call, *m, [&](state::Machine& w) {
      if (tags) {
        // machineTags replaces the API-set tags; tags the device reports itself stay.
        w.api_tags.clear();
        for (const std::string& t : *tags) {
          if (std::find(w.tags.begin(), w.tags.end(), t) == w.tags.end() &&
              std::find(w.api_tags.begin(), w.api_tags.end(), t) == w.api_tags.end()) {
            w.api_tags.push_back(t);
          }
        }
      }
      if (value) w.device_value = *value;
      return Status::Ok();
    });
  });
  api.Add("POST", "/api/machines/{id}/tags", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadWriteMachines());
    if (!m) return call.Fail(m.error());
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto value = RequiredString(*body, "Value");
    if (!value) return call.Fail(value.error());
    auto action = RequiredString(*body, "Action");
    if (!action) return call.Fail(action.error());
    if (Status st = CheckTag(*value); !st.ok()) return call.Fail(st);
    SaveMachineAndRespond(call, *m, [&](state::Machine& w) { return ApplyTag(w, *value, *action); });
  });
  api.Add("POST", "/api/machines/{id}/setDeviceValue", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadWriteMachines());
    if (!m) return call.Fail(m.error());
    auto body = call.JsonBody();
    if (!body) return call.Fail(body.error());
    auto value = RequiredString(*body, "DeviceValue");
    if (!value) return call.Fail(value.error());
    if (Status st = CheckDeviceValue(*value); !st.ok()) return call.Fail(st);
    SaveMachineAndRespond(call, *m, [&](state::Machine& w) {
      w.device_value = *value;
      return Status::Ok();
    });
  });
  // One machine's alerts come from the catalog (kept current from the store), not a tenant-wide read.
  auto machine_view = [catalog](Call& call, const state::Machine& m) -> Result<CallerView> {
    WARD_ASSIGN_OR_RETURN(auto snap, catalog->Get(call.tenant()));
    CallerView view;
    view.groups = snap->groups;
    view.machines = {m};
    view.alerts = snap->AlertsOf(m.id);
    return view;
  };
  api.Add("GET", "/api/machines/{id}/alerts", [machine_view](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadAlerts());
    if (!m) return call.Fail(m.error());
    auto view = machine_view(call, *m);
    if (!view) return call.Fail(view.error());
    std::vector<const state::Alert*> alerts;
    for (const state::Alert& a : view->alerts) alerts.push_back(&a);
    RespondAlerts(call, *view, std::move(alerts));
  });
  // "/alerts/$count?$filter=status ne 'Resolved'" → a bare integer.
  api.Add("GET", "/api/machines/{id}/alerts/$count", [machine_view](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadAlerts());
    if (!m) return call.Fail(m.error());
    auto q = call.ODataQuery(AlertSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto view = machine_view(call, *m);
    if (!view) return call.Fail(view.error());
    std::vector<json::Value> alerts;
    for (const state::Alert& a : view->alerts) alerts.push_back(AlertJson(a, view->GroupName(*m), false));
    call.ODataCount(AlertSchema(), *q, std::move(alerts));
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
