#include "ingest/profile_updater.h"

#include <algorithm>

#include "common/log.h"
#include "common/time.h"
#include "json/json.h"
#include "rbac/device_groups.h"

namespace ward::ingest {
namespace {

const std::string* StringAt(const events::Row& row, int col) {
  if (col < 0) return nullptr;
  return std::get_if<std::string>(&row.values[col]);
}
const int64_t* IntAt(const events::Row& row, int col) {
  if (col < 0) return nullptr;
  return std::get_if<int64_t>(&row.values[col]);
}

// LoggedOnUsers is JSON text like [{"UserName":"alice","DomainName":"corp"}]; profiles keep names.
std::vector<std::string> UserNames(const std::string& json_text) {
  std::vector<std::string> out;
  auto v = json::Value::Parse(json_text);
  if (!v || !v->is_array()) return out;
  for (const json::Value& u : v->items()) {
    if (auto name = u.GetString("UserName")) out.push_back(*name);
    if (out.size() >= 50) break;
  }
  return out;
}

// IPAddresses is JSON text like [{"IPAddress":"10.0.0.5","SubnetPrefix":24,"AddressType":"Private"}].
void AppendAddresses(const std::string& json_text, std::vector<std::string>* out) {
  auto v = json::Value::Parse(json_text);
  if (!v || !v->is_array()) return;
  for (const json::Value& a : v->items()) {
    if (auto ip = a.GetString("IPAddress"); ip && std::find(out->begin(), out->end(), *ip) == out->end()) {
      out->push_back(*ip);
    }
    if (out->size() >= 64) break;
  }
}

}  // namespace

ProfileUpdater::ProfileUpdater(events::EventLog& log, state::StateStore& store, rbac::Authorizer& authz,
                               const events::SchemaRegistry& registry)
    : log_(log), store_(store), authz_(authz), registry_(registry) {}

ProfileUpdater::~ProfileUpdater() { Stop(); }

Status ProfileUpdater::Start() {
  WARD_ASSIGN_OR_RETURN(consumer_, log_.OpenConsumer("profiles"));
  committed_ = consumer_->committed();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ProfileUpdater::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

events::LogPosition ProfileUpdater::committed() {
  std::lock_guard lock(mu_);
  return committed_;
}

void ProfileUpdater::Fold(const events::RowBatch& batch) {
  if (batch.device_id.empty()) return;  // the server's own rows (alerts) are no device's telemetry
  Pending& p = pending_[{batch.tenant_id, batch.device_id}];
  for (const events::Row& row : batch.rows) {
    const events::TableDef& t = registry_.table(row.table);
    if (const int64_t* ts = IntAt(row, t.timestamp_column)) {
      // Telemetry timestamps come from the device; "last seen" must not run ahead of the server.
      int64_t ms = std::min(*ts / kTicksPerMillisecond, batch.received_ticks / kTicksPerMillisecond);
      p.last_event_ms = std::max(p.last_event_ms, ms);
    }
    if (t.name == "DeviceInfo") {
      p.has_info = true;
      if (auto* s = StringAt(row, t.Find("OSPlatform"))) p.os_platform = *s;
      if (auto* s = StringAt(row, t.Find("OSVersion"))) p.os_version = *s;
      if (auto* s = StringAt(row, t.Find("OSDistribution"))) p.os_distribution = *s;
      if (auto* s = StringAt(row, t.Find("OSArchitecture"))) p.os_architecture = *s;
      if (auto* s = StringAt(row, t.Find("PublicIP"))) p.public_ip = *s;
      if (auto* s = StringAt(row, t.Find("DeviceName"))) p.device_name = *s;
      if (auto* s = StringAt(row, t.Find("ClientVersion"))) p.client_version = *s;
      if (auto* s = StringAt(row, t.Find("LoggedOnUsers"))) p.logged_on_users = *s;
      if (auto* s = StringAt(row, t.Find("RegistryDeviceTag"))) p.registry_tag = *s;
      if (auto* b = IntAt(row, t.Find("OSBuild"))) p.os_build = *b;
    } else if (t.name == "DeviceNetworkInfo") {
      if (!p.has_network) p.ip_addresses.clear();
      p.has_network = true;
      if (auto* s = StringAt(row, t.Find("IPAddresses"))) AppendAddresses(*s, &p.ip_addresses);
    }
  }
}

Status ProfileUpdater::FlushPending() {
  state::Repo<state::Machine> machines(store_);
  bool regroup_any = false;
  std::map<std::string, std::vector<state::DeviceGroup>> groups_by_tenant;
  for (auto& [key, p] : pending_) {
    // Mutate: API writes to the same machine (tags, device value) between read and write are kept.
    auto written = machines.Mutate(key.first, key.second, [&](state::Machine& machine) -> Status {
      state::Machine* m = &machine;
      bool regroup = false;
      m->last_event_ms = std::max(m->last_event_ms, p.last_event_ms);
      m->last_seen_ms = std::max(m->last_seen_ms, p.last_event_ms);
      if (p.has_info) {
        if (!p.os_platform.empty()) regroup |= std::exchange(m->os_platform, p.os_platform) != p.os_platform;
        if (!p.device_name.empty()) regroup |= std::exchange(m->computer_dns_name, p.device_name) != p.device_name;
        if (!p.os_version.empty()) m->os_version = p.os_version;
        if (!p.os_distribution.empty()) m->os_distribution = p.os_distribution;
        if (!p.os_architecture.empty()) m->os_architecture = p.os_architecture;
        if (!p.public_ip.empty()) m->last_external_ip_address = p.public_ip;
        if (!p.client_version.empty()) m->agent_version = p.client_version;
        if (p.os_build) m->os_build = p.os_build;
        if (!p.logged_on_users.empty()) m->logged_on_users = UserNames(p.logged_on_users);
        if (!p.registry_tag.empty() && std::find(m->tags.begin(), m->tags.end(), p.registry_tag) == m->tags.end()) {
          m->tags.push_back(p.registry_tag);
          regroup = true;
        }
      }
      if (p.has_network && !p.ip_addresses.empty()) {
        m->ip_addresses = p.ip_addresses;
        m->last_ip_address = p.ip_addresses.front();
      }
      if (regroup) {
        auto& groups = groups_by_tenant[key.first];
        if (groups.empty()) groups = state::Repo<state::DeviceGroup>(store_).List(key.first).value_or(groups);
        m->rbac_group_id = rbac::AssignDeviceGroup(groups, *m);
        regroup_any = true;
      }
      return Status::Ok();
    });
    if (!written && written.error().code() != StatusCode::kNotFound) return written.error();  // NotFound: deleted meanwhile
  }
  pending_.clear();
  if (regroup_any) authz_.Invalidate();
  return Status::Ok();
}

void ProfileUpdater::Run() {
  auto last_flush = std::chrono::steady_clock::now();
  bool folded = false;  // records polled since the last commit
  while (!stop_) {
    auto records = consumer_->Poll(2048, 32ull << 20, std::chrono::milliseconds(200));
    if (records) {
      for (const events::LogRecord& r : *records) {
        if (auto batch = events::DecodeBatch(r.data, registry_)) Fold(*batch);
      }
      folded = folded || !records->empty();
    } else {
      log::Warn("profile updater: event log read failed", {{"error", records.error().message()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    auto now = std::chrono::steady_clock::now();
    if ((now - last_flush > std::chrono::seconds(1) || stop_) && folded) {
      last_flush = now;
      if (Status st = FlushPending(); !st.ok()) {
        log::Warn("machine profile update failed; will retry", {{"error", st.message()}});
        continue;
      }
      if (Status st = consumer_->Commit(); !st.ok()) {
        log::Warn("profile cursor commit failed", {{"error", st.message()}});
        continue;
      }
      folded = false;
      std::lock_guard lock(mu_);
      committed_ = consumer_->committed();
    }
  }
}

}  // namespace ward::ingest
