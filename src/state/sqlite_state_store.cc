#include "state/sqlite_state_store.h"

#include <sqlite3.h>

#include <cctype>

#include "state/document_expiry.h"

namespace ward::state {

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kUser: return "user";
    case Kind::kUserGroup: return "user_group";
    case Kind::kRole: return "role";
    case Kind::kDeviceGroup: return "device_group";
    case Kind::kApp: return "app";
    case Kind::kMachine: return "machine";
    case Kind::kAuthCode: return "auth_code";
    case Kind::kRefreshToken: return "refresh_token";
    case Kind::kUsedAssertion: return "used_assertion";
    case Kind::kEnrollmentKey: return "enrollment_key";
    case Kind::kAlert: return "alert";
    case Kind::kMachineAction: return "machine_action";
    case Kind::kIndicator: return "indicator";
    case Kind::kDetectionRule: return "detection_rule";
    case Kind::kCustomDetectionRule: return "custom_detection_rule";
    case Kind::kLibraryFile: return "library_file";
    case Kind::kStreamConfiguration: return "stream_configuration";
    case Kind::kSavedQuery: return "saved_query";
  }
  return "unknown";
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "tenants, documents, sequences, audit log, signing keys",
       R"sql(
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE documents (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  unique_key TEXT,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, kind, id)
);  -- a rowid table: lists come back in insertion order
CREATE UNIQUE INDEX documents_unique_key ON documents(tenant_id, kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE TABLE sequences (
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  result TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  details TEXT NOT NULL
);
CREATE INDEX audit_log_tenant_time ON audit_log(tenant_id, id DESC);
-- The audit log is append-only: the database refuses changes and deletions.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  private_pem TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL
);
)sql"},
      {2, "expiry index for short-lived OAuth artefacts",
       R"sql(
ALTER TABLE documents ADD COLUMN expires_ms INTEGER;
CREATE INDEX documents_expiry ON documents(expires_ms) WHERE expires_ms IS NOT NULL;
)sql"},
      {3, "change index for incremental caches (machine catalog)",
       R"sql(
CREATE INDEX documents_updated ON documents(tenant_id, kind, updated_ms);
)sql"},
      {4, "shared counters (rate-limit windows)",
       R"sql(
CREATE TABLE counters (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX counters_expiry ON counters(expires_ms);
)sql"},
  };
  return kMigrations;
}

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Document ReadDocument(const Statement& st) {
  Document d;
  d.id = st.ColumnText(0);
  d.unique_key = st.ColumnText(1);
  d.version = st.ColumnInt(2);
  auto body = json::Value::Parse(st.ColumnText(3));
  if (body) d.body = std::move(*body);
  return d;
}

}  // namespace

Result<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(const std::string& path) {
  return OpenAtVersion(path, Migrations().back().version);
}

Result<std::unique_ptr<SqliteStateStore>> SqliteStateStore::OpenAtVersion(const std::string& path, int max_version) {
  WARD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path));
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore(std::move(db)));
  WARD_RETURN_IF_ERROR(store->Migrate(max_version));
  return store;
}

Status SqliteStateStore::Migrate(int max_version) {
  std::lock_guard lock(mu_);
  Status st = db_->Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
      "applied_ms INTEGER NOT NULL)");
  if (!st.ok()) return st;
  for (const Migration& m : Migrations()) {
    if (m.version > max_version) break;
    // BEGIN IMMEDIATE takes the write lock first, so two processes opening at once cannot both apply.
    if (Status s = db_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    auto check = db_->Prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
    if (!check) { db_->Exec("ROLLBACK"); return check.error(); }
    check->Bind(1, int64_t{m.version});
    if (check->Step()) {
      db_->Exec("COMMIT");
      continue;
    }
    Status s = db_->Exec(m.sql);
    if (s.ok()) {
      auto ins = db_->Prepare("INSERT INTO schema_migrations(version, description, applied_ms) VALUES (?, ?, ?)");
      if (!ins) {
        s = ins.error();
      } else {
        s = ins->Bind(1, int64_t{m.version}).Bind(2, std::string_view(m.description)).Bind(3, NowMs()).Run();
      }
    }
    if (!s.ok()) {
      db_->Exec("ROLLBACK");
      return Internal("migration " + std::to_string(m.version) + " failed: " + s.message());
    }
    if (Status c = db_->Exec("COMMIT"); !c.ok()) return c;
  }
  return Status::Ok();
}

int SqliteStateStore::SchemaVersion() {
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!st || !st->Step()) return 0;
  return static_cast<int>(st->ColumnInt(0));
}

Status SqliteStateStore::CreateTenant(const Tenant& tenant) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("INSERT INTO tenants(id, name, created_ms) VALUES (?, ?, ?)"));
  ++local_writes_;
  return st.Bind(1, tenant.id).Bind(2, tenant.name).Bind(3, tenant.created_ms).Run();
}

Result<Tenant> SqliteStateStore::GetTenant(std::string_view id) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id, name, created_ms FROM tenants WHERE id = ?"));
  st.Bind(1, id);
  if (!st.Step()) {
    if (!st.status().ok()) return Err(st.status());
    return Err(NotFound("tenant " + std::string(id) + " not found"));
  }
  return Tenant{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2)};
}

Result<std::vector<Tenant>> SqliteStateStore::ListTenants() {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id, name, created_ms FROM tenants ORDER BY created_ms"));
  std::vector<Tenant> out;
  while (st.Step()) out.push_back(Tenant{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2)});
  if (!st.status().ok()) return Err(st.status());
  return out;
}

Status SqliteStateStore::Insert(std::string_view tenant, Kind kind, const Document& doc) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("INSERT INTO documents(tenant_id, kind, id, unique_key, version, body, updated_ms, "
                                     "expires_ms) VALUES (?, ?, ?, ?, 1, ?, ?, ?)"));
  st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind))).Bind(3, doc.id);
  if (doc.unique_key.empty()) st.BindNull(4); else st.Bind(4, doc.unique_key);
  st.Bind(5, doc.body.Serialize()).Bind(6, NowMs());
  if (auto e = ExpiryOf(doc)) st.Bind(7, *e); else st.BindNull(7);
  Status s = st.Run();
  Forget(tenant, kind, doc.id);
  if (s.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists(std::string(KindName(kind)) + " already exists");
  }
  ++local_writes_;
  return s;
}

Status SqliteStateStore::Update(std::string_view tenant, Kind kind, const Document& doc,
                                std::optional<int64_t> expected_version) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("UPDATE documents SET unique_key = ?, body = ?, version = version + 1, "
                                     "updated_ms = ?, expires_ms = ? WHERE tenant_id = ? AND kind = ? AND id = ? "
                                     "AND (? IS NULL OR version = ?)"));
  if (doc.unique_key.empty()) st.BindNull(1); else st.Bind(1, doc.unique_key);
  st.Bind(2, doc.body.Serialize()).Bind(3, NowMs());
  if (auto e = ExpiryOf(doc)) st.Bind(4, *e); else st.BindNull(4);
  st.Bind(5, tenant).Bind(6, std::string_view(KindName(kind))).Bind(7, doc.id);
  if (expected_version) st.Bind(8, *expected_version).Bind(9, *expected_version); else st.BindNull(8).BindNull(9);
  Status s = st.Run();
  Forget(tenant, kind, doc.id);
  if (s.code() == StatusCode::kAlreadyExists) return AlreadyExists(std::string(KindName(kind)) + " name is taken");
  if (!s.ok()) return s;
  if (db_->Changes() == 0) {
    auto existing = GetLocked(tenant, kind, doc.id);
    if (!existing) return existing.error();
    return FailedPrecondition(std::string(KindName(kind)) + " was changed concurrently; reload and retry");
  }
  ++local_writes_;
  return Status::Ok();
}

Result<Document> SqliteStateStore::GetLocked(std::string_view tenant, Kind kind, std::string_view id) {
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id, COALESCE(unique_key, ''), version, body FROM documents "
                                                   "WHERE tenant_id = ? AND kind = ? AND id = ?"));
  st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind))).Bind(3, id);
  if (!st.Step()) {
    if (!st.status().ok()) return Err(st.status());
    return Err(NotFound(std::string(KindName(kind)) + " " + std::string(id) + " not found"));
  }
  return ReadDocument(st);
}

std::string SqliteStateStore::CacheKey(std::string_view tenant, Kind kind, std::string_view id) const {
  std::string key;
  key.reserve(tenant.size() + id.size() + 4);
  key.append(tenant).push_back('/');
  key.push_back(static_cast<char>('a' + static_cast<int>(kind)));
  key.push_back('/');
  key.append(id);
  return key;
}

void SqliteStateStore::Forget(std::string_view tenant, Kind kind, std::string_view id) {
  cache_.erase(CacheKey(tenant, kind, id));
}

Result<Document> SqliteStateStore::Get(std::string_view tenant, Kind kind, std::string_view id) {
  std::lock_guard lock(mu_);
  int64_t version = db_->DataVersion();
  if (version != cache_data_version_) {
    cache_.clear();
    cache_data_version_ = version;
  }
  std::string key = CacheKey(tenant, kind, id);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  auto doc = GetLocked(tenant, kind, id);
  if (doc) {
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_.emplace(std::move(key), *doc);
  }
  return doc;
}

Result<Document> SqliteStateStore::GetByUniqueKey(std::string_view tenant, Kind kind, std::string_view key) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id, COALESCE(unique_key, ''), version, body FROM documents "
                                                   "WHERE tenant_id = ? AND kind = ? AND unique_key = ?"));
  st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind))).Bind(3, key);
  if (!st.Step()) {
    if (!st.status().ok()) return Err(st.status());
    return Err(NotFound(std::string(KindName(kind)) + " " + std::string(key) + " not found"));
  }
  return ReadDocument(st);
}

Result<std::vector<Document>> SqliteStateStore::List(std::string_view tenant, Kind kind) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id, COALESCE(unique_key, ''), version, body FROM documents "
                                                   "WHERE tenant_id = ? AND kind = ? ORDER BY rowid"));
  st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind)));
  std::vector<Document> out;
  while (st.Step()) out.push_back(ReadDocument(st));
  if (!st.status().ok()) return Err(st.status());
  return out;
}

Result<std::vector<Document>> SqliteStateStore::ListUpdatedSince(std::string_view tenant, Kind kind, int64_t since_ms) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT id, COALESCE(unique_key, ''), version, body FROM documents "
                                                   "WHERE tenant_id = ? AND kind = ? AND updated_ms >= ? ORDER BY rowid"));
  st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind))).Bind(3, since_ms);
  std::vector<Document> out;
  while (st.Step()) out.push_back(ReadDocument(st));
  if (!st.status().ok()) return Err(st.status());
  return out;
}

Result<int64_t> SqliteStateStore::Count(std::string_view tenant, Kind kind) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT COUNT(*) FROM documents WHERE tenant_id = ? AND kind = ?"));
  st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind)));
  if (!st.Step()) return Err(st.status().ok() ? Internal("COUNT returned no row") : st.status());
  return st.ColumnInt(0);
}

Status SqliteStateStore::Delete(std::string_view tenant, Kind kind, std::string_view id) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("DELETE FROM documents WHERE tenant_id = ? AND kind = ? AND id = ?"));
  WARD_RETURN_IF_ERROR(st.Bind(1, tenant).Bind(2, std::string_view(KindName(kind))).Bind(3, id).Run());
  Forget(tenant, kind, id);
  if (db_->Changes() == 0) return NotFound(std::string(KindName(kind)) + " " + std::string(id) + " not found");
  ++local_writes_;
  return Status::Ok();
}

Result<Document> SqliteStateStore::Take(std::string_view tenant, Kind kind, std::string_view id) {
  std::lock_guard lock(mu_);
  WARD_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  Forget(tenant, kind, id);
  auto doc = GetLocked(tenant, kind, id);
  if (!doc) {
    db_->Exec("ROLLBACK");
    return doc;
  }
  auto del = db_->Prepare("DELETE FROM documents WHERE tenant_id = ? AND kind = ? AND id = ?");
  Status s = del ? del->Bind(1, tenant).Bind(2, std::string_view(KindName(kind))).Bind(3, id).Run() : del.error();
  if (!s.ok()) {
    db_->Exec("ROLLBACK");
    return Err(s);
  }
  WARD_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  ++local_writes_;
  return doc;
}

Result<int64_t> SqliteStateStore::DeleteExpired(int64_t now_ms) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("DELETE FROM documents WHERE expires_ms IS NOT NULL AND expires_ms < ?"));
  WARD_RETURN_IF_ERROR(st.Bind(1, now_ms).Run());
  int64_t n = db_->Changes();
  if (n > 0) {
    cache_.clear();
    ++local_writes_;
  }
  WARD_ASSIGN_OR_RETURN(Statement counters, db_->Prepare("DELETE FROM counters WHERE expires_ms < ?"));
  WARD_RETURN_IF_ERROR(counters.Bind(1, now_ms).Run());
  return n;
}

Result<std::vector<int64_t>> SqliteStateStore::AddToCounters(const std::vector<std::string>& keys, int64_t expires_ms) {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) {
    WARD_ASSIGN_OR_RETURN(Statement st,
                          db_->Prepare("INSERT INTO counters(key, value, expires_ms) VALUES (?, 1, ?) ON CONFLICT(key) "
                                       "DO UPDATE SET value = value + 1, expires_ms = max(expires_ms, excluded.expires_ms) "
                                       "RETURNING value"));
    st.Bind(1, std::string_view(key)).Bind(2, expires_ms);
    if (!st.Step()) return Err(st.status().ok() ? Internal("counter did not return a value") : st.status());
    out.push_back(st.ColumnInt(0));
    st.Run();
  }
  return out;
}

Result<int64_t> SqliteStateStore::NextSequence(std::string_view tenant, std::string_view name) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("INSERT INTO sequences(tenant_id, name, value) VALUES (?, ?, 1) "
                                     "ON CONFLICT(tenant_id, name) DO UPDATE SET value = value + 1 RETURNING value"));
  st.Bind(1, tenant).Bind(2, name);
  if (!st.Step()) return Err(st.status().ok() ? Internal("sequence did not return a value") : st.status());
  int64_t v = st.ColumnInt(0);
  st.Run();
  return v;
}

Result<std::vector<std::pair<std::string, int64_t>>> SqliteStateStore::ListSequences(std::string_view tenant) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT name, value FROM sequences WHERE tenant_id = ? ORDER BY name"));
  st.Bind(1, tenant);
  std::vector<std::pair<std::string, int64_t>> out;
  while (st.Step()) out.emplace_back(st.ColumnText(0), st.ColumnInt(1));
  WARD_RETURN_IF_ERROR(st.status());
  return out;
}

Status SqliteStateStore::RaiseSequence(std::string_view tenant, std::string_view name, int64_t value) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("INSERT INTO sequences(tenant_id, name, value) VALUES (?, ?, ?) "
                                     "ON CONFLICT(tenant_id, name) DO UPDATE SET value = max(value, excluded.value)"));
  st.Bind(1, tenant).Bind(2, name).Bind(3, value);
  return st.Run();
}

Result<int64_t> SqliteStateStore::AppendAudit(const AuditEntry& e) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("INSERT INTO audit_log(tenant_id, time_ms, actor_type, actor_id, actor_name, action, "
                                     "target, result, http_status, request_id, details) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, e.tenant_id).Bind(2, e.time_ms).Bind(3, e.actor_type).Bind(4, e.actor_id).Bind(5, e.actor_name);
  st.Bind(6, e.action).Bind(7, e.target).Bind(8, e.result).Bind(9, e.http_status).Bind(10, e.request_id);
  st.Bind(11, e.details);
  WARD_RETURN_IF_ERROR(st.Run());
  return db_->LastInsertRowId();
}

Result<std::vector<AuditEntry>> SqliteStateStore::ListAudit(std::string_view tenant, const AuditQuery& q) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("SELECT id, tenant_id, time_ms, actor_type, actor_id, actor_name, action, target, result, "
                   "http_status, request_id, details FROM audit_log WHERE tenant_id = ? "
                   "AND (? IS NULL OR time_ms >= ?) AND (? IS NULL OR time_ms <= ?) AND (? = '' OR actor_id = ?) "
                   "AND (? = '' OR substr(action, 1, length(?)) = ?) AND (? = '' OR result = ?) "
                   "ORDER BY id DESC LIMIT ? OFFSET ?"));
  st.Bind(1, tenant);
  if (q.since_ms) st.Bind(2, *q.since_ms).Bind(3, *q.since_ms); else st.BindNull(2).BindNull(3);
  if (q.until_ms) st.Bind(4, *q.until_ms).Bind(5, *q.until_ms); else st.BindNull(4).BindNull(5);
  st.Bind(6, q.actor_id).Bind(7, q.actor_id);
  st.Bind(8, q.action_prefix).Bind(9, q.action_prefix).Bind(10, q.action_prefix);
  st.Bind(11, q.result).Bind(12, q.result);
  st.Bind(13, q.limit).Bind(14, q.offset);
  std::vector<AuditEntry> out;
  while (st.Step()) {
    AuditEntry e;
    e.id = st.ColumnInt(0);
    e.tenant_id = st.ColumnText(1);
    e.time_ms = st.ColumnInt(2);
    e.actor_type = st.ColumnText(3);
    e.actor_id = st.ColumnText(4);
    e.actor_name = st.ColumnText(5);
    e.action = st.ColumnText(6);
    e.target = st.ColumnText(7);
    e.result = st.ColumnText(8);
    e.http_status = st.ColumnInt(9);
    e.request_id = st.ColumnText(10);
    e.details = st.ColumnText(11);
    out.push_back(std::move(e));
  }
  if (!st.status().ok()) return Err(st.status());
  return out;
}

Result<std::vector<SigningKey>> SqliteStateStore::ListSigningKeys() {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("SELECT kid, private_pem, created_ms, status FROM signing_keys ORDER BY created_ms"));
  std::vector<SigningKey> out;
  while (st.Step()) out.push_back(SigningKey{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnText(3)});
  if (!st.status().ok()) return Err(st.status());
  return out;
}

Status SqliteStateStore::PutSigningKey(const SigningKey& key) {
  std::lock_guard lock(mu_);
  WARD_ASSIGN_OR_RETURN(Statement st,
                        db_->Prepare("INSERT INTO signing_keys(kid, private_pem, created_ms, status) VALUES (?,?,?,?) "
                                     "ON CONFLICT(kid) DO UPDATE SET status = excluded.status"));
  ++local_writes_;
  return st.Bind(1, key.kid).Bind(2, key.private_pem).Bind(3, key.created_ms).Bind(4, key.status).Run();
}

int64_t SqliteStateStore::ChangeCounter() {
  std::lock_guard lock(mu_);
  // data_version moves on other connections' commits; local_writes_ on ours.
  return db_->DataVersion() * (int64_t{1} << 32) + local_writes_;
}

}  // namespace ward::state
