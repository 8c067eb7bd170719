#include "detect/alert_writer.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/log.h"
#include "common/time.h"
#include "detect/alert_rows.h"

namespace ward::detect {
namespace {

std::string Key(const std::string& tenant, const std::string& detector, const std::string& machine) {
  return tenant + "/" + detector + "/" + machine;
}

constexpr size_t kMaxEventKeys = 1000;  // per alert; older keys are past any replay

}  // namespace

std::string NewAlertId() {
  std::string random = RandomBytes(8);
  uint64_t n = 0;
  for (unsigned char c : random) n = (n << 8) | c;
  n %= 10'000'000'000ull;
  std::string digits = std::to_string(n);
  // .NET ticks (from year 1), as MDE's ids carry them.
  return "da" + std::to_string(NowTicks() + 621'355'968'000'000'000) + "_" + std::string(10 - digits.size(), '0') + digits;
}

AlertWriter::AlertWriter(state::StateStore& store, events::EventLog* log, const events::SchemaRegistry& registry,
                         std::chrono::hours dedup_window)
    : store_(store), log_(log), registry_(registry), window_(dedup_window) {}

Status AlertWriter::LoadTenant(const std::string& tenant) {
  if (loaded_[tenant]) return Status::Ok();
  WARD_ASSIGN_OR_RETURN(std::vector<state::Alert> alerts, state::Repo<state::Alert>(store_).List(tenant));
  for (const state::Alert& a : alerts) {
    if (a.status == "Resolved" || a.detector_id.empty()) continue;
    auto& slot = open_[Key(tenant, a.detector_id, a.machine_id)];
    if (slot.empty() || slot < a.id) slot = a.id;  // ids grow with time: the newest wins
  }
  loaded_[tenant] = true;
  return Status::Ok();
}

Result<AlertWriter::Raised> AlertWriter::Raise(const AlertSpec& spec) {
  std::lock_guard lock(mu_);
  WARD_RETURN_IF_ERROR(LoadTenant(spec.tenant_id));
  const int64_t now = NowMs();
  state::Repo<state::Alert> repo(store_);
  const std::string key = Key(spec.tenant_id, spec.detector_id, spec.machine_id);
  if (auto it = open_.find(key); it != open_.end()) {
    auto current = repo.Get(spec.tenant_id, it->second);
    const int64_t window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(window_).count();
    if (current && current->status != "Resolved" && current->alert_creation_ms >= now - window_ms) {
      size_t before = 0;
      bool already = false;
      auto merged = repo.Mutate(spec.tenant_id, current->id, [&](state::Alert& a) -> Status {
        already = std::find(a.event_keys.begin(), a.event_keys.end(), spec.event_key) != a.event_keys.end();
        if (already) return Status::Ok();
        before = a.evidence.size();
        for (const state::AlertEvidence& e : spec.evidence) a.evidence.push_back(e);
        a.event_keys.push_back(spec.event_key);
        if (a.event_keys.size() > kMaxEventKeys) a.event_keys.erase(a.event_keys.begin());
        a.first_event_ms = a.first_event_ms ? std::min(a.first_event_ms, spec.event_ms) : spec.event_ms;
        a.last_event_ms = std::max(a.last_event_ms, spec.event_ms);
        a.last_update_ms = now;
        return Status::Ok();
      });
      if (!merged) return Err(merged.error());
      if (!already && log_) {
        auto appended = log_->AppendSync(events::EncodeBatch(AlertRows(*merged, registry_, NowTicks(), before, false)),
                                         merged->machine_id);
        if (!appended) log::Error("alert rows not appended", {{"alertId", merged->id}, {"error", appended.error().message()}});
      }
      return Raised{std::move(*merged), false, !already};
    }
  }
  state::Alert a;
  a.tenant_id = spec.tenant_id;
  a.id = NewAlertId();
  a.severity = spec.severity;
  a.category = spec.category;
  a.title = spec.title;
  a.description = spec.description;
  a.recommended_action = spec.recommended_action;
  a.detection_source = spec.detection_source;
  a.detector_id = spec.detector_id;
  a.threat_name = spec.threat_name;
  a.mitre_techniques = spec.mitre_techniques;
  a.alert_creation_ms = a.last_update_ms = now;
  a.first_event_ms = a.last_event_ms = spec.event_ms;
  a.machine_id = spec.machine_id;
  a.computer_dns_name = spec.computer_dns_name;
  a.evidence = spec.evidence;
  a.event_keys = {spec.event_key};
  for (const state::AlertEvidence& e : a.evidence) {
    if (a.related_user_name.empty() && e.entity_type == "User") {
      a.related_user_name = e.account_name;
      a.related_user_domain = e.domain_name;
    }
  }
  WARD_RETURN_IF_ERROR(repo.Insert(a));
  open_[key] = a.id;
  if (log_) {
    auto appended = log_->AppendSync(events::EncodeBatch(AlertRows(a, registry_, NowTicks())), a.machine_id);
    if (!appended) log::Error("alert rows not appended", {{"alertId", a.id}, {"error", appended.error().message()}});
  }
  return Raised{std::move(a), true, true};
}

}  // namespace ward::detect
