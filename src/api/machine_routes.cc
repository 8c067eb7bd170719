// Machines, read side: GET /api/machines and /api/machines/{id} (id or computer name), scoped by
// the caller's device groups. Enrollment and the rest of the Machine entity come with onboarding and
// the investigation API.
#include <algorithm>

#include "api/api.h"
#include "api/entities.h"
#include "events/schema.h"
#include "common/time.h"
#include "ingest/devices.h"

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

}  // namespace

void RegisterMachineRoutes(Api& api) {
  api.Add("GET", "/api/machines", [](Call& call) {
    if (Status st = call.Require(requirements::ReadMachines()); !st.ok()) return call.Fail(st);
    auto view = LoadCallerView(call);
    if (!view) return call.Fail(view.error());
    std::vector<const state::Machine*> machines;
    for (const state::Machine& m : view->machines) machines.push_back(&m);
    RespondMachines(call, *view, std::move(machines));
  });
  api.Add("GET", "/api/machines/{id}", [](Call& call) {
    auto m = FindMachineForCaller(call, call.req.PathParam("id"), requirements::ReadMachines());
    if (!m) return call.Fail(m.error());
    auto groups = call.services.authz.DeviceGroups(call.tenant());
    if (!groups) return call.Fail(groups.error());
    auto derived = DeriveForMachine(call, m->id);
    if (!derived) return call.Fail(derived.error());
    call.ODataEntity("Machines", MachineJson(*m, **groups, NowMs(), *derived));
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
