#include "sensor/uploader.h"

#include "common/log.h"
#include "common/time.h"
#include "common/version.h"
#include "json/json.h"

namespace ward::sensor {

namespace {

bool IsRetryableStatus(int status) { return status == 408 || status == 429 || status >= 500; }

std::mt19937_64 SeededRng() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd()};
  return std::mt19937_64(seq);
}

http::ClientOptions ClientOptionsWithTimeout(const std::string& pin, std::chrono::seconds timeout) {
  http::ClientOptions o = ClientOptionsFor(pin);
  o.request_timeout = timeout;
  return o;
}

}  // namespace

std::chrono::milliseconds RetryBackoff(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                       std::mt19937_64& rng) {
  int64_t base = std::max<int64_t>(initial.count(), 1);
  int64_t cap = std::max<int64_t>(max.count(), base);
  int64_t d = base;
  for (int i = 0; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  std::uniform_int_distribution<int64_t> dist(d / 2, d);
  return std::chrono::milliseconds(dist(rng));
}

Uploader::Uploader(DiskQueue* queue, UploaderOptions options, std::optional<Identity> identity)
    : queue_(queue), options_(std::move(options)), identity_(std::move(identity)) {
  // The policy kept from an earlier run still holds until the server names a newer one.
  if (auto kept = ReadFile(options_.state_dir + "/policy.json")) {
    if (auto v = json::Value::Parse(*kept); v && v->is_object()) stats_.policy_version = v->GetString("version").value_or("");
  }
}

Uploader::~Uploader() { Stop(); }

void Uploader::Start() {
  stopper_.Reset();
  upload_thread_ = std::thread([this] {
    SetThreadName("ward-upload");
    UploadLoop();
  });
  if (options_.heartbeats) {
    heartbeat_thread_ = std::thread([this] {
      SetThreadName("ward-heartbeat");
      HeartbeatLoop();
    });
  }
}

void Uploader::Stop() {
  stopper_.Stop();
  if (upload_thread_.joinable()) upload_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

bool Uploader::WaitDrained(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (queue_->Stats().pending_events > 0 || queue_->Stats().pending_batches > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

UploaderStats Uploader::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::optional<Identity> Uploader::identity() const {
  std::lock_guard lock(mu_);
  return identity_;
}

void Uploader::UpdateIdentity(const Identity& id) {
  {
    std::lock_guard lock(mu_);
    identity_ = id;
  }
  if (!options_.state_dir.empty()) {
    Status st = SaveIdentity(options_.state_dir, id);
    if (!st.ok()) log::Error("cannot save identity", {{"error", st.message()}});
  }
}

std::optional<Identity> Uploader::EnsureIdentity(http::Client& client, std::string& client_pin) {
  auto rng = SeededRng();
  int attempt = 0;
  while (!stopper_.stopped()) {
    if (auto id = identity()) return id;
    if (!options_.onboarding) {
      log::Error("no device identity and no onboarding package: cannot enroll");
      if (!Sleep(options_.max_backoff)) return std::nullopt;
      continue;
    }
    if (client_pin != options_.onboarding->server_cert_sha256) {
      client_pin = options_.onboarding->server_cert_sha256;
      client = http::Client(ClientOptionsWithTimeout(client_pin, options_.request_timeout));
    }
    DeviceFacts facts = options_.device_facts ? options_.device_facts() : DeviceFacts{};
    auto enrolled = Enroll(client, *options_.onboarding, facts);
    if (enrolled) {
      log::Info("enrolled", {{"deviceId", enrolled->device_id}, {"server", enrolled->server_url}});
      UpdateIdentity(*enrolled);
      return *enrolled;
    }
    // A rejected package will not heal by retrying quickly; network trouble might.
    auto wait = enrolled.error().code() == StatusCode::kUnavailable
                    ? RetryBackoff(attempt++, options_.initial_backoff, options_.max_backoff, rng)
                    : options_.max_backoff;
    log::Warn("enrollment failed", {{"error", enrolled.error().message()}});
    if (!Sleep(wait)) return std::nullopt;
  }
  return std::nullopt;
}

void Uploader::UploadLoop() {
  std::string pin = "\x01";  // forces creating the client on first use
  http::Client client;
  auto rng = SeededRng();
  auto last_auth_log = std::chrono::steady_clock::time_point{};
  while (!stopper_.stopped()) {
    auto id = EnsureIdentity(client, pin);
    if (!id) return;
    auto batch = queue_->Peek(options_.peek_wait);
    if (!batch) continue;
    int attempt = 0;
    while (!stopper_.stopped()) {
      id = identity();  // may have been rotated by the heartbeat thread
      if (id->server_cert_sha256 != pin) {
        pin = id->server_cert_sha256;
        client = http::Client(ClientOptionsWithTimeout(pin, options_.request_timeout));
      }
      http::ClientRequest req;
      req.method = "POST";
      req.url = id->Url("/sensor/v1/events");
      req.headers.Add("Authorization", id->AuthorizationHeader());
      req.headers.Add("X-Ward-Batch-Id", batch->batch_id);
      req.headers.Add("Content-Type", "application/x-ndjson");
      req.headers.Add("Content-Encoding", "zstd");
      req.body = batch->payload;
      auto res = client.Send(req);
      if (res && res->status == 200) {
        uint64_t rejected = 0, accepted = batch->events;
        bool duplicate = false;
        if (auto body = json::Value::Parse(res->body); body && body->is_object()) {
          if (const json::Value* r = body->Find("rejected"); r && r->is_array()) rejected = r->items().size();
          accepted = static_cast<uint64_t>(body->GetInt("accepted").value_or(static_cast<int64_t>(batch->events - rejected)));
          duplicate = body->GetBool("duplicate").value_or(false);
        }
        if (rejected > 0) queue_->CountDropped("rejected_by_server", rejected);
        {
          std::lock_guard lock(mu_);
          stats_.batches_sent += 1;
          stats_.events_accepted += accepted;
          stats_.events_rejected += rejected;
          if (duplicate) stats_.duplicates += 1;
        }
        Status st = queue_->Commit(*batch);
        if (!st.ok()) log::Error("cannot commit queue cursor", {{"error", st.message()}});
        break;
      }
      std::chrono::milliseconds wait;
      if (res && (res->status == 401 || res->status == 403)) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_auth_log > std::chrono::minutes(1)) {
          log::Error("server rejected the device credential; events stay queued (re-enroll with --reenroll)",
                     {{"status", std::to_string(res->status)}});
          last_auth_log = now;
        }
        {
          std::lock_guard lock(mu_);
          stats_.auth_failures += 1;
        }
        wait = RetryBackoff(attempt + 4, options_.initial_backoff, options_.max_backoff, rng);
      } else if (res && !IsRetryableStatus(res->status)) {
        log::Error("server rejected a telemetry batch; dropping it",
                   {{"status", std::to_string(res->status)}, {"batchId", batch->batch_id},
                    {"error", StatusFromResponse(*res, "events").message()}});
        queue_->CountDropped("batch_rejected", batch->events);
        {
          std::lock_guard lock(mu_);
          stats_.events_rejected += batch->events;
        }
        queue_->Commit(*batch);
        break;
      } else {
        if (attempt == 0 || attempt % 10 == 0) {
          log::Warn("telemetry upload failed; retrying",
                    {{"error", res ? "HTTP " + std::to_string(res->status) : res.error().message()},
                     {"batchId", batch->batch_id}});
        }
        wait = RetryBackoff(attempt, options_.initial_backoff, options_.max_backoff, rng);
      }
      ++attempt;
      {
        std::lock_guard lock(mu_);
        stats_.retries += 1;
      }
      if (!Sleep(wait)) return;
    }
  }
}

std::string Uploader::HeartbeatBody() const {
  QueueStats q = queue_->Stats();
  json::Writer w;
  w.StartObject();
  w.KV("sensorVersion", kVersion);
  w.Key("ipAddresses").StartArray();
  if (options_.ip_addresses) {
    for (const auto& ip : options_.ip_addresses()) w.String(ip);
  }
  w.EndArray();
  w.Key("queue").StartObject();
  w.KV("pendingEvents", static_cast<int64_t>(q.pending_events));
  w.KV("pendingBytes", static_cast<int64_t>(q.pending_bytes));
  w.Key("droppedEvents").StartObject();
  for (const auto& [reason, n] : q.dropped) w.KV(reason, static_cast<int64_t>(n));
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return w.Take();
}

void Uploader::HeartbeatLoop() {
  std::string pin = "\x01";
  http::Client client;
  auto rng = SeededRng();
  int failures = 0;
  // Wait for enrollment (done by the upload thread).
  while (!identity()) {
    if (!Sleep(std::chrono::milliseconds(200))) return;
  }
  while (!stopper_.stopped()) {
    Identity id = *identity();
    if (id.server_cert_sha256 != pin) {
      pin = id.server_cert_sha256;
      client = http::Client(ClientOptionsWithTimeout(pin, options_.request_timeout));
    }
    // Rotation first, so the heartbeat below already proves the new credential.
    if (options_.rotate_every.count() > 0 &&
        NowMs() - id.credential_issued_ms >= std::chrono::duration_cast<std::chrono::milliseconds>(options_.rotate_every).count()) {
      auto rotated = RotateCredential(client, id);
      if (rotated) {
        // Persist before use: the old credential no longer works.
        UpdateIdentity(*rotated);
        id = *rotated;
        std::lock_guard lock(mu_);
        stats_.rotations += 1;
        log::Info("device credential rotated");
      } else {
        log::Warn("credential rotation failed", {{"error", rotated.error().message()}});
      }
    }
    http::ClientRequest req;
    req.method = "POST";
    req.url = id.Url("/sensor/v1/heartbeat");
    req.headers.Add("Authorization", id.AuthorizationHeader());
    req.headers.Add("Content-Type", "application/json");
    req.body = HeartbeatBody();
    auto res = client.Send(req);
    std::chrono::milliseconds wait{std::chrono::seconds(std::max(id.heartbeat_seconds, 1))};
    if (res && res->status == 200) {
      failures = 0;
      {
        std::lock_guard lock(mu_);
        stats_.heartbeats += 1;
      }
      if (auto body = json::Value::Parse(res->body); body && body->is_object()) {
        if (auto pv = body->GetString("policyVersion"); pv && *pv != stats().policy_version) {
          if (Status st = FetchPolicy(client, id); !st.ok()) log::Warn("policy fetch failed", {{"error", st.message()}});
        }
        if (auto hb = body->GetInt("heartbeatSeconds"); hb && *hb > 0 && *hb != id.heartbeat_seconds) {
          id.heartbeat_seconds = static_cast<int>(*hb);
          Identity updated = *identity();
          updated.heartbeat_seconds = id.heartbeat_seconds;
          UpdateIdentity(updated);
          wait = std::chrono::seconds(*hb);
        }
      }
    } else {
      log::Warn("heartbeat failed", {{"error", res ? StatusFromResponse(*res, "heartbeat").message() : res.error().message()}});
      // Retry sooner than the period, but never hammer the server.
      wait = std::min(wait, RetryBackoff(failures++, options_.initial_backoff, options_.max_backoff, rng));
    }
    if (!Sleep(wait)) return;
  }
}

Status Uploader::RefreshPolicy(const std::string& version) {
  auto id = identity();
  if (!id || version.empty() || version == stats().policy_version) return Status::Ok();
  http::Client client(ClientOptionsWithTimeout(id->server_cert_sha256, options_.request_timeout));
  return FetchPolicy(client, *id);
}

Status Uploader::FetchPolicy(http::Client& client, const Identity& id) {
  std::lock_guard fetch_lock(policy_mu_);
  http::ClientRequest req;
  req.method = "GET";
  req.url = id.Url("/sensor/v1/policy");
  req.headers.Add("Authorization", id.AuthorizationHeader());
  auto res = client.Send(req);
  if (!res) return res.error();
  if (res->status != 200) return StatusFromResponse(*res, "policy");
  auto body = json::Value::Parse(res->body);
  if (!body || !body->is_object()) return InvalidArgument("policy: the reply is not a JSON object");
  auto version = body->GetString("version");
  const json::Value* indicators = body->Find("indicators");
  if (!version || !indicators || !indicators->is_array()) return InvalidArgument("policy: version or indicators missing");
  // Written before it is counted as held: a crash re-fetches rather than enforcing a stale policy.
  WARD_RETURN_IF_ERROR(WriteFileAtomic(options_.state_dir + "/policy.json", res->body));
  {
    std::lock_guard lock(mu_);
    stats_.policy_version = *version;
    stats_.policy_updates += 1;
  }
  log::Info("enforcement policy updated", {{"version", *version}, {"indicators", std::to_string(indicators->items().size())}});
  if (options_.on_policy) options_.on_policy(*body);
  return Status::Ok();
}

}  // namespace ward::sensor
