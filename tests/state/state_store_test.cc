// The StateStore contract, run against every implementation: SQLite (one file) and PostgreSQL (one
// database on the test server). "Two nodes" are two stores opened on the same file or database.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <pqxx/pqxx>

#include "common/time.h"
#include "state/counter_wait.h"
#include "state/postgres_state_store.h"
#include "state/postgres_test_server.h"
#include "state/sqlite_state_store.h"

namespace ward::state {
namespace {

const auto* const kPostgres = ::testing::AddGlobalTestEnvironment(new PostgresTestServer);

enum class Backend { kSqlite, kPostgres };

class StateStoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      url_ = PostgresTestServer::FreshDatabase();
      if (url_.empty()) return;  // skipped or failed
    } else {
      dir_ = std::filesystem::temp_directory_path() / ("ward-contract-" + std::to_string(::getpid()) + "-" +
                                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
    }
    auto s = OpenNode();
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Another store on the same data: another process or node.
  Result<std::unique_ptr<StateStore>> OpenNode() {
    if (GetParam() == Backend::kPostgres) {
      WARD_ASSIGN_OR_RETURN(std::unique_ptr<PostgresStateStore> s, PostgresStateStore::Open(url_));
      return std::unique_ptr<StateStore>(std::move(s));
    }
    WARD_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStateStore> s, SqliteStateStore::Open((dir_ / "state.db").string()));
    return std::unique_ptr<StateStore>(std::move(s));
  }

  // Runs SQL behind the store's back (as an operator's client would); false when the database refused.
  bool RawSqlSucceeds(const std::string& sql) {
    if (GetParam() == Backend::kSqlite) {
      auto db = Database::Open((dir_ / "state.db").string());
      return db && (*db)->Exec(sql).ok();
    }
    try {
      pqxx::connection c(url_);
      pqxx::nontransaction tx(c);
      tx.exec(sql);
      return true;
    } catch (const pqxx::sql_error&) {
      return false;
    }
  }

  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<StateStore> store_;
};

Document Doc(std::string id, std::string unique_key, std::string_view body_json) {
  return Document{std::move(id), std::move(unique_key), *json::Value::Parse(body_json), 0};
}

AuthCode Code(std::string tenant, std::string hash, int64_t expires_ms) {
  AuthCode c;
  c.tenant_id = std::move(tenant);
  c.code_hash = std::move(hash);
  c.expires_ms = expires_ms;
  return c;
}

// Runs `work(store, worker)` on four threads, two on each node, and waits for them.
template <class F> void OnTwoNodes(StateStore& a, StateStore& b, F work) {
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) threads.emplace_back([&, w] { work(w % 2 ? b : a, w); });
  for (auto& t : threads) t.join();
}

TEST_P(StateStoreContractTest, TenantsAreCreatedOnce) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.CreateTenant(Tenant{"b", "Bee", 2}).ok());
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "Ay", 1}).ok());
  EXPECT_EQ(s.CreateTenant(Tenant{"a", "Again", 3}).code(), StatusCode::kAlreadyExists);
  auto a = s.GetTenant("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "Ay");
  EXPECT_EQ(a->created_ms, 1);
  EXPECT_EQ(s.GetTenant("c").error().code(), StatusCode::kNotFound);
  auto all = s.ListTenants();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a");  // by creation time
  EXPECT_EQ((*all)[1].id, "b");
}

TEST_P(StateStoreContractTest, DocumentsRoundTripInInsertionOrder) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  // Bodies come back as written: non-ASCII, an escaped NUL, big integers, nesting.
  const char* body = R"({"name":"zé \u0000 ✓","n":9007199254740993,"list":[1,{"x":null}],"b":true})";
  ASSERT_TRUE(s.Insert("a", Kind::kIndicator, Doc("z", "K:Z", body)).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kIndicator, Doc("m", "", "{}")).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kIndicator, Doc("a", "k:a", "{}")).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kMachine, Doc("z", "", "{}")).ok());  // ids are per kind
  auto z = s.Get("a", Kind::kIndicator, "z");
  ASSERT_TRUE(z) << z.error().ToString();
  EXPECT_EQ(z->body.Serialize(), json::Value::Parse(body)->Serialize());
  EXPECT_EQ(z->unique_key, "K:Z");
  EXPECT_EQ(z->version, 1);
  EXPECT_EQ(s.GetByUniqueKey("a", Kind::kIndicator, "K:Z")->id, "z");
  EXPECT_EQ(s.GetByUniqueKey("a", Kind::kIndicator, "k:z").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.GetByUniqueKey("a", Kind::kIndicator, "").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Get("a", Kind::kIndicator, "zz").error().code(), StatusCode::kNotFound);
  auto list = s.List("a", Kind::kIndicator);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, "z");
  EXPECT_EQ((*list)[1].id, "m");
  EXPECT_EQ((*list)[2].id, "a");
  EXPECT_EQ((*list)[1].unique_key, "");
  // An update keeps a document's place.
  ASSERT_TRUE(s.Update("a", Kind::kIndicator, Doc("z", "K:Z", "{\"v\":2}")).ok());
  EXPECT_EQ(s.List("a", Kind::kIndicator)->front().id, "z");
  EXPECT_EQ(s.Count("a", Kind::kIndicator).value_or(-1), 3);
  EXPECT_EQ(s.Count("a", Kind::kMachine).value_or(-1), 1);
  EXPECT_EQ(s.Count("b", Kind::kMachine).value_or(-1), 0);
  ASSERT_TRUE(s.Delete("a", Kind::kIndicator, "m").ok());
  EXPECT_EQ(s.Delete("a", Kind::kIndicator, "m").code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Count("a", Kind::kIndicator).value_or(-1), 2);
}

TEST_P(StateStoreContractTest, CollisionsAndMissingDocumentsHaveTheirCodes) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kRole, Doc("r1", "one", "{}")).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kRole, Doc("r2", "two", "{}")).ok());
  EXPECT_EQ(s.Insert("a", Kind::kRole, Doc("r1", "other", "{}")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.Insert("a", Kind::kRole, Doc("r3", "one", "{}")).code(), StatusCode::kAlreadyExists);
  // Renaming onto a taken unique key is refused; onto a free one it moves the key.
  EXPECT_EQ(s.Update("a", Kind::kRole, Doc("r2", "one", "{}")).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(s.Update("a", Kind::kRole, Doc("r2", "three", "{}")).ok());
  EXPECT_TRUE(s.Insert("a", Kind::kRole, Doc("r4", "two", "{}")).ok());
  EXPECT_EQ(s.GetByUniqueKey("a", Kind::kRole, "three")->id, "r2");
  EXPECT_EQ(s.Update("a", Kind::kRole, Doc("nope", "", "{}")).code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Update("a", Kind::kRole, Doc("nope", "", "{}"), 1).code(), StatusCode::kNotFound);
  // A document of a tenant that does not exist is refused.
  EXPECT_FALSE(s.Insert("ghost", Kind::kRole, Doc("r1", "", "{}")).ok());
}

TEST_P(StateStoreContractTest, RecordsAreScopedByTenant) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  ASSERT_TRUE(s.CreateTenant(Tenant{"b", "B", 1}).ok());
  Repo<Role> roles(s);
  ASSERT_TRUE(roles.Insert(Role{"a", "r1", "Tier 1", "", {"ViewData"}, {}, false}).ok());
  EXPECT_TRUE(roles.Get("a", "r1"));
  EXPECT_EQ(roles.Get("b", "r1").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(roles.List("b")->empty());
  // The same name may exist in two tenants, but not twice in one.
  EXPECT_TRUE(roles.Insert(Role{"b", "r2", "Tier 1", "", {}, {}, false}).ok());
  EXPECT_EQ(roles.Insert(Role{"a", "r3", "tier 1", "", {}, {}, false}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.Delete("b", Kind::kRole, "r1").code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Update("b", Kind::kRole, Doc("r1", "", "{}")).code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Take("b", Kind::kRole, "r1").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(roles.Get("a", "r1"));
}

TEST_P(StateStoreContractTest, OptimisticVersionsRefuseLostUpdates) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  Document d{"x", "", json::Value::Object(), 0};
  ASSERT_TRUE(s.Insert("a", Kind::kMachine, d).ok());
  auto read = s.Get("a", Kind::kMachine, "x");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->version, 1);
  EXPECT_TRUE(s.Update("a", Kind::kMachine, *read, 1).ok());
  EXPECT_EQ(s.Update("a", Kind::kMachine, *read, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Get("a", Kind::kMachine, "x")->version, 2);
  EXPECT_TRUE(s.Update("a", Kind::kMachine, *read).ok());  // no expected version: last writer wins
  EXPECT_EQ(s.Get("a", Kind::kMachine, "x")->version, 3);
}

TEST_P(StateStoreContractTest, MutateLosesNoConcurrentUpdate) {
  // Two processes' (nodes') worth of writers, two threads each, change one machine; every change survives.
  StateStore& a = *store_;
  ASSERT_TRUE(a.CreateTenant(Tenant{"t", "T", 1}).ok());
  Machine m;
  m.tenant_id = "t";
  m.id = "m";
  ASSERT_TRUE(Repo<Machine>(a).Insert(m).ok());
  auto b = OpenNode();
  ASSERT_TRUE(b) << b.error().ToString();
  constexpr int kEach = 50;
  OnTwoNodes(a, **b, [](StateStore& store, int w) {
    for (int i = 0; i < kEach; ++i) {
      auto r = Repo<Machine>(store).Mutate("t", "m", [&](Machine& x) -> Status {
        x.api_tags.push_back("w" + std::to_string(w) + "-" + std::to_string(i));
        return Status::Ok();
      });
      EXPECT_TRUE(r) << r.error().message();
    }
  });
  EXPECT_EQ(Repo<Machine>(a).Get("t", "m")->api_tags.size(), size_t{4 * kEach});
  EXPECT_EQ(Repo<Machine>(**b).Get("t", "m")->api_tags.size(), size_t{4 * kEach});
}

TEST_P(StateStoreContractTest, TakeIsSingleUse) {
  ASSERT_TRUE(store_->CreateTenant(Tenant{"a", "A", 1}).ok());
  Repo<AuthCode> codes(*store_);
  ASSERT_TRUE(codes.Insert(Code("a", "h", 42)).ok());
  EXPECT_EQ(codes.Take("a", "h")->expires_ms, 42);
  EXPECT_EQ(codes.Take("a", "h").error().code(), StatusCode::kNotFound);
}

TEST_P(StateStoreContractTest, ConcurrentTakesHandOutACodeOnce) {
  ASSERT_TRUE(store_->CreateTenant(Tenant{"a", "A", 1}).ok());
  auto b = OpenNode();
  ASSERT_TRUE(b);
  constexpr int kCodes = 40;
  for (int i = 0; i < kCodes; ++i) {
    ASSERT_TRUE(Repo<AuthCode>(*store_).Insert(Code("a", "h" + std::to_string(i), 0)).ok());
  }
  std::atomic<int> taken{0};
  OnTwoNodes(*store_, **b, [&taken](StateStore& store, int) {
    for (int i = 0; i < kCodes; ++i) {
      if (Repo<AuthCode>(store).Take("a", "h" + std::to_string(i))) ++taken;
    }
  });
  EXPECT_EQ(taken.load(), kCodes);
}

TEST_P(StateStoreContractTest, DeleteExpiredDropsOnlyExpiredArtefacts) {
  ASSERT_TRUE(store_->CreateTenant(Tenant{"a", "A", 1}).ok());
  ASSERT_TRUE(store_->CreateTenant(Tenant{"b", "B", 1}).ok());
  Repo<AuthCode> codes(*store_);
  AuthCode fresh = Code("a", "fresh", 10'000);
  ASSERT_TRUE(codes.Insert(Code("a", "old", 100)).ok());
  ASSERT_TRUE(codes.Insert(fresh).ok());
  RefreshToken token;
  token.tenant_id = "b";
  token.token_hash = "t";
  token.expires_ms = 200;
  ASSERT_TRUE(Repo<RefreshToken>(*store_).Insert(token).ok());
  // An expiresMs in another kind's body is not an expiry.
  ASSERT_TRUE(store_->Insert("a", Kind::kSavedQuery, Doc("q", "", R"({"expiresMs":1})")).ok());
  ASSERT_TRUE(Repo<Role>(*store_).Insert(Role{"a", "r", "role", "", {}, {}, false}).ok());
  // Refreshing a code moves its expiry.
  fresh.expires_ms = 20'000;
  ASSERT_TRUE(codes.Update(fresh).ok());
  EXPECT_EQ(store_->DeleteExpired(15'000).value_or(-1), 2);  // in every tenant
  EXPECT_FALSE(codes.Get("a", "old"));
  EXPECT_FALSE(Repo<RefreshToken>(*store_).Get("b", "t"));
  EXPECT_TRUE(codes.Get("a", "fresh"));
  EXPECT_TRUE(store_->Get("a", Kind::kSavedQuery, "q"));
  EXPECT_TRUE(Repo<Role>(*store_).Get("a", "r"));
  EXPECT_EQ(store_->DeleteExpired(15'000).value_or(-1), 0);
}

TEST_P(StateStoreContractTest, ListUpdatedSinceSeesChangesAfterAnInstant) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kMachine, Doc("one", "", "{}")).ok());
  ASSERT_TRUE(s.Insert("a", Kind::kMachine, Doc("two", "", "{}")).ok());
  // The test server shares this host's clock; wait until it has moved past the inserts.
  const int64_t inserted = NowMs();
  while (NowMs() <= inserted + 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int64_t since = NowMs();
  ASSERT_TRUE(s.Update("a", Kind::kMachine, Doc("two", "", "{\"v\":1}")).ok());
  auto changed = s.ListUpdatedSince("a", Kind::kMachine, since);
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->size(), 1u);
  EXPECT_EQ((*changed)[0].id, "two");
  EXPECT_EQ(s.ListUpdatedSince("a", Kind::kMachine, 0)->size(), 2u);
  EXPECT_TRUE(s.ListUpdatedSince("a", Kind::kMachine, NowMs() + 3'600'000)->empty());
  EXPECT_TRUE(s.ListUpdatedSince("b", Kind::kMachine, 0)->empty());
}

TEST_P(StateStoreContractTest, SequencesCountPerTenantAndOnlyRise) {
  StateStore& s = *store_;
  EXPECT_EQ(s.NextSequence("a", "group").value_or(-1), 1);
  EXPECT_EQ(s.NextSequence("a", "group").value_or(-1), 2);
  EXPECT_EQ(s.NextSequence("a", "action").value_or(-1), 1);
  EXPECT_EQ(s.NextSequence("b", "group").value_or(-1), 1);
  ASSERT_TRUE(s.RaiseSequence("a", "group", 10).ok());
  ASSERT_TRUE(s.RaiseSequence("a", "group", 5).ok());  // never lowers
  ASSERT_TRUE(s.RaiseSequence("a", "new", 7).ok());
  auto seqs = s.ListSequences("a");
  ASSERT_TRUE(seqs);
  using Seqs = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(*seqs, (Seqs{{"action", 1}, {"group", 10}, {"new", 7}}));
  EXPECT_EQ(s.NextSequence("a", "group").value_or(-1), 11);
  EXPECT_EQ(s.NextSequence("a", "new").value_or(-1), 8);
  EXPECT_EQ(*s.ListSequences("b"), (Seqs{{"group", 1}}));
}

TEST_P(StateStoreContractTest, ConcurrentSequencesHandOutEachValueOnce) {
  auto b = OpenNode();
  ASSERT_TRUE(b);
  constexpr int kEach = 50;
  std::vector<std::vector<int64_t>> got(4);
  OnTwoNodes(*store_, **b, [&got](StateStore& store, int w) {
    for (int i = 0; i < kEach; ++i) got[w].push_back(store.NextSequence("t", "ids").value_or(-1));
  });
  std::vector<int64_t> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 4 * kEach; ++i) EXPECT_EQ(all[i], i + 1);
}

TEST_P(StateStoreContractTest, SigningKeysUpsertByKid) {
  StateStore& s = *store_;
  ASSERT_TRUE(s.PutSigningKey(SigningKey{"k2", "pem2", 20, "active"}).ok());
  ASSERT_TRUE(s.PutSigningKey(SigningKey{"k1", "pem1", 10, "active"}).ok());
  // Replacing by kid changes the status only; the key material stays.
  ASSERT_TRUE(s.PutSigningKey(SigningKey{"k1", "other", 10, "previous"}).ok());
  auto keys = s.ListSigningKeys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].kid, "k1");  // by creation time
  EXPECT_EQ((*keys)[0].private_pem, "pem1");
  EXPECT_EQ((*keys)[0].status, "previous");
  EXPECT_EQ((*keys)[1].kid, "k2");
}

TEST_P(StateStoreContractTest, AuditLogIsAppendOnlyAndFiltered) {
  StateStore& s = *store_;
  int64_t last_id = 0;
  for (int i = 0; i < 5; ++i) {
    AuditEntry e;
    e.tenant_id = i < 4 ? "a" : "b";
    e.time_ms = 1000 + i;
    e.actor_type = "User";
    e.actor_id = i % 2 ? "u1" : "u2";
    e.action = i == 0 ? "DELETE /api/users/{id}" : "POST /api/rbac/roles";
    e.result = i == 3 ? "Failure" : "Success";
    e.http_status = i == 3 ? 403 : 200;
    e.details = "d" + std::to_string(i);
    auto id = s.AppendAudit(e);
    ASSERT_TRUE(id);
    EXPECT_GT(*id, last_id);
    last_id = *id;
  }
  auto all = s.ListAudit("a", {});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_GT((*all)[0].id, (*all)[1].id);  // newest first
  EXPECT_EQ((*all)[0].http_status, 403);
  EXPECT_EQ((*all)[0].details, "d3");
  EXPECT_EQ((*all)[3].action, "DELETE /api/users/{id}");
  // Each filter: how many entries it leaves and the newest one's time.
  auto query = [](auto set) {
    AuditQuery q;
    set(q);
    return q;
  };
  const struct {
    AuditQuery q;
    size_t n;
    int64_t newest_ms;
  } cases[] = {
      {query([](AuditQuery& q) { q.actor_id = "u1"; }), 2, 1003},
      {query([](AuditQuery& q) { q.action_prefix = "POST "; }), 3, 1003},
      {query([](AuditQuery& q) { q.action_prefix = "%"; }), 0, 0},  // a prefix, not a pattern
      {query([](AuditQuery& q) { q.result = "Failure"; }), 1, 1003},
      {query([](AuditQuery& q) { q.since_ms = 1001, q.until_ms = 1002; }), 2, 1002},
      {query([](AuditQuery& q) { q.limit = 2, q.offset = 1; }), 2, 1002},
  };
  for (const auto& c : cases) {
    auto got = s.ListAudit("a", c.q);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), c.n) << "case with newest " << c.newest_ms;
    if (c.n > 0) EXPECT_EQ(got->front().time_ms, c.newest_ms);
  }
  EXPECT_FALSE(RawSqlSucceeds("UPDATE audit_log SET result = 'Failure'"));
  EXPECT_FALSE(RawSqlSucceeds("DELETE FROM audit_log"));
  EXPECT_EQ(s.ListAudit("a", {})->size(), 4u);
}

TEST_P(StateStoreContractTest, ChangeCounterMovesOnOwnWritesAtOnce) {
  StateStore& s = *store_;
  int64_t before = s.ChangeCounter();
  ASSERT_TRUE(s.CreateTenant(Tenant{"a", "A", 1}).ok());
  EXPECT_NE(s.ChangeCounter(), before);
  before = s.ChangeCounter();
  ASSERT_TRUE(s.Insert("a", Kind::kRole, Doc("r", "", "{}")).ok());
  EXPECT_NE(s.ChangeCounter(), before);
  before = s.ChangeCounter();
  ASSERT_TRUE(s.Delete("a", Kind::kRole, "r").ok());
  EXPECT_NE(s.ChangeCounter(), before);
}

TEST_P(StateStoreContractTest, ChangeCounterSeesOtherNodes) {
  auto other = OpenNode();
  ASSERT_TRUE(other);
  int64_t before = store_->ChangeCounter();
  ASSERT_TRUE((*other)->CreateTenant(Tenant{"a", "A", 1}).ok());
  EXPECT_TRUE(CounterMovesFrom(*store_, before));
  before = store_->ChangeCounter();
  ASSERT_TRUE((*other)->Insert("a", Kind::kApp, Doc("c", "", "{}")).ok());
  EXPECT_TRUE(CounterMovesFrom(*store_, before));
  before = store_->ChangeCounter();
  ASSERT_TRUE((*other)->Update("a", Kind::kApp, Doc("c", "", "{\"v\":1}")).ok());
  EXPECT_TRUE(CounterMovesFrom(*store_, before));
  before = store_->ChangeCounter();
  ASSERT_TRUE((*other)->PutSigningKey(SigningKey{"k", "pem", 1, "active"}).ok());
  EXPECT_TRUE(CounterMovesFrom(*store_, before));
  before = store_->ChangeCounter();
  ASSERT_TRUE((*other)->Delete("a", Kind::kApp, "c").ok());
  EXPECT_TRUE(CounterMovesFrom(*store_, before));
}

INSTANTIATE_TEST_SUITE_P(Backends, StateStoreContractTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace ward::state
