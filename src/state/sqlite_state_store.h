#pragma once
// StateStore on one SQLite database file (WAL mode). Schema changes are numbered migrations applied
// in order inside a transaction at open; the applied version is recorded in schema_migrations, so
// opening an existing database applies only the newer ones. A single connection guarded by a mutex:
// the API's hot path reads through caches (rbac::Snapshot, token cache), not through here.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "state/migration.h"
#include "state/sqlite.h"
#include "state/state_store.h"

namespace ward::state {

// The schema's history, oldest first. Append only; never edit a released entry.
const std::vector<Migration>& Migrations();

class SqliteStateStore final : public StateStore {
 public:
  // Opens or creates the database and applies pending migrations.
  static Result<std::unique_ptr<SqliteStateStore>> Open(const std::string& path);
  // Applies only migrations up to `max_version` (for migration tests).
  static Result<std::unique_ptr<SqliteStateStore>> OpenAtVersion(const std::string& path, int max_version);
  int SchemaVersion();

  Status CreateTenant(const Tenant& tenant) override;
  Result<Tenant> GetTenant(std::string_view id) override;
  Result<std::vector<Tenant>> ListTenants() override;
  Status Insert(std::string_view tenant, Kind kind, const Document& doc) override;
  Status Update(std::string_view tenant, Kind kind, const Document& doc,
                std::optional<int64_t> expected_version) override;
  Result<Document> Get(std::string_view tenant, Kind kind, std::string_view id) override;
  Result<Document> GetByUniqueKey(std::string_view tenant, Kind kind, std::string_view key) override;
  Result<std::vector<Document>> List(std::string_view tenant, Kind kind) override;
  Result<std::vector<Document>> ListUpdatedSince(std::string_view tenant, Kind kind, int64_t since_ms) override;
  Result<int64_t> Count(std::string_view tenant, Kind kind) override;
  Status Delete(std::string_view tenant, Kind kind, std::string_view id) override;
  Result<Document> Take(std::string_view tenant, Kind kind, std::string_view id) override;
  Result<int64_t> DeleteExpired(int64_t now_ms) override;
  Result<int64_t> NextSequence(std::string_view tenant, std::string_view name) override;
  Result<std::vector<std::pair<std::string, int64_t>>> ListSequences(std::string_view tenant) override;
  Status RaiseSequence(std::string_view tenant, std::string_view name, int64_t value) override;
  Result<std::vector<int64_t>> AddToCounters(const std::vector<std::string>& keys, int64_t expires_ms) override;
  Result<int64_t> AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(std::string_view tenant, const AuditQuery& query) override;
  Result<std::vector<SigningKey>> ListSigningKeys() override;
  Status PutSigningKey(const SigningKey& key) override;
  int64_t ChangeCounter() override;

 private:
  explicit SqliteStateStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  Status Migrate(int max_version);
  Result<Document> GetLocked(std::string_view tenant, Kind kind, std::string_view id);

  // Read cache for Get(): point reads dominate the API (a machine, an app), and parsing the stored
  // JSON costs more than the SQLite lookup. Cleared whenever another connection commits
  // (data_version moves); our own writes erase their key.
  std::string CacheKey(std::string_view tenant, Kind kind, std::string_view id) const;
  void Forget(std::string_view tenant, Kind kind, std::string_view id);
  static constexpr size_t kMaxCached = 16384;

  std::mutex mu_;
  std::unique_ptr<Database> db_;
  int64_t local_writes_ = 0;
  int64_t cache_data_version_ = -1;
  std::unordered_map<std::string, Document> cache_;
};

}  // namespace ward::state
