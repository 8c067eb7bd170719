#pragma once
// Per-caller, per-endpoint rate limits with MDE's defaults (100 calls per minute and 1,500 per hour),
// overridable per route. Two token buckets per key (minute and hour windows); a call takes one token
// from each. Thread-safe (sharded mutexes); memory is bounded by evicting idle keys.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace ward::api {

struct RateLimit {
  int64_t per_minute = 100;
  int64_t per_hour = 1500;
};

struct RateLimiterConfig {
  bool enabled = true;
  RateLimit defaults;
  std::map<std::string, RateLimit> per_route;  // key: route pattern, e.g. "/api/alerts/batchUpdate"
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RateLimiterConfig config);

  struct Decision {
    bool allowed = true;
    int64_t retry_after_seconds = 0;  // >= 1 when !allowed
  };
  // caller: stable identity such as "<tenant>/app/<clientId>" or "<tenant>/user/<oid>".
  Decision Check(std::string_view caller, std::string_view route, Clock::time_point now = Clock::now());

  // Counters every node sees (the shared state store's AddToCounters): adds one to each key, returns
  // the new values in order; keys may be dropped after `expires_ms`.
  using SharedCounters =
      std::function<Result<std::vector<int64_t>>(const std::vector<std::string>& keys, int64_t expires_ms)>;
  // With shared counters a caller's limits hold for the whole installation, not per node: each
  // call counts in fixed wall-clock windows (the current minute and hour) kept in the shared store,
  // instead of this node's token buckets. If the store cannot be reached the call is allowed (an
  // outage of the limiter must not become an outage of the API).
  void ShareCountsThrough(SharedCounters counters) { shared_ = std::move(counters); }
  Decision CheckShared(std::string_view caller, std::string_view route, std::chrono::system_clock::time_point now);

 private:
  struct Bucket {
    double minute_tokens;
    double hour_tokens;
    Clock::time_point last;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxKeysPerShard = 65536;
  const RateLimit& LimitFor(std::string_view route) const;

  RateLimiterConfig config_;
  Shard shards_[kShards];
  SharedCounters shared_;
};

}  // namespace ward::api
