#pragma once
// Uploads queued batches (POST /sensor/v1/events, zstd NDJSON) and sends heartbeats; enrolls first
// when the state dir holds no identity, and rotates the credential periodically.
//
// Retry policy: network errors, 408, 429 and 5xx are retried with the same X-Ward-Batch-Id after an
// exponential backoff with jitter (capped at max_backoff). 401/403 are logged and retried slowly —
// re-enrollment is an operator decision, never automatic — while collectors keep queueing. Other 4xx
// mean the batch itself is unacceptable: it is dropped ("batch_rejected") so it cannot block the
// queue. Events the server rejects individually are counted ("rejected_by_server"), never resent.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "json/json.h"
#include "sensor/disk_queue.h"
#include "sensor/onboarding.h"
#include "sensor/util.h"

namespace ward::sensor {

struct UploaderOptions {
  std::string state_dir;                       // where identity.json lives
  std::optional<OnboardingInfo> onboarding;    // needed only when there is no identity yet
  std::function<DeviceFacts()> device_facts;   // for enrollment
  std::function<std::vector<std::string>()> ip_addresses;  // for heartbeats
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60'000};
  std::chrono::milliseconds peek_wait{500};
  // Credential rotation period; zero disables. Measured from the credential's issue time.
  std::chrono::seconds rotate_every{std::chrono::hours(24 * 7)};
  bool heartbeats = true;
  // Called (on the heartbeat thread) after a new enforcement policy was written to policy.json.
  std::function<void(const json::Value& policy)> on_policy;
  std::chrono::seconds request_timeout{30};
};

struct UploaderStats {
  uint64_t batches_sent = 0;      // acknowledged batches
  uint64_t events_accepted = 0;
  uint64_t events_rejected = 0;   // rejected individually, or with a rejected batch
  uint64_t duplicates = 0;        // batches the server had already stored
  uint64_t retries = 0;           // re-sends of a batch after a failure
  uint64_t auth_failures = 0;
  uint64_t heartbeats = 0;
  uint64_t rotations = 0;
  uint64_t policy_updates = 0;    // enforcement policies fetched (docs/sensor-protocol.md, "Policy")
  std::string policy_version;     // of the policy in state_dir/policy.json; "" = none yet
};

// Backoff before retry number `attempt` (0-based): uniformly random in [d/2, d] where
// d = min(max, initial * 2^attempt), so synchronized sensors spread out after an outage.
std::chrono::milliseconds RetryBackoff(int attempt, std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                       std::mt19937_64& rng);

class Uploader {
 public:
  Uploader(DiskQueue* queue, UploaderOptions options, std::optional<Identity> identity);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  void Start();
  void Stop();
  // Waits until every queued batch was acknowledged, or the timeout passes. True when drained.
  bool WaitDrained(std::chrono::milliseconds timeout);

  UploaderStats stats() const;
  // Fetches the enforcement policy now when `version` differs from the one held (the action channel
  // learns the current version from each poll, so blocks arrive without waiting for a heartbeat).
  Status RefreshPolicy(const std::string& version);
  std::optional<Identity> identity() const;

 private:
  void UploadLoop();
  void HeartbeatLoop();
  // Enrolls if needed; nullopt only when stopping.
  std::optional<Identity> EnsureIdentity(http::Client& client, std::string& client_pin);
  void UpdateIdentity(const Identity& id);
  std::string HeartbeatBody() const;
  // Fetches the enforcement policy and keeps it in state_dir/policy.json (where the response
  // actions read it). Called when a heartbeat reply names another version than the one held.
  Status FetchPolicy(http::Client& client, const Identity& id);
  bool Sleep(std::chrono::milliseconds d) { return stopper_.SleepFor(d); }

  DiskQueue* queue_;
  UploaderOptions options_;
  mutable std::mutex mu_;
  std::mutex policy_mu_;  // one policy fetch at a time (heartbeat thread or RefreshPolicy)
  std::optional<Identity> identity_;
  UploaderStats stats_;
  Stopper stopper_;
  std::thread upload_thread_;
  std::thread heartbeat_thread_;
};

}  // namespace ward::sensor
