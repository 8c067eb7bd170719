#pragma once
// StateStore on PostgreSQL, for several `ward` nodes sharing one database. Same semantics and error
// codes as SqliteStateStore; what differs is what several nodes need:
//
// - Optimistic updates are one `UPDATE ... WHERE version = $expected` statement, so two nodes never
//   lose each other's update; unique keys are database constraints, so two nodes cannot both insert
//   the same name.
// - Timestamps (updated_ms, for ListUpdatedSince) come from the database server's clock, which all
//   nodes share.
// - ChangeCounter() costs no round trip: a trigger NOTIFYs on every committed change to tenants,
//   documents, sequences and signing keys, and a background thread LISTENs. The counter moves at
//   once on this node's own writes and shortly after (milliseconds) on another node's commit. After
//   losing the listening connection it moves once on reconnect, since changes may have been missed.
// - Schema migrations (PostgresMigrations(), documented in docs/storage-format.md) run in one
//   transaction under a transaction-scoped advisory lock, so nodes starting together migrate once.
//
// Thread-safety: safe to call from many threads; calls share a pool of connections (opened on
// demand, up to Options::pool_size) and wait when all are busy. A connection found broken is
// replaced; a read that failed because its connection broke is retried once on a fresh one. A write
// whose connection broke mid-call returns Unavailable: it may or may not have committed.
// Durability: a call that returns OK has committed (with the server's synchronous_commit setting).
// libpqxx stays inside postgres_state_store.cc.
#include <memory>
#include <string>
#include <vector>

#include "state/migration.h"
#include "state/state_store.h"

namespace ward::state {

// The PostgreSQL schema's history, oldest first. Append only; never edit a released entry.
const std::vector<Migration>& PostgresMigrations();

class PostgresStateStore final : public StateStore {
 public:
  struct Options {
    int pool_size = 8;  // connections per store (per node), opened as concurrency needs them
  };
  // `url` is a libpq URI, postgres://user[:password]@host[:port]/database[?param=value...]
  // (postgresql:// too). Connects, applies pending migrations and starts listening for changes.
  // InvalidArgument for another form of URL, Unavailable when the server cannot be reached.
  static Result<std::unique_ptr<PostgresStateStore>> Open(const std::string& url);
  static Result<std::unique_ptr<PostgresStateStore>> Open(const std::string& url, const Options& options);
  ~PostgresStateStore() override;

  // The highest applied migration, 0 on error.
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
  Result<int64_t> AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(std::string_view tenant, const AuditQuery& query) override;
  Result<std::vector<SigningKey>> ListSigningKeys() override;
  Status PutSigningKey(const SigningKey& key) override;
  int64_t ChangeCounter() override;
  // Commits of other nodes become visible up to a transaction's duration after their stamp.
  int64_t UpdatedSinceOverlapMs() const override { return 2000; }
  Result<std::vector<int64_t>> AddToCounters(const std::vector<std::string>& keys, int64_t expires_ms) override;

 private:
  class Impl;  // connection pool, change listener, statements (all libpqxx)
  explicit PostgresStateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ward::state
