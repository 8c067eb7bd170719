#pragma once
// What the server asks a sensor to enforce (docs/sensor-protocol.md, "Policy"): the tenant's
// indicators with a blocking action (Block, AlertAndBlock, BlockAndRemediate, Warn) and the Allowed
// ones that override them, limited to those that apply to the device's group and not yet expired.
// The sensor learns the policy version from each heartbeat reply and fetches the policy when it
// changes; the response actions enforce it on the host.
//
// Thread-safe. Re-reads a tenant's indicators only when one was added, changed or deleted (or one
// expired) and at most once per `refresh`; the policy of a (tenant, device group) is built once per
// indicator change.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "state/kind_watch.h"
#include "state/records.h"
#include "state/state_store.h"

namespace ward::ingest {

struct SensorPolicy {
  std::string version;  // changes whenever the JSON does
  std::string json;     // {"version","indicators":[{"indicatorType","indicatorValue","action","expirationTime"?}]}
};

// The actions a sensor enforces (Allowed included: it exempts a value from blocking).
bool IsEnforcedAction(std::string_view action);

class SensorPolicyCache {
 public:
  explicit SensorPolicyCache(state::StateStore& store, std::chrono::milliseconds refresh = std::chrono::milliseconds(1000));
  Result<SensorPolicy> For(const std::string& tenant, std::optional<int64_t> device_group, int64_t now_ms);

 private:
  struct Tenant {
    std::vector<state::Indicator> enforced;  // every enforced indicator of the tenant
    state::KindWatch indicators{state::Kind::kIndicator};
    bool read = false;                       // enforced holds a first read
    int64_t next_expiry_ms = INT64_MAX;      // the earliest expiration still in the future
    std::chrono::steady_clock::time_point checked;
    std::map<int64_t, std::shared_ptr<const SensorPolicy>> by_group;  // -1 = devices in no group
  };
  Status Refresh(const std::string& tenant, Tenant& t, int64_t now_ms);

  state::StateStore& store_;
  std::chrono::milliseconds refresh_;
  std::mutex mu_;
  std::map<std::string, Tenant> tenants_;
};

}  // namespace ward::ingest
