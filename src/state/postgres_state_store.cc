#include "state/postgres_state_store.h"

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <unistd.h>

#include "state/document_expiry.h"

namespace ward::state {

const std::vector<Migration>& PostgresMigrations() {
  // The SQLite schema's three migrations, folded into one: there is no released PostgreSQL schema
  // older than this. Text columns sort with COLLATE "C" where order matters, as SQLite's binary
  // collation does, whatever the database's locale.
  static const std::vector<Migration> kMigrations = {
      {1, "tenants, documents, sequences, audit log, signing keys, change notification",
       R"sql(
-- The database server's clock in Unix milliseconds: every node stamps with the same clock.
CREATE FUNCTION ward_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;
CREATE TABLE tenants (
  id text PRIMARY KEY,
  name text NOT NULL,
  created_ms bigint NOT NULL,
  seq bigserial NOT NULL  -- creation order among equal created_ms
);
CREATE TABLE documents (
  tenant_id text NOT NULL REFERENCES tenants(id),
  kind text NOT NULL,
  id text NOT NULL,
  unique_key text,  -- NULL = none; NULLs never collide
  version bigint NOT NULL,
  body json NOT NULL,  -- json, not jsonb: keeps the text as written and accepts \u0000 in strings
  updated_ms bigint NOT NULL,
  expires_ms bigint,  -- short-lived OAuth artefacts only
  seq bigserial NOT NULL,  -- insertion order (lists return it, as SQLite's rowid); kept on update
  PRIMARY KEY (tenant_id, kind, id),
  CONSTRAINT documents_unique_key UNIQUE (tenant_id, kind, unique_key)
);
CREATE INDEX documents_order ON documents(tenant_id, kind, seq);
CREATE INDEX documents_updated ON documents(tenant_id, kind, updated_ms);
CREATE INDEX documents_expiry ON documents(expires_ms) WHERE expires_ms IS NOT NULL;
CREATE TABLE sequences (
  tenant_id text NOT NULL,
  name text NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  time_ms bigint NOT NULL,
  actor_type text NOT NULL,
  actor_id text NOT NULL,
  actor_name text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  result text NOT NULL,
  http_status bigint NOT NULL,
  request_id text NOT NULL,
  details text NOT NULL
);
CREATE INDEX audit_log_tenant_id ON audit_log(tenant_id, id DESC);
-- The audit log is append-only: the database refuses changes, deletions and truncation.
CREATE FUNCTION ward_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION ward_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_log_append_only();
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  private_pem text NOT NULL,
  created_ms bigint NOT NULL,
  status text NOT NULL
);
-- Every change to cached state is announced on commit to the nodes LISTENing on ward_state_changed
-- (their ChangeCounter). The payload is the writer's application_name, so a node can skip its own
-- writes, which it has counted already. PostgreSQL folds identical notifications of one transaction.
CREATE FUNCTION ward_notify_change() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_notify('ward_state_changed', current_setting('application_name')); RETURN NULL; END $$;
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE ON tenants
  FOR EACH ROW EXECUTE FUNCTION ward_notify_change();
CREATE TRIGGER documents_changed AFTER INSERT OR UPDATE OR DELETE ON documents
  FOR EACH ROW EXECUTE FUNCTION ward_notify_change();
CREATE TRIGGER sequences_changed AFTER INSERT OR UPDATE OR DELETE ON sequences
  FOR EACH ROW EXECUTE FUNCTION ward_notify_change();
CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys
  FOR EACH ROW EXECUTE FUNCTION ward_notify_change();
)sql"},
      // No change notification: these move on every rate-limited request, and caches do not read them.
      {2, "shared counters (rate-limit windows)",
       R"sql(
CREATE TABLE counters (
  key text PRIMARY KEY,
  value bigint NOT NULL,
  expires_ms bigint NOT NULL
);
CREATE INDEX counters_expiry ON counters(expires_ms);
)sql"},
  };
  return kMigrations;
}

namespace {

constexpr char kChannel[] = "ward_state_changed";
// pg_advisory_xact_lock key that serialises migrations between nodes ("WARDSCHM").
constexpr int64_t kMigrationLockKey = 0x5741524453434853;
constexpr auto kListenPoll = std::chrono::milliseconds(200);
constexpr auto kAcquireTimeout = std::chrono::seconds(30);

// Prepared on every pooled connection: parsed and planned once per connection, not per call.
struct StatementDef {
  const char* name;
  const char* sql;
};
#define WARD_DOC_COLUMNS "SELECT id, COALESCE(unique_key, ''), version, body::text FROM documents "
const StatementDef kStatements[] = {
    {"create_tenant", "INSERT INTO tenants(id, name, created_ms) VALUES ($1, $2, $3)"},
    {"get_tenant", "SELECT id, name, created_ms FROM tenants WHERE id = $1"},
    {"list_tenants", "SELECT id, name, created_ms FROM tenants ORDER BY created_ms, seq"},
    {"insert", "INSERT INTO documents(tenant_id, kind, id, unique_key, version, body, updated_ms, expires_ms) "
               "VALUES ($1, $2, $3, NULLIF($4, ''), 1, $5::json, ward_now_ms(), $6::bigint)"},
    {"update", "UPDATE documents SET unique_key = NULLIF($4, ''), body = $5::json, version = version + 1, "
               "updated_ms = ward_now_ms(), expires_ms = $6::bigint WHERE tenant_id = $1 AND kind = $2 AND id = $3 "
               "AND ($7::bigint IS NULL OR version = $7::bigint)"},
    {"get", WARD_DOC_COLUMNS "WHERE tenant_id = $1 AND kind = $2 AND id = $3"},
    {"get_by_key", WARD_DOC_COLUMNS "WHERE tenant_id = $1 AND kind = $2 AND unique_key = $3"},
    {"list", WARD_DOC_COLUMNS "WHERE tenant_id = $1 AND kind = $2 ORDER BY seq"},
    {"list_since", WARD_DOC_COLUMNS "WHERE tenant_id = $1 AND kind = $2 AND updated_ms >= $3 ORDER BY seq"},
    {"count", "SELECT count(*) FROM documents WHERE tenant_id = $1 AND kind = $2"},
    {"delete", "DELETE FROM documents WHERE tenant_id = $1 AND kind = $2 AND id = $3"},
    // One statement, so two nodes taking the same code cannot both get it.
    {"take", "DELETE FROM documents WHERE tenant_id = $1 AND kind = $2 AND id = $3 "
             "RETURNING id, COALESCE(unique_key, ''), version, body::text"},
    {"delete_expired", "DELETE FROM documents WHERE expires_ms IS NOT NULL AND expires_ms < $1"},
    {"delete_expired_counters", "DELETE FROM counters WHERE expires_ms < $1"},
    {"add_to_counter", "INSERT INTO counters(key, value, expires_ms) VALUES ($1, 1, $2) ON CONFLICT (key) "
                       "DO UPDATE SET value = counters.value + 1, "
                       "expires_ms = GREATEST(counters.expires_ms, excluded.expires_ms) RETURNING value"},
    {"next_sequence", "INSERT INTO sequences(tenant_id, name, value) VALUES ($1, $2, 1) ON CONFLICT (tenant_id, name) "
                      "DO UPDATE SET value = sequences.value + 1 RETURNING value"},
    {"list_sequences", "SELECT name, value FROM sequences WHERE tenant_id = $1 ORDER BY name COLLATE \"C\""},
    {"raise_sequence", "INSERT INTO sequences(tenant_id, name, value) VALUES ($1, $2, $3) "
                       "ON CONFLICT (tenant_id, name) "
                       "DO UPDATE SET value = GREATEST(sequences.value, excluded.value)"},
    {"append_audit", "INSERT INTO audit_log(tenant_id, time_ms, actor_type, actor_id, actor_name, action, target, "
                     "result, http_status, request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                     "$11) RETURNING id"},
    // A negative limit means none and a negative offset none, as in SQLite.
    {"list_audit", "SELECT id, tenant_id, time_ms, actor_type, actor_id, actor_name, action, target, result, "
                   "http_status, request_id, details FROM audit_log WHERE tenant_id = $1 "
                   "AND ($2::bigint IS NULL OR time_ms >= $2::bigint) "
                   "AND ($3::bigint IS NULL OR time_ms <= $3::bigint) "
                   "AND ($4 = '' OR actor_id = $4) AND ($5 = '' OR starts_with(action, $5)) "
                   "AND ($6 = '' OR result = $6) "
                   "ORDER BY id DESC LIMIT CASE WHEN $7::bigint < 0 THEN NULL ELSE $7::bigint END "
                   "OFFSET GREATEST($8::bigint, 0)"},
    {"list_signing_keys", "SELECT kid, private_pem, created_ms, status FROM signing_keys "
                          "ORDER BY created_ms, kid COLLATE \"C\""},
    {"put_signing_key", "INSERT INTO signing_keys(kid, private_pem, created_ms, status) VALUES ($1, $2, $3, $4) "
                        "ON CONFLICT (kid) DO UPDATE SET status = excluded.status"},
    {"schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"},
};
#undef WARD_DOC_COLUMNS

// What Run does when the connection breaks under a call: run it once more on a fresh connection
// (reads, and writes that change nothing when repeated) or report Unavailable (the outcome is unknown).
enum RetryPolicy { kNoRetry, kRetryOnce };

// libpqxx 6 binds nullptr as SQL NULL and every other parameter as text.
const char* NullOr(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }
std::optional<std::string> IntText(std::optional<int64_t> v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}

Document ReadDocument(const pqxx::row& row) {
  Document d;
  d.id = row[0].c_str();
  d.unique_key = row[1].c_str();
  d.version = row[2].as<int64_t>();
  auto body = json::Value::Parse(std::string_view(row[3].c_str(), row[3].size()));
  if (body) d.body = std::move(*body);
  return d;
}

std::vector<Document> ReadDocuments(const pqxx::result& res) {
  std::vector<Document> out;
  out.reserve(res.size());
  for (const auto& row : res) out.push_back(ReadDocument(row));
  return out;
}

Status NotFoundDoc(Kind kind, std::string_view id) {
  return NotFound(std::string(KindName(kind)) + " " + std::string(id) + " not found");
}

// Maps what libpqxx throws onto canonical codes. Integrity violations (unique, foreign key) are
// AlreadyExists, as SqliteStateStore maps every SQLITE_CONSTRAINT.
Status FromSqlError(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  std::string message = std::string("postgres: ") + e.what();
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (state.rfind("23", 0) == 0) return AlreadyExists(std::move(message));
  // Serialisation failure, deadlock, too many connections, shutting down: worth retrying later.
  if (state == "40001" || state == "40P01" || state == "53300" || state.rfind("57P", 0) == 0) {
    return Unavailable(std::move(message));
  }
  return Internal(std::move(message));
}

std::string RandomNodeName() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "ward-%d-%08x", static_cast<int>(::getpid()), rd());
  return buf;
}

}  // namespace

// Everything that touches libpqxx.
class PostgresStateStore::Impl {
 public:
  Impl(std::string url, PostgresStateStore::Options options)
      : url_(std::move(url)), options_(options), node_name_(RandomNodeName()) {
    if (options_.pool_size < 1) options_.pool_size = 1;
  }
  ~Impl() { StopListening(); }

  // A connection checked out of the pool; returned on destruction unless marked broken.
  class Lease {
   public:
    Lease(Impl* pool, std::unique_ptr<pqxx::connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)) {}
    ~Lease() {
      if (pool_) pool_->Return(std::move(conn_));
    }
    pqxx::connection& conn() { return *conn_; }
    void Discard() { conn_.reset(); }

   private:
    Impl* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  Result<Lease> Acquire() {
    std::unique_lock lock(mu_);
    for (;;) {
      while (!idle_.empty()) {
        std::unique_ptr<pqxx::connection> c = std::move(idle_.back());
        idle_.pop_back();
        // A server restart or an idle timeout closes the socket; reading what is pending (no round
        // trip) notices it, so the call below does not fail on a stale connection.
        bool alive = c->is_open();
        if (alive) {
          try {
            c->get_notifs();
          } catch (const std::exception&) {
            alive = false;
          }
          alive = alive && c->is_open();
        }
        if (alive) return Lease(this, std::move(c));
        --open_;
      }
      if (open_ < options_.pool_size) {
        ++open_;
        lock.unlock();
        auto c = Connect();
        if (!c) {
          lock.lock();
          --open_;
          cv_.notify_one();
          return Err(c.error());
        }
        return Lease(this, std::move(*c));
      }
      if (!cv_.wait_for(lock, kAcquireTimeout, [&] { return !idle_.empty() || open_ < options_.pool_size; })) {
        return Err(Unavailable("postgres: all " + std::to_string(options_.pool_size) + " connections stayed busy"));
      }
    }
  }

  void Return(std::unique_ptr<pqxx::connection> c) {
    std::lock_guard lock(mu_);
    if (c && c->is_open()) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  // Runs `fn(connection)` on a pooled connection, mapping exceptions onto Status.
  template <class F> auto Run(RetryPolicy retry, F&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    using R = decltype(fn(std::declval<pqxx::connection&>()));
    for (int attempt = 0;; ++attempt) {
      auto lease = Acquire();
      if (!lease) return R(Err(lease.error()));
      try {
        return fn(lease->conn());
      } catch (const pqxx::broken_connection& e) {
        lease->Discard();
        if (retry == kRetryOnce && attempt == 0) continue;
        const char* outcome = retry == kRetryOnce ? "" : "; the change may or may not have been applied";
        return R(Err(Unavailable(std::string("postgres: connection lost") + outcome + ": " + e.what())));
      } catch (const pqxx::in_doubt_error& e) {
        lease->Discard();
        return R(Err(Unavailable(std::string("postgres: commit in doubt: ") + e.what())));
      } catch (const pqxx::sql_error& e) {
        return R(Err(FromSqlError(e)));
      } catch (const std::exception& e) {
        // A usage error (pqxx::usage_error, a conversion) leaves the connection in an unknown state.
        lease->Discard();
        return R(Err(Internal(std::string("postgres: ") + e.what())));
      }
    }
  }

  // Runs one prepared statement outside an explicit transaction (it commits by itself).
  template <class... Args> static pqxx::result Exec(pqxx::connection& c, const char* name, Args&&... args) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared(name, std::forward<Args>(args)...);
  }

  Status Migrate() {
    return Run(kRetryOnce, [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      // Held until commit: a second node opening now waits here, then finds the migrations applied.
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")");
      tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, description text NOT NULL, "
              "applied_ms bigint NOT NULL)");
      pqxx::result applied = tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      const int current = applied[0][0].as<int>();
      for (const Migration& m : PostgresMigrations()) {
        if (m.version <= current) continue;
        try {
          tx.exec(m.sql);
        } catch (const pqxx::sql_error& e) {
          return Internal("migration " + std::to_string(m.version) + " failed: " + e.what());
        }
        tx.exec_params("INSERT INTO schema_migrations(version, description, applied_ms) "
                       "VALUES ($1, $2, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                       m.version, std::string(m.description));
      }
      tx.commit();
      return Status::Ok();
    });
  }

  // LISTEN on a connection of its own, before Open returns: a change committed after Open is seen.
  Status StartListening() {
    auto c = Connect();
    if (!c) return c.error();
    try {
      listen_conn_ = std::move(*c);
      receiver_ = std::make_unique<Receiver>(*listen_conn_, this);
    } catch (const std::exception& e) {
      return Unavailable(std::string("postgres: LISTEN failed: ") + e.what());
    }
    listener_ = std::thread([this] { ListenLoop(); });
    return Status::Ok();
  }

  void StopListening() {
    stop_ = true;
    if (listener_.joinable()) listener_.join();
    receiver_.reset();
    listen_conn_.reset();
  }

  int64_t Counter() const { return local_writes_.load() + remote_changes_.load(); }
  void CountLocalWrite() { ++local_writes_; }

 private:
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection& c, Impl* impl) : pqxx::notification_receiver(c, kChannel), impl_(impl) {}
    void operator()(const std::string& payload, int) override {
      if (payload != impl_->node_name_) ++impl_->remote_changes_;
    }

   private:
    Impl* impl_;
  };

  void ListenLoop() {
    while (!stop_) {
      try {
        if (!listen_conn_) {
          listen_conn_ = std::make_unique<pqxx::connection>(url_);
          receiver_ = std::make_unique<Receiver>(*listen_conn_, this);
          // Changes committed while we were not listening were not announced to us.
          ++remote_changes_;
        }
        listen_conn_->await_notification(0, std::chrono::duration_cast<std::chrono::microseconds>(kListenPoll).count());
      } catch (const std::exception&) {
        receiver_.reset();
        listen_conn_.reset();
        ++remote_changes_;
        for (int i = 0; i < 5 && !stop_; ++i) std::this_thread::sleep_for(kListenPoll / 5);
      }
    }
  }

  Result<std::unique_ptr<pqxx::connection>> Connect() {
    try {
      auto c = std::make_unique<pqxx::connection>(url_);
      c->set_client_encoding("UTF8");
      {
        // The change trigger's payload: lets our listener tell our writes from other nodes'.
        pqxx::nontransaction tx(*c);
        tx.exec_params("SELECT set_config('application_name', $1, false)", node_name_);
      }
      for (const StatementDef& s : kStatements) c->prepare(s.name, s.sql);
      return c;
    } catch (const pqxx::broken_connection& e) {
      return Err(Unavailable(std::string("postgres: cannot connect: ") + e.what()));
    } catch (const std::exception& e) {
      return Err(Unavailable(std::string("postgres: cannot set up a connection: ") + e.what()));
    }
  }

  const std::string url_;
  PostgresStateStore::Options options_;
  const std::string node_name_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;  // connections idle or leased

  std::atomic<int64_t> local_writes_{0};
  std::atomic<int64_t> remote_changes_{0};
  std::atomic<bool> stop_{false};
  std::unique_ptr<pqxx::connection> listen_conn_;  // owned by the listener thread once it runs
  std::unique_ptr<Receiver> receiver_;
  std::thread listener_;
};

PostgresStateStore::PostgresStateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresStateStore::~PostgresStateStore() = default;

Result<std::unique_ptr<PostgresStateStore>> PostgresStateStore::Open(const std::string& url) {
  return Open(url, Options{});
}

Result<std::unique_ptr<PostgresStateStore>> PostgresStateStore::Open(const std::string& url, const Options& options) {
  if (url.rfind("postgres://", 0) != 0 && url.rfind("postgresql://", 0) != 0) {
    return Err(InvalidArgument("a PostgreSQL state store URL starts with postgres:// or postgresql://"));
  }
  auto impl = std::make_unique<Impl>(url, options);
  WARD_RETURN_IF_ERROR(impl->Migrate());
  WARD_RETURN_IF_ERROR(impl->StartListening());
  return std::unique_ptr<PostgresStateStore>(new PostgresStateStore(std::move(impl)));
}

int PostgresStateStore::SchemaVersion() {
  auto v = impl_->Run(kRetryOnce, [](pqxx::connection& c) -> Result<int> {
    return Impl::Exec(c, "schema_version")[0][0].as<int>();
  });
  return v.value_or(0);
}

Status PostgresStateStore::CreateTenant(const Tenant& tenant) {
  Status s = impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Status {
    Impl::Exec(c, "create_tenant", tenant.id, tenant.name, tenant.created_ms);
    return Status::Ok();
  });
  if (s.ok()) impl_->CountLocalWrite();
  return s;
}

Result<Tenant> PostgresStateStore::GetTenant(std::string_view id) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<Tenant> {
    pqxx::result r = Impl::Exec(c, "get_tenant", std::string(id));
    if (r.empty()) return Err(NotFound("tenant " + std::string(id) + " not found"));
    return Tenant{r[0][0].c_str(), r[0][1].c_str(), r[0][2].as<int64_t>()};
  });
}

Result<std::vector<Tenant>> PostgresStateStore::ListTenants() {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<std::vector<Tenant>> {
    std::vector<Tenant> out;
    for (const auto& row : Impl::Exec(c, "list_tenants")) {
      out.push_back(Tenant{row[0].c_str(), row[1].c_str(), row[2].as<int64_t>()});
    }
    return out;
  });
}

Status PostgresStateStore::Insert(std::string_view tenant, Kind kind, const Document& doc) {
  const std::optional<std::string> expires = IntText(ExpiryOf(doc));
  Status s = impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Status {
    Impl::Exec(c, "insert", std::string(tenant), KindName(kind), doc.id, doc.unique_key, doc.body.Serialize(),
               NullOr(expires));
    return Status::Ok();
  });
  if (s.code() == StatusCode::kAlreadyExists) return AlreadyExists(std::string(KindName(kind)) + " already exists");
  if (s.ok()) impl_->CountLocalWrite();
  return s;
}

Status PostgresStateStore::Update(std::string_view tenant, Kind kind, const Document& doc,
                                  std::optional<int64_t> expected_version) {
  const std::optional<std::string> expires = IntText(ExpiryOf(doc));
  const std::optional<std::string> expected = IntText(expected_version);
  // Not retried when the connection breaks: had the first attempt committed, a retry would report a
  // conflict and Mutate would apply its change a second time on top of the first.
  Status s = impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Status {
    pqxx::result r = Impl::Exec(c, "update", std::string(tenant), KindName(kind), doc.id, doc.unique_key,
                                doc.body.Serialize(), NullOr(expires), NullOr(expected));
    if (r.affected_rows() > 0) return Status::Ok();
    if (Impl::Exec(c, "get", std::string(tenant), KindName(kind), doc.id).empty()) return NotFoundDoc(kind, doc.id);
    return FailedPrecondition(std::string(KindName(kind)) + " was changed concurrently; reload and retry");
  });
  if (s.code() == StatusCode::kAlreadyExists) return AlreadyExists(std::string(KindName(kind)) + " name is taken");
  if (s.ok()) impl_->CountLocalWrite();
  return s;
}

Result<Document> PostgresStateStore::Get(std::string_view tenant, Kind kind, std::string_view id) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<Document> {
    pqxx::result r = Impl::Exec(c, "get", std::string(tenant), KindName(kind), std::string(id));
    if (r.empty()) return Err(NotFoundDoc(kind, id));
    return ReadDocument(r[0]);
  });
}

Result<Document> PostgresStateStore::GetByUniqueKey(std::string_view tenant, Kind kind, std::string_view key) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<Document> {
    pqxx::result r = Impl::Exec(c, "get_by_key", std::string(tenant), KindName(kind), std::string(key));
    if (r.empty()) return Err(NotFoundDoc(kind, key));
    return ReadDocument(r[0]);
  });
}

Result<std::vector<Document>> PostgresStateStore::List(std::string_view tenant, Kind kind) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<std::vector<Document>> {
    return ReadDocuments(Impl::Exec(c, "list", std::string(tenant), KindName(kind)));
  });
}

Result<std::vector<Document>> PostgresStateStore::ListUpdatedSince(std::string_view tenant, Kind kind,
                                                                   int64_t since_ms) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<std::vector<Document>> {
    return ReadDocuments(Impl::Exec(c, "list_since", std::string(tenant), KindName(kind), since_ms));
  });
}

Result<int64_t> PostgresStateStore::Count(std::string_view tenant, Kind kind) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<int64_t> {
    return Impl::Exec(c, "count", std::string(tenant), KindName(kind))[0][0].as<int64_t>();
  });
}

Status PostgresStateStore::Delete(std::string_view tenant, Kind kind, std::string_view id) {
  Status s = impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Status {
    if (Impl::Exec(c, "delete", std::string(tenant), KindName(kind), std::string(id)).affected_rows() == 0) {
      return NotFoundDoc(kind, id);
    }
    return Status::Ok();
  });
  if (s.ok()) impl_->CountLocalWrite();
  return s;
}

Result<Document> PostgresStateStore::Take(std::string_view tenant, Kind kind, std::string_view id) {
  auto doc = impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Result<Document> {
    pqxx::result r = Impl::Exec(c, "take", std::string(tenant), KindName(kind), std::string(id));
    if (r.empty()) return Err(NotFoundDoc(kind, id));
    return ReadDocument(r[0]);
  });
  if (doc) impl_->CountLocalWrite();
  return doc;
}

Result<int64_t> PostgresStateStore::DeleteExpired(int64_t now_ms) {
  // Retried after a lost connection: sweeping twice deletes nothing more (the count may then be low).
  auto n = impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<int64_t> {
    const auto n = static_cast<int64_t>(Impl::Exec(c, "delete_expired", now_ms).affected_rows());
    Impl::Exec(c, "delete_expired_counters", now_ms);
    return n;
  });
  if (n && *n > 0) impl_->CountLocalWrite();
  return n;
}

Result<int64_t> PostgresStateStore::NextSequence(std::string_view tenant, std::string_view name) {
  auto v = impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Result<int64_t> {
    return Impl::Exec(c, "next_sequence", std::string(tenant), std::string(name))[0][0].as<int64_t>();
  });
  if (v) impl_->CountLocalWrite();
  return v;
}

Result<std::vector<std::pair<std::string, int64_t>>> PostgresStateStore::ListSequences(std::string_view tenant) {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<std::vector<std::pair<std::string, int64_t>>> {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& row : Impl::Exec(c, "list_sequences", std::string(tenant))) {
      out.emplace_back(row[0].c_str(), row[1].as<int64_t>());
    }
    return out;
  });
}

Status PostgresStateStore::RaiseSequence(std::string_view tenant, std::string_view name, int64_t value) {
  Status s = impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Status {
    Impl::Exec(c, "raise_sequence", std::string(tenant), std::string(name), value);
    return Status::Ok();
  });
  if (s.ok()) impl_->CountLocalWrite();
  return s;
}

Result<int64_t> PostgresStateStore::AppendAudit(const AuditEntry& e) {
  return impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Result<int64_t> {
    return Impl::Exec(c, "append_audit", e.tenant_id, e.time_ms, e.actor_type, e.actor_id, e.actor_name, e.action,
                      e.target, e.result, e.http_status, e.request_id, e.details)[0][0]
        .as<int64_t>();
  });
}

Result<std::vector<AuditEntry>> PostgresStateStore::ListAudit(std::string_view tenant, const AuditQuery& q) {
  const std::optional<std::string> since = IntText(q.since_ms), until = IntText(q.until_ms);
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<std::vector<AuditEntry>> {
    std::vector<AuditEntry> out;
    for (const auto& row : Impl::Exec(c, "list_audit", std::string(tenant), NullOr(since), NullOr(until), q.actor_id,
                                      q.action_prefix, q.result, q.limit, q.offset)) {
      AuditEntry e;
      e.id = row[0].as<int64_t>();
      e.tenant_id = row[1].c_str();
      e.time_ms = row[2].as<int64_t>();
      e.actor_type = row[3].c_str();
      e.actor_id = row[4].c_str();
      e.actor_name = row[5].c_str();
      e.action = row[6].c_str();
      e.target = row[7].c_str();
      e.result = row[8].c_str();
      e.http_status = row[9].as<int64_t>();
      e.request_id = row[10].c_str();
      e.details = row[11].c_str();
      out.push_back(std::move(e));
    }
    return out;
  });
}

Result<std::vector<SigningKey>> PostgresStateStore::ListSigningKeys() {
  return impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Result<std::vector<SigningKey>> {
    std::vector<SigningKey> out;
    for (const auto& row : Impl::Exec(c, "list_signing_keys")) {
      out.push_back(SigningKey{row[0].c_str(), row[1].c_str(), row[2].as<int64_t>(), row[3].c_str()});
    }
    return out;
  });
}

Status PostgresStateStore::PutSigningKey(const SigningKey& key) {
  Status s = impl_->Run(kRetryOnce, [&](pqxx::connection& c) -> Status {
    Impl::Exec(c, "put_signing_key", key.kid, key.private_pem, key.created_ms, key.status);
    return Status::Ok();
  });
  if (s.ok()) impl_->CountLocalWrite();
  return s;
}

Result<std::vector<int64_t>> PostgresStateStore::AddToCounters(const std::vector<std::string>& keys,
                                                                int64_t expires_ms) {
  // One statement (and commit) per key, as in SQLite: no transaction holds one key's row lock while
  // waiting for another's, so two nodes adding to the same keys in another order cannot deadlock.
  return impl_->Run(kNoRetry, [&](pqxx::connection& c) -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    out.reserve(keys.size());
    for (const std::string& key : keys) {
      out.push_back(Impl::Exec(c, "add_to_counter", key, expires_ms)[0][0].as<int64_t>());
    }
    return out;
  });
}

int64_t PostgresStateStore::ChangeCounter() { return impl_->Counter(); }

}  // namespace ward::state
