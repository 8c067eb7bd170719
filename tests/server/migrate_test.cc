#include "server/migrate.h"

#include <gtest/gtest.h>

#include <map>

#include "common/temp_dir.h"
#include "common/time.h"
#include "state/sqlite_state_store.h"

namespace ward::server {
namespace {

std::unique_ptr<state::StateStore> OpenSqlite(const test::TempDir& dir, const std::string& name) {
  auto s = state::SqliteStateStore::Open(dir.File(name));
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

state::Document Doc(const std::string& id, const std::string& unique, const std::string& name) {
  state::Document d;
  d.id = id;
  d.unique_key = unique;
  d.body = json::Value::Object();
  d.body.Set("id", id);
  d.body.Set("name", name);
  return d;
}

TEST(MigrateTest, CopiesStateAndRunningItAgainChangesNothing) {
  test::TempDir dir("ward-migrate");
  auto source = OpenSqlite(dir, "source.db");
  auto target = OpenSqlite(dir, "target.db");
  const std::string tenant = "0f426e9f-32f5-4686-8aa3-b30aea1a8f78";
  ASSERT_TRUE(source->CreateTenant({tenant, "Contoso", 1}).ok());
  ASSERT_TRUE(source->Insert(tenant, state::Kind::kRole, Doc("r1", "tier 1", "Tier 1")).ok());
  ASSERT_TRUE(source->Insert(tenant, state::Kind::kAlert, Doc("da1", "", "Suspicious process")).ok());
  ASSERT_TRUE(source->Insert(tenant, state::Kind::kIndicator, Doc("1", "filesha256:abc", "bad file")).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(source->NextSequence(tenant, "deviceGroup"));
  ASSERT_TRUE(source->PutSigningKey({"kid-1", "-----BEGIN PRIVATE KEY-----", 5, "active"}).ok());
  for (int i = 0; i < 3; ++i) {
    state::AuditEntry e;
    e.tenant_id = tenant;
    e.time_ms = 1000 + i;
    e.action = "POST /api/rbac/roles #" + std::to_string(i);
    e.result = "Success";
    ASSERT_TRUE(source->AppendAudit(e));
  }

  auto first = CopyState(*source, *target);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->tenants, 1);
  EXPECT_EQ(first->documents, 3);
  EXPECT_EQ(first->audit_entries, 3);
  EXPECT_EQ(first->signing_keys, 1);

  // A change made in the source after the first run (the server was still up) is carried over.
  auto alert = source->Get(tenant, state::Kind::kAlert, "da1");
  ASSERT_TRUE(alert);
  alert->body.Set("name", "Suspicious process (resolved)");
  ASSERT_TRUE(source->Update(tenant, state::Kind::kAlert, *alert).ok());
  auto second = CopyState(*source, *target);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->audit_entries, 0);  // nothing newer than what was copied

  auto copied = target->Get(tenant, state::Kind::kAlert, "da1");
  ASSERT_TRUE(copied);
  EXPECT_EQ(copied->body.GetString("name").value_or(""), "Suspicious process (resolved)");
  EXPECT_TRUE(target->GetByUniqueKey(tenant, state::Kind::kRole, "tier 1"));
  EXPECT_TRUE(target->GetByUniqueKey(tenant, state::Kind::kIndicator, "filesha256:abc"));
  auto next = target->NextSequence(tenant, "deviceGroup");
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 4);  // continues after the source's counter, so no device-group id is reused
  auto audit = target->ListAudit(tenant, {});
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[0].action, "POST /api/rbac/roles #2");  // newest first, order kept
  auto keys = target->ListSigningKeys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].kid, "kid-1");
}

events::RowBatch ProcessRows(const events::SchemaRegistry& reg, const std::string& tenant, int n, int64_t base) {
  const events::TableDef* t = reg.Find("DeviceProcessEvents");
  events::RowBatch b;
  b.tenant_id = tenant;
  for (int i = 0; i < n; ++i) {
    events::Row r;
    r.table = t->id;
    r.values.resize(t->columns.size());
    r.values[t->Find("Timestamp")] = base + i * kTicksPerSecond;
    r.values[t->Find("DeviceId")] = std::string(40, static_cast<char>('a' + i % 3));
    r.values[t->Find("DeviceName")] = "host-" + std::to_string(i % 3);
    r.values[t->Find("ProcessCommandLine")] = "curl -s http://example.com/" + std::to_string(i);
    r.values[t->Find("ProcessId")] = int64_t{100 + i};
    b.rows.push_back(std::move(r));
  }
  return b;
}

std::multiset<std::string> Rows(events::EventStore& store, const std::string& tenant, const std::string& table) {
  std::multiset<std::string> out;
  events::ScanRequest req;
  req.tenant_id = tenant;
  req.table = table;
  auto st = store.Scan(req, [&](events::ColumnBatch&& b) {
    for (size_t r = 0; r < b.rows; ++r) {
      std::string line;
      for (const events::ColumnVector& c : b.columns) {
        if (c.nulls[r]) line += "null|";
        else if (c.type == events::ColumnType::kReal) line += std::to_string(c.reals[r]) + "|";
        else if (c.type == events::ColumnType::kString || c.type == events::ColumnType::kDynamic) line += c.strings[r] + "|";
        else line += std::to_string(c.ints[r]) + "|";
      }
      out.insert(line);
    }
    return true;
  });
  EXPECT_TRUE(st) << st.error().message();
  return out;
}

TEST(MigrateTest, CopiesEveryRowOnceAndSkipsTablesAlreadyCopied) {
  test::TempDir dir("ward-migrate-events");
  const events::SchemaRegistry& reg = events::SchemaRegistry::Hunting();
  auto open = [&](const std::string& name) {
    events::ColumnarStoreOptions o;
    o.dir = dir.File(name);
    o.retention = std::chrono::hours(24 * 3650);
    auto s = events::ColumnarStore::Open(o, reg);
    EXPECT_TRUE(s) << s.error().message();
    return std::move(*s);
  };
  auto source = open("source");
  auto target = open("target");
  const int64_t base = NowTicks() - 3600 * kTicksPerSecond;
  ASSERT_TRUE(source->Append(ProcessRows(reg, "tenant-a", 250, base)).ok());
  ASSERT_TRUE(source->Append(ProcessRows(reg, "tenant-b", 7, base)).ok());
  ASSERT_TRUE(source->Flush().ok());

  auto first = CopyEvents(*source, *target, reg, {"tenant-a", "tenant-b"}, /*batch_rows=*/100);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->rows, 257);
  EXPECT_EQ(first->tables_copied, 2);
  EXPECT_EQ(Rows(*target, "tenant-a", "DeviceProcessEvents"), Rows(*source, "tenant-a", "DeviceProcessEvents"));
  EXPECT_EQ(Rows(*target, "tenant-b", "DeviceProcessEvents").size(), 7u);

  auto second = CopyEvents(*source, *target, reg, {"tenant-a", "tenant-b"});
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->rows, 0);
  EXPECT_EQ(second->tables_skipped, 2);
  EXPECT_EQ(Rows(*target, "tenant-a", "DeviceProcessEvents").size(), 250u);
}

}  // namespace
}  // namespace ward::server
