// The sensor channel (/sensor/v1/*, device credentials) and onboarding management (/api/onboarding/*,
// "Manage security settings"). Protocol: docs/sensor-protocol.md.
#include "api/api.h"
#include "api/errors.h"
#include "common/log.h"
#include "common/time.h"
#include "ingest/devices.h"
#include "ingest/onboarding.h"
#include "ingest/sensor_policy.h"

namespace ward::api {

void JsonReply(http::Response& res, int status, std::string body) {
  res.status = status;
  res.headers.Set("Content-Type", "application/json; charset=utf-8");
  res.body = std::move(body);
}

void SensorError(http::Request& req, http::Response& res, const Status& st, std::string_view code) {
  HttpError e = MapStatus(st);
  JsonReply(res, e.status, ErrorBody(code.empty() ? e.code : code, st.message(), req.request_id));
  if (e.status == 401) res.headers.Set("WWW-Authenticate", "WardDevice");
}

namespace {

const rbac::Requirement& ManageSecuritySettings() {
  static const rbac::Requirement r{{"Ward.Settings.ReadWrite.All"}, {"Ward.Settings.ReadWrite"},
                                   rbac::PortalPermission::kManageSecuritySettings};
  return r;
}

json::Value EnrollmentKeyJson(const state::EnrollmentKey& k, int64_t now) {
  json::Value v = json::Value::Object();
  v.Set("id", k.id);
  v.Set("createdDateTime", FormatIsoMs(k.created_ms));
  v.Set("expirationDateTime", FormatIsoMs(k.expires_ms));
  v.Set("revoked", k.revoked);
  v.Set("status", k.revoked ? "Revoked" : k.expires_ms < now ? "Expired" : "Active");
  return v;
}

const odata::EntitySchema& EnrollmentKeySchema() {
  static const odata::EntitySchema s{"EnrollmentKeys", {{"id", odata::PropertyType::kString},
      {"createdDateTime", odata::PropertyType::kDateTime}, {"expirationDateTime", odata::PropertyType::kDateTime},
      {"revoked", odata::PropertyType::kBool}, {"status", odata::PropertyType::kString}}};
  return s;
}

}  // namespace

void RegisterSensorRoutes(Api& api) {
  Services& s = api.services();
  http::Router& r = api.router();
  // Shared by the route handlers (they outlive this function, the router owns them).
  auto policies = std::make_shared<ingest::SensorPolicyCache>(s.store);
  s.sensor_policies = policies;

  r.Add("POST", "/sensor/v1/enroll", [&s](http::Request& req, http::Response& res) {
    auto body = json::Value::Parse(req.body);
    if (!body) return SensorError(req, res, InvalidArgument("Request body is incorrect: " + body.error().message()), "InvalidRequestBody");
    auto enrolled = ingest::Enroll(s.store, *body, req.remote_address, NowMs());
    if (!enrolled) {
      log::Warn("enrolment refused", {{"request_id", req.request_id}, {"remote", req.remote_address},
                                      {"reason", enrolled.error().message()}});
      return SensorError(req, res, enrolled.error());
    }
    s.authz.Invalidate();
    state::AuditEntry e;
    e.tenant_id = enrolled->tenant_id;
    e.time_ms = NowMs();
    e.actor_type = "Device";
    e.actor_id = enrolled->device_id;
    e.actor_name = body->Find("device") ? body->Find("device")->GetString("computerDnsName").value_or("") : "";
    e.action = "POST /sensor/v1/enroll";
    e.target = "machine:" + enrolled->device_id;
    e.result = "Success";
    e.http_status = 200;
    e.request_id = req.request_id;
    s.store.AppendAudit(e);
    json::Writer w;
    w.StartObject().KV("deviceId", enrolled->device_id).KV("tenantId", enrolled->tenant_id);
    w.KV("credential", enrolled->credential).KV("heartbeatSeconds", enrolled->heartbeat_seconds).EndObject();
    JsonReply(res, 200, w.Take());
  });

  r.Add("POST", "/sensor/v1/events", [&s](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    if (!s.ingest) return SensorError(req, res, Unavailable("telemetry ingest is not running"));
    auto reply = s.ingest->Ingest(*device, req.headers.Get("x-ward-batch-id"), req.headers.Get("content-encoding"),
                                  req.body);
    if (!reply) {
      log::Warn("telemetry batch refused", {{"request_id", req.request_id}, {"device", device->id},
                                            {"reason", reply.error().message()}});
      // Size limits are a property of the batch, not a rate limit: MDE's code, 400.
      if (reply.error().code() == StatusCode::kResourceExhausted) {
        return SensorError(req, res, InvalidArgument(reply.error().message()), "MaximumBatchSizeExceeded");
      }
      return SensorError(req, res, reply.error());
    }
    json::Writer w;
    w.StartObject().KV("batchId", reply->batch_id).KV("accepted", static_cast<int64_t>(reply->accepted));
    w.Key("rejected").StartArray();
    for (const auto& rej : reply->rejected) {
      w.StartObject().KV("index", static_cast<int64_t>(rej.index)).KV("reason", rej.reason).EndObject();
    }
    w.EndArray().KV("duplicate", reply->duplicate).EndObject();
    JsonReply(res, 200, w.Take());
  });

  r.Add("POST", "/sensor/v1/heartbeat", [&s, policies](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    auto body = json::Value::Parse(req.body.empty() ? std::string_view("{}") : std::string_view(req.body));
    if (!body || !body->is_object()) return SensorError(req, res, InvalidArgument("Request body is incorrect"), "InvalidRequestBody");
    int64_t now = NowMs();
    std::optional<std::string> version;
    if (auto v = body->GetString("sensorVersion"); v && v->size() < 64) version = *v;
    auto ips = state::ReadStringArray(body->Find("ipAddresses"));
    if (const json::Value* q = body->Find("queue"); q && q->is_object()) {
      // Sensors report what they could not keep; it shows up in logs rather than vanishing.
      if (const json::Value* dropped = q->Find("droppedEvents"); dropped && dropped->is_object()) {
        for (const json::Member& m : dropped->members()) {
          if (m.value.is_int() && m.value.as_int() > 0) {
            log::Warn("sensor reports dropped events", {{"device", device->id}, {"reason", m.key},
                                                         {"count", std::to_string(m.value.as_int())}});
          }
        }
      }
    }
    // Optimistic read-modify-write: profile updates and API changes (tags, device value) made since
    // the device was authenticated are kept.
    auto written = state::Repo<state::Machine>(s.store).Mutate(device->tenant_id, device->id, [&](state::Machine& m) -> Status {
      m.last_heartbeat_ms = now;
      m.last_seen_ms = std::max(m.last_seen_ms, now);
      m.last_external_ip_address = req.remote_address;
      if (version) m.agent_version = *version;
      if (ips && !ips->empty() && ips->size() <= 64) {
        m.ip_addresses = *ips;
        m.last_ip_address = ips->front();
      }
      return Status::Ok();
    });
    if (!written) return SensorError(req, res, written.error());
    auto policy = policies->For(device->tenant_id, written->rbac_group_id, now);
    if (!policy) return SensorError(req, res, policy.error());
    JsonReply(res, 200, "{\"heartbeatSeconds\":" + std::to_string(device->heartbeat_seconds) +
                            ",\"policyVersion\":" + json::Quote(policy->version) + "}");
  });

  // The device's enforcement policy (blocking and allow indicators for its group); ETag = version.
  r.Add("GET", "/sensor/v1/policy", [&s, policies](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    auto machine = state::Repo<state::Machine>(s.store).Get(device->tenant_id, device->id);
    if (!machine) return SensorError(req, res, machine.error());
    auto policy = policies->For(device->tenant_id, machine->rbac_group_id, NowMs());
    if (!policy) return SensorError(req, res, policy.error());
    const std::string etag = "\"" + policy->version + "\"";
    res.headers.Set("ETag", etag);
    if (req.headers.Get("if-none-match") == etag) {
      res.status = 304;
      return;
    }
    JsonReply(res, 200, policy->json);
  });

  r.Add("POST", "/sensor/v1/credential/rotate", [&s](http::Request& req, http::Response& res) {
    auto device = ingest::AuthenticateDevice(s.store, req.headers.Get("authorization"));
    if (!device) return SensorError(req, res, device.error());
    auto credential = ingest::RotateCredential(s.store, *device);
    if (!credential) return SensorError(req, res, credential.error());
    JsonReply(res, 200, "{\"credential\":" + json::Quote(*credential) + "}");
  });

  api.Add("GET", "/api/onboarding/package", [](Call& call) {
    if (Status st = call.Require(ManageSecuritySettings()); !st.ok()) return call.Fail(st);
    auto form = http::ParseForm(call.req.query);
    std::string platform = "linux";
    if (form) {
      for (const auto& [k, v] : *form) {
        if (k == "platform") platform = state::LowerAscii(v);
      }
    }
    if (platform != "linux") return call.Fail(InvalidArgument("Only platform=linux is supported"), "OsPlatformNotSupported");
    std::string server_url = call.services.public_url.empty() ? call.BaseUrl() : call.services.public_url;
    auto info = ingest::BuildOnboardingInfo(call.services.store, call.tenant(), server_url,
                                            call.services.server_cert_sha256);
    if (!info) return call.Fail(info.error());
    call.res.status = 200;
    call.res.headers.Set("Content-Type", "application/x-sh");
    call.res.headers.Set("Content-Disposition", "attachment; filename=\"WardOnboarding.sh\"");
    call.res.body = ingest::BuildOnboardingScript(*info);
  });

  api.Add("GET", "/api/onboarding/enrollmentkeys", [](Call& call) {
    if (Status st = call.Require(ManageSecuritySettings()); !st.ok()) return call.Fail(st);
    auto q = call.ODataQuery(EnrollmentKeySchema());
    if (!q) return call.Fail(q.error(), "ODataError");
    auto keys = state::Repo<state::EnrollmentKey>(call.services.store).List(call.tenant());
    if (!keys) return call.Fail(keys.error());
    std::vector<json::Value> out;
    int64_t now = NowMs();
    for (const auto& k : *keys) out.push_back(EnrollmentKeyJson(k, now));
    call.ODataList(EnrollmentKeySchema(), *q, std::move(out));
  });
  for (const char* verb : {"expire", "revoke"}) {
    std::string v = verb;
    api.Add("POST", "/api/onboarding/enrollmentkeys/{id}/" + v, [v](Call& call) {
      if (Status st = call.Require(ManageSecuritySettings()); !st.ok()) return call.Fail(st);
      state::Repo<state::EnrollmentKey> repo(call.services.store);
      auto k = repo.Get(call.tenant(), call.req.PathParam("id"));
      if (!k) return call.Fail(NotFound("Enrollment key " + std::string(call.req.PathParam("id")) + " was not found"));
      if (v == "revoke") k->revoked = true;
      else k->expires_ms = std::min(k->expires_ms, NowMs());
      if (Status st = repo.Update(*k); !st.ok()) return call.Fail(st);
      call.audit_target = "enrollmentkey:" + k->id;
      call.ODataEntity("EnrollmentKeys", EnrollmentKeyJson(*k, NowMs()));
    });
  }
}

}  // namespace ward::api
