#include "server/migrate.h"

#include <algorithm>

namespace ward::server {
namespace {

// The audit log is append-only and its ids are the target's own, so entries are matched by time:
// only those after the target's newest entry are copied (oldest first, keeping the order).
Result<int64_t> CopyAudit(state::StateStore& source, state::StateStore& target, const std::string& tenant) {
  state::AuditQuery newest;
  newest.limit = 1;
  WARD_ASSIGN_OR_RETURN(auto last, target.ListAudit(tenant, newest));
  std::vector<state::AuditEntry> pending;
  state::AuditQuery page;
  page.limit = 1000;
  if (!last.empty()) page.since_ms = last[0].time_ms + 1;
  for (;;) {
    WARD_ASSIGN_OR_RETURN(auto entries, source.ListAudit(tenant, page));
    pending.insert(pending.end(), entries.begin(), entries.end());
    if (static_cast<int64_t>(entries.size()) < page.limit) break;
    page.offset += page.limit;
  }
  std::reverse(pending.begin(), pending.end());  // ListAudit is newest first
  for (const state::AuditEntry& e : pending) {
    if (auto id = target.AppendAudit(e); !id) return Err(id.error());
  }
  return static_cast<int64_t>(pending.size());
}

// ColumnBatch (a scan's output, column-major) → rows of one table, in schema order.
void AppendRows(const events::ColumnBatch& batch, const events::TableDef& table, events::RowBatch& out) {
  for (size_t r = 0; r < batch.rows; ++r) {
    events::Row row;
    row.table = table.id;
    row.values.resize(table.columns.size());
    for (size_t c = 0; c < batch.names.size(); ++c) {
      int at = table.Find(batch.names[c]);
      const events::ColumnVector& col = batch.columns[c];
      if (at < 0 || col.nulls[r]) continue;
      switch (col.type) {
        case events::ColumnType::kReal: row.values[at] = col.reals[r]; break;
        case events::ColumnType::kString:
        case events::ColumnType::kDynamic: row.values[at] = col.strings[r]; break;
        default: row.values[at] = col.ints[r]; break;
      }
    }
    out.rows.push_back(std::move(row));
  }
}

}  // namespace

Result<StateCopyStats> CopyState(state::StateStore& source, state::StateStore& target) {
  StateCopyStats stats;
  WARD_ASSIGN_OR_RETURN(auto keys, source.ListSigningKeys());
  for (const state::SigningKey& k : keys) {
    WARD_RETURN_IF_ERROR(target.PutSigningKey(k));
    ++stats.signing_keys;
  }
  WARD_ASSIGN_OR_RETURN(auto tenants, source.ListTenants());
  for (const state::Tenant& t : tenants) {
    if (Status st = target.CreateTenant(t); !st.ok() && st.code() != StatusCode::kAlreadyExists) return Err(st);
    ++stats.tenants;
    for (state::Kind kind : state::kAllKinds) {
      WARD_ASSIGN_OR_RETURN(auto docs, source.List(t.id, kind));
      for (const state::Document& d : docs) {
        Status st = target.Insert(t.id, kind, d);
        if (st.code() == StatusCode::kAlreadyExists) st = target.Update(t.id, kind, d);
        if (!st.ok()) return Err(Status(st.code(), std::string(state::KindName(kind)) + " " + d.id + ": " + st.message()));
        ++stats.documents;
      }
    }
    WARD_ASSIGN_OR_RETURN(auto sequences, source.ListSequences(t.id));
    for (const auto& [name, value] : sequences) {
      WARD_RETURN_IF_ERROR(target.RaiseSequence(t.id, name, value));
      ++stats.sequences;
    }
    WARD_ASSIGN_OR_RETURN(int64_t audit, CopyAudit(source, target, t.id));
    stats.audit_entries += audit;
  }
  return stats;
}

Result<EventCopyStats> CopyEvents(events::EventStore& source, events::EventStore& target,
                                  const events::SchemaRegistry& registry, const std::vector<std::string>& tenants,
                                  size_t batch_rows) {
  EventCopyStats stats;
  for (const std::string& tenant : tenants) {
    for (const events::TableDef& table : registry.tables()) {
      events::ScanRequest probe;
      probe.tenant_id = tenant;
      probe.table = table.name;
      probe.columns = {table.columns[0].name};
      probe.limit = 1;
      bool target_has_rows = false;
      auto probed = target.Scan(probe, [&](events::ColumnBatch&& b) {
        target_has_rows = target_has_rows || b.rows > 0;
        return !target_has_rows;
      });
      if (!probed) return Err(probed.error());
      if (target_has_rows) {
        ++stats.tables_skipped;
        continue;
      }
      events::ScanRequest all;
      all.tenant_id = tenant;
      all.table = table.name;
      all.batch_rows = batch_rows;
      events::RowBatch pending;
      pending.tenant_id = tenant;
      Status failed = Status::Ok();
      int64_t rows = 0;
      auto flush = [&]() -> Status {
        if (pending.rows.empty()) return Status::Ok();
        rows += static_cast<int64_t>(pending.rows.size());
        Status st = target.Append(pending);
        pending.rows.clear();
        return st;
      };
      auto scanned = source.Scan(all, [&](events::ColumnBatch&& b) {
        AppendRows(b, table, pending);
        if (pending.rows.size() >= batch_rows) failed = flush();
        return failed.ok();
      });
      if (!scanned) return Err(scanned.error());
      WARD_RETURN_IF_ERROR(failed);
      WARD_RETURN_IF_ERROR(flush());
      if (rows > 0) ++stats.tables_copied;
      stats.rows += rows;
    }
  }
  WARD_RETURN_IF_ERROR(target.Flush());
  return stats;
}

}  // namespace ward::server
