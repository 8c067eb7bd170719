// PostgreSQL-specific: several nodes on one database, migrations, lost connections. The behaviour
// every store shares is in state_store_test.cc (which registers the test server).
#include "state/postgres_state_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <pqxx/pqxx>

#include "state/counter_wait.h"
#include "state/postgres_test_server.h"

namespace ward::state {
namespace {

class PostgresStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = PostgresTestServer::FreshDatabase(); }
  bool Skipped() const { return url_.empty(); }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  std::string url_;
};

TEST_F(PostgresStateStoreTest, ConcurrentOpensMigrateOnce) {
  if (Skipped()) return;
  constexpr int kNodes = 6;
  std::vector<std::optional<Result<std::unique_ptr<PostgresStateStore>>>> opened(kNodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) threads.emplace_back([&, i] { opened[i].emplace(PostgresStateStore::Open(url_)); });
  for (auto& t : threads) t.join();
  for (auto& o : opened) {
    ASSERT_TRUE(*o) << o->error().ToString();
    EXPECT_EQ((**o)->SchemaVersion(), PostgresMigrations().back().version);
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_migrations"), static_cast<int64_t>(PostgresMigrations().size()));
  // Reopening applies nothing again.
  opened.clear();
  auto again = PostgresStateStore::Open(url_);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM schema_migrations"), static_cast<int64_t>(PostgresMigrations().size()));
}

TEST_F(PostgresStateStoreTest, TwoNodesMutatingOneAlertLoseNothing) {
  if (Skipped()) return;
  auto a = PostgresStateStore::Open(url_);
  auto b = PostgresStateStore::Open(url_);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->CreateTenant(Tenant{"t", "T", 1}).ok());
  Alert alert;
  alert.tenant_id = "t";
  alert.id = "da1";
  ASSERT_TRUE(Repo<Alert>(**a).Insert(alert).ok());
  constexpr int kEach = 40;
  std::vector<std::thread> writers;
  for (int w = 0; w < 6; ++w) {
    StateStore& node = w % 2 ? static_cast<StateStore&>(**b) : **a;
    writers.emplace_back([&node, w] {
      for (int i = 0; i < kEach; ++i) {
        auto r = Repo<Alert>(node).Mutate("t", "da1", [&](Alert& x) -> Status {
          x.event_keys.push_back(std::to_string(w) + "/" + std::to_string(i));
          return Status::Ok();
        });
        EXPECT_TRUE(r) << r.error().ToString();
      }
    });
  }
  for (auto& t : writers) t.join();
  auto final_alert = Repo<Alert>(**b).Get("t", "da1");
  ASSERT_TRUE(final_alert);
  EXPECT_EQ(final_alert->event_keys.size(), size_t{6 * kEach});
  // One version per successful write, none lost or doubled.
  EXPECT_EQ((*a)->Get("t", Kind::kAlert, "da1")->version, 1 + 6 * kEach);
}

TEST_F(PostgresStateStoreTest, ChangeCounterOnOneNodeMovesAfterAnotherNodeWrites) {
  if (Skipped()) return;
  auto a = PostgresStateStore::Open(url_);
  auto b = PostgresStateStore::Open(url_);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->CreateTenant(Tenant{"t", "T", 1}).ok());
  ASSERT_TRUE(CounterMovesFrom(**b, 0));
  for (int i = 0; i < 3; ++i) {
    const int64_t before = (*b)->ChangeCounter();
    ASSERT_TRUE((*a)->NextSequence("t", "s"));
    EXPECT_TRUE(CounterMovesFrom(**b, before)) << "round " << i;
  }
  // A write by a client that is not Ward (an operator's psql) is announced too.
  const int64_t before = (*b)->ChangeCounter();
  {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec("UPDATE tenants SET name = 'Renamed'");
  }
  EXPECT_TRUE(CounterMovesFrom(**b, before));
  EXPECT_EQ((*b)->GetTenant("t")->name, "Renamed");
}

TEST_F(PostgresStateStoreTest, RecoversFromTerminatedConnections) {
  if (Skipped()) return;
  auto a = PostgresStateStore::Open(url_);
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->CreateTenant(Tenant{"t", "T", 1}).ok());
  ASSERT_TRUE((*a)->Insert("t", Kind::kRole, Document{"r", "", json::Value::Object(), 0}).ok());
  const int64_t before = (*a)->ChangeCounter();
  // What a server restart or a failover does to the pool and the listener.
  const std::string dbname = url_.substr(url_.rfind('/') + 1);
  EXPECT_GE(Scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" + dbname +
                   "' AND pid <> pg_backend_pid()"),
            2);
  auto r = (*a)->Get("t", Kind::kRole, "r");
  EXPECT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE((*a)->Insert("t", Kind::kRole, Document{"r2", "", json::Value::Object(), 0}).ok());
  // The listener reconnects and, having possibly missed changes, moves the counter.
  EXPECT_TRUE(CounterMovesFrom(**a, before));
  auto b = PostgresStateStore::Open(url_);
  ASSERT_TRUE(b);
  const int64_t seen = (*a)->ChangeCounter();
  ASSERT_TRUE((*b)->Delete("t", Kind::kRole, "r").ok());
  EXPECT_TRUE(CounterMovesFrom(**a, seen));
}

TEST_F(PostgresStateStoreTest, PoolOfOneServesManyThreads) {
  if (Skipped()) return;
  auto a = PostgresStateStore::Open(url_, PostgresStateStore::Options{1});
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->CreateTenant(Tenant{"t", "T", 1}).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        const std::string id = std::to_string(w) + "-" + std::to_string(i);
        if (!(*a)->Insert("t", Kind::kRole, Document{id, "", json::Value::Object(), 0}).ok()) ++failures;
        if (!(*a)->Get("t", Kind::kRole, id)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*a)->Count("t", Kind::kRole).value_or(-1), 100);
  EXPECT_LE(Scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ward-%' AND datname = '" +
                   url_.substr(url_.rfind('/') + 1) + "'"),
            2);  // one pooled connection and the listener
}

TEST_F(PostgresStateStoreTest, SharedCountersAddAcrossNodesAndExpire) {
  if (Skipped()) return;
  auto a = PostgresStateStore::Open(url_);
  auto b = PostgresStateStore::Open(url_);
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)->AddToCounters({"ip:1", "app:x"}, 1'000).value_or(std::vector<int64_t>{}),
            (std::vector<int64_t>{1, 1}));
  EXPECT_EQ((*b)->AddToCounters({"app:x", "ip:1", "ip:2"}, 5'000).value_or(std::vector<int64_t>{}),
            (std::vector<int64_t>{2, 2, 1}));
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) EXPECT_TRUE(((w % 2) ? *b : *a)->AddToCounters({"hot"}, 5'000));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*a)->AddToCounters({"hot"}, 5'000).value_or(std::vector<int64_t>{}), (std::vector<int64_t>{101}));
  // Every add pushed ip:1's expiry to 5'000; only keys whose expiry passed restart.
  ASSERT_TRUE((*a)->DeleteExpired(2'000));
  EXPECT_EQ(Scalar("SELECT count(*) FROM counters"), 4);
  ASSERT_TRUE((*a)->DeleteExpired(6'000));
  EXPECT_EQ((*b)->AddToCounters({"ip:1"}, 9'000).value_or(std::vector<int64_t>{}), (std::vector<int64_t>{1}));
}

TEST(PostgresStateStoreOpenTest, RefusesOtherUrlsAndReportsAnUnreachableServer) {
  EXPECT_EQ(PostgresStateStore::Open("/var/lib/ward/state.db").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PostgresStateStore::Open("host=localhost dbname=ward").error().code(), StatusCode::kInvalidArgument);
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  auto unreachable = PostgresStateStore::Open("postgresql://ward@127.0.0.1:1/ward?connect_timeout=5");
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ward::state
