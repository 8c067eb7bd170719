#pragma once
// Keeps machine profiles in the state store up to date from telemetry: a consumer of the event log
// (consumer group "profiles"). It folds each batch into per-device facts (last event time, DeviceInfo OS and
// users, DeviceNetworkInfo addresses, reported tags) and writes the changed machines about once a
// second, then commits the group — so a crash replays at most that second, and replay is harmless
// (the updates are idempotent).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "events/event_log.h"
#include "events/rows.h"
#include "events/schema.h"
#include "rbac/authorizer.h"
#include "state/state_store.h"

namespace ward::ingest {

class ProfileUpdater {
 public:
  ProfileUpdater(events::EventLog& log, state::StateStore& store, rbac::Authorizer& authz,
                 const events::SchemaRegistry& registry);
  ~ProfileUpdater();
  Status Start();
  void Stop();
  // Everything before this position is folded into the store and committed.
  events::LogPosition committed();

 private:
  struct Pending {
    int64_t last_event_ms = 0;
    bool has_info = false;
    std::string os_platform, os_version, os_distribution, os_architecture, public_ip, device_name, client_version;
    int64_t os_build = 0;
    std::string logged_on_users;  // JSON text
    std::string registry_tag;
    bool has_network = false;
    std::vector<std::string> ip_addresses;
  };
  void Run();
  void Fold(const events::RowBatch& batch);
  Status FlushPending();

  events::EventLog& log_;
  state::StateStore& store_;
  rbac::Authorizer& authz_;
  const events::SchemaRegistry& registry_;
  std::map<std::pair<std::string, std::string>, Pending> pending_;
  std::unique_ptr<events::LogConsumer> consumer_;
  std::mutex mu_;
  events::LogPosition committed_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ward::ingest
