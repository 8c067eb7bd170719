#include "ingest/sensor_policy.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/time.h"
#include "json/json.h"

namespace ward::ingest {

bool IsEnforcedAction(std::string_view a) {
  return a == "Block" || a == "AlertAndBlock" || a == "BlockAndRemediate" || a == "Warn" || a == "Allowed";
}

SensorPolicyCache::SensorPolicyCache(state::StateStore& store, std::chrono::milliseconds refresh) : store_(store), refresh_(refresh) {}

Status SensorPolicyCache::Refresh(const std::string& tenant, Tenant& t, int64_t now_ms) {
  auto now = std::chrono::steady_clock::now();
  const bool expired = now_ms >= t.next_expiry_ms;
  if (t.read && !expired && now - t.checked < refresh_) return Status::Ok();
  t.checked = now;
  WARD_ASSIGN_OR_RETURN(bool changed, t.indicators.Changed(store_, tenant));
  if (changed || expired || !t.read) {
    WARD_ASSIGN_OR_RETURN(std::vector<state::Indicator> all, state::Repo<state::Indicator>(store_).List(tenant));
    t.enforced.clear();
    t.next_expiry_ms = INT64_MAX;
    for (state::Indicator& i : all) {
      if (!IsEnforcedAction(i.action)) continue;
      if (i.expiration_ms > 0 && i.expiration_ms <= now_ms) continue;
      if (i.expiration_ms > 0) t.next_expiry_ms = std::min(t.next_expiry_ms, i.expiration_ms);
      t.enforced.push_back(std::move(i));
    }
    // Stable order, so the same indicators always give the same version.
    std::sort(t.enforced.begin(), t.enforced.end(), [](const state::Indicator& a, const state::Indicator& b) {
      return a.indicator_type != b.indicator_type ? a.indicator_type < b.indicator_type : a.indicator_value < b.indicator_value;
    });
    t.by_group.clear();
    t.read = true;
  }
  t.indicators.Commit();
  return Status::Ok();
}

Result<SensorPolicy> SensorPolicyCache::For(const std::string& tenant, std::optional<int64_t> device_group, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Tenant& t = tenants_[tenant];
  WARD_RETURN_IF_ERROR(Refresh(tenant, t, now_ms));
  const int64_t group = device_group.value_or(-1);
  auto cached = t.by_group.find(group);
  if (cached != t.by_group.end()) return *cached->second;
  const std::string group_id = device_group ? std::to_string(*device_group) : "";
  std::string items;
  json::Writer w;
  w.StartArray();
  for (const state::Indicator& i : t.enforced) {
    // Indicators scoped to device groups apply only to devices in them; unscoped ones to all.
    if (!i.rbac_group_ids.empty() &&
        (group_id.empty() || std::find(i.rbac_group_ids.begin(), i.rbac_group_ids.end(), group_id) == i.rbac_group_ids.end())) {
      continue;
    }
    w.StartObject().KV("indicatorType", i.indicator_type).KV("indicatorValue", i.indicator_value).KV("action", i.action);
    if (i.expiration_ms > 0) w.KV("expirationTime", FormatIsoMs(i.expiration_ms));
    w.EndObject();
  }
  w.EndArray();
  items = w.Take();
  auto policy = std::make_shared<SensorPolicy>();
  policy->version = HexEncode(Sha256(items)).substr(0, 16);
  policy->json = "{\"version\":" + json::Quote(policy->version) + ",\"indicators\":" + items + "}";
  t.by_group[group] = policy;
  return *policy;
}

}  // namespace ward::ingest
