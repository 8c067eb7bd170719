#pragma once
// One throwaway ClickHouse server per test binary (tests/support/clickhouse_server.sh), started on
// first use and stopped when the binary exits. Tests that need it call CLICKHOUSE_URL_OR_SKIP():
// without clickhouse-server they skip, unless WARD_REQUIRE_CLICKHOUSE=1, when they fail.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "common/temp_dir.h"

namespace ward::test {

class ClickHouseServer {
 public:
  static ClickHouseServer& Get() {
    static ClickHouseServer server;
    return server;
  }
  // The server's HTTP URL ("" when it is not available; then why() says why).
  const std::string& url() const { return url_; }
  const std::string& why() const { return why_; }
  bool installed() const { return installed_; }
  static bool Required() {
    const char* v = ::getenv("WARD_REQUIRE_CLICKHOUSE");
    return v != nullptr && std::string(v) == "1";
  }
  // A database name of its own for each caller.
  std::string FreshDatabase(const std::string& prefix) { return prefix + "_" + std::to_string(++databases_); }

  ~ClickHouseServer() {
    if (url_.empty()) return;
    const std::string cmd = Script() + " stop '" + dir_->path() + "' >/dev/null 2>&1";
    [[maybe_unused]] int rc = ::system(cmd.c_str());
  }

 private:
  ClickHouseServer() : dir_(std::make_unique<TempDir>("ward-clickhouse")) {
    // The script's watcher stops the server should this process die without its destructors.
    const std::string cmd = "WARD_CLICKHOUSE_OWNER_PID=" + std::to_string(::getpid()) + " " + Script() + " start '" + dir_->path() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      why_ = "popen failed";
      return;
    }
    std::string out;
    char buf[512];
    while (::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int st = ::pclose(p);
    const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    installed_ = rc != 2;
    if (rc == 0 && out.starts_with("http://")) url_ = out;
    else why_ = "clickhouse_server.sh start failed (" + std::to_string(rc) + "): " + out;
  }
  static std::string Script() { return std::string(WARD_SOURCE_DIR) + "/tests/support/clickhouse_server.sh"; }

  std::unique_ptr<TempDir> dir_;
  std::string url_, why_;
  bool installed_ = false;
  int databases_ = 0;
};

}  // namespace ward::test

// In a TEST body: the server's URL, or skip (fail when WARD_REQUIRE_CLICKHOUSE=1 or when
// clickhouse-server is installed but does not start).
#define CLICKHOUSE_URL_OR_SKIP()                                                                 \
  ([]() -> std::string { return ::ward::test::ClickHouseServer::Get().url(); }());               \
  do {                                                                                           \
    auto& ch_ = ::ward::test::ClickHouseServer::Get();                                           \
    if (ch_.url().empty()) {                                                                     \
      if (ch_.installed() || ::ward::test::ClickHouseServer::Required()) FAIL() << ch_.why();    \
      GTEST_SKIP() << ch_.why();                                                                 \
    }                                                                                            \
  } while (0)
