#pragma once
// One throwaway PostgreSQL server per test binary (tests/support/postgres_server.sh), as a gtest
// Environment, and a fresh database for each test that asks for one.
//
// A binary that uses it registers it once, in one of its .cc files:
//   const auto* const kPostgres = ::testing::AddGlobalTestEnvironment(new ward::state::PostgresTestServer);
// Tests call PostgresTestServer::FreshDatabase() from SetUp: it skips the test when PostgreSQL is
// not installed, unless WARD_REQUIRE_POSTGRES=1 (CI: `make unit`), which makes that a failure.
#include <gtest/gtest.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ward::state {

class PostgresTestServer : public ::testing::Environment {
 public:
  PostgresTestServer() { instance_ = this; }

  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("ward-pg-" + std::to_string(::getpid()))).string();
    std::string out;
    int rc = Script("start", &out);
    if (rc == 0 && out.rfind("postgres", 0) == 0) {
      url_ = out.substr(0, out.find('\n'));
    } else {
      // Exit status 2: no PostgreSQL binaries on this machine.
      problem_ = rc == 2 ? "PostgreSQL is not installed" : "tests/support/postgres_server.sh start failed: " + out;
    }
  }

  void TearDown() override {
    if (!url_.empty()) Script("stop", nullptr);
  }

  // The URL of a database of its own for the running test, or "" after skipping or failing it
  // (the caller returns then: `if (url.empty()) return;`).
  static std::string FreshDatabase() {
    PostgresTestServer* self = instance_;
    if (self == nullptr || self->url_.empty()) {
      std::string why = self == nullptr ? "the PostgresTestServer environment is not registered" : self->problem_;
      const char* require = std::getenv("WARD_REQUIRE_POSTGRES");
      if (require != nullptr && std::string(require) == "1") {
        ADD_FAILURE() << "WARD_REQUIRE_POSTGRES=1 but " << why;
      } else {
        [&] { GTEST_SKIP() << why; }();
      }
      return "";
    }
    const std::string name = "t_" + std::to_string(self->next_db_++);
    try {
      pqxx::connection c(self->url_);
      pqxx::nontransaction tx(c);
      tx.exec("CREATE DATABASE " + name);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "CREATE DATABASE " << name << ": " << e.what();
      return "";
    }
    return self->url_.substr(0, self->url_.rfind('/') + 1) + name;
  }

  static bool Available() { return instance_ != nullptr && !instance_->url_.empty(); }

 private:
  int Script(const char* verb, std::string* out) {
    // WARD_PG_OWNER_PID: the script's watchdog stops the server if this binary dies before TearDown.
    std::string cmd = "WARD_PG_OWNER_PID=" + std::to_string(::getpid()) + " bash '" WARD_SOURCE_DIR
                      "/tests/support/postgres_server.sh' " + std::string(verb) + " '" + dir_ + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    char buf[512];
    std::string text;
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
    int status = ::pclose(p);
    if (out != nullptr) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static inline PostgresTestServer* instance_ = nullptr;
  std::string dir_, url_, problem_;
  std::atomic<int> next_db_{0};
};

}  // namespace ward::state
