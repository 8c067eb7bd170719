// GET /api/auditlogs: the tenant's append-only audit log, newest first, with OData $filter, $top and
// $skip. Filters are evaluated while paging through the log in chunks, so memory stays bounded.
#include "api/api.h"

namespace ward::api {
namespace {

const odata::EntitySchema& AuditSchema() {
  static const odata::EntitySchema s{"AuditLogs", {
      {"id", odata::PropertyType::kInt}, {"timestamp", odata::PropertyType::kDateTime},
      {"actorType", odata::PropertyType::kString}, {"actorId", odata::PropertyType::kString},
      {"actorName", odata::PropertyType::kString}, {"action", odata::PropertyType::kString},
      {"target", odata::PropertyType::kString}, {"result", odata::PropertyType::kString},
      {"httpStatus", odata::PropertyType::kInt}, {"requestId", odata::PropertyType::kString},
      {"details", odata::PropertyType::kString, true, false}}};
  return s;
}

json::Value AuditJson(const state::AuditEntry& e) {
  json::Value v = json::Value::Object();
  v.Set("id", e.id);
  v.Set("timestamp", odata::FormatDateTimeMs(e.time_ms));
  v.Set("actorType", e.actor_type);
  v.Set("actorId", e.actor_id);
  v.Set("actorName", e.actor_name);
  v.Set("action", e.action);
  v.Set("target", e.target);
  v.Set("result", e.result);
  v.Set("httpStatus", e.http_status);
  v.Set("requestId", e.request_id);
  v.Set("details", e.details);
  return v;
}

constexpr int64_t kChunk = 1000;
constexpr int64_t kMaxScanned = 200000;

}  // namespace

void RegisterAuditRoutes(Api& api) {
  api.Add("GET", "/api/auditlogs", [](Call& call) {
    if (Status st = call.Require(requirements::ReadAudit()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(AuditSchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    if (!q->orderby.empty()) return call.Fail(InvalidArgument("$orderby is not supported on audit logs (newest first)"), "ODataError");
    int64_t want = q->skip + q->top.value_or(100) + 1;  // +1 tells whether a next page exists
    std::vector<json::Value> matched;
    state::AuditQuery aq;
    aq.limit = kChunk;
    for (int64_t scanned = 0; scanned < kMaxScanned && static_cast<int64_t>(matched.size()) < want; scanned += kChunk) {
      aq.offset = scanned;
      auto rows = call.services.store.ListAudit(call.tenant(), aq);
      if (!rows) return call.Fail(rows.error());
      for (const state::AuditEntry& e : *rows) {
        json::Value v = AuditJson(e);
        if (!q->filter || odata::Matches(*q->filter, v, AuditSchema())) matched.push_back(std::move(v));
        if (static_cast<int64_t>(matched.size()) >= want) break;
      }
      if (static_cast<int64_t>(rows->size()) < kChunk) break;
    }
    odata::Query page;
    page.skip = q->skip;
    page.top = q->top.value_or(100);
    page.select = q->select;
    page.count = q->count;
    call.ODataList(AuditSchema(), page, std::move(matched));
  });
}

}  // namespace ward::api
