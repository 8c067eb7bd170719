#include "sensor/onboarding.h"

#include <sys/stat.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/time.h"
#include "common/version.h"
#include "sensor/host.h"
#include "sensor/util.h"

namespace ward::sensor {

namespace {

Result<OnboardingInfo> FromInfoJson(std::string_view text) {
  auto parsed = json::Value::Parse(text);
  if (!parsed) return Err(InvalidArgument("onboarding info is not valid JSON: " + parsed.error().message()));
  json::Value info = std::move(*parsed);
  if (info.is_object()) {
    if (const json::Value* inner = info.Find("onboardingInfo"); inner && inner->is_object()) info = *inner;
  }
  if (!info.is_object()) return Err(InvalidArgument("onboarding info must be a JSON object"));
  const json::Value* body_value = info.Find("body");
  if (!body_value) return Err(InvalidArgument("onboarding info has no body"));
  json::Value body;
  if (body_value->is_string()) {
    auto b = json::Value::Parse(body_value->as_string());
    if (!b) return Err(InvalidArgument("onboarding body is not valid JSON"));
    body = std::move(*b);
  } else {
    body = *body_value;
  }
  if (!body.is_object()) return Err(InvalidArgument("onboarding body must be a JSON object"));
  OnboardingInfo out;
  out.version = static_cast<int>(body.GetInt("version").value_or(0));
  out.org_id = body.GetString("orgId").value_or("");
  out.server_url = body.GetString("serverUrl").value_or("");
  out.server_cert_sha256 = body.GetString("serverCertSha256").value_or("");
  out.enrollment_key_id = body.GetString("enrollmentKeyId").value_or("");
  out.expires_at = body.GetString("expiresAt").value_or("");
  out.package_guid = body.GetString("packageGuid").value_or("");
  if (out.version != 1) return Err(InvalidArgument("unsupported onboarding version " + std::to_string(out.version)));
  if (out.org_id.empty()) return Err(InvalidArgument("onboarding body has no orgId"));
  if (out.server_url.empty()) return Err(InvalidArgument("onboarding body has no serverUrl"));
  auto url = http::ParseUrl(out.server_url);
  if (!url) return Err(InvalidArgument("onboarding serverUrl: " + url.error().message()));
  if (!out.server_cert_sha256.empty()) {
    auto raw = HexDecode(out.server_cert_sha256);
    if (!raw || raw->size() != 32) return Err(InvalidArgument("onboarding serverCertSha256 is not a SHA-256 hex digest"));
  }
  while (!out.server_url.empty() && out.server_url.back() == '/') out.server_url.pop_back();
  out.info = std::move(info);
  return out;
}

}  // namespace

Result<OnboardingInfo> ParseOnboarding(std::string_view text) {
  for (std::string_view line : SplitLines(text)) {
    std::string_view t = Trim(line);
    if (StartsWith(t, kOnboardingMarker)) return FromInfoJson(Trim(t.substr(kOnboardingMarker.size())));
  }
  std::string_view whole = Trim(text);
  if (!whole.empty() && whole.front() == '{') return FromInfoJson(whole);
  return Err(InvalidArgument("no '# WARD-ONBOARDING-INFO:' line and not a JSON file"));
}

Result<OnboardingInfo> LoadOnboardingFile(const std::string& path) {
  auto text = ReadFile(path, 1024 * 1024);
  if (!text) return Err(NotFound("cannot read onboarding file " + path));
  return ParseOnboarding(*text);
}

json::Value DeviceFacts::ToJson() const {
  json::Value d = json::Value::Object();
  d.AppendMember("hostId", json::Value(host_id));
  d.AppendMember("computerDnsName", json::Value(computer_dns_name));
  d.AppendMember("domain", json::Value(domain));
  d.AppendMember("osPlatform", json::Value(os_platform));
  d.AppendMember("osVersion", json::Value(os_version));
  d.AppendMember("osDistribution", json::Value(os_distribution));
  d.AppendMember("osBuild", json::Value(os_build));
  d.AppendMember("osArchitecture", json::Value(os_architecture));
  d.AppendMember("sensorVersion", json::Value(sensor_version));
  json::Value ips = json::Value::Array();
  for (const auto& ip : ip_addresses) ips.Append(json::Value(ip));
  d.AppendMember("ipAddresses", std::move(ips));
  json::Value t = json::Value::Array();
  for (const auto& tag : tags) t.Append(json::Value(tag));
  d.AppendMember("tags", std::move(t));
  return d;
}

DeviceFacts LocalDeviceFacts(const std::string& state_dir) {
  DeviceFacts f;
  f.host_id = MachineHostId();
  if (f.host_id.empty()) {
    // No machine-id (minimal containers): keep a random one so restarts keep the same device.
    std::string path = JoinPath(state_dir, "host-id");
    if (auto saved = ReadFile(path, 256); saved && Trim(*saved).size() >= 8) {
      f.host_id = std::string(Trim(*saved));
    } else {
      f.host_id = HexEncode(RandomBytes(32));
      Status st = WriteFileAtomic(path, f.host_id + "\n");
      if (!st.ok()) log::Warn("cannot persist host id", {{"error", st.message()}});
    }
  }
  std::string host = HostName();
  f.computer_dns_name = host;
  size_t dot = host.find('.');
  f.domain = dot == std::string::npos ? "" : host.substr(dot + 1);
  OsFacts os = LocalOsFacts();
  f.os_version = os.version;
  f.os_distribution = os.distribution;
  f.os_architecture = os.machine;
  f.sensor_version = kVersion;
  f.ip_addresses = LocalIpAddresses();
  return f;
}

std::string Identity::Url(std::string_view path) const {
  std::string base = server_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + std::string(path);
}

Result<Identity> LoadIdentity(const std::string& state_dir) {
  std::string path = JoinPath(state_dir, kIdentityFile);
  auto text = ReadFile(path, 1024 * 1024);
  if (!text) return Err(NotFound("no identity in " + state_dir));
  auto v = json::Value::Parse(*text);
  if (!v || !v->is_object()) return Err(InvalidArgument(path + " is not a JSON object"));
  Identity id;
  id.device_id = v->GetString("deviceId").value_or("");
  id.tenant_id = v->GetString("tenantId").value_or("");
  id.credential = v->GetString("credential").value_or("");
  id.server_url = v->GetString("serverUrl").value_or("");
  id.server_cert_sha256 = v->GetString("serverCertSha256").value_or("");
  id.host_id = v->GetString("hostId").value_or("");
  id.package_guid = v->GetString("packageGuid").value_or("");
  id.heartbeat_seconds = static_cast<int>(v->GetInt("heartbeatSeconds").value_or(60));
  id.credential_issued_ms = v->GetInt("credentialIssuedMs").value_or(0);
  if (id.device_id.empty() || id.credential.empty() || id.server_url.empty()) {
    return Err(InvalidArgument(path + " lacks deviceId, credential or serverUrl"));
  }
  return id;
}

Status SaveIdentity(const std::string& state_dir, const Identity& id) {
  json::Writer w;
  w.StartObject();
  w.KV("deviceId", id.device_id).KV("tenantId", id.tenant_id).KV("credential", id.credential);
  w.KV("serverUrl", id.server_url).KV("serverCertSha256", id.server_cert_sha256).KV("hostId", id.host_id);
  w.KV("packageGuid", id.package_guid).KV("heartbeatSeconds", static_cast<int64_t>(id.heartbeat_seconds));
  w.KV("credentialIssuedMs", id.credential_issued_ms);
  w.EndObject();
  return WriteFileAtomic(JoinPath(state_dir, kIdentityFile), w.str() + "\n", 0600);
}

http::ClientOptions ClientOptionsFor(const std::string& pin) {
  http::ClientOptions o;
  o.pin_sha256 = pin;
  o.user_agent = "ward-sensor/";  // two steps: GCC 12 warns (falsely) on string + const char*
  o.user_agent += kVersion;
  o.connect_timeout = std::chrono::seconds(10);
  o.request_timeout = std::chrono::seconds(60);
  o.max_response_bytes = 4 * 1024 * 1024;
  return o;
}

Status StatusFromResponse(const http::ClientResponse& res, std::string_view what) {
  std::string message = std::string(what) + ": HTTP " + std::to_string(res.status);
  if (auto body = json::Value::Parse(res.body); body && body->is_object()) {
    if (const json::Value* err = body->Find("error"); err && err->is_object()) {
      if (auto m = err->GetString("message")) message += ": " + *m;
    }
  }
  if (res.status == 401) return Unauthenticated(message);
  if (res.status == 403) return PermissionDenied(message);
  if (res.status == 404) return NotFound(message);
  if (res.status == 408 || res.status == 429 || res.status >= 500) return Unavailable(message);
  if (res.status == 413) return ResourceExhausted(message);
  return InvalidArgument(message);
}

Result<Identity> Enroll(http::Client& client, const OnboardingInfo& onboarding, const DeviceFacts& facts) {
  json::Writer w;
  w.StartObject();
  w.KV("onboardingInfo", onboarding.info);
  w.KV("device", facts.ToJson());
  w.EndObject();
  http::ClientRequest req;
  req.method = "POST";
  req.url = onboarding.server_url + "/sensor/v1/enroll";
  req.headers.Add("Content-Type", "application/json");
  req.body = w.Take();
  WARD_ASSIGN_OR_RETURN(http::ClientResponse res, client.Send(req));
  if (res.status != 200) return Err(StatusFromResponse(res, "enrollment"));
  auto body = json::Value::Parse(res.body);
  if (!body || !body->is_object()) return Err(Unavailable("enrollment: response is not a JSON object"));
  Identity id;
  id.device_id = body->GetString("deviceId").value_or("");
  id.tenant_id = body->GetString("tenantId").value_or(onboarding.org_id);
  id.credential = body->GetString("credential").value_or("");
  id.heartbeat_seconds = static_cast<int>(body->GetInt("heartbeatSeconds").value_or(60));
  if (id.heartbeat_seconds <= 0) id.heartbeat_seconds = 60;
  if (id.device_id.empty() || id.credential.empty()) {
    return Err(Unavailable("enrollment: response lacks deviceId or credential"));
  }
  id.server_url = onboarding.server_url;
  id.server_cert_sha256 = onboarding.server_cert_sha256;
  id.host_id = facts.host_id;
  id.package_guid = onboarding.package_guid;
  id.credential_issued_ms = NowMs();
  return id;
}

Result<Identity> RotateCredential(http::Client& client, const Identity& id) {
  http::ClientRequest req;
  req.method = "POST";
  req.url = id.Url("/sensor/v1/credential/rotate");
  req.headers.Add("Authorization", id.AuthorizationHeader());
  req.headers.Add("Content-Type", "application/json");
  req.body = "{}";
  WARD_ASSIGN_OR_RETURN(http::ClientResponse res, client.Send(req));
  if (res.status != 200) return Err(StatusFromResponse(res, "credential rotation"));
  auto body = json::Value::Parse(res.body);
  auto credential = body && body->is_object() ? body->GetString("credential") : std::nullopt;
  if (!credential || credential->empty()) return Err(Unavailable("credential rotation: response lacks credential"));
  Identity out = id;
  out.credential = *credential;
  out.credential_issued_ms = NowMs();
  return out;
}

}  // namespace ward::sensor
