#pragma once
// An in-memory view of each tenant's machines for the machine routes: the decoded records and their
// rendered MDE JSON (riskScore and exposureLevel from open alerts, group names, health), so that
// a list or lookup over 100,000 devices touches no database and renders nothing.
//
// Freshness: Get() compares the state store's change counter; when it moved, the snapshot is
// brought up to date incrementally (machines and alerts written since the last refresh), so a
// request sees every change committed before it started. Deletions, clock-driven health changes and
// writes by other processes that raced a refresh are picked up by a full reload every
// `full_reload_interval`. Thread-safe; snapshots are immutable and shared.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/entities.h"
#include "common/status.h"
#include "json/json.h"
#include "rbac/authorizer.h"
#include "state/state_store.h"

namespace ward::api {

class MachineCatalog {
 public:
  struct Entry {
    state::Machine machine;
    json::Value json;  // MDE Machine
  };
  struct Index {
    std::unordered_map<std::string, size_t> by_id;    // machine id → position in entries
    std::unordered_map<std::string, size_t> by_name;  // lower-cased computer name → position
  };
  using AlertsByMachine = std::unordered_map<std::string, std::vector<state::Alert>>;
  // Parts that rarely change are shared between successive snapshots instead of copied.
  struct Snapshot {
    std::vector<std::shared_ptr<const Entry>> entries;  // in store (insertion) order
    std::shared_ptr<const Index> index;
    std::shared_ptr<const AlertsByMachine> alerts;
    std::shared_ptr<const std::vector<state::DeviceGroup>> groups;
    const Entry* Find(std::string_view id_or_name) const;
    const std::vector<state::Alert>& AlertsOf(std::string_view machine_id) const;
  };

  MachineCatalog(state::StateStore& store, rbac::Authorizer& authz,
                 std::chrono::seconds full_reload_interval = std::chrono::seconds(60));
  Result<std::shared_ptr<const Snapshot>> Get(std::string_view tenant);

 private:
  struct TenantState {
    std::mutex refresh_mu;  // one refresher at a time; readers keep the previous snapshot meanwhile
    std::shared_ptr<const Snapshot> snapshot;
    int64_t change_counter = -1;
    int64_t refreshed_ms = 0;  // store clock when the last refresh started
    std::chrono::steady_clock::time_point loaded_at;
  };
  Status Reload(std::string_view tenant, TenantState& t);
  Status Refresh(std::string_view tenant, TenantState& t);

  state::StateStore& store_;
  rbac::Authorizer& authz_;
  std::chrono::seconds full_reload_interval_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<TenantState>> tenants_;
};

}  // namespace ward::api
