#pragma once
// Machine actions on the server: their lifecycle, their delivery to sensors, their files.
//
// Lifecycle (MDE's): an action is created Pending; the device's sensor fetches it (GET
// /sensor/v1/actions, a long poll) and reports InProgress, then Succeeded or Failed with details.
// An API caller may cancel any action that is not final. An action nobody picked up within
// `pending_timeout`, or that stopped reporting for `running_timeout`, becomes TimeOut. The store
// refuses a second open action of one family on a device (state::OpenActionKey), so "Action is
// already in progress" holds across nodes.
//
// Delivery: sensors long-poll. Each node keeps an in-memory index of open actions per device, loaded
// from the store per tenant on first use and updated by this node's writes; when nodes share a store,
// `refresh` > 0 makes a node also pick up, incrementally, the actions changed by the others. Long polls are limited to `max_long_polls` concurrent waits (each holds an
// HTTP worker thread); beyond that a poll answers at once and the sensor polls again.
//
// Files: a sensor uploads what an action produced (investigation package, live-response outputs) to
// <files_dir>/<tenant>/<action id>/<index>. Download links are HMAC-signed and expire (DownloadLinks).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "state/records.h"
#include "state/state_store.h"

namespace ward::actions {

// MDE's MachineAction types, and the scope values each accepts ("" = no scope).
bool IsActionType(std::string_view type);

struct ActionOptions {
  std::string files_dir;  // <data-dir>/actions
  std::chrono::milliseconds pending_timeout{std::chrono::hours(72)};   // MDE queues for 3 days
  std::chrono::milliseconds running_timeout{std::chrono::hours(24)};
  // > 0 when other nodes share the store: how often a node re-reads the actions changed elsewhere.
  std::chrono::milliseconds refresh{0};
  std::chrono::milliseconds sweep_interval{std::chrono::seconds(5)};
  int max_long_polls = 4;
  uint64_t max_file_bytes = 512ull * 1024 * 1024;
};

struct NewAction {
  std::string tenant_id;
  const state::Machine* machine = nullptr;
  std::string type, scope, title;
  std::string requestor, comment, external_id;
  std::string related_file, related_file_type;  // relatedFileInfo
  std::string params_json = "{}";                 // sent to the sensor
  std::string commands_json;                      // live response: MDE's commands array
};

// What a sensor reports about one of its actions.
struct SensorReport {
  std::string status;  // InProgress | Succeeded | Failed
  std::string details_json;  // optional: what was done
  std::string failure_reason;
  std::string commands_json;  // live response: commands with their commandStatus/errors/times
};

class ActionService {
 public:
  ActionService(state::StateStore& store, ActionOptions options);
  ~ActionService();
  ActionService(const ActionService&) = delete;
  ActionService& operator=(const ActionService&) = delete;

  // Starts the sweeper (timeouts). Without it, Sweep() can be called directly (tests).
  void Start();
  void Stop();

  // FailedPrecondition("Action is already in progress") when an action of the family is open.
  Result<state::MachineAction> Create(const NewAction& action, int64_t now_ms);
  // FailedPrecondition when the action is already final.
  Result<state::MachineAction> Cancel(const std::string& tenant, const std::string& id, const std::string& requestor,
                                      const std::string& comment, int64_t now_ms);

  // The device's open actions (Pending and InProgress, oldest first); waits up to `wait` for one to
  // appear when there is none. `gone` tells whether the caller hung up.
  std::vector<state::MachineAction> Poll(const std::string& tenant, const std::string& device,
                                         std::chrono::milliseconds wait, const std::function<bool()>& gone);
  // A sensor's report. NotFound unless the action is the device's; a report on a final action returns
  // it unchanged (so the sensor learns it was cancelled or timed out).
  Result<state::MachineAction> Report(const std::string& tenant, const std::string& device, const std::string& id,
                                      const SensorReport& report, int64_t now_ms);
  // Stores a file of the device's action (atomically: temp + rename).
  Status PutFile(const std::string& tenant, const std::string& device, const std::string& id, int index,
                 std::string_view bytes);
  // The stored file's path; NotFound when absent.
  Result<std::string> FilePath(const std::string& tenant, const std::string& id, int index) const;

  // Times out what waited or ran too long. Returns how many changed.
  int Sweep(int64_t now_ms);

 private:
  struct DeviceKey {
    std::string tenant, device;
    bool operator<(const DeviceKey& o) const { return std::tie(tenant, device) < std::tie(o.tenant, o.device); }
  };
  void LoadTenantLocked(const std::string& tenant);
  void IndexLocked(const state::MachineAction& a);
  // Indexes actions changed by other nodes since the last sync; true when one opened.
  bool SyncTenant(const std::string& tenant);
  std::vector<state::MachineAction> OpenFor(const std::string& tenant, const std::string& device);
  // Re-indexes a written action and wakes the long polls.
  Result<state::MachineAction> Finish(state::MachineAction a);

  state::StateStore& store_;
  ActionOptions options_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::string> loaded_tenants_;
  std::map<DeviceKey, std::set<std::string>> open_;  // device -> open action ids
  struct TenantSync {
    std::chrono::steady_clock::time_point at{};
    int64_t store_ms = 0;
  };
  std::map<std::string, TenantSync> synced_;
  int long_polls_ = 0;
  bool stop_ = false;
  std::thread sweeper_;
};

// The key that signs download links: read from `path`, or 32 random bytes written there (mode 0600) on
// first use. Nodes that share a store must share this file.
Result<std::string> LoadOrCreateLinkKey(const std::string& path);

// Signed, expiring download links for action files: /api/machineactions/{id}/files/{index}?e=..&s=..
class DownloadLinks {
 public:
  explicit DownloadLinks(std::string key) : key_(std::move(key)) {}
  // The query string (without '?') for the file, valid until expires_ms.
  std::string Sign(const std::string& tenant, const std::string& action_id, int index, int64_t expires_ms) const;
  // PermissionDenied when tampered with or expired.
  Status Verify(const std::string& tenant, const std::string& action_id, int index, std::string_view expires,
                std::string_view signature, int64_t now_ms) const;

 private:
  std::string key_;
};

}  // namespace ward::actions
