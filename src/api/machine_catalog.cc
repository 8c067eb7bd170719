#include "api/machine_catalog.h"

#include <algorithm>
#include <unordered_set>

#include "common/log.h"
#include "common/time.h"

namespace ward::api {
namespace {

const std::vector<state::Alert>& NoAlerts() {
  static const std::vector<state::Alert> none;
  return none;
}

std::shared_ptr<const MachineCatalog::Entry> Render(state::Machine m, const MachineCatalog::Snapshot& s, int64_t now) {
  auto e = std::make_shared<MachineCatalog::Entry>();
  e->json = MachineJson(m, *s.groups, now, DeriveFromAlerts(s.AlertsOf(m.id), m.id));
  e->machine = std::move(m);
  return e;
}

std::shared_ptr<const MachineCatalog::Index> BuildIndex(const std::vector<std::shared_ptr<const MachineCatalog::Entry>>& entries) {
  auto index = std::make_shared<MachineCatalog::Index>();
  index->by_id.reserve(entries.size());
  index->by_name.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    index->by_id.emplace(entries[i]->machine.id, i);
    index->by_name.emplace(state::LowerAscii(entries[i]->machine.computer_dns_name), i);
  }
  return index;
}

}  // namespace

const MachineCatalog::Entry* MachineCatalog::Snapshot::Find(std::string_view id_or_name) const {
  std::string key = state::LowerAscii(id_or_name);
  auto it = index->by_id.find(key);
  if (it == index->by_id.end()) it = index->by_name.find(key);
  return it == index->by_name.end() ? nullptr : entries[it->second].get();
}

const std::vector<state::Alert>& MachineCatalog::Snapshot::AlertsOf(std::string_view machine_id) const {
  if (!alerts) return NoAlerts();
  auto it = alerts->find(std::string(machine_id));
  return it == alerts->end() ? NoAlerts() : it->second;
}

MachineCatalog::MachineCatalog(state::StateStore& store, rbac::Authorizer& authz, std::chrono::seconds full_reload_interval)
    : store_(store), authz_(authz), full_reload_interval_(full_reload_interval) {}

Result<std::shared_ptr<const MachineCatalog::Snapshot>> MachineCatalog::Get(std::string_view tenant) {
  TenantState* t;
  {
    std::lock_guard lock(mu_);
    auto& slot = tenants_[std::string(tenant)];
    if (!slot) slot = std::make_unique<TenantState>();
    t = slot.get();
  }
  std::lock_guard refresh(t->refresh_mu);
  const int64_t counter = store_.ChangeCounter();
  const bool stale = std::chrono::steady_clock::now() - t->loaded_at > full_reload_interval_;
  if (!t->snapshot || stale) {
    WARD_RETURN_IF_ERROR(Reload(tenant, *t));
  } else if (counter != t->change_counter) {
    WARD_RETURN_IF_ERROR(Refresh(tenant, *t));
  }
  t->change_counter = counter;
  return t->snapshot;
}

Status MachineCatalog::Reload(std::string_view tenant, TenantState& t) {
  const int64_t started = NowMs();
  auto snap = std::make_shared<Snapshot>();
  WARD_ASSIGN_OR_RETURN(snap->groups, authz_.DeviceGroups(tenant));
  WARD_ASSIGN_OR_RETURN(std::vector<state::Alert> alerts, state::Repo<state::Alert>(store_).List(tenant));
  auto by_machine = std::make_shared<AlertsByMachine>();
  for (state::Alert& a : alerts) (*by_machine)[a.machine_id].push_back(std::move(a));
  snap->alerts = std::move(by_machine);
  WARD_ASSIGN_OR_RETURN(std::vector<state::Machine> machines, state::Repo<state::Machine>(store_).List(tenant));
  snap->entries.reserve(machines.size());
  for (state::Machine& m : machines) snap->entries.push_back(Render(std::move(m), *snap, started));
  snap->index = BuildIndex(snap->entries);
  t.snapshot = std::move(snap);
  t.refreshed_ms = started;
  t.loaded_at = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status MachineCatalog::Refresh(std::string_view tenant, TenantState& t) {
  // Everything committed after this instant carries a stamp >= it, give or take the store's overlap
  // (SQLite: 1 ms, writers stamp under its lock; PostgreSQL: other nodes' commits), which re-reads a
  // few documents, harmlessly.
  const int64_t started = NowMs();
  const int64_t since = t.refreshed_ms - store_.UpdatedSinceOverlapMs();
  WARD_ASSIGN_OR_RETURN(std::vector<state::Machine> changed, state::Repo<state::Machine>(store_).ListUpdatedSince(tenant, since));
  WARD_ASSIGN_OR_RETURN(std::vector<state::Alert> alerts, state::Repo<state::Alert>(store_).ListUpdatedSince(tenant, since));
  WARD_ASSIGN_OR_RETURN(int64_t count, store_.Count(tenant, state::Kind::kMachine));
  WARD_ASSIGN_OR_RETURN(auto groups, authz_.DeviceGroups(tenant));
  const Snapshot& old = *t.snapshot;
  if (static_cast<size_t>(count) < old.entries.size()) return Reload(tenant, t);  // something was deleted
  if (changed.empty() && alerts.empty() && groups == old.groups) {
    t.refreshed_ms = started;
    return Status::Ok();
  }
  auto snap = std::make_shared<Snapshot>(old);
  snap->groups = groups;
  std::unordered_set<std::string> rerender;
  if (!alerts.empty()) {
    auto by_machine = std::make_shared<AlertsByMachine>(*old.alerts);
    for (state::Alert& a : alerts) {
      rerender.insert(a.machine_id);
      auto& list = (*by_machine)[a.machine_id];
      auto it = std::find_if(list.begin(), list.end(), [&](const state::Alert& x) { return x.id == a.id; });
      if (it != list.end()) *it = std::move(a);
      else list.push_back(std::move(a));
    }
    snap->alerts = std::move(by_machine);
  }
  bool reindex = false;
  for (state::Machine& m : changed) {
    rerender.erase(m.id);
    auto it = old.index->by_id.find(m.id);
    if (it == old.index->by_id.end()) {
      snap->entries.push_back(Render(std::move(m), *snap, started));
      reindex = true;
    } else {
      if (state::LowerAscii(old.entries[it->second]->machine.computer_dns_name) != state::LowerAscii(m.computer_dns_name)) {
        reindex = true;
      }
      snap->entries[it->second] = Render(std::move(m), *snap, started);
    }
  }
  if (groups != old.groups) {
    // Group names may have changed: render everything again.
    for (auto& e : snap->entries) e = Render(e->machine, *snap, started);
  } else {
    for (const std::string& id : rerender) {
      auto it = old.index->by_id.find(id);
      if (it != old.index->by_id.end()) snap->entries[it->second] = Render(snap->entries[it->second]->machine, *snap, started);
    }
  }
  if (reindex) snap->index = BuildIndex(snap->entries);
  t.snapshot = std::move(snap);
  t.refreshed_ms = started;
  return Status::Ok();
}

}  // namespace ward::api
