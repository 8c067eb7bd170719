#include "ingest/devices.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/time.h"
#include "identity/password.h"
#include "ingest/onboarding.h"
#include "rbac/device_groups.h"

namespace ward::ingest {
namespace {

std::string NewCredential(const std::string& tenant) { return tenant + "." + RandomToken(32); }

bool SetIfChanged(std::string& field, const std::optional<std::string>& value) {
  if (!value || *value == field) return false;
  field = *value;
  return true;
}

}  // namespace

bool ApplyDeviceFacts(state::Machine& m, const json::Value& f) {
  bool group_facts = false;
  auto limited = [&](const char* key) -> std::optional<std::string> {
    auto v = f.GetString(key);
    if (v && v->size() > 256) v->resize(256);
    return v;
  };
  group_facts |= SetIfChanged(m.computer_dns_name, limited("computerDnsName"));
  group_facts |= SetIfChanged(m.domain, limited("domain"));
  group_facts |= SetIfChanged(m.os_platform, limited("osPlatform"));
  SetIfChanged(m.os_version, limited("osVersion"));
  SetIfChanged(m.os_distribution, limited("osDistribution"));
  SetIfChanged(m.os_architecture, limited("osArchitecture"));
  SetIfChanged(m.agent_version, limited("sensorVersion"));
  if (auto b = f.GetInt("osBuild")) m.os_build = *b;
  if (auto ips = state::ReadStringArray(f.Find("ipAddresses"))) {
    if (ips->size() > 64) ips->resize(64);
    m.ip_addresses = *ips;
    if (!ips->empty()) m.last_ip_address = (*ips)[0];
  }
  if (auto tags = state::ReadStringArray(f.Find("tags"))) {
    if (tags->size() > 50) tags->resize(50);
    if (*tags != m.tags) {
      m.tags = *tags;
      group_facts = true;
    }
  }
  return group_facts;
}

Result<Enrolled> Enroll(state::StateStore& store, const json::Value& request, std::string_view remote_ip, int64_t now_ms) {
  if (!request.is_object()) return Err(InvalidArgument("Request body is incorrect: a JSON object is expected"));
  const json::Value* info = request.Find("onboardingInfo");
  const json::Value* facts = request.Find("device");
  if (!info) return Err(InvalidArgument("Parameter onboardingInfo is missing"));
  if (!facts || !facts->is_object()) return Err(InvalidArgument("Parameter device is missing"));
  json::Value info_obj;
  if (info->is_string()) {  // the package line may be passed through verbatim
    auto parsed = json::Value::Parse(info->as_string());
    if (!parsed) return Err(InvalidArgument("onboardingInfo is not valid JSON"));
    info_obj = std::move(*parsed);
  } else {
    info_obj = *info;
  }
  WARD_ASSIGN_OR_RETURN(OnboardingBody body, VerifyOnboardingInfo(store, info_obj, now_ms));
  auto host_id = facts->GetString("hostId");
  if (!host_id || host_id->size() < 8 || host_id->size() > 128) {
    return Err(InvalidArgument("device.hostId must be 8 to 128 characters"));
  }
  auto name = facts->GetString("computerDnsName");
  if (!name || name->empty()) return Err(InvalidArgument("Parameter device.computerDnsName is missing"));

  state::Repo<state::Machine> machines(store);
  std::string device_id = HexEncode(Sha1(body.org_id + "/" + *host_id));
  std::string credential = NewCredential(body.org_id);
  WARD_ASSIGN_OR_RETURN(std::vector<state::DeviceGroup> groups, state::Repo<state::DeviceGroup>(store).List(body.org_id));
  // What enrolment sets on a new or a re-enrolling device.
  auto apply = [&](state::Machine& m) {
    if (m.offboarded) {
      // MDE: an offboarded device must be onboarded again; doing so clears the offboarded state.
      m.offboarded = false;
    }
    ApplyDeviceFacts(m, *facts);
    if (m.last_ip_address.empty()) m.last_ip_address = std::string(remote_ip);
    m.last_external_ip_address = std::string(remote_ip);
    m.last_seen_ms = now_ms;
    m.last_heartbeat_ms = now_ms;
    m.onboarding_status = "Onboarded";
    m.credential_hash = identity::HashSecret(credential);
    m.credential_created_ms = now_ms;
    m.rbac_group_id = rbac::AssignDeviceGroup(groups, m);
  };
  int64_t heartbeat_seconds = 0;
  // Re-enrolment keeps the id; the update is optimistic so that concurrent writers are not undone.
  auto updated = machines.Mutate(body.org_id, device_id, [&](state::Machine& m) -> Status {
    apply(m);
    heartbeat_seconds = m.heartbeat_seconds;
    return Status::Ok();
  });
  if (!updated) {
    if (updated.error().code() != StatusCode::kNotFound) return Err(updated.error());
    state::Machine m;
    m.tenant_id = body.org_id;
    m.id = device_id;
    m.host_id = *host_id;
    m.first_seen_ms = now_ms;
    apply(m);
    heartbeat_seconds = m.heartbeat_seconds;
    WARD_RETURN_IF_ERROR(machines.Insert(m));
  }
  return Enrolled{body.org_id, device_id, credential, heartbeat_seconds};
}

Result<state::Machine> AuthenticateDevice(state::StateStore& store, std::string_view header) {
  constexpr std::string_view kScheme = "WardDevice ";
  if (header.substr(0, kScheme.size()) != kScheme) return Err(Unauthenticated("device credential missing"));
  std::string_view rest = header.substr(kScheme.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return Err(Unauthenticated("malformed device credential"));
  std::string_view device_id = rest.substr(0, colon);
  std::string_view credential = rest.substr(colon + 1);
  size_t dot = credential.find('.');
  if (device_id.size() != 40 || dot == std::string_view::npos) return Err(Unauthenticated("malformed device credential"));
  std::string_view tenant = credential.substr(0, dot);
  auto m = state::Repo<state::Machine>(store).Get(tenant, device_id);
  if (!m || m->credential_hash.empty() || !identity::VerifySecret(credential, m->credential_hash)) {
    return Err(Unauthenticated("unknown or revoked device credential"));
  }
  if (m->offboarded) return Err(Unauthenticated("the device was offboarded"));
  return m;
}

Result<std::string> RotateCredential(state::StateStore& store, state::Machine m) {
  std::string credential = NewCredential(m.tenant_id);
  auto written = state::Repo<state::Machine>(store).Mutate(m.tenant_id, m.id, [&](state::Machine& w) -> Status {
    w.credential_hash = identity::HashSecret(credential);
    w.credential_created_ms = NowMs();
    return Status::Ok();
  });
  if (!written) return Err(written.error());
  return credential;
}

Status RevokeCredential(state::StateStore& store, std::string_view tenant, std::string_view device_id, bool offboard) {
  auto written = state::Repo<state::Machine>(store).Mutate(tenant, device_id, [&](state::Machine& m) -> Status {
    m.credential_hash.clear();
    if (offboard) {
      m.offboarded = true;
      m.onboarding_status = "Offboarded";
    }
    return Status::Ok();
  });
  return written ? Status::Ok() : written.error();
}

std::string HealthStatus(const state::Machine& m, int64_t now_ms) {
  constexpr int64_t kDay = 86400 * 1000;
  if (m.offboarded) return "Inactive";
  if (m.last_seen_ms == 0 || now_ms - m.last_seen_ms > 7 * kDay) return "Inactive";
  int64_t interval = std::max<int64_t>(m.heartbeat_seconds, 1) * 1000;
  if (m.last_heartbeat_ms != 0 && now_ms - m.last_heartbeat_ms > 3 * interval) return "ImpairedCommunication";
  if (m.last_event_ms == 0 ? now_ms - m.first_seen_ms > kDay : now_ms - m.last_event_ms > kDay) return "NoSensorData";
  return "Active";
}

}  // namespace ward::ingest
