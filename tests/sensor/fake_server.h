#pragma once
// A small fake of the server side of docs/sensor-protocol.md on 127.0.0.1 (port 0), for sensor tests.
// It does not verify onboarding signatures; it records what the sensor sent.
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "http/server.h"
#include "json/json.h"
#include "sensor/batcher.h"
#include "sensor/util.h"
#include "common/temp_dir.h"

namespace ward::sensor::testing {

struct ReceivedBatch {
  std::string batch_id;
  std::string encoding;
  std::string device_id;
  std::string body;  // decoded NDJSON
  std::vector<json::Value> events;
  bool duplicate = false;
};

class FakeServer {
 public:
  explicit FakeServer(std::string org = "org-test") : org_(std::move(org)) {}
  ~FakeServer() { Stop(); }

  // tls_dir: when set, serve HTTPS with a fresh self-signed certificate written there.
  void Start(const std::string& tls_dir = "") {
    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.max_body_bytes = 32 * 1024 * 1024;
    if (!tls_dir.empty()) {
      o.tls_cert_file = tls_dir + "/cert.pem";
      o.tls_key_file = tls_dir + "/key.pem";
      Status st = http::GenerateSelfSignedCertificate(o.tls_cert_file, o.tls_key_file, {"localhost", "127.0.0.1"}, 2);
      if (!st.ok()) std::abort();
      tls_ = true;
      cert_file_ = o.tls_cert_file;
    }
    server_ = std::make_unique<http::Server>(
        o, [this](http::Request& req, http::Response& res) { Handle(req, res); },
        [](int status, std::string_view code, std::string_view message, const http::Request&, http::Response& res) {
          res.Set(status, "application/json", "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"x\"}}");
        });
    auto port = server_->Start();
    if (!port) std::abort();
    port_ = *port;
  }
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
  }

  std::string Url() const { return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_); }
  const std::string& cert_file() const { return cert_file_; }

  // The onboardingInfo JSON line for this server.
  std::string OnboardingInfo(const std::string& pin = "") const {
    json::Writer body;
    body.StartObject();
    body.KV("version", static_cast<int64_t>(1)).KV("orgId", org_).KV("serverUrl", Url());
    body.KV("serverCertSha256", pin).KV("enrollmentKeyId", "key-1").KV("expiresAt", "2099-01-01T00:00:00Z");
    body.KV("packageGuid", "6b7f0a43-5d0e-4a5e-9d7e-0f8e6c1b2a33");
    body.EndObject();
    json::Writer info;
    info.StartObject().KV("body", body.str()).KV("sig", "c2ln").KV("kid", "key-1").EndObject();
    return info.Take();
  }
  std::string OnboardingScript(const std::string& pin = "") const {
    return "#!/bin/sh\n# Ward onboarding package\nset -e\n# WARD-ONBOARDING-INFO: " + OnboardingInfo(pin) +
           "\nmkdir -p /etc/ward\necho done\n";
  }

  // ---- knobs ----
  std::atomic<int> fail_events_next{0};   // answer the next N event posts with 500
  std::atomic<int> reject_enroll{0};      // answer enrollments with 401 while > 0 (decremented)
  std::atomic<int> heartbeat_seconds{60};
  std::atomic<bool> reject_marked{true};  // reject events containing "reject-me"

  // ---- observations ----
  std::vector<ReceivedBatch> Batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::vector<std::string> EventBatchAttempts() {  // batch ids of every POST /events, including failures
    std::lock_guard lock(mu_);
    return attempts_;
  }
  std::vector<json::Value> AcceptedEvents() {
    std::lock_guard lock(mu_);
    std::vector<json::Value> out;
    for (const auto& b : batches_) {
      if (b.duplicate) continue;
      for (const auto& e : b.events) out.push_back(e);
    }
    return out;
  }
  int enrollments() { return enrollments_.load(); }
  int heartbeats() { return heartbeats_.load(); }
  int rotations() { return rotations_.load(); }
  int unauthorized() { return unauthorized_.load(); }
  json::Value LastHeartbeat() {
    std::lock_guard lock(mu_);
    return last_heartbeat_;
  }
  std::string Credential(const std::string& device_id) {
    std::lock_guard lock(mu_);
    return credentials_[device_id];
  }
  void RevokeAll() {
    std::lock_guard lock(mu_);
    credentials_.clear();
  }

 private:
  static void Json(http::Response& res, int status, const std::string& body) { res.Set(status, "application/json", body); }

  // Returns the device id, or "" after answering 401.
  std::string Authenticate(const http::Request& req, http::Response& res) {
    std::string_view h = req.headers.Get("Authorization");
    constexpr std::string_view kScheme = "WardDevice ";
    if (h.substr(0, kScheme.size()) == kScheme) {
      std::string_view rest = h.substr(kScheme.size());
      size_t colon = rest.find(':');
      if (colon != std::string_view::npos) {
        std::string id(rest.substr(0, colon)), cred(rest.substr(colon + 1));
        std::lock_guard lock(mu_);
        auto it = credentials_.find(id);
        if (it != credentials_.end() && it->second == cred) return id;
      }
    }
    ++unauthorized_;
    Json(res, 401, R"({"error":{"code":"Unauthorized","message":"bad device credential"}})");
    return "";
  }

  void Handle(http::Request& req, http::Response& res) {
    if (req.method != "POST") return Json(res, 405, R"({"error":{"code":"MethodNotAllowed","message":"x"}})");
    if (req.path == "/sensor/v1/enroll") {
      if (reject_enroll.load() > 0) {
        --reject_enroll;
        return Json(res, 401, R"({"error":{"code":"Unauthorized","message":"onboarding package rejected"}})");
      }
      auto body = json::Value::Parse(req.body);
      if (!body || !body->Find("onboardingInfo") || !body->Find("device")) {
        return Json(res, 400, R"({"error":{"code":"InvalidRequestBody","message":"x"}})");
      }
      std::string host = body->Find("device")->GetString("hostId").value_or("");
      if (host.size() < 8) return Json(res, 400, R"({"error":{"code":"InvalidRequestBody","message":"hostId"}})");
      std::string id = HexEncode(Sha1(org_ + "/" + host));
      std::string cred = RandomToken(24);
      {
        std::lock_guard lock(mu_);
        credentials_[id] = cred;
        devices_[id] = *body->Find("device");
      }
      ++enrollments_;
      json::Writer w;
      w.StartObject().KV("deviceId", id).KV("tenantId", org_).KV("credential", cred);
      w.KV("heartbeatSeconds", static_cast<int64_t>(heartbeat_seconds.load())).EndObject();
      return Json(res, 200, w.str());
    }
    std::string device = Authenticate(req, res);
    if (device.empty()) return;
    if (req.path == "/sensor/v1/events") {
      std::string batch_id(req.headers.Get("X-Ward-Batch-Id"));
      {
        std::lock_guard lock(mu_);
        attempts_.push_back(batch_id);
      }
      if (fail_events_next.load() > 0) {
        --fail_events_next;
        return Json(res, 500, R"({"error":{"code":"InternalError","message":"try later"}})");
      }
      ReceivedBatch b;
      b.batch_id = batch_id;
      b.device_id = device;
      b.encoding = std::string(req.headers.Get("Content-Encoding"));
      if (b.encoding == "zstd") {
        auto d = ZstdDecompress(req.body);
        if (!d) return Json(res, 400, R"({"error":{"code":"InvalidRequestBody","message":"bad zstd"}})");
        b.body = std::move(*d);
      } else {
        b.body = req.body;
      }
      json::Writer rej;
      rej.StartArray();
      int64_t accepted = 0, index = 0;
      for (std::string_view line : SplitLines(b.body)) {
        if (Trim(line).empty()) continue;
        auto ev = json::Value::Parse(line);
        bool bad = !ev || !ev->is_object() || !ev->Find("$table") ||
                   (reject_marked.load() && line.find("reject-me") != std::string_view::npos);
        if (bad) {
          rej.StartObject().KV("index", index).KV("reason", "invalid").EndObject();
        } else {
          ++accepted;
          b.events.push_back(std::move(*ev));
        }
        ++index;
      }
      rej.EndArray();
      {
        std::lock_guard lock(mu_);
        b.duplicate = !seen_.insert(batch_id).second;
        if (b.duplicate) accepted = 0;
        batches_.push_back(b);
      }
      json::Writer w;
      w.StartObject().KV("batchId", batch_id).KV("accepted", accepted);
      w.Key("rejected").Val(*json::Value::Parse(b.duplicate ? "[]" : rej.str()));
      w.KV("duplicate", b.duplicate).EndObject();
      return Json(res, 200, w.str());
    }
    if (req.path == "/sensor/v1/heartbeat") {
      ++heartbeats_;
      if (auto v = json::Value::Parse(req.body)) {
        std::lock_guard lock(mu_);
        last_heartbeat_ = std::move(*v);
      }
      return Json(res, 200, "{\"heartbeatSeconds\":" + std::to_string(heartbeat_seconds.load()) + "}");
    }
    if (req.path == "/sensor/v1/credential/rotate") {
      std::string cred = RandomToken(24);
      {
        std::lock_guard lock(mu_);
        credentials_[device] = cred;
      }
      ++rotations_;
      return Json(res, 200, "{\"credential\":\"" + cred + "\"}");
    }
    Json(res, 404, R"({"error":{"code":"NotFound","message":"x"}})");
  }

  std::string org_;
  bool tls_ = false;
  std::string cert_file_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::map<std::string, std::string> credentials_;
  std::map<std::string, json::Value> devices_;
  std::vector<ReceivedBatch> batches_;
  std::vector<std::string> attempts_;
  std::set<std::string> seen_;
  json::Value last_heartbeat_;
  std::atomic<int> enrollments_{0}, heartbeats_{0}, rotations_{0}, unauthorized_{0};
};

// A temporary directory removed (recursively) on destruction (tests/common/temp_dir.h).
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("ward-sensor-test") {}
};

}  // namespace ward::sensor::testing
